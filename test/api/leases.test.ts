import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent, whileEventFails } from '../support/fixtures.js';
import { ConfigError, loadConfig } from '../../worker/src/config.js';

/**
 * Crash-proof claims (issue 17; spec 07 REL-03, REL-04): a claim carries a lease renewed by the
 * holder's heartbeat; maintenance releases lapsed leases; a stale fencing token is refused with 409;
 * the kill switch pauses expiry. And events commit in the same batch as the writes they record.
 */

let t: Target;
const TTL = 900; // the default: 3 × the 5-minute idle heartbeat interval
let n = 0;

beforeAll(async () => {
  t = await startTarget();
  await t.call('GET', '/agents', { admin: true }); // the Worker migrates on its first request
  await t.db.run(
    "INSERT INTO operators (id, display_name, status) VALUES ('op-l1', 'Op', 'active'), ('op-off', 'Off', 'inactive')",
  );
});
afterAll(async () => t?.close());

/** A fresh agent per test, so one test's backdated rows never release another's items. */
const agent = () => registerAgent(t, `lease-agent-${++n}`, 'proj-l');

let ip = 0;
async function newTask(title = 'leased task') {
  const r = await t.call('POST', '/tasks', {
    admin: true,
    ip: `192.0.2.${(ip++ % 250) + 1}`,
    body: { title, project_id: 'proj-l' },
  });
  if (r.status !== 200) throw new Error(`create failed ${r.status} ${r.text}`);
  return r.body.id as number;
}
async function newBug() {
  const r = await t.call('POST', '/bugs', {
    admin: true,
    ip: `192.0.2.${(ip++ % 250) + 1}`,
    body: { title: 'leased bug', description: 'd', project_id: 'proj-l' },
  });
  if (r.status !== 200) throw new Error(`bug create failed ${r.status} ${r.text}`);
  return r.body.id as number;
}
const taskRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM tasks WHERE id = ?', [id]);

/** The holder has been silent `minutes` (its heartbeat and the item's last write both that old). */
async function silence(agentId: string, table: 'tasks' | 'bugs' | 'plan_steps', id: number, minutes: number) {
  await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', ?) WHERE id = ?", [
    `-${minutes} minutes`,
    agentId,
  ]);
  await t.db.run(`UPDATE ${table} SET updated_at = datetime('now', ?) WHERE id = ?`, [`-${minutes} minutes`, id]);
}
const leaseEvents = async (itemType: string, id: number) =>
  (await t.db.all<Record<string, any>>("SELECT * FROM events WHERE type = 'lease_expired' ORDER BY id"))
    .map((e) => ({ ...e, data: JSON.parse(e.data) }))
    .filter((e) => e.data.item_type === itemType && e.data.item_id === id);
const heartbeat = (key: string) =>
  t.call('POST', '/agents/heartbeat', { agentKey: key, body: { status: 'busy', working_on: 'leased work' } });

