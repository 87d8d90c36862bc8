import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import type { AppContext } from '../../worker/src/context.js';
import { EventBus } from '../../worker/src/domain/events/bus.js';
import { requestRoutes } from '../../worker/src/domain/requests/routes.js';
import { systemClock } from '../../worker/src/runtime.js';

function jobContext(): AppContext {
  const runtime = {
    waitUntil: () => undefined,
    log: { info() {}, warn() {}, error() {}, debug() {} },
    clock: systemClock,
  };
  return {
    db: t.db,
    clock: systemClock,
    events: new EventBus(t.db, runtime as never),
    jobs: [],
  } as unknown as AppContext;
}
function requestJob() {
  const ctx = jobContext();
  requestRoutes(ctx);
  return ctx.jobs[0];
}

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('POST /requests', () => {
  it('validates content and to_agent', async () => {
    const a = await registerAgent(t, 'rq-v', 'rq');
    const noContent = await t.call('POST', '/requests', { agentKey: a.key, body: { to_agent: 'x', body: 'hi' } });
    expect(noContent.status).toBe(400);
    expect(noContent.body.error).toBe('content is required');
    const noTo = await t.call('POST', '/requests', { agentKey: a.key, body: { to: 'x', content: 'hi' } });
    expect(noTo.status).toBe(400);
    expect(noTo.body.error).toBe('to_agent is required for requests — use POST /messages for broadcasts');
  });

  it('creates a pending urgent request that surfaces in work (priority 1), boot and heartbeat with wake', async () => {
    const a = await registerAgent(t, 'rq-from', 'rq');
    const b = await registerAgent(t, 'rq-to', 'rq');
    const r = await t.call('POST', '/requests', { agentKey: a.key, body: { to_agent: b.id, content: 'review PR 7' } });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body)).toEqual(['id']);
    const row = await t.db.get<{ msg_type: string; status: string; priority: string; from_agent: string }>(
      'SELECT * FROM messages WHERE id = ?',
      [r.body.id],
    );
    expect(row).toMatchObject({ msg_type: 'request', status: 'pending', priority: 'urgent', from_agent: a.id });
    const evs = await t.db.all<{ type: string; agent: string }>(
      "SELECT type, agent FROM events WHERE type IN ('request_created','request_received') ORDER BY id",
    );
    expect(evs).toEqual([
      { type: 'request_created', agent: a.id },
      { type: 'request_received', agent: b.id },
    ]);
    const work = await t.call('GET', `/work/${b.id}`, { agentKey: b.key });
    expect(work.body.queue[0]).toMatchObject({ priority: 1, type: 'request', id: r.body.id });
    const hb = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { working_on: 'x' } });
    expect(hb.body.wake).toBe(true);
    const boot = await t.call('GET', `/boot/${b.id}`, { agentKey: b.key });
    expect(boot.body.pending_requests).toEqual([{ id: r.body.id, from: a.id, content: 'review PR 7' }]);
    expect(boot.body.counts.requests).toBe(1);
  });

  it('auto_task creates a task linked by request_id (spec 03 W12), assigned to the recipient', async () => {
    const a = await registerAgent(t, 'rq-at-a', 'rq');
    const b = await registerAgent(t, 'rq-at-b', 'rq');
    const r = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'build the thing please', auto_task: true, project_id: 'rq', priority: 'high' },
    });
    expect(r.status).toBe(200);
    const task = await t.db.get<{
      request_id: number;
      assignee: string;
      title: string;
      priority: string;
      status: string;
    }>('SELECT * FROM tasks WHERE id = ?', [r.body.task_id]);
    expect(task).toMatchObject({
      request_id: r.body.id,
      assignee: b.id,
      title: 'build the thing please',
      priority: 'high',
      status: 'open',
    });
    const bad = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'x', auto_task: true, project_id: 'rq', priority: 'mega' },
    });
    expect(bad.status).toBe(400);
    const other = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'x', auto_task: true, project_id: 'not-mine' },
    });
    expect(other.status).toBe(403);
  });

  it('PUT /requests/:id acks and resolves, with the exact errors', async () => {
    const a = await registerAgent(t, 'rq-put-a', 'rq');
    const b = await registerAgent(t, 'rq-put-b', 'rq');
    const r = await t.call('POST', '/requests', { agentKey: a.key, body: { to_agent: b.id, content: 'q' } });
    expect((await t.call('PUT', `/requests/${r.body.id}`, { agentKey: b.key, body: {} })).body.error).toBe(
      'status is required (acknowledged, resolved, completed)',
    );
    expect(
      (await t.call('PUT', `/requests/${r.body.id}`, { agentKey: b.key, body: { status: 'meh' } })).body.error,
    ).toBe('Invalid status. Use: acknowledged, resolved, completed');
    const msg = await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: b.id, content: 'plain' } });
    expect(
      (await t.call('PUT', `/requests/${msg.body.id}`, { agentKey: b.key, body: { status: 'ack' } })).body.error,
    ).toBe(`Message #${msg.body.id} is not a request`);
    expect((await t.call('PUT', '/requests/99999', { agentKey: b.key, body: { status: 'ack' } })).status).toBe(404);
    const ack = await t.call('PUT', `/requests/${r.body.id}`, { agentKey: b.key, body: { status: 'ack' } });
    expect(ack.body).toEqual({ ok: true, id: r.body.id, status: 'acknowledged' });
    const done = await t.call('PUT', `/requests/${r.body.id}`, {
      agentKey: b.key,
      body: { status: 'completed', response: 'answer' },
    });
    expect(done.body).toMatchObject({ ok: true, id: r.body.id, status: 'resolved' });
    expect(typeof done.body.response_id).toBe('number');
  });

  it('GET /requests/pending: an agent reads only its own (spec 03 W9)', async () => {
    const a = await registerAgent(t, 'rq-pend-a', 'rq');
    const b = await registerAgent(t, 'rq-pend-b', 'rq');
    const r = await t.call('POST', '/requests', { agentKey: a.key, body: { to_agent: b.id, content: 'q' } });
    const own = await t.call('GET', '/requests/pending', { agentKey: b.key });
    expect(own.body.map((m: { id: number }) => m.id)).toEqual([r.body.id]);
    const spy = await t.call('GET', `/requests/pending?agent_id=${b.id}`, { agentKey: a.key });
    expect(spy.status).toBe(403);
    const admin = await t.call('GET', `/requests/pending?agent_id=${b.id}`, { admin: true });
    expect(admin.body.map((m: { id: number }) => m.id)).toEqual([r.body.id]);
  });
});

