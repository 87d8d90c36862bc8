import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

async function task(title: string, project: string, extra: Record<string, unknown> = {}) {
  const cols = { title, project_id: project, requester: 'admin', status: 'open', priority: 'normal', ...extra };
  const keys = Object.keys(cols);
  const r = await t.db.get<{ id: number }>(
    `INSERT INTO tasks (${keys.join(',')}) VALUES (${keys.map(() => '?').join(',')}) RETURNING id`,
    Object.values(cols) as never[],
  );
  return Number(r!.id);
}
async function plan(project: string, status = 'active', title = 'Plan') {
  const r = await t.db.get<{ id: number }>(
    'INSERT INTO plans (title, project_id, status) VALUES (?, ?, ?) RETURNING id',
    [title, project, status],
  );
  return Number(r!.id);
}
async function step(planId: number, order: number, extra: Record<string, unknown> = {}) {
  const cols = { plan_id: planId, step_order: order, title: `Step ${order}`, status: 'pending', ...extra };
  const keys = Object.keys(cols);
  const r = await t.db.get<{ id: number }>(
    `INSERT INTO plan_steps (${keys.join(',')}) VALUES (${keys.map(() => '?').join(',')}) RETURNING id`,
    Object.values(cols) as never[],
  );
  return Number(r!.id);
}
async function bug(title: string, project: string, extra: Record<string, unknown> = {}) {
  const cols = { title, description: 'd', project_id: project, status: 'open', severity: 'normal', ...extra };
  const keys = Object.keys(cols);
  const r = await t.db.get<{ id: number }>(
    `INSERT INTO bugs (${keys.join(',')}) VALUES (${keys.map(() => '?').join(',')}) RETURNING id`,
    Object.values(cols) as never[],
  );
  return Number(r!.id);
}

