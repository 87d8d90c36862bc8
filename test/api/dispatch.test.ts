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
