import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { stepReadySql } from '../../worker/src/domain/plans/repo.js';

let t: Target;
let alice: { id: string; key: string };
let outsider: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  alice = await registerAgent(t, 'alice', 'proj-a');
  outsider = await registerAgent(t, 'olga', 'proj-b');
  await t.db.run(
    "INSERT INTO operators (id, display_name, status) VALUES ('op-1', 'Op One', 'active'), ('op-2', 'Op Two', 'active'), ('op-gone', 'Gone', 'inactive')",
  );
});
afterAll(async () => t?.close());

async function newPlan(body: Record<string, unknown> = {}, auth: { agentKey?: string } = {}) {
  const r = await t.call('POST', '/plans', {
    ...(auth.agentKey ? { agentKey: auth.agentKey } : { admin: true }),
    body: { title: 'Plan', project_id: 'proj-a', ...body },
  });
  if (r.status !== 200) throw new Error(`plan create failed: ${r.status} ${r.text}`);
  return r.body.id as number;
}
const stepsOf = (planId: number) =>
  t.db.all<Record<string, any>>('SELECT * FROM plan_steps WHERE plan_id = ? ORDER BY step_order, id', [planId]);
const planRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM plans WHERE id = ?', [id]);
const eventsOf = async (type: string, planId: number) =>
  (await t.db.all<Record<string, any>>('SELECT * FROM events WHERE type = ? ORDER BY id', [type])).filter(
    (e) => JSON.parse(e.data).plan_id === planId,
  );

