import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

const FROZEN = 'Claude Admin is frozen. Work routing paused. Contact a human operator.';

describe('PUT /admin/override (SEC-49)', () => {
  it('bad action is a 400; agents cannot touch it', async () => {
    const r = await t.call('PUT', '/admin/override', { admin: true, body: { action: 'melt' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('action must be freeze or unfreeze');
    const a = await registerAgent(t, 'ks-agent', 'ks');
    expect((await t.call('PUT', '/admin/override', { agentKey: a.key, body: {} })).status).toBe(403);
  });

  it('SEC-49: any operator may freeze, only admins unfreeze; frozen routing refuses, reads keep working', async () => {
    const op = await createOperator(t, 'ks-op', 'operator');
    const a = await registerAgent(t, 'ks-ada', 'ks');
    const b = await registerAgent(t, 'ks-bob', 'ks');
    const tid = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO tasks (title, project_id, requester, assignee) VALUES ('mine', 'ks', 'x', ?) RETURNING id",
        [a.id],
      ))!.id,
    );
    const free = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO tasks (title, project_id, requester) VALUES ('free', 'ks', 'x') RETURNING id",
      ))!.id,
    );

    const f = await t.call('PUT', '/admin/override', { token: op.token, body: {} });
    expect(f.status).toBe(200);
    expect(f.body).toEqual({
      ok: true,
      admin_status: 'frozen',
      message: 'Claude Admin frozen. All work assignments paused.',
    });
    const ev = await t.db.get<{ summary: string }>(
      "SELECT summary FROM events WHERE type = 'admin_frozen' ORDER BY id DESC",
    );
    expect(ev!.summary).toBe('ks-op froze Claude Admin');

    const work = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(work.body).toEqual({ ok: true, queue: [], frozen: true });
    expect((await t.db.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', [tid]))!.status).toBe('open');
    const wr = await t.call('POST', '/work/request', { agentKey: a.key, body: { type: 'work_request' } });
    expect(wr.status).toBe(503);
    expect(wr.body.error).toBe(FROZEN);
    const claim = await t.call('POST', `/tasks/${free}/claim`, { agentKey: b.key, body: {} });
    expect(claim.status).toBe(503);
    expect(claim.body.error).toBe(FROZEN);
    expect(
      (await t.db.get<{ assignee: string | null }>('SELECT assignee FROM tasks WHERE id = ?', [free]))!.assignee,
    ).toBeNull();

    // Heartbeats, reads and messages keep working; an idle heartbeat dispatches nothing.
    const hb = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: {} });
    expect(hb.status).toBe(200);
    expect(hb.body.admin_status).toBe('frozen');
    expect(hb.body.auto_dispatched).toBeUndefined();
    expect(
      (await t.db.get<{ assignee: string | null }>('SELECT assignee FROM tasks WHERE id = ?', [free]))!.assignee,
    ).toBeNull();
    expect(
      (await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: b.id, content: 'still talking' } }))
        .status,
    ).toBe(200);
    expect((await t.call('GET', '/agents', { agentKey: a.key })).status).toBe(200);
    const boot = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(boot.body.admin_status).toBe('frozen');
    expect(boot.body.work_queue).toEqual([]);

    const un = await t.call('PUT', '/admin/override', { token: op.token, body: { action: 'unfreeze' } });
    expect(un.status).toBe(403);
    const ok = await t.call('PUT', '/admin/override', { admin: true, body: { action: 'unfreeze' } });
    expect(ok.body).toEqual({
      ok: true,
      admin_status: 'coordinator',
      message: 'Claude Admin unfrozen. Resuming operations.',
    });
    const claim2 = await t.call('POST', `/tasks/${free}/claim`, { agentKey: b.key, body: {} });
    expect(claim2.status).toBe(200);
    const work2 = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    expect(work2.body.queue.map((i: { id: number }) => i.id)).toContain(tid);
  });
});
