import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

async function task(title: string, project: string, extra: Record<string, unknown> = {}) {
  const cols = { title, project_id: project, requester: 'admin', ...extra };
  const keys = Object.keys(cols);
  const r = await t.db.get<{ id: number }>(
    `INSERT INTO tasks (${keys.join(',')}) VALUES (${keys.map(() => '?').join(',')}) RETURNING id`,
    Object.values(cols) as never[],
  );
  return Number(r!.id);
}
const assignee = async (id: number) =>
  (await t.db.get<{ assignee: string | null }>('SELECT assignee FROM tasks WHERE id = ?', [id]))!.assignee;

describe('auto-dispatch on an idle heartbeat (spec 02 §3.6)', () => {
  it('assigns the highest-priority ready task in scope, status stays open, event emitted; never piles on', async () => {
    const a = await registerAgent(t, 'dp-ada', 'dp');
    const low = await task('low', 'dp', { priority: 'low' });
    const high = await task('high', 'dp', { priority: 'high' });
    const foreign = await task('elsewhere', 'dp-other', { priority: 'high' });
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect(r.body.auto_dispatched).toEqual([{ agent: a.id, type: 'task', id: high, title: 'high' }]);
    expect(await t.db.get('SELECT assignee, status FROM tasks WHERE id = ?', [high])).toEqual({
      assignee: a.id,
      status: 'open',
    });
    expect(await assignee(foreign)).toBeNull();
    const ev = await t.db.get<{ agent: string; data: string; summary: string }>(
      "SELECT * FROM events WHERE type = 'auto_dispatch' ORDER BY id DESC",
    );
    expect(ev!.agent).toBe('__system__');
    expect(JSON.parse(ev!.data)).toEqual({ agent_id: a.id, task_id: high, trigger: `heartbeat:${a.id}` });
    const again = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect(again.body.auto_dispatched).toBeUndefined();
    expect(await assignee(low)).toBeNull();
  });

  it('an unsuitable first item never stalls the pass; requires: tags are honoured (W6)', async () => {
    const a = await registerAgent(t, 'dp-gpu-less', 'dp2', { capabilities: ['code'] });
    const gpu = await task('render', 'dp2', { priority: 'high', tags: JSON.stringify(['requires:gpu']) });
    const plain = await task('plain', 'dp2', { priority: 'normal' });
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect(r.body.auto_dispatched).toEqual([{ agent: a.id, type: 'task', id: plain, title: 'plain' }]);
    expect(await assignee(gpu)).toBeNull();
  });

  it('plan steps before tasks; blocked and unapproved tasks skipped; busy and drone agents skipped', async () => {
    const a = await registerAgent(t, 'dp-step', 'dp3');
    const pid = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO plans (title, project_id, status) VALUES ('P', 'dp3', 'active') RETURNING id",
      ))!.id,
    );
    const sid = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO plan_steps (plan_id, step_order, title) VALUES (?, 1, 'first step') RETURNING id",
        [pid],
      ))!.id,
    );
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect(r.body.auto_dispatched).toEqual([{ agent: a.id, type: 'plan_step', id: sid, title: 'first step' }]);
    expect(await t.db.get('SELECT assignee, status FROM plan_steps WHERE id = ?', [sid])).toEqual({
      assignee: a.id,
      status: 'pending',
    });

    const b = await registerAgent(t, 'dp-b', 'dp4');
    const blocker = await task('blocker', 'dp4', { assignee: 'someone', status: 'in_progress' });
    const blocked = await task('blocked', 'dp4', { priority: 'high', blocked_by: JSON.stringify([blocker]) });
    const gated = await task('gated', 'dp4', { priority: 'high', needs_approval: 1 });
    const drone = await registerAgent(t, 'dp-drone', 'dp4', { agent_type: 'drone' });
    await t.call('POST', '/agents/heartbeat', { agentKey: drone.key, body: {} });
    const busy = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { working_on: 'thinking' } });
    expect(busy.body.auto_dispatched).toBeUndefined();
    const idle = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { status: 'idle' } });
    expect(idle.body.auto_dispatched ?? []).toEqual([]);
    expect(await assignee(blocked)).toBeNull();
    expect(await assignee(gated)).toBeNull();
  });

  it('completing a task triggers a pass whose records appear in the PUT response', async () => {
    const a = await registerAgent(t, 'dp-done-a', 'dp5');
    const b = await registerAgent(t, 'dp-done-b', 'dp5');
    await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { working_on: 'x' } });
    await t.db.run("UPDATE agents SET working_on = '' WHERE id = ?", [b.id]);
    const mine = await task('mine', 'dp5', { assignee: a.id, status: 'in_progress' });
    const next = await task('next', 'dp5');
    const done = await t.call('PUT', `/tasks/${mine}`, { agentKey: a.key, body: { status: 'done' } });
    expect(done.status).toBe(200);
    expect(done.body.auto_dispatched).toContainEqual({ agent: b.id, type: 'task', id: next, title: 'next' });
  });
});