describe('plans: CRUD', () => {
  it('creates a draft plan with inline steps (empty titles skipped), caller as created_by, approval warning for agents', async () => {
    const r = await t.call('POST', '/plans', {
      agentKey: alice.key,
      body: {
        title: 'Ship <it>',
        project_id: 'proj-a',
        owner: 'alice',
        steps: [{ title: 'spec', phase: 'spec' }, { title: '' }, { title: 'code', assignee: 'ALICE', phase: 'code' }],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: expect.any(Number), title: 'Ship <it>', steps_created: 2 });
    expect(r.body.approval_warning).toBe(
      'This action (plan_create) should use the approval system. Call mycelium_request_approval first.',
    );
    expect(await planRow(r.body.id)).toMatchObject({
      status: 'draft',
      created_by: 'alice',
      owner: 'alice',
      tags: '[]',
    });
    const steps = await stepsOf(r.body.id);
    expect(steps.map((s) => [s.step_order, s.title, s.phase, s.assignee, s.status])).toEqual([
      [0, 'spec', 'spec', null, 'pending'],
      [1, 'code', 'code', 'alice', 'pending'],
    ]);
    expect(await eventsOf('plan_created', r.body.id)).toHaveLength(1);
  });

  it('list adds steps, step_count, progress and current_step; get adds full steps with comments', async () => {
    const id = await newPlan({
      project_id: 'proj-list',
      steps: [{ title: 'one' }, { title: 'two' }, { title: 'three' }],
    });
    const [s1, s2] = await stepsOf(id);
    await t.call('PUT', `/plans/${id}/steps/${s1.id}`, { admin: true, body: { status: 'completed' } });
    await t.call('PUT', `/plans/${id}/steps/${s2.id}`, { admin: true, body: { status: 'in_progress' } });
    await t.call('POST', `/plans/${id}/steps/${s2.id}/comments`, { admin: true, body: { content: 'note' } });
    const list = await t.call('GET', '/plans?project=proj-list', { agentKey: alice.key });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
    expect(list.body[0]).toMatchObject({
      id,
      step_count: 3,
      progress: { total: 3, completed: 1, percent: 33 },
      current_step: 'two',
    });
    expect(list.body[0].steps[0]).toEqual({
      plan_id: id,
      id: s1.id,
      status: 'completed',
      title: 'one',
      assignee: null,
      step_order: 0,
    });
    const g = await t.call('GET', `/plans/${id}`, { agentKey: outsider.key });
    expect(g.status).toBe(200);
    expect(g.body.progress).toEqual({ total: 3, completed: 1, percent: 33 });
    expect(g.body.steps[1].comments.map((c: any) => c.content)).toEqual(['note']);
    expect(g.body.steps[0].completed_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect((await t.call('GET', '/plans/99999', { admin: true })).body).toEqual({ error: 'Plan not found' });
    expect((await t.call('GET', '/plans/1abc', { admin: true })).status).toBe(404);
  });

  it('validates input: title required, status enum includes blocked (W16), unknown status rejected', async () => {
    expect((await t.call('POST', '/plans', { admin: true, body: { project_id: 'x' } })).body).toEqual({
      error: 'title is required',
    });
    const id = await newPlan();
    const bad = await t.call('PUT', `/plans/${id}`, { admin: true, body: { status: 'archived' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      code: 'invalid_enum',
      field: 'status',
      allowed: ['draft', 'active', 'completed', 'cancelled', 'blocked'],
    });
    const ok = await t.call('PUT', `/plans/${id}`, {
      agentKey: alice.key,
      body: { status: 'blocked', title: 'Renamed' },
    });
    expect(ok.body).toEqual({ ok: true, id });
    expect(await planRow(id)).toMatchObject({ status: 'blocked', title: 'Renamed' });
    expect(await eventsOf('plan_blocked', id)).toHaveLength(1);
  });

  it('SEC-19/W20: agents create and edit only in their projects; only admins move a plan', async () => {
    const cross = await t.call('POST', '/plans', {
      agentKey: outsider.key,
      body: { title: 'x', project_id: 'proj-a' },
    });
    expect(cross.status).toBe(403);
    const id = await newPlan();
    const put = await t.call('PUT', `/plans/${id}`, { agentKey: outsider.key, body: { title: 'hacked' } });
    expect(put.status).toBe(403);
    expect((await planRow(id))?.title).toBe('Plan');
    const move = await t.call('PUT', `/plans/${id}`, { agentKey: alice.key, body: { project_id: 'proj-b' } });
    expect(move.status).toBe(403);
    expect((await planRow(id))?.project_id).toBe('proj-a');
    expect((await t.call('PUT', `/plans/${id}`, { admin: true, body: { project_id: 'proj-c' } })).status).toBe(200);
    expect((await planRow(id))?.project_id).toBe('proj-c');
    const step = await t.call('POST', `/plans/${id}/steps`, { agentKey: alice.key, body: { title: 'nope' } });
    expect(step.status).toBe(403);
  });

  it('delete goes through the approval gate for agents; admin deletes steps and comments with the plan', async () => {
    const id = await newPlan({ steps: [{ title: 'a' }] });
    const [s] = await stepsOf(id);
    await t.call('POST', `/plans/${id}/steps/${s.id}/comments`, { admin: true, body: { content: 'c' } });
    const agent = await t.call('DELETE', `/plans/${id}`, { agentKey: alice.key });
    expect(agent.status).toBe(403);
    expect(agent.body.approval_required).toBe(true);
    expect(await planRow(id)).toBeDefined();
    const bogus = await t.call('DELETE', `/plans/${id}`, { agentKey: alice.key, body: { approval_id: 99999 } });
    expect(bogus.body).toEqual({ error: 'Approval #99999 not found', approval_required: true });
    const del = await t.call('DELETE', `/plans/${id}`, { admin: true });
    expect(del.body).toEqual({ ok: true, deleted: id });
    expect(await planRow(id)).toBeUndefined();
    expect(await stepsOf(id)).toEqual([]);
    expect(
      (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM plan_step_comments WHERE plan_id = ?', [id]))?.n,
    ).toBe(0);
    expect(await eventsOf('plan_deleted', id)).toHaveLength(1);
    expect((await t.call('DELETE', `/plans/${id}`, { admin: true })).status).toBe(404);
  });
});

describe('plan steps', () => {
  it('adds steps at max+1, validates linked_task_id, emits plan_step_added', async () => {
    const id = await newPlan();
    const a = await t.call('POST', `/plans/${id}/steps`, {
      agentKey: alice.key,
      body: { title: 'first', phase: 'spec' },
    });
    expect(a.body).toEqual({ id: expect.any(Number), plan_id: id });
    const b = await t.call('POST', `/plans/${id}/steps`, { agentKey: alice.key, body: { title: 'second' } });
    expect((await stepsOf(id)).map((s) => [s.id, s.step_order])).toEqual([
      [a.body.id, 0],
      [b.body.id, 1],
    ]);
    expect((await t.call('POST', `/plans/${id}/steps`, { admin: true, body: {} })).body).toEqual({
      error: 'title is required',
    });
    const badLink = await t.call('POST', `/plans/${id}/steps`, {
      admin: true,
      body: { title: 'x', linked_task_id: 987654 },
    });
    expect(badLink.status).toBe(400);
    expect(badLink.body.error).toMatch(/^linked_task_id/);
    expect(await eventsOf('plan_step_added', id)).toHaveLength(2);
  });

  it('SEC-18: a step is reachable only through its own plan; phantom steps are 404 with no event', async () => {
    const planA = await newPlan({ steps: [{ title: 'a1' }] });
    const planB = await newPlan({ steps: [{ title: 'b1' }] });
    const [stepB] = await stepsOf(planB);
    const before = await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'plan_step_updated'");
    const cross = await t.call('PUT', `/plans/${planA}/steps/${stepB.id}`, {
      admin: true,
      body: { status: 'in_progress' },
    });
    expect(cross.status).toBe(404);
    expect(cross.body).toEqual({ error: 'Plan step not found' });
    expect((await stepsOf(planB))[0].status).toBe('pending');
    const ghost = await t.call('PUT', `/plans/${planA}/steps/99999`, { admin: true, body: { status: 'in_progress' } });
    expect(ghost.body).toEqual({ error: 'Plan step not found' });
    expect(
      (await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'plan_step_updated'"))?.n,
    ).toBe(before?.n);
    expect((await t.call('DELETE', `/plans/${planA}/steps/${stepB.id}`, { admin: true })).status).toBe(404);
    expect(await stepsOf(planB)).toHaveLength(1);
    expect((await t.call('GET', `/plans/${planA}/steps/${stepB.id}/comments`, { admin: true })).body).toEqual({
      error: 'Step not found',
    });
    expect(
      (await t.call('POST', `/plans/${planA}/steps/${stepB.id}/comments`, { admin: true, body: { content: 'x' } }))
        .body,
    ).toEqual({ error: 'Step not found' });
  });

  it('step enum is enforced and the row stays unchanged on 400', async () => {
    const id = await newPlan({ steps: [{ title: 's' }] });
    const [s] = await stepsOf(id);
    const r = await t.call('PUT', `/plans/${id}/steps/${s.id}`, {
      agentKey: alice.key,
      body: { status: 'skipped', title: 'new' },
    });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      code: 'invalid_enum',
      field: 'status',
      allowed: ['pending', 'in_progress', 'completed', 'blocked', 'failed'],
    });
    expect((await stepsOf(id))[0].title).toBe('s');
  });

  it('step updates: written fields in the event, plan updated_at bumped, scope by plan project or step assignee', async () => {
    const id = await newPlan({ steps: [{ title: 's', assignee: 'olga' }, { title: 't' }] });
    const [s, s2] = await stepsOf(id);
    await t.db.run("UPDATE plans SET updated_at = '2000-01-01 00:00:00' WHERE id = ?", [id]);
    const r = await t.call('PUT', `/plans/${id}/steps/${s.id}`, {
      agentKey: outsider.key,
      body: { status: 'in_progress', linked_branch: 'b1' },
    });
    expect(r.body).toEqual({ ok: true, step_id: s.id });
    expect((await planRow(id))?.updated_at).not.toBe('2000-01-01 00:00:00');
    const ev = (await eventsOf('plan_step_updated', id)).pop();
    expect(JSON.parse(ev!.data)).toEqual({
      plan_id: id,
      step_id: s.id,
      fields: { status: 'in_progress', linked_branch: 'b1' },
    });
    const denied = await t.call('PUT', `/plans/${id}/steps/${s2.id}`, {
      agentKey: outsider.key,
      body: { status: 'in_progress' },
    });
    expect(denied.status).toBe(403);
  });

  it('claims never steal: an agent cannot take a step in progress under another agent', async () => {
    const bob = await registerAgent(t, 'bob', 'proj-a');
    const id = await newPlan({ steps: [{ title: 's' }] });
    const [s] = await stepsOf(id);
    expect(
      (
        await t.call('PUT', `/plans/${id}/steps/${s.id}`, {
          agentKey: alice.key,
          body: { status: 'in_progress', assignee: 'alice' },
        })
      ).status,
    ).toBe(200);
    const steal = await t.call('PUT', `/plans/${id}/steps/${s.id}`, {
      agentKey: bob.key,
      body: { status: 'in_progress', assignee: 'bob' },
    });
    expect(steal.status).toBe(409);
    expect(steal.body).toEqual({ error: 'Plan step already claimed', assignee: 'alice' });
    expect((await stepsOf(id))[0].assignee).toBe('alice');
    expect((await t.call('PUT', `/plans/${id}/steps/${s.id}`, { admin: true, body: { assignee: 'bob' } })).status).toBe(
      200,
    );
  });

  it('completing the last step completes an active plan once (W15); a draft plan is left alone', async () => {
    const active = await newPlan({ steps: [{ title: 'a' }, { title: 'b' }] });
    await t.call('PUT', `/plans/${active}`, { admin: true, body: { status: 'active' } });
    const [a, b] = await stepsOf(active);
    await t.call('PUT', `/plans/${active}/steps/${a.id}`, { agentKey: alice.key, body: { status: 'completed' } });
    expect((await planRow(active))?.status).toBe('active');
    await t.call('PUT', `/plans/${active}/steps/${b.id}`, { agentKey: alice.key, body: { status: 'completed' } });
    expect((await planRow(active))?.status).toBe('completed');
    expect((await eventsOf('plan_completed', active)).length).toBeGreaterThanOrEqual(1);
    const draft = await newPlan({ steps: [{ title: 'only' }] });
    const [only] = await stepsOf(draft);
    await t.call('PUT', `/plans/${draft}/steps/${only.id}`, { agentKey: alice.key, body: { status: 'completed' } });
    expect((await planRow(draft))?.status).toBe('draft');
    expect(await eventsOf('plan_completed', draft)).toHaveLength(0);
  });

  it('sequential readiness: only the first unfinished step of an active plan is ready', async () => {
    const id = await newPlan({ steps: [{ title: 'spec' }, { title: 'code' }, { title: 'verify' }] });
    const ready = async () =>
      (
        await t.db.all<{ title: string }>(
          `SELECT title FROM plan_steps WHERE plan_id = ? AND status = 'pending' AND ${stepReadySql('plan_steps')} ORDER BY step_order`,
          [id],
        )
      ).map((r) => r.title);
    expect(await ready()).toEqual([]); // draft plans feed no queue (W17)
    await t.call('PUT', `/plans/${id}`, { admin: true, body: { status: 'active' } });
    expect(await ready()).toEqual(['spec']);
    const [spec, code] = await stepsOf(id);
    await t.call('PUT', `/plans/${id}/steps/${spec.id}`, { admin: true, body: { status: 'completed' } });
    expect(await ready()).toEqual(['code']);
    await t.call('PUT', `/plans/${id}/steps/${code.id}`, { admin: true, body: { status: 'blocked' } });
    expect(await ready()).toEqual([]);
  });

  it('failed step: reopens the phase it verifies with the critique, up to 2 retries, then blocks the plan and notifies each active operator', async () => {
    const id = await newPlan({
      title: 'Pipeline',
      steps: [
        { title: 'spec', phase: 'spec' },
        { title: 'code', phase: 'code' },
        { title: 'verify', phase: 'verify' },
      ],
    });
    await t.call('PUT', `/plans/${id}`, { admin: true, body: { status: 'active' } });
    const [spec, code, verify] = await stepsOf(id);
    for (const s of [spec, code])
      await t.call('PUT', `/plans/${id}/steps/${s.id}`, { admin: true, body: { status: 'completed' } });

    for (const attempt of [1, 2]) {
      const r = await t.call('PUT', `/plans/${id}/steps/${verify.id}`, {
        agentKey: alice.key,
        body: { status: 'failed', critique: `tests red #${attempt}` },
      });
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ ok: true, step_id: verify.id });
      const [s1, s2, s3] = await stepsOf(id);
      expect([s1.status, s2.status, s3.status]).toEqual(['completed', 'pending', 'pending']);
      expect(s2.completed_at).toBeNull();
      expect(s3.attempt_count).toBe(attempt);
      const comments = await t.db.all<{ content: string; author: string }>(
        'SELECT content, author FROM plan_step_comments WHERE step_id = ? ORDER BY id',
        [code.id],
      );
      expect(comments[attempt - 1]).toEqual({
        author: '__system__',
        content: `[auto-retry ${attempt}/2] Prior verification FAILED — fix before re-submitting:\ntests red #${attempt}`,
      });
      expect((await eventsOf('plan_step_retry', id)).map((e) => JSON.parse(e.data).attempt)).toEqual(
        [1, 2].slice(0, attempt),
      );
      await t.call('PUT', `/plans/${id}/steps/${code.id}`, { admin: true, body: { status: 'completed' } });
    }
    const last = await t.call('PUT', `/plans/${id}/steps/${verify.id}`, {
      agentKey: alice.key,
      body: { status: 'failed' },
    });
    expect(last.body).toMatchObject({ ok: true, step_id: verify.id });
    expect((await stepsOf(id))[2]).toMatchObject({ status: 'failed', attempt_count: 2 });
    expect((await planRow(id))?.status).toBe('blocked');
    const inbox = await t.db.all<Record<string, any>>(
      "SELECT * FROM operator_inbox WHERE entity_type = 'plan_step' AND entity_id = ? AND type = 'approval' ORDER BY operator_id",
      [String(verify.id)],
    );
    expect(inbox.map((i) => i.operator_id)).toEqual(['op-1', 'op-2']);
    expect(inbox[0]).toMatchObject({
      priority: 'high',
      title: 'Plan step failed after retries: verify',
      status: 'unread',
    });
    expect(JSON.parse(inbox[0].data)).toEqual({ plan_id: id, step_id: verify.id });
    expect(await eventsOf('plan_step_failed', id)).toHaveLength(1);
    expect((await eventsOf('plan_blocked', id)).length).toBeGreaterThanOrEqual(1);
  });

  it('operator_input steps put one inbox item per active operator (create and update)', async () => {
    const id = await newPlan({ title: 'Needs a human' });
    const r = await t.call('POST', `/plans/${id}/steps`, {
      admin: true,
      body: { title: 'sign off', assignee: 'operator_input' },
    });
    const items = await t.db.all<Record<string, any>>(
      "SELECT * FROM operator_inbox WHERE entity_type = 'plan_step' AND entity_id = ?",
      [String(r.body.id)],
    );
    expect(items.map((i) => i.operator_id).sort()).toEqual(['op-1', 'op-2']);
    expect(items[0]).toMatchObject({
      type: 'approval',
      priority: 'high',
      title: 'Operator input needed: sign off',
      summary: `Plan #${id} — Needs a human. Step requires your review/approval.`,
    });
    expect(JSON.parse(items[0].data)).toEqual({ plan_id: id, step_id: r.body.id, step_title: 'sign off' });
    const s2 = await t.call('POST', `/plans/${id}/steps`, { admin: true, body: { title: 'later' } });
    await t.call('PUT', `/plans/${id}/steps/${s2.body.id}`, { admin: true, body: { assignee: 'operator_input' } });
    expect(await t.db.all('SELECT id FROM operator_inbox WHERE entity_id = ?', [String(s2.body.id)])).toHaveLength(2);
  });

  it('SEC-12: step comment author is the caller unless admin', async () => {
    const id = await newPlan({ steps: [{ title: 's' }] });
    const [s] = await stepsOf(id);
    const c = await t.call('POST', `/plans/${id}/steps/${s.id}/comments`, {
      agentKey: alice.key,
      body: { content: 'hello', author: 'someone-else' },
    });
    expect(c.body).toMatchObject({ step_id: s.id, plan_id: id, author: 'alice', content: 'hello' });
    const a = await t.call('POST', `/plans/${id}/steps/${s.id}/comments`, {
      admin: true,
      body: { content: 'x', author: 'ops' },
    });
    expect(a.body.author).toBe('ops');
    expect(
      (await t.call('POST', `/plans/${id}/steps/${s.id}/comments`, { agentKey: alice.key, body: {} })).body,
    ).toEqual({ error: 'content is required' });
    const list = await t.call('GET', `/plans/${id}/steps/${s.id}/comments`, { agentKey: outsider.key });
    expect(list.body.map((x: any) => x.author)).toEqual(['alice', 'ops']);
  });

  it('reorder sets step_order by position for steps of this plan only; non-array is 400', async () => {
    const id = await newPlan({ steps: [{ title: 'a' }, { title: 'b' }, { title: 'c' }] });
    const other = await newPlan({ steps: [{ title: 'x' }] });
    const [a, , c] = await stepsOf(id);
    const [x] = await stepsOf(other);
    expect((await t.call('PUT', `/plans/${id}/reorder`, { admin: true, body: { order: 'a,b' } })).body).toEqual({
      error: 'order must be an array of step IDs',
    });
    const r = await t.call('PUT', `/plans/${id}/reorder`, { agentKey: alice.key, body: { order: [c.id, x.id, a.id] } });
    expect(r.body).toEqual({ ok: true, plan_id: id });
    const order = Object.fromEntries((await stepsOf(id)).map((s) => [s.title, s.step_order]));
    expect(order).toEqual({ c: 0, a: 2, b: 1 });
    expect((await stepsOf(other))[0].step_order).toBe(0);
    expect(
      (await t.call('PUT', `/plans/${id}/reorder`, { agentKey: outsider.key, body: { order: [a.id] } })).status,
    ).toBe(403);
  });

  it('deleting a step removes only that step of that plan', async () => {
    const id = await newPlan({ steps: [{ title: 'a' }, { title: 'b' }] });
    const [a] = await stepsOf(id);
    const d = await t.call('DELETE', `/plans/${id}/steps/${a.id}`, { agentKey: alice.key });
    expect(d.body).toEqual({ ok: true, deleted: a.id });
    expect((await stepsOf(id)).map((s) => s.title)).toEqual(['b']);
    expect((await t.call('DELETE', `/plans/${id}/steps/${a.id}`, { agentKey: alice.key })).body).toEqual({
      error: 'Plan step not found',
    });
  });
});