describe('claim leases: tokens (REL-03)', () => {
  it('a claim answers a fencing token and the TTL; the holder re-claiming keeps it; a new holder gets a new one', async () => {
    const a = await agent();
    const id = await newTask();
    const c1 = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    expect(c1.status).toBe(200);
    expect(c1.body).toMatchObject({ ok: true, id, assignee: a.id, status: 'in_progress', lease_ttl_seconds: TTL });
    expect(c1.body.lease_token).toMatch(/^[0-9a-f]{32}$/);
    const c2 = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    expect(c2.status).toBe(200);
    expect(c2.body.lease_token).toBe(c1.body.lease_token);
    // An admin takeover is a new holder: a new token, and the old one no longer writes.
    const f = await t.call('POST', `/tasks/${id}/claim`, {
      admin: true,
      body: { agent_id: 'someone-else', force: true },
    });
    expect(f.status).toBe(200);
    expect(f.body.lease_token).toMatch(/^[0-9a-f]{32}$/);
    expect(f.body.lease_token).not.toBe(c1.body.lease_token);
    const late = await t.call('PUT', `/tasks/${id}`, {
      agentKey: a.key,
      body: { status: 'done', lease_token: c1.body.lease_token },
    });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatch(/^Lease on this task is no longer held/);
    expect((await taskRow(id))!.status).toBe('in_progress');
  });

  it('the holder writes with its token; writes without a token keep the identity rule (the original SDK works unchanged)', async () => {
    const a = await agent();
    const id = await newTask();
    const c = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    const withToken = await t.call('PUT', `/tasks/${id}`, {
      agentKey: a.key,
      body: { description: 'progress', lease_token: c.body.lease_token },
    });
    expect(withToken.status).toBe(200);
    const without = await t.call('PUT', `/tasks/${id}`, { agentKey: a.key, body: { status: 'done' } });
    expect(without.status).toBe(200);
    expect((await taskRow(id))!.status).toBe('done');
    // The token is a write condition, never a stored change.
    const ev = await t.db.get<{ data: string }>(
      "SELECT data FROM events WHERE type = 'task_done' AND json_extract(data, '$.task_id') = ?",
      [id],
    );
    expect(ev!.data).not.toContain(c.body.lease_token);
  });

  it('a malformed token is a 400 naming the field, and changes nothing', async () => {
    const a = await agent();
    const id = await newTask();
    await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    const r = await t.call('PUT', `/tasks/${id}`, {
      agentKey: a.key,
      body: { status: 'done', lease_token: { $ne: null } },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/lease_token/);
    expect((await taskRow(id))!.status).toBe('in_progress');
  });
});

describe('claim leases: expiry by maintenance (REL-04)', () => {
  it('a silent holder loses the task: back to open, attempt bumped, lease_expired event, operator inbox, late write refused with 409', async () => {
    const a = await agent();
    const b = await agent();
    const id = await newTask('will lapse');
    const c = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    const token = c.body.lease_token as string;
    await silence(a.id, 'tasks', id, 16);
    await t.scheduled();
    const row = (await taskRow(id))!;
    expect(row).toMatchObject({ status: 'open', assignee: null, lease_token: null, attempt: 1 });
    const evs = await leaseEvents('task', id);
    expect(evs).toHaveLength(1);
    expect(evs[0]).toMatchObject({ agent: '__system__', project_id: 'proj-l' });
    expect(evs[0].data).toMatchObject({
      item_type: 'task',
      item_id: id,
      task_id: id,
      agent: a.id,
      attempt: 1,
      lease_ttl_seconds: TTL,
    });
    const inbox = await t.db.all<Record<string, any>>(
      "SELECT * FROM operator_inbox WHERE entity_type = 'task' AND entity_id = ?",
      [String(id)],
    );
    expect(inbox.map((i) => i.operator_id)).toEqual(['op-l1']);
    expect(inbox[0].title).toBe('Claim released: will lapse');
    // The public event read sees it too (it went through the one event path).
    const listed = await t.call('GET', '/events?type=lease_expired', { admin: true });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain(`Lease on task #${id} expired`);

    // The zombie comes back and reports completion with its old token: refused, nothing written.
    const late = await t.call('PUT', `/tasks/${id}`, { agentKey: a.key, body: { status: 'done', lease_token: token } });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ assignee: null, status: 'open' });
    expect((await taskRow(id))!.status).toBe('open');

    // Someone else claims it (attempt 2 of the work): new token; the old holder is still refused.
    const cb = await t.call('POST', `/tasks/${id}/claim`, { agentKey: b.key, body: {} });
    expect(cb.status).toBe(200);
    expect(cb.body.lease_token).not.toBe(token);
    expect(
      (await t.call('PUT', `/tasks/${id}`, { agentKey: a.key, body: { status: 'done', lease_token: token } })).status,
    ).toBe(409);
    const done = await t.call('PUT', `/tasks/${id}`, {
      agentKey: b.key,
      body: { status: 'done', lease_token: cb.body.lease_token },
    });
    expect(done.status).toBe(200);
    // A second pass releases nothing more.
    await t.scheduled();
    expect(await leaseEvents('task', id)).toHaveLength(1);
  });

  it('one maintenance pass releases at most 20 items (a bounded pass); the rest go on the next pass', async () => {
    const a = await agent();
    const ids: number[] = [];
    for (let i = 0; i < 23; i++) {
      const id = await newTask(`bulk ${i}`);
      expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} })).status).toBe(200);
      ids.push(id);
    }
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-1 day') WHERE id = ?", [a.id]);
    await t.db.run("UPDATE tasks SET updated_at = datetime('now', '-1 day') WHERE assignee = ?", [a.id]);
    const held = async () =>
      Number(
        (await t.db.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM tasks WHERE assignee = ? AND status = 'in_progress'",
          [a.id],
        ))!.n,
      );
    await t.scheduled();
    expect(await held()).toBe(3);
    await t.scheduled();
    expect(await held()).toBe(0);
    expect(
      (await t.db.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM tasks WHERE id IN (${ids.join(',')}) AND status = 'open' AND attempt = 1`,
      ))!.n,
    ).toBe(23);
  });

  it('the heartbeat renews every lease its agent holds without writing to the items', async () => {
    const a = await agent();
    const id = await newTask();
    const c = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    await silence(a.id, 'tasks', id, 20);
    const before = (await taskRow(id))!.updated_at;
    expect((await heartbeat(a.key)).status).toBe(200);
    expect((await taskRow(id))!.updated_at).toBe(before);
    await t.scheduled();
    expect(await taskRow(id)).toMatchObject({
      status: 'in_progress',
      assignee: a.id,
      lease_token: c.body.lease_token,
      attempt: 0,
    });
    expect(await leaseEvents('task', id)).toHaveLength(0);
  });

  it("the holder's own writes and a fresh claim count as signs of life; silence shorter than the TTL keeps the lease", async () => {
    const a = await agent();
    const id = await newTask();
    await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    // Heartbeat 2 h old (never renewed since) but claimed just now: alive.
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-120 minutes') WHERE id = ?", [a.id]);
    await t.scheduled();
    expect((await taskRow(id))!.status).toBe('in_progress');
    // Silent 14 of 15 minutes: alive.
    await silence(a.id, 'tasks', id, 14);
    await t.scheduled();
    expect(await taskRow(id)).toMatchObject({ status: 'in_progress', assignee: a.id });
  });

  it('claims held by non-agents (operators, free-text names) never lapse: they do not heartbeat', async () => {
    const id = await newTask();
    const c = await t.call('POST', `/tasks/${id}/claim`, { admin: true, body: { agent_id: 'human-reviewer' } });
    expect(c.status).toBe(200);
    await t.db.run("UPDATE tasks SET updated_at = datetime('now', '-3 days') WHERE id = ?", [id]);
    await t.scheduled();
    expect(await taskRow(id)).toMatchObject({ status: 'in_progress', assignee: 'human-reviewer' });
  });

  it('the kill switch pauses expiry: a frozen network releases nothing; after unfreezing the lapsed lease is released', async () => {
    const a = await agent();
    const id = await newTask();
    await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    await silence(a.id, 'tasks', id, 60);
    expect((await t.call('PUT', '/admin/override', { admin: true, body: { action: 'freeze' } })).status).toBe(200);
    try {
      await t.scheduled();
      expect(await taskRow(id)).toMatchObject({ status: 'in_progress', assignee: a.id, attempt: 0 });
      expect(await leaseEvents('task', id)).toHaveLength(0);
    } finally {
      expect((await t.call('PUT', '/admin/override', { admin: true, body: { action: 'unfreeze' } })).status).toBe(200);
    }
    await t.scheduled();
    expect(await taskRow(id)).toMatchObject({ status: 'open', assignee: null, attempt: 1 });
  });

  it('bugs: a lapsed claim goes back to open with attempt 1; the stale token is refused', async () => {
    const a = await agent();
    const id = await newBug();
    const c = await t.call('POST', `/bugs/${id}/claim`, { agentKey: a.key, body: {} });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ assignee: a.id, status: 'in_progress', lease_ttl_seconds: TTL });
    expect(c.body.lease_token).toMatch(/^[0-9a-f]{32}$/);
    expect(
      (
        await t.call('PUT', `/bugs/${id}`, {
          agentKey: a.key,
          body: { admin_notes: 'looking', lease_token: c.body.lease_token },
        })
      ).status,
    ).toBe(200);
    await silence(a.id, 'bugs', id, 16);
    await t.scheduled();
    expect(await t.db.get('SELECT status, assignee, attempt, lease_token FROM bugs WHERE id = ?', [id])).toEqual({
      status: 'open',
      assignee: null,
      attempt: 1,
      lease_token: null,
    });
    const evs = await leaseEvents('bug', id);
    expect(evs.map((e) => e.data)).toEqual([expect.objectContaining({ bug_id: id, agent: a.id, attempt: 1 })]);
    const late = await t.call('PUT', `/bugs/${id}`, {
      agentKey: a.key,
      body: { status: 'fixed', lease_token: c.body.lease_token },
    });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatch(/^Lease on this bug is no longer held/);
    expect((await t.db.get<{ status: string }>('SELECT status FROM bugs WHERE id = ?', [id]))!.status).toBe('open');
  });

  it('plan steps: the work queue auto-claim answers the token; a lapsed step goes back to pending, unassigned, attempt 1', async () => {
    const a = await agent();
    const p = await t.call('POST', '/plans', {
      admin: true,
      body: { title: 'Leased plan', project_id: 'proj-l', steps: [{ title: 'only step' }] },
    });
    expect(p.status).toBe(200);
    expect((await t.call('PUT', `/plans/${p.body.id}`, { admin: true, body: { status: 'active' } })).status).toBe(200);
    const step = (await t.db.get<{ id: number }>('SELECT id FROM plan_steps WHERE plan_id = ?', [p.body.id]))!;
    const w = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(w.status).toBe(200);
    expect(w.body.claimed).toMatchObject({
      type: 'plan_step_unassigned',
      id: step.id,
      claimed: true,
      lease_ttl_seconds: TTL,
    });
    const token = w.body.claimed.lease_token as string;
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    expect(
      await t.db.get('SELECT COUNT(*) AS n FROM events WHERE type = ? AND json_extract(data, ?) = ?', [
        'work_claimed',
        '$.item_id',
        step.id,
      ]),
    ).toEqual({ n: 1 });
    await silence(a.id, 'plan_steps', step.id, 16);
    await t.scheduled();
    expect(
      await t.db.get('SELECT status, assignee, attempt, attempt_count FROM plan_steps WHERE id = ?', [step.id]),
    ).toEqual({
      status: 'pending',
      assignee: null,
      attempt: 1,
      attempt_count: 0,
    });
    expect((await leaseEvents('plan_step', step.id)).map((e) => e.data)).toEqual([
      expect.objectContaining({ step_id: step.id, plan_id: p.body.id, agent: a.id }),
    ]);
    const late = await t.call('PUT', `/plans/${p.body.id}/steps/${step.id}`, {
      agentKey: a.key,
      body: { status: 'completed', lease_token: token },
    });
    expect(late.status).toBe(409);
    expect(late.body.error).toMatch(/^Lease on this plan step is no longer held/);
    expect((await t.db.get<{ status: string }>('SELECT status FROM plan_steps WHERE id = ?', [step.id]))!.status).toBe(
      'pending',
    );
    // Claimed again (same agent, new lease): the new token writes.
    const again = await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key });
    expect(again.body.claimed.lease_token).not.toBe(token);
    const ok = await t.call('PUT', `/plans/${p.body.id}/steps/${step.id}`, {
      agentKey: a.key,
      body: { status: 'completed', lease_token: again.body.claimed.lease_token },
    });
    expect(ok.status).toBe(200);
  });
});

describe('events commit with their writes (issue 17)', () => {
  const failing = (type: string, fn: () => Promise<void>) => whileEventFails(t, type, fn);

  it('task create: when its event cannot be written, no task is left without it', async () => {
    await failing('task_created', async () => {
      const r = await t.call('POST', '/tasks', {
        admin: true,
        body: { title: 'orphan-candidate', project_id: 'proj-l' },
      });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'Internal server error' });
    });
    expect(await t.db.all("SELECT id FROM tasks WHERE title = 'orphan-candidate'")).toEqual([]);
    const ok = await t.call('POST', '/tasks', { admin: true, body: { title: 'with-event', project_id: 'proj-l' } });
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'task_created' AND json_extract(data, '$.task_id') = ?",
      [ok.body.id],
    );
    expect(ev).toMatchObject({ agent: '__system__', project_id: 'proj-l', summary: 'System created task: with-event' });
  });

  it('task claim: when its event cannot be written, the task stays unclaimed', async () => {
    const a = await agent();
    const id = await newTask();
    await failing('task_claimed', async () => {
      expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} })).status).toBe(500);
    });
    expect(await taskRow(id)).toMatchObject({ status: 'open', assignee: null, lease_token: null });
    expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} })).status).toBe(200);
    expect(
      await t.db.get(
        "SELECT COUNT(*) AS n FROM events WHERE type = 'task_claimed' AND json_extract(data, '$.task_id') = ?",
        [id],
      ),
    ).toEqual({ n: 1 });
  });

  it('bug create and claim, and the work-queue auto-claim, write nothing without their events', async () => {
    await failing('bug_created', async () => {
      expect(
        (
          await t.call('POST', '/bugs', {
            admin: true,
            body: { title: 'orphan-bug', description: 'd', project_id: 'proj-l' },
          })
        ).status,
      ).toBe(500);
    });
    expect(await t.db.all("SELECT id FROM bugs WHERE title = 'orphan-bug'")).toEqual([]);
    const a = await agent();
    const bug = await newBug();
    const ev = await t.db.get<Record<string, any>>(
      "SELECT summary FROM events WHERE type = 'bug_created' AND json_extract(data, '$.bug_id') = ?",
      [bug],
    );
    expect(ev!.summary).toBe(`System filed bug #${bug}: leased bug`);
    await failing('bug_claimed', async () => {
      expect((await t.call('POST', `/bugs/${bug}/claim`, { agentKey: a.key, body: {} })).status).toBe(500);
    });
    expect(await t.db.get('SELECT status, assignee FROM bugs WHERE id = ?', [bug])).toEqual({
      status: 'open',
      assignee: null,
    });
    const id = await newTask();
    await t.call('PUT', `/tasks/${id}`, { admin: true, body: { assignee: a.id } });
    await failing('work_claimed', async () => {
      expect((await t.call('GET', `/work/${a.id}?auto_claim=true`, { agentKey: a.key })).status).toBe(500);
    });
    expect(await taskRow(id)).toMatchObject({ status: 'open', assignee: a.id });
  });

  it('task done-cascade (REL-01): when a derived event cannot be written, the task is not done and its dependent stays blocked', async () => {
    const blocker = await newTask('blocker');
    const dep = (
      await t.call('POST', '/tasks', {
        admin: true,
        body: { title: 'dependent', project_id: 'proj-l', blocked_by: [blocker] },
      })
    ).body.id as number;
    await failing('task_unblocked', async () => {
      const r = await t.call('PUT', `/tasks/${blocker}`, { admin: true, body: { status: 'done' } });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'Failed to complete task cascade' });
    });
    expect((await taskRow(blocker))!.status).toBe('open');
    expect(JSON.parse((await taskRow(dep))!.blocked_by)).toEqual([blocker]);
    const ok = await t.call('PUT', `/tasks/${blocker}`, { admin: true, body: { status: 'done' } });
    expect(ok.body.unblocked).toEqual([dep]);
    const ev = await t.db.all<Record<string, any>>(
      "SELECT summary, data FROM events WHERE type = 'task_unblocked' AND json_extract(data, '$.task_id') = ?",
      [dep],
    );
    expect(ev).toEqual([
      {
        summary: `Task #${dep} unblocked by completion of #${blocker}`,
        data: JSON.stringify({ task_id: dep, completed_task_id: blocker }),
      },
    ]);
  });

  it('plan create and task comments write nothing without their events', async () => {
    await failing('plan_created', async () => {
      expect(
        (
          await t.call('POST', '/plans', {
            admin: true,
            body: { title: 'orphan-plan', project_id: 'proj-l', steps: [{ title: 's' }] },
          })
        ).status,
      ).toBe(500);
    });
    expect(await t.db.all("SELECT id FROM plans WHERE title = 'orphan-plan'")).toEqual([]);
    const id = await newTask();
    await failing('task_comment', async () => {
      expect(
        (await t.call('POST', `/tasks/${id}/comments`, { admin: true, body: { content: 'orphan-comment' } })).status,
      ).toBe(500);
    });
    expect(await t.db.all('SELECT id FROM task_comments WHERE task_id = ?', [id])).toEqual([]);
    const c = await t.call('POST', `/tasks/${id}/comments`, { admin: true, body: { content: 'kept' } });
    expect(
      await t.db.get(
        "SELECT json_extract(data, '$.comment_id') AS cid FROM events WHERE type = 'task_comment' AND json_extract(data, '$.task_id') = ?",
        [id],
      ),
    ).toEqual({ cid: c.body.id });
  });

  it('lease expiry: when its event cannot be written, the item stays with its holder (and is released on the next pass)', async () => {
    const a = await agent();
    const id = await newTask();
    await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    await silence(a.id, 'tasks', id, 30);
    await failing('lease_expired', async () => {
      await t.scheduled();
    });
    expect(await taskRow(id)).toMatchObject({ status: 'in_progress', assignee: a.id, attempt: 0 });
    await t.scheduled();
    expect(await taskRow(id)).toMatchObject({ status: 'open', attempt: 1 });
  });
});

describe('lease configuration', () => {
  const base = { ADMIN_KEY: 'k'.repeat(40), JWT_SECRET: 's'.repeat(40) };
  it('defaults to three heartbeat intervals; LEASE_TTL_SECONDS overrides; nonsense is refused at start', () => {
    expect(loadConfig(base)).toMatchObject({ heartbeatIntervalSeconds: 300, leaseTtlSeconds: 900 });
    expect(loadConfig({ ...base, HEARTBEAT_INTERVAL_SECONDS: '60' })).toMatchObject({
      heartbeatIntervalSeconds: 60,
      leaseTtlSeconds: 180,
    });
    expect(loadConfig({ ...base, HEARTBEAT_INTERVAL_SECONDS: '60', LEASE_TTL_SECONDS: '45' }).leaseTtlSeconds).toBe(45);
    expect(() => loadConfig({ ...base, LEASE_TTL_SECONDS: '5' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, HEARTBEAT_INTERVAL_SECONDS: 'soon' })).toThrow(/HEARTBEAT_INTERVAL_SECONDS/);
  });
});