describe('stale request resolution (spec 03 §8.5)', () => {
  it('requests pending for over 72 hours are resolved by the maintenance job, with an event; acked ones stay', async () => {
    const a = await registerAgent(t, 'rq-stale-a', 'rq');
    const old = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: 'rq-stale-b', content: 'ancient' },
    });
    const acked = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: 'rq-stale-b', content: 'acked' },
    });
    const fresh = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: 'rq-stale-b', content: 'fresh' },
    });
    await t.db.run("UPDATE messages SET created_at = datetime('now', '-73 hours') WHERE id IN (?, ?)", [
      old.body.id,
      acked.body.id,
    ]);
    await t.db.run("UPDATE messages SET status = 'acknowledged' WHERE id = ?", [acked.body.id]);
    // The job registered by the requests router, run against the same database the server uses.
    const job = requestJob();
    expect(job.name).toBe('stale_requests');
    await job.run(jobContext());
    const rows = await t.db.all<{ id: number; status: string; resolved_by: string; content: string }>(
      `SELECT * FROM messages WHERE id IN (?, ?, ?) ORDER BY id`,
      [old.body.id, acked.body.id, fresh.body.id],
    );
    expect(rows[0]).toMatchObject({
      status: 'resolved',
      resolved_by: 'system',
      content: 'ancient\n\n[Auto-resolved: request was pending for over 72 hours]',
    });
    expect(rows[1].status).toBe('acknowledged');
    expect(rows[2].status).toBe('pending');
    const ev = await t.db.get<{ data: string }>(
      "SELECT data FROM events WHERE type = 'request_resolved' ORDER BY id DESC",
    );
    expect(JSON.parse(ev!.data)).toMatchObject({ message_id: old.body.id });
  });
});

describe('review fixes: pending for operators, atomic create', () => {
  it('GET /requests/pending: agent_id is honoured only for admins — a non-admin operator gets 403 for an agent (spec 03 W9, spec 01 §2.5)', async () => {
    const a = await registerAgent(t, 'rq-op-a', 'rq');
    const b = await registerAgent(t, 'rq-op-b', 'rq');
    const r = await t.call('POST', '/requests', { agentKey: a.key, body: { to_agent: b.id, content: 'for b only' } });
    const op = await createOperator(t, 'rq-op', 'operator');
    const spy = await t.call('GET', `/requests/pending?agent_id=${b.id}`, { token: op.token });
    expect(spy.status).toBe(403);
    expect(spy.body.error).toBe('Can only read your own pending requests');
    const own = await t.call('GET', '/requests/pending', { token: op.token });
    expect(own.status).toBe(200);
    expect(own.body.map((m: { id: number }) => m.id)).not.toContain(r.body.id);
    const boss = await createOperator(t, 'rq-boss', 'admin');
    expect(
      (await t.call('GET', `/requests/pending?agent_id=${b.id}`, { token: boss.token })).body.map(
        (m: { id: number }) => m.id,
      ),
    ).toEqual([r.body.id]);
  });

  it('a request whose events cannot be written leaves neither the request nor its auto-task', async () => {
    const a = await registerAgent(t, 'rq-atom-a', 'rq');
    await t.db.run(
      "CREATE TRIGGER rq_atom_probe BEFORE INSERT ON events WHEN NEW.type = 'request_created' AND NEW.agent = 'rq-atom-a' BEGIN SELECT RAISE(ABORT, 'probe'); END",
    );
    try {
      const r = await t.call('POST', '/requests', {
        agentKey: a.key,
        body: { to_agent: 'rq-atom-b', content: 'atomic', project_id: 'rq', auto_task: true },
      });
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(await t.db.get("SELECT id FROM messages WHERE from_agent = 'rq-atom-a'")).toBeUndefined();
      expect(await t.db.get("SELECT id FROM tasks WHERE requester = 'rq-atom-a'")).toBeUndefined();
    } finally {
      await t.db.run('DROP TRIGGER rq_atom_probe');
    }
  });
});