describe('GET /work/:agentId', () => {
  it('orders the eight buckets as the spec says and ranks priority by meaning (W3)', async () => {
    const a = await registerAgent(t, 'wq-ada', 'wq');
    const other = await registerAgent(t, 'wq-bob', 'wq');
    // bucket 1: a request
    const req = await t.call('POST', '/requests', {
      agentKey: other.key,
      body: { to_agent: a.id, content: 'please review' },
    });
    expect(req.status).toBe(200);
    const p = await plan('wq');
    const s1 = await step(p, 1, { assignee: a.id, status: 'in_progress' });
    const blockedMine = await step(p, 2, { assignee: a.id }); // step 1 not completed yet: not ready
    const pMine = await plan('wq', 'active', 'Mine');
    const s2 = await step(pMine, 1, { assignee: a.id });
    const p2 = await plan('wq', 'active', 'Second');
    const s3 = await step(p2, 1);
    const s4 = await step(p2, 2); // not ready: step 1 pending
    const pDraft = await plan('wq', 'draft');
    const sDraft = await step(pDraft, 1); // draft plan: never queued (W8)
    const tLow = await task('low one', 'wq', { assignee: a.id, priority: 'low' });
    const tHigh = await task('high one', 'wq', { assignee: a.id, priority: 'high' });
    const tNormal = await task('normal one', 'wq', { assignee: a.id });
    const tProg = await task('doing', 'wq', { assignee: a.id, status: 'in_progress' });
    const bMine = await bug('my bug', 'wq', { assignee: a.id, status: 'in_progress' });
    const bFree = await bug('free bug', 'wq', { severity: 'critical' });
    const bOther = await bug('other project bug', 'elsewhere');

    const r = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(true);
    const q = r.body.queue as Array<{ type: string; id: number; priority: number; title: string }>;
    const seq = q.map((i) => `${i.type}:${i.id}`);
    expect(seq).toEqual([
      `request:${req.body.id}`,
      `plan_step:${s1}`,
      `plan_step:${s2}`,
      `task:${tProg}`,
      `task:${tHigh}`,
      `task:${tNormal}`,
      `task:${tLow}`,
      `bug:${bMine}`,
      `plan_step_unassigned:${s3}`,
      `bug_unassigned:${bFree}`,
    ]);
    expect(seq).not.toContain(`plan_step:${blockedMine}`);
    expect(seq).not.toContain(`plan_step_unassigned:${s4}`);
    expect(seq).not.toContain(`plan_step_unassigned:${sDraft}`);
    expect(seq).not.toContain(`bug_unassigned:${bOther}`);
    expect(q[0]).toMatchObject({
      priority: 1,
      title: `Request from ${other.id}`,
      from_agent: other.id,
      content: 'please review',
      summary: 'please review',
    });
    expect(q.map((i) => i.priority)).toEqual([1, 2, 3, 4, 5, 5, 5, 6, 7, 8]);
  });

  it("keeps each list's own order when a list holds several items (the poll's JSON lists)", async () => {
    const a = await registerAgent(t, 'wq-ord', 'wqo');
    const other = await registerAgent(t, 'wq-ord-b', 'wqo');
    const reqs: number[] = [];
    for (const n of [1, 2, 3]) {
      const r = await t.call('POST', '/requests', {
        agentKey: other.key,
        body: { to_agent: a.id, content: `req ${n}` },
      });
      reqs.push(r.body.id);
    }
    const pOld = await plan('wqo', 'active', 'Old plan');
    const pNew = await plan('wqo', 'active', 'New plan');
    await t.db.run("UPDATE plans SET updated_at = '2026-01-01 00:00:00' WHERE id = ?", [pOld]);
    await t.db.run("UPDATE plans SET updated_at = '2026-02-01 00:00:00' WHERE id = ?", [pNew]);
    const sOld = await step(pOld, 1, { assignee: a.id });
    const sNewA = await step(pNew, 1, { assignee: a.id });
    const sNewB = await step(pNew, 1, { assignee: a.id });
    const tNormalOld = await task('normal old', 'wqo', { assignee: a.id, updated_at: '2026-01-01 00:00:00' });
    const tLow = await task('low', 'wqo', { assignee: a.id, priority: 'low' });
    const tNormalNew = await task('normal new', 'wqo', { assignee: a.id, updated_at: '2026-03-01 00:00:00' });
    const tHigh = await task('high', 'wqo', { assignee: a.id, priority: 'high' });
    const bLow = await bug('mine low', 'wqo', { assignee: a.id, severity: 'low' });
    const bCrit = await bug('mine critical', 'wqo', { assignee: a.id, severity: 'critical' });
    const bHigh = await bug('mine high', 'wqo', { assignee: a.id, severity: 'high' });
    const pFreeOld = await plan('wqo', 'active', 'Free old');
    const pFreeNew = await plan('wqo', 'active', 'Free new');
    await t.db.run("UPDATE plans SET updated_at = '2025-01-01 00:00:00' WHERE id = ?", [pFreeOld]);
    await t.db.run("UPDATE plans SET updated_at = '2025-06-01 00:00:00' WHERE id = ?", [pFreeNew]);
    const fOld = await step(pFreeOld, 1);
    const fNew = await step(pFreeNew, 1);
    const fbNormal = await bug('free normal', 'wqo');
    const fbCrit = await bug('free critical', 'wqo', { severity: 'critical' });
    const fbLow = await bug('free low', 'wqo', { severity: 'low' });

    const r = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    expect(r.status).toBe(200);
    const seq = (r.body.queue as Array<{ type: string; id: number }>).map((i) => `${i.type}:${i.id}`);
    expect(seq).toEqual([
      ...[...reqs].reverse().map((id) => `request:${id}`),
      `plan_step:${sNewA}`,
      `plan_step:${sNewB}`,
      `plan_step:${sOld}`,
      `task:${tHigh}`,
      `task:${tNormalNew}`,
      `task:${tNormalOld}`,
      `task:${tLow}`,
      `bug:${bCrit}`,
      `bug:${bHigh}`,
      `bug:${bLow}`,
      `plan_step_unassigned:${fNew}`,
      `plan_step_unassigned:${fOld}`,
      `bug_unassigned:${fbCrit}`,
      `bug_unassigned:${fbNormal}`,
      `bug_unassigned:${fbLow}`,
    ]);
    // Boot reads the same parts as rows (ORDER BY in each statement): the same queue, first five.
    const boot = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(boot.body.work_queue.map((i: { type: string; id: number }) => `${i.type}:${i.id}`)).toEqual(seq.slice(0, 5));
  });

  it('does not serve blocked or unapproved tasks as ready (spec 03 W2/W3)', async () => {
    const a = await registerAgent(t, 'wq-blk', 'wqb');
    const blocker = await task('blocker', 'wqb', { assignee: 'someone-else', status: 'in_progress' });
    const blocked = await task('blocked', 'wqb', { assignee: a.id, blocked_by: JSON.stringify([blocker]) });
    const unapproved = await task('unapproved', 'wqb', { assignee: a.id, needs_approval: 1 });
    const r = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    const ids = r.body.queue.map((i: { id: number }) => i.id);
    expect(ids).not.toContain(blocked);
    expect(ids).not.toContain(unapproved);
    await t.db.run("UPDATE tasks SET status = 'done' WHERE id = ?", [blocker]);
    const r2 = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    expect(r2.body.queue.map((i: { id: number }) => i.id)).toContain(blocked);
  });

  it('self-or-admin: another agent and a member JWT get 403, an admin JWT reads it (SEC-03)', async () => {
    const a = await registerAgent(t, 'wq-sec-a', 'sec');
    const b = await registerAgent(t, 'wq-sec-b', 'sec');
    const other = await t.call('GET', `/work/${a.id}`, { agentKey: b.key });
    expect(other.status).toBe(403);
    expect(other.body.error).toBe('Can only access your own work queue');
    const member = await createOperator(t, 'wq-sec-a', 'member'); // named like the agent: still not "self" (SEC-14)
    const m = await t.call('GET', `/work/${a.id}`, { token: member.token });
    expect(m.status).toBe(403);
    expect(m.body.error).toBe('Can only access your own work queue');
    const sp = await t.call('GET', `/agents/${a.id}/savepoint`, { token: member.token });
    expect(sp.status).toBe(403);
    expect(sp.body.error).toBe('Can only access your own savepoints');
    const list = await t.call('GET', '/agents', { token: member.token });
    expect(list.status).toBe(200);
    const admin = await createOperator(t, 'wq-admin', 'admin');
    const ok = await t.call('GET', `/work/${a.id}`, { token: admin.token });
    expect(ok.status).toBe(200);
    expect(Array.isArray(ok.body.queue)).toBe(true);
    const missing = await t.call('GET', '/work/nobody-here', { admin: true });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('Agent not found');
  });
});