describe('concurrent dispatch passes', () => {
  it('20 agents heartbeating idle at once over 30 tasks: each task to at most one agent, no agent gets two', async () => {
    const agents = [];
    for (let i = 0; i < 20; i++) agents.push(await registerAgent(t, `dpc-${i}`, 'dpc'));
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push(await task(`parallel ${i}`, 'dpc'));
    const res = await Promise.all(
      agents.map((a) => t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} })),
    );
    expect(res.every((r) => r.status === 200)).toBe(true);
    const rows = await t.db.all<{ id: number; assignee: string | null }>(
      `SELECT id, assignee FROM tasks WHERE id IN (${ids.join(',')})`,
    );
    const owners = rows.map((r) => r.assignee).filter((x): x is string => !!x);
    expect(owners.length).toBe(20);
    expect(new Set(owners).size).toBe(20);
    const reported = res.flatMap((r) => r.body.auto_dispatched ?? []) as { agent: string; id: number }[];
    // Every assignment is reported exactly once, by the pass that made it.
    expect(new Set(reported.map((d) => d.id)).size).toBe(reported.length);
    expect(reported.length).toBe(20);
  });
});

describe('dispatch candidates at scale (issue 11 growth, migration 0016)', () => {
  const held = async (id: string) =>
    Number((await t.db.get<{ held: number }>('SELECT held FROM agents WHERE id = ?', [id]))!.held);
  const exact = async (id: string) =>
    Number(
      (await t.db.get<{ n: number }>(
        `SELECT (SELECT COUNT(*) FROM tasks WHERE assignee = ?1 AND status IN ('open','in_progress'))
              + (SELECT COUNT(*) FROM plan_steps WHERE assignee = ?1 AND status IN ('pending','in_progress'))
              + (SELECT COUNT(*) FROM bugs WHERE assignee = ?1 AND status IN ('open','in_progress')) AS n`,
        [id],
      ))!.n,
    );

  it('agents.held follows every way work is taken, moved, finished or deleted', async () => {
    const a = await registerAgent(t, 'dph-ada', 'dph');
    const b = await registerAgent(t, 'dph-bob', 'dph');
    const t1 = await task('one', 'dph', { assignee: a.id });
    const t2 = await task('two', 'dph');
    const claim = await t.call('POST', `/tasks/${t2}/claim`, { agentKey: a.key, body: {} });
    expect(claim.status).toBe(200);
    const pid = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO plans (title, project_id, status) VALUES ('P', 'dph', 'active') RETURNING id",
      ))!.id,
    );
    const step = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO plan_steps (plan_id, step_order, title, assignee) VALUES (?, 1, 'S', ?) RETURNING id",
        [pid, a.id],
      ))!.id,
    );
    await t.db.run("INSERT INTO bugs (title, description, project_id, assignee) VALUES ('B', 'd', 'dph', ?)", [a.id]);
    expect(await held(a.id)).toBe(4);
    // Done, handed over, re-opened, deleted: the count moves with each.
    expect((await t.call('PUT', `/tasks/${t1}`, { agentKey: a.key, body: { status: 'done' } })).status).toBe(200);
    await t.db.run('UPDATE tasks SET assignee = ? WHERE id = ?', [b.id, t2]);
    await t.db.run("UPDATE plan_steps SET status = 'completed' WHERE id = ?", [step]);
    await t.db.run("UPDATE plan_steps SET status = 'pending' WHERE id = ?", [step]);
    await t.db.run('DELETE FROM bugs WHERE assignee = ?', [a.id]);
    expect(await held(a.id)).toBe(1);
    expect(await held(a.id)).toBe(await exact(a.id));
    expect(await held(b.id)).toBe(await exact(b.id));
    expect(await held(b.id)).toBe(1);
    // An agent registered under an id that already holds work starts with that count.
    await task('waiting', 'dph', { assignee: 'dph-late' });
    await registerAgent(t, 'dph-late', 'dph');
    expect(await held('dph-late')).toBe(1);
    // The counter is bookkeeping: never on the wire.
    const shown = await t.call('GET', `/agents/${a.id}`, { agentKey: a.key });
    expect(shown.status).toBe(200);
    expect(JSON.stringify(shown.body)).not.toContain('"held"');
  });

  it('agents with room are offered work even when more than 200 fresher agents hold theirs (W6)', async () => {
    // 201 fresh idle agents that already hold a task, all fresher than the one agent with room.
    const now = "datetime('now')";
    await t.db.run(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 201)
       INSERT INTO agents (id, name, project_id, api_key_hash, status, capabilities, last_heartbeat)
       SELECT 'dpf-' || i, 'full ' || i, 'dpf', 'x' || i, 'online', '["code"]', ${now} FROM n`,
    );
    await t.db.run(
      `INSERT INTO tasks (title, project_id, requester, assignee)
       SELECT 'held by ' || id, 'dpf', 'admin', id FROM agents WHERE id LIKE 'dpf-%'`,
    );
    // Registered from another address: this file has used up one client's registration budget.
    const register = async (id: string, project: string, extra: Record<string, unknown> = {}) => {
      const r = await t.call('POST', '/admin/agents', {
        admin: true,
        ip: '198.51.100.211',
        body: { id, name: id, project_id: project, ...extra },
      });
      expect(r.status, r.text).toBe(200);
      return { id, key: r.body.api_key as string };
    };
    const free = await register('dpf-free', 'dpf-room');
    await t.db.run("UPDATE agents SET status = 'online', last_heartbeat = datetime('now', '-5 minutes') WHERE id = ?", [
      free.id,
    ]);
    const open = await task('for the free one', 'dpf-room');
    // Another agent's idle heartbeat runs the pass: the candidate with room is found past the 201.
    const trigger = await register('dpf-trigger', 'dpf-none', { capabilities: ['review'] });
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: trigger.key, body: {} });
    expect(r.status).toBe(200);
    expect(r.body.auto_dispatched).toContainEqual({
      agent: free.id,
      type: 'task',
      id: open,
      title: 'for the free one',
    });
  });
});