describe('auto_claim', () => {
  it('claims the top item per type, emits work_claimed, and returns a request unchanged', async () => {
    const a = await registerAgent(t, 'ac-ada', 'ac');
    const tid = await task('claim me', 'ac', { assignee: a.id, description: 'the details' });
    const r = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(r.body.claimed).toMatchObject({ type: 'task', id: tid, claimed: true, description: 'the details' });
    const row = await t.db.get<{ status: string; assignee: string }>(
      'SELECT status, assignee FROM tasks WHERE id = ?',
      [tid],
    );
    expect(row).toMatchObject({ status: 'in_progress', assignee: a.id });
    const ev = await t.db.get<{ data: string; summary: string }>(
      "SELECT data, summary FROM events WHERE type = 'work_claimed' AND agent = ? ORDER BY id DESC",
      [a.id],
    );
    expect(JSON.parse(ev!.data)).toEqual({ item_type: 'task', item_id: tid });
    expect(ev!.summary).toBe(`${a.id} auto-claimed task #${tid}: claim me`);

    const p = await plan('ac');
    const sid = await step(p, 1, { description: 'step details' });
    await t.db.run("UPDATE tasks SET status = 'done' WHERE id = ?", [tid]);
    const r2 = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(r2.body.claimed).toMatchObject({
      type: 'plan_step_unassigned',
      id: sid,
      claimed: true,
      description: 'step details',
      plan_title: 'Plan',
    });
    expect(await t.db.get('SELECT status, assignee FROM plan_steps WHERE id = ?', [sid])).toMatchObject({
      status: 'in_progress',
      assignee: a.id,
    });

    const b = await registerAgent(t, 'ac-bob', 'ac');
    const req = await t.call('POST', '/requests', { agentKey: b.key, body: { to_agent: a.id, content: 'help' } });
    const r3 = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(r3.body.claimed).toMatchObject({ type: 'request', id: req.body.id });
    expect(
      (await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [req.body.id]))!.status,
    ).toBe('pending');
  });

  it('empty queue: no claimed key', async () => {
    const a = await registerAgent(t, 'ac-empty', 'ac-empty-proj');
    const r = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(r.body).toEqual({ ok: true, queue: [] });
  });

  it('concurrent auto-claims from many agents claim each item exactly once (W4)', async () => {
    const n = 12;
    const agents = [];
    for (let i = 0; i < n; i++) agents.push(await registerAgent(t, `race-${i}`, 'race'));
    const stepIds: number[] = [];
    const p = await plan('race');
    for (let i = 0; i < 5; i++) stepIds.push(await step(p, 0)); // same order: all ready
    const bugIds: number[] = [];
    for (let i = 0; i < 4; i++) bugIds.push(await bug(`race bug ${i}`, 'race'));
    const results = await Promise.all(
      agents.map((a) => t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key })),
    );
    const claimed = results.map((r) => r.body.claimed).filter(Boolean) as Array<{ type: string; id: number }>;
    const keys = claimed.map((c) => `${c.type.replace('_unassigned', '')}:${c.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(claimed.length).toBe(9); // 5 steps + 4 bugs, 12 agents
    const steps = await t.db.all<{ assignee: string }>('SELECT assignee FROM plan_steps WHERE plan_id = ?', [p]);
    const bugs = await t.db.all<{ assignee: string }>(`SELECT assignee FROM bugs WHERE id IN (${bugIds.join(',')})`);
    const owners = [...steps, ...bugs].map((r) => r.assignee);
    expect(owners.every(Boolean)).toBe(true);
    expect(new Set(owners).size).toBe(9);
  });
});

describe('POST /work/request', () => {
  it('503 without a configured coordinator (W12); routed to the configured one', async () => {
    const a = await registerAgent(t, 'wr-ada', 'wr');
    const bad = await t.call('POST', '/work/request', { agentKey: a.key, body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('type required (task_request, asset_request, work_request)');
    const none = await t.call('POST', '/work/request', { agentKey: a.key, body: { type: 'work_request' } });
    expect(none.status).toBe(503);
    expect(none.body.error).toBe('No coordinator agent configured');
    await t.db.run("UPDATE instance_config SET value = 'wr-coord' WHERE key = 'admin_agent_id'");
    const ok = await t.call('POST', '/work/request', {
      agentKey: a.key,
      body: { type: 'task_request', target: 'ui', description: 'more' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, routed_to: 'wr-coord' });
    const m = await t.db.get<{ msg_type: string; status: string; priority: string; content: string; to_agent: string }>(
      'SELECT * FROM messages WHERE id = ?',
      [ok.body.message_id],
    );
    expect(m).toMatchObject({ msg_type: 'request', status: 'pending', priority: 'urgent', to_agent: 'wr-coord' });
    expect(JSON.parse(m!.content)).toEqual({
      type: 'task_request',
      target: 'ui',
      description: 'more',
      priority: 'normal',
    });
    await t.db.run("UPDATE instance_config SET value = '' WHERE key = 'admin_agent_id'");
  });
});
