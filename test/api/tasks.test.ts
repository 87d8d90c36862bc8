import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let alice: { id: string; key: string };
let bob: { id: string; key: string };
let carol: { id: string; key: string };
let outsider: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  alice = await registerAgent(t, 'alice', 'proj-a');
  bob = await registerAgent(t, 'bob', 'proj-a');
  carol = await registerAgent(t, 'carol', 'proj-a');
  outsider = await registerAgent(t, 'olga', 'proj-b');
});
afterAll(async () => t?.close());

// Setup data, not a limiter test: humans are limited per client IP (REL-24), so admin creates rotate addresses.
let setupIp = 0;
async function newTask(body: Record<string, unknown> = {}, opts: { agentKey?: string } = {}) {
  const who = opts.agentKey ? { agentKey: opts.agentKey } : { admin: true, ip: `192.0.2.${(setupIp++ % 250) + 1}` };
  const r = await t.call('POST', '/tasks', { ...who, body: { title: 'a task', project_id: 'proj-a', ...body } });
  if (r.status !== 200) throw new Error(`create failed ${r.status} ${r.text}`);
  return r.body.id as number;
}
const row = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM tasks WHERE id = ?', [id]);
const events = (type: string) =>
  t.db.all<Record<string, any>>('SELECT * FROM events WHERE type = ? ORDER BY id', [type]);

describe('tasks: create, get, list', () => {
  it('creates with 200 {id,title}, stores defaults and the caller as requester, emits task_created', async () => {
    const r = await t.call('POST', '/tasks', {
      agentKey: alice.key,
      body: { title: 'Fix login', project_id: 'proj-a', requester: 'spoof', status: 'done', tags: ['auth'] },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id: expect.any(Number), title: 'Fix login' });
    const g = await t.call('GET', `/tasks/${r.body.id}`, { agentKey: bob.key });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({
      id: r.body.id,
      title: 'Fix login',
      description: '',
      project_id: 'proj-a',
      requester: 'alice',
      assignee: null,
      status: 'open',
      priority: 'normal',
      tags: '["auth"]',
      blocked_by: '[]',
      blocks: '[]',
      needs_approval: 0,
      approved_by: null,
      request_id: null,
      branch: null,
      review_metadata: '{}',
    });
    expect(g.body.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const ev = (await events('task_created')).find((e) => JSON.parse(e.data).task_id === r.body.id);
    expect(ev).toMatchObject({ agent: 'alice', project_id: 'proj-a', summary: 'alice created task: Fix login' });
  });

  it('title is required; over-long title and description are 400 naming the field', async () => {
    expect((await t.call('POST', '/tasks', { admin: true, body: { project_id: 'p' } })).body).toEqual({
      error: 'title is required',
    });
    expect((await t.call('POST', '/tasks', { admin: true, body: { title: '   ' } })).body.error).toBe(
      'title is required',
    );
    const long = await t.call('POST', '/tasks', { admin: true, body: { title: 'x'.repeat(501) } });
    expect(long.status).toBe(400);
    expect(long.body.error).toBe('title exceeds max length (500 chars)');
    const d = await t.call('POST', '/tasks', { admin: true, body: { title: 'ok', description: 'y'.repeat(50_001) } });
    expect(d.body.error).toBe('description exceeds max length (50000 chars)');
    const wrongType = await t.call('POST', '/tasks', { admin: true, body: { title: { x: 1 } } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toMatch(/^title/);
  });

  it('priority is validated on create too (W4/W22) with the invalid_enum body', async () => {
    const r = await t.call('POST', '/tasks', { admin: true, body: { title: 'p', priority: 'urgent!!' } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      code: 'invalid_enum',
      field: 'priority',
      value: 'urgent!!',
      allowed: ['low', 'normal', 'high'],
    });
  });

  it('SEC-52: project_id and text are stored exactly as sent (no HTML escaping)', async () => {
    const r = await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'a <b> & "c"', project_id: 'proj&a<b>"x"' },
    });
    expect(r.status).toBe(200);
    expect(r.body.title).toBe('a <b> & "c"');
    const g = await t.call('GET', `/tasks/${r.body.id}`, { admin: true });
    expect(g.body.project_id).toBe('proj&a<b>"x"');
    expect(g.body.title).toBe('a <b> & "c"');
  });

  it('project alias: body `project` fills project_id', async () => {
    const r = await t.call('POST', '/tasks', { admin: true, body: { title: 'alias', project: 'proj-alias' } });
    expect((await row(r.body.id))?.project_id).toBe('proj-alias');
  });

  it('assignee is resolved case-insensitively by id or name (§3.0)', async () => {
    await registerAgent(t, 'Dana-X', 'proj-a', { name: 'Dana Display' });
    const a = await newTask({ assignee: ' dana-x ' });
    expect((await row(a))?.assignee).toBe('Dana-X');
    const b = await newTask({ assignee: 'dana display' });
    expect((await row(b))?.assignee).toBe('Dana-X');
    const c = await newTask({ assignee: 'some human' });
    expect((await row(c))?.assignee).toBe('some human');
  });

  it('SEC-19: an agent cannot create a task in another project', async () => {
    const before = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks');
    const r = await t.call('POST', '/tasks', {
      agentKey: outsider.key,
      body: { title: 'intrude', project_id: 'proj-a' },
    });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('Agent olga cannot access resources in project proj-a');
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))?.n).toBe(before?.n);
  });

  it('lists with exact filters, updated_at DESC, limit cap and strict paging', async () => {
    const p = `list-${Date.now()}`;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await newTask({ project_id: p, priority: i === 1 ? 'high' : 'normal' }));
    const all = await t.call('GET', `/tasks?project_id=${p}`, { agentKey: alice.key });
    expect(all.status).toBe(200);
    expect(all.body.map((x: any) => x.id).sort()).toEqual([...ids].sort());
    const high = await t.call('GET', `/tasks?project=${p}&priority=high`, { admin: true });
    expect(high.body.map((x: any) => x.id)).toEqual([ids[1]]);
    const limited = await t.call('GET', `/tasks?project_id=${p}&limit=2&offset=1`, { admin: true });
    expect(limited.body).toHaveLength(2);
    expect((await t.call('GET', '/tasks?limit=abc', { admin: true })).status).toBe(400);
  });

  it('SEC-51: non-numeric ids are 404 Task not found, never task 1', async () => {
    const id = await newTask();
    for (const path of [`/tasks/abc`, `/tasks/${id}abc`, `/tasks/0${id}`]) {
      const r = await t.call('GET', path, { admin: true });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: 'Task not found' });
    }
    expect((await t.call('PUT', '/tasks/abc', { admin: true, body: { status: 'done' } })).body).toEqual({
      error: 'Task not found',
    });
  });

  it('SEC-54: a database failure on create is a fixed 500 body with nothing leaked', async () => {
    await t.db.run(
      "CREATE TRIGGER fail_task_insert BEFORE INSERT ON tasks WHEN NEW.title = 'explode' BEGIN SELECT RAISE(ABORT, 'secret internals'); END",
    );
    try {
      const r = await t.call('POST', '/tasks', { admin: true, body: { title: 'explode' } });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'Internal server error' });
    } finally {
      await t.db.run('DROP TRIGGER fail_task_insert');
    }
  });

  it('agent write rate limit on POST /tasks: 30/min per agent, then 429 with Retry-After', async () => {
    const spammer = await registerAgent(t, 'spammer', 'spam');
    let last;
    for (let i = 0; i < 31; i++)
      last = await t.call('POST', '/tasks', { agentKey: spammer.key, body: { title: `s${i}`, project_id: 'spam' } });
    expect(last!.status).toBe(429);
    expect(last!.body.error).toMatch(/^Too many attempts\. Try again in \d+ seconds\.$/);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
    // Another agent is unaffected.
    expect(
      (await t.call('POST', '/tasks', { agentKey: alice.key, body: { title: 'fine', project_id: 'proj-a' } })).status,
    ).toBe(200);
  });
});

describe('tasks: update', () => {
  it('writes only present fields, validates enums (REL-22) and leaves the row unchanged on 400', async () => {
    const id = await newTask({ title: 'orig' });
    const bad = await t.call('PUT', `/tasks/${id}`, {
      agentKey: alice.key,
      body: { status: 'nope', title: 'changed' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: 'status must be one of: open, in_progress, review, done, cancelled',
      code: 'invalid_enum',
      field: 'status',
      value: 'nope',
      allowed: ['open', 'in_progress', 'review', 'done', 'cancelled'],
    });
    expect((await row(id))?.title).toBe('orig');
    const ok = await t.call('PUT', `/tasks/${id}`, {
      agentKey: alice.key,
      body: { status: 'review', branch: 'feat/x', notes: 'ignored' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, id });
    expect(await row(id)).toMatchObject({ status: 'review', branch: 'feat/x', title: 'orig' });
    expect((await events('task_review')).some((e) => JSON.parse(e.data).task_id === id)).toBe(true);
    const empty = await t.call('PUT', `/tasks/${id}`, { agentKey: alice.key, body: {} });
    expect(empty.status).toBe(200);
  });

  it('REL-22: re-opening a done task is allowed (suspect transitions are only logged)', async () => {
    const id = await newTask();
    expect((await t.call('PUT', `/tasks/${id}`, { admin: true, body: { status: 'done' } })).status).toBe(200);
    const back = await t.call('PUT', `/tasks/${id}`, { admin: true, body: { status: 'open' } });
    expect(back.status).toBe(200);
    expect((await row(id))?.status).toBe('open');
  });

  it('SEC-19: an agent from another project cannot update the task (403, unchanged)', async () => {
    const id = await newTask();
    const r = await t.call('PUT', `/tasks/${id}`, { agentKey: outsider.key, body: { status: 'done' } });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('Agent olga cannot access resources in project proj-a');
    expect((await row(id))?.status).toBe('open');
  });

  it('the assignee from another project may still update its own task (scope exception)', async () => {
    const id = await newTask({ assignee: 'olga' });
    expect((await t.call('PUT', `/tasks/${id}`, { agentKey: outsider.key, body: { status: 'review' } })).status).toBe(
      200,
    );
  });

  it('claims never steal through PUT: an agent cannot reassign work in progress under another agent', async () => {
    const id = await newTask();
    expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key })).status).toBe(200);
    const r = await t.call('PUT', `/tasks/${id}`, {
      agentKey: bob.key,
      body: { status: 'in_progress', assignee: 'bob' },
    });
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ error: 'Task already claimed', assignee: 'alice' });
    expect((await row(id))?.assignee).toBe('alice');
  });

  it('claiming through PUT (as the MCP claim_task does) is compare-and-set too: one of two racers wins', async () => {
    const id = await newTask();
    const [a, b] = await Promise.all([
      t.call('PUT', `/tasks/${id}`, { agentKey: alice.key, body: { status: 'in_progress', assignee: 'alice' } }),
      t.call('PUT', `/tasks/${id}`, { agentKey: bob.key, body: { status: 'in_progress', assignee: 'bob' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? 'alice' : 'bob';
    expect((a.status === 409 ? a : b).body).toEqual({ error: 'Task already claimed', assignee: winner });
    expect((await row(id))?.assignee).toBe(winner);
  });

  it('W3: only an admin may change needs_approval', async () => {
    const id = await newTask({ needs_approval: true });
    const r = await t.call('PUT', `/tasks/${id}`, { agentKey: alice.key, body: { needs_approval: false } });
    expect(r.status).toBe(403);
    expect((await row(id))?.needs_approval).toBe(1);
    expect((await t.call('PUT', `/tasks/${id}`, { admin: true, body: { needs_approval: 0 } })).status).toBe(200);
    expect((await row(id))?.needs_approval).toBe(0);
  });
});

describe('tasks: claim (SEC-13, REL-03)', () => {
  it('REL-03: two agents claim at once → one 200, one 409 {error, assignee}; holder re-claims idempotently; done task → 409', async () => {
    const id = await newTask();
    const [a, b] = await Promise.all([
      t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key }),
      t.call('POST', `/tasks/${id}/claim`, { agentKey: bob.key }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([200, 409]);
    const winner = a.status === 200 ? a : b;
    const loser = a.status === 200 ? b : a;
    expect(winner.body).toMatchObject({ ok: true, id, status: 'in_progress' });
    expect(loser.body).toEqual({ error: 'Task already claimed', assignee: winner.body.assignee });
    expect((await row(id))?.assignee).toBe(winner.body.assignee);
    const again = await t.call('POST', `/tasks/${id}/claim`, {
      agentKey: winner.body.assignee === 'alice' ? alice.key : bob.key,
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({
      ok: true,
      id,
      assignee: winner.body.assignee,
      status: 'in_progress',
      lease_token: winner.body.lease_token,
      lease_ttl_seconds: 900,
    });
    expect((await events('task_claimed')).filter((e) => JSON.parse(e.data).task_id === id)).toHaveLength(1);

    const doneId = await newTask();
    await t.call('PUT', `/tasks/${doneId}`, { admin: true, body: { status: 'done' } });
    const late = await t.call('POST', `/tasks/${doneId}/claim`, { agentKey: bob.key });
    expect(late.status).toBe(409);
    expect((await row(doneId))?.status).toBe('done');
    expect((await row(doneId))?.assignee).toBeNull();
  });

  it('REL-03: 20 agents claiming 30 tasks at once → every task claimed exactly once', async () => {
    const project = 'race';
    const agents = [];
    for (let i = 0; i < 20; i++) agents.push(await registerAgent(t, `racer-${i}`, project));
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push(await newTask({ project_id: project, title: `race ${i}` }));
    // Every agent tries every task, in its own shuffled order, all requests in flight together.
    const calls: Promise<{ agent: string; id: number; status: number }>[] = [];
    agents.forEach((ag, n) => {
      const order = [...ids].sort((x, y) => ((x * 7919 + n * 104729) % 97) - ((y * 7919 + n * 104729) % 97));
      for (const id of order) {
        calls.push(
          t
            .call('POST', `/tasks/${id}/claim`, { agentKey: ag.key })
            .then((r) => ({ agent: ag.id, id, status: r.status })),
        );
      }
    });
    const results = await Promise.all(calls);
    expect(results.filter((r) => r.status !== 200 && r.status !== 409)).toEqual([]);
    const winners = new Map<number, string>();
    for (const r of results.filter((x) => x.status === 200)) {
      // An agent that already holds the task gets an idempotent 200, never a second owner.
      const prev = winners.get(r.id);
      if (prev) expect(prev).toBe(r.agent);
      winners.set(r.id, r.agent);
    }
    expect(winners.size).toBe(30);
    for (const id of ids) {
      const rw = await row(id);
      expect(rw?.status).toBe('in_progress');
      expect(rw?.assignee).toBe(winners.get(id));
    }
    const claimed = (await events('task_claimed')).filter((e) => ids.includes(JSON.parse(e.data).task_id));
    expect(claimed).toHaveLength(30);
  });

  it('SEC-13: cross-project claim → 403 and unchanged; body agent_id ignored for agents; admin may name agent_id', async () => {
    const id = await newTask();
    const x = await t.call('POST', `/tasks/${id}/claim`, { agentKey: outsider.key });
    expect(x.status).toBe(403);
    expect((await row(id))?.assignee).toBeNull();
    const spoof = await t.call('POST', `/tasks/${id}/claim`, {
      agentKey: alice.key,
      body: { agent_id: 'someone-else' },
    });
    expect(spoof.status).toBe(200);
    expect(spoof.body.assignee).toBe('alice');
    const id2 = await newTask();
    const adm = await t.call('POST', `/tasks/${id2}/claim`, { admin: true, body: { agent_id: 'carol' } });
    expect(adm.body).toEqual({
      ok: true,
      id: id2,
      assignee: 'carol',
      status: 'in_progress',
      lease_token: expect.stringMatching(/^[0-9a-f]{32}$/),
      lease_ttl_seconds: 900,
    });
    expect((await t.call('POST', '/tasks/99999/claim', { agentKey: alice.key })).body).toEqual({
      error: 'Task not found',
    });
  });

  it('a task in review is not claimable, even by its holder', async () => {
    const id = await newTask();
    await t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key });
    await t.call('PUT', `/tasks/${id}`, { agentKey: alice.key, body: { status: 'review' } });
    const r = await t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ error: 'Task is in review', assignee: 'alice' });
    expect((await row(id))?.status).toBe('review');
  });

  it('admin takeover needs force:true', async () => {
    const id = await newTask();
    await t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key });
    const soft = await t.call('POST', `/tasks/${id}/claim`, { admin: true, body: { agent_id: 'bob' } });
    expect(soft.status).toBe(409);
    const forced = await t.call('POST', `/tasks/${id}/claim`, { admin: true, body: { agent_id: 'bob', force: true } });
    expect(forced.status).toBe(200);
    expect((await row(id))?.assignee).toBe('bob');
  });

  it('kill switch: claims refuse with 503 while frozen, work again after unfreeze', async () => {
    const id = await newTask();
    await t.db.run("UPDATE instance_config SET value = 'frozen' WHERE key = 'admin_status'");
    try {
      const r = await t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key });
      expect(r.status).toBe(503);
      expect(r.body).toEqual({ error: 'Claude Admin is frozen. Work routing paused. Contact a human operator.' });
      expect((await row(id))?.assignee).toBeNull();
    } finally {
      await t.db.run("UPDATE instance_config SET value = 'coordinator' WHERE key = 'admin_status'");
    }
    expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: alice.key })).status).toBe(200);
  });

  it('needs_approval is enforced: no claim or start before approval; approval records the approver', async () => {
    const id = await newTask({ needs_approval: 1 }, { agentKey: alice.key });
    const c = await t.call('POST', `/tasks/${id}/claim`, { agentKey: bob.key });
    expect(c.status).toBe(409);
    expect(c.body.error).toBe('Task requires approval before work can start');
    const put = await t.call('PUT', `/tasks/${id}`, {
      agentKey: bob.key,
      body: { status: 'in_progress', assignee: 'bob' },
    });
    expect(put.status).toBe(409);
    expect((await row(id))?.status).toBe('open');

    const queue = await t.call('GET', '/tasks/approval-queue', { admin: true });
    expect(queue.body.map((x: any) => x.id)).toContain(id);
    expect((await t.call('GET', '/tasks/approval-queue', { agentKey: alice.key })).status).toBe(401);

    const ap = await t.call('PUT', `/tasks/${id}/approve`, { admin: true, headers: { 'X-Acting-As': 'ops-lead' } });
    expect(ap.body).toEqual({ ok: true, id, approved: true });
    expect(await row(id)).toMatchObject({ approved_by: 'ops-lead' });
    expect((await t.call('GET', '/tasks/approval-queue', { admin: true })).body.map((x: any) => x.id)).not.toContain(
      id,
    );
    const again = await t.call('PUT', `/tasks/${id}/approve`, { admin: true });
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('Task already approved by ops-lead');
    const plain = await newTask();
    expect((await t.call('PUT', `/tasks/${plain}/approve`, { admin: true })).body).toEqual({
      error: 'Task does not require approval',
    });
    expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: bob.key })).status).toBe(200);
  });

  it('an operator (human) approving is recorded by display name', async () => {
    const op = await createOperator(t, 'opsadmin', 'admin');
    const id = await newTask({ needs_approval: true });
    expect((await t.call('PUT', `/tasks/${id}/approve`, { token: op.token })).status).toBe(200);
    expect((await row(id))?.approved_by).toBe('opsadmin');
  });
});

describe('tasks: dependencies and the done-cascade', () => {
  it('adds idempotent two-sided edges; self, missing and cycles are refused (W2)', async () => {
    const a = await newTask({ title: 'A' });
    const b = await newTask({ title: 'B' });
    const c = await newTask({ title: 'C' });
    const r = await t.call('POST', `/tasks/${b}/dependency`, { agentKey: alice.key, body: { blocked_by: a } });
    expect(r.body).toEqual({ ok: true, task: b, blocked_by: a });
    await t.call('POST', `/tasks/${b}/dependency`, { agentKey: alice.key, body: { blocked_by: a } });
    expect(JSON.parse((await row(b))!.blocked_by)).toEqual([a]);
    expect(JSON.parse((await row(a))!.blocks)).toEqual([b]);
    expect((await t.call('POST', `/tasks/${c}/dependency`, { admin: true, body: { blocked_by: b } })).status).toBe(200);

    expect((await t.call('POST', `/tasks/${a}/dependency`, { admin: true, body: { blocked_by: a } })).body).toEqual({
      error: 'A task cannot block itself',
    });
    expect((await t.call('POST', `/tasks/${a}/dependency`, { admin: true, body: {} })).body).toEqual({
      error: 'blocked_by (task ID) is required',
    });
    expect(
      (await t.call('POST', `/tasks/${a}/dependency`, { admin: true, body: { blocked_by: 'x' } })).body.error,
    ).toBe('blocked_by (task ID) is required');
    expect(
      (await t.call('POST', `/tasks/${a}/dependency`, { admin: true, body: { blocked_by: 999999 } })).body,
    ).toEqual({ error: 'One or both tasks not found' });
    // A → waits for C would close A→C→B→A.
    const cyc = await t.call('POST', `/tasks/${a}/dependency`, { admin: true, body: { blocked_by: c } });
    expect(cyc.status).toBe(400);
    expect(cyc.body).toEqual({ error: 'Dependency would create a cycle' });
    const cyc2 = await t.call('PUT', `/tasks/${a}`, { admin: true, body: { blocked_by: [b], title: 'not written' } });
    expect(cyc2.status).toBe(400);
    expect((await row(a))?.title).toBe('A');
    expect(JSON.parse((await row(a))!.blocked_by)).toEqual([]);
  });

  it('blocked_by on create and PUT: unknown ids are 400 before anything is written; PUT adds edges and reports them', async () => {
    const count = async () => (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))?.n;
    const before = await count();
    const bad = await t.call('POST', '/tasks', { admin: true, body: { title: 'x', blocked_by: [987654] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('blocked_by: task 987654 not found');
    expect(await count()).toBe(before);
    expect((await t.call('POST', '/tasks', { admin: true, body: { title: 'x', blocked_by: 'nope' } })).status).toBe(
      400,
    );
    const a = await newTask();
    const b = await newTask();
    const r = await t.call('PUT', `/tasks/${b}`, { agentKey: alice.key, body: { blocked_by: [a, b] } });
    expect(r.body).toEqual({ ok: true, id: b, blocked_by: [a] });
    expect(JSON.parse((await row(b))!.blocked_by)).toEqual([a]);
    expect(JSON.parse((await row(a))!.blocks)).toEqual([b]);
  });

  it('concurrent opposite edges never form a cycle', async () => {
    const a = await newTask();
    const b = await newTask();
    const [x, y] = await Promise.all([
      t.call('POST', `/tasks/${a}/dependency`, { admin: true, body: { blocked_by: b } }),
      t.call('POST', `/tasks/${b}/dependency`, { admin: true, body: { blocked_by: a } }),
    ]);
    expect([x.status, y.status].sort()).toEqual([200, 400]);
    const ab = JSON.parse((await row(a))!.blocked_by);
    const ba = JSON.parse((await row(b))!.blocked_by);
    expect(ab.length + ba.length).toBe(1);
  });

  it('a task with unfinished blockers cannot be claimed; once the blocker is done it can', async () => {
    const a = await newTask();
    const b = await newTask({ blocked_by: [a] });
    expect(JSON.parse((await row(a))!.blocks)).toEqual([b]);
    const c = await t.call('POST', `/tasks/${b}/claim`, { agentKey: alice.key });
    expect(c.status).toBe(409);
    expect(c.body).toMatchObject({ error: 'Task is blocked by unfinished tasks', blocked_by: [a] });
    const done = await t.call('PUT', `/tasks/${a}`, { agentKey: bob.key, body: { status: 'done' } });
    expect(done.body).toMatchObject({ ok: true, id: a, unblocked: [b] });
    expect(JSON.parse((await row(b))!.blocked_by)).toEqual([]);
    expect((await t.call('POST', `/tasks/${b}/claim`, { agentKey: alice.key })).status).toBe(200);
  });

  it('fan-in: a dependent is reported unblocked only when its last open blocker is done', async () => {
    const a1 = await newTask();
    const a2 = await newTask();
    const d = await newTask({ blocked_by: [a1, a2] });
    const first = await t.call('PUT', `/tasks/${a1}`, { admin: true, body: { status: 'done' } });
    expect(first.body.unblocked).toEqual([]);
    const second = await t.call('PUT', `/tasks/${a2}`, { admin: true, body: { status: 'done' } });
    expect(second.body.unblocked).toEqual([d]);
    const ev = (await events('task_unblocked')).filter((e) => JSON.parse(e.data).task_id === d);
    expect(ev).toHaveLength(1);
    expect(JSON.parse(ev[0].data)).toEqual({ task_id: d, completed_task_id: a2 });
    expect(ev[0].summary).toBe(`Task #${d} unblocked by completion of #${a2}`);
  });

  it('REL-01: done completes linked steps and the active plan and resolves the linked request, atomically, events after commit', async () => {
    const a = await newTask({ title: 'A' });
    const b = await newTask({ title: 'B', blocked_by: [a] });
    const plan = await t.call('POST', '/plans', {
      admin: true,
      body: { title: 'P', project_id: 'proj-a', steps: [{ title: 's1' }] },
    });
    const planId = plan.body.id;
    await t.call('PUT', `/plans/${planId}`, { admin: true, body: { status: 'active' } });
    const step = await t.db.get<{ id: number }>('SELECT id FROM plan_steps WHERE plan_id = ?', [planId]);
    await t.call('PUT', `/plans/${planId}/steps/${step!.id}`, { admin: true, body: { linked_task_id: a } });
    const msg = await t.db.get<{ id: number }>(
      "INSERT INTO messages (from_agent, to_agent, content, msg_type, status) VALUES ('bob', 'alice', 'please', 'request', 'pending') RETURNING id",
    );
    await t.db.run('UPDATE tasks SET request_id = ? WHERE id = ?', [msg!.id, a]);

    const r = await t.call('PUT', `/tasks/${a}`, { agentKey: alice.key, body: { status: 'done' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ok: true,
      id: a,
      unblocked: [b],
      plan_steps_completed: 1,
      plans_completed: [planId],
    });
    expect(JSON.parse((await row(b))!.blocked_by)).toEqual([]);
    expect(
      await t.db.get('SELECT status, completed_at IS NOT NULL AS has_at FROM plan_steps WHERE id = ?', [step!.id]),
    ).toMatchObject({ status: 'completed', has_at: 1 });
    expect((await t.db.get<{ status: string }>('SELECT status FROM plans WHERE id = ?', [planId]))?.status).toBe(
      'completed',
    );
    expect(await t.db.get('SELECT status, resolved_by FROM messages WHERE id = ?', [msg!.id])).toMatchObject({
      status: 'resolved',
      resolved_by: 'alice',
    });
    const types = (
      await t.db.all<{ type: string; data: string }>(
        "SELECT type, data FROM events WHERE type IN ('task_unblocked','plan_step_completed','plan_completed','request_resolved','task_done') ORDER BY id",
      )
    )
      .filter((e) => [a, b].includes(JSON.parse(e.data).task_id) || JSON.parse(e.data).task_id === a)
      .map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'task_done',
        'task_unblocked',
        'plan_step_completed',
        'plan_completed',
        'request_resolved',
      ]),
    );
  });

  it('REL-01: a failure inside the cascade rolls everything back — task not done, dependent still blocked, no events', async () => {
    const a = await newTask({ title: 'A' });
    const b = await newTask({ title: 'B', blocked_by: [a] });
    const plan = await t.call('POST', '/plans', {
      admin: true,
      body: { title: 'P2', project_id: 'proj-a', steps: [{ title: 's1' }] },
    });
    const step = await t.db.get<{ id: number }>('SELECT id FROM plan_steps WHERE plan_id = ?', [plan.body.id]);
    await t.call('PUT', `/plans/${plan.body.id}/steps/${step!.id}`, { admin: true, body: { linked_task_id: a } });
    const before = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events');
    // A broken plan-step write: the trigger makes step completion fail inside the cascade.
    await t.db.run(
      `CREATE TRIGGER fail_step_completion BEFORE UPDATE OF status ON plan_steps WHEN NEW.linked_task_id = ${a} BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
    );
    try {
      const r = await t.call('PUT', `/tasks/${a}`, {
        agentKey: alice.key,
        body: { status: 'done', title: 'A renamed' },
      });
      expect(r.status).toBe(500);
      expect(r.body).toEqual({ error: 'Failed to complete task cascade' });
      expect(await row(a)).toMatchObject({ status: 'open', title: 'A' });
      expect(JSON.parse((await row(b))!.blocked_by)).toEqual([a]);
      expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))?.n).toBe(before?.n);
    } finally {
      await t.db.run('DROP TRIGGER fail_step_completion');
    }
    const ok = await t.call('PUT', `/tasks/${a}`, { agentKey: alice.key, body: { status: 'done' } });
    expect(ok.status).toBe(200);
    expect(ok.body.unblocked).toEqual([b]);
  });

  it('W25: completing credits the assignee once (not the admin who clicked, not on a repeated done)', async () => {
    const id = await newTask({ assignee: 'carol' });
    const before =
      (await t.db.get<{ n: number }>("SELECT total_tasks_completed AS n FROM agent_profiles WHERE agent_id = 'carol'"))
        ?.n ?? 0;
    await t.call('PUT', `/tasks/${id}`, { admin: true, body: { status: 'done' } });
    await t.call('PUT', `/tasks/${id}`, { admin: true, body: { status: 'done' } });
    expect(
      (await t.db.get<{ n: number }>("SELECT total_tasks_completed AS n FROM agent_profiles WHERE agent_id = 'carol'"))
        ?.n,
    ).toBe(before + 1);
  });

  it('while sleep mode is on, a completed task is recorded in the sleep log', async () => {
    const id = await newTask({ title: 'overnight' });
    expect((await t.call('PUT', '/admin/sleep', { admin: true, body: { action: 'on' } })).status).toBe(200);
    try {
      await t.call('PUT', `/tasks/${id}`, { agentKey: alice.key, body: { status: 'done' } });
      const log = (await t.call('GET', '/admin/sleep', { admin: true })).body.log;
      expect(log.tasks_completed).toEqual(
        expect.arrayContaining([expect.objectContaining({ id, title: 'overnight', agent: 'alice' })]),
      );
    } finally {
      await t.call('PUT', '/admin/sleep', { admin: true, body: { action: 'off' } });
    }
  });

  it('W15: a linked step completes but a draft plan is not completed nor reported', async () => {
    const a = await newTask();
    const plan = await t.call('POST', '/plans', {
      admin: true,
      body: { title: 'Draft', project_id: 'proj-a', steps: [{ title: 'only' }] },
    });
    const step = await t.db.get<{ id: number }>('SELECT id FROM plan_steps WHERE plan_id = ?', [plan.body.id]);
    await t.call('PUT', `/plans/${plan.body.id}/steps/${step!.id}`, { admin: true, body: { linked_task_id: a } });
    const r = await t.call('PUT', `/tasks/${a}`, { admin: true, body: { status: 'done' } });
    expect(r.body.plan_steps_completed).toBe(1);
    expect(r.body.plans_completed).toBeUndefined();
    expect((await t.db.get<{ status: string }>('SELECT status FROM plans WHERE id = ?', [plan.body.id]))?.status).toBe(
      'draft',
    );
  });

  it('delete (admin) removes comments and cleans edges and step links (W2)', async () => {
    const a = await newTask();
    const b = await newTask({ blocked_by: [a] });
    await t.call('POST', `/tasks/${a}/comments`, { admin: true, body: { content: 'c' } });
    expect((await t.call('DELETE', `/tasks/${a}`, { agentKey: alice.key })).status).toBe(401);
    const d = await t.call('DELETE', `/tasks/${a}`, { admin: true });
    expect(d.body).toEqual({ ok: true, id: a });
    expect(await row(a)).toBeUndefined();
    expect(JSON.parse((await row(b))!.blocked_by)).toEqual([]);
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM task_comments WHERE task_id = ?', [a]))?.n).toBe(
      0,
    );
    expect((await events('task_deleted')).length).toBeGreaterThan(0);
    expect((await t.call('DELETE', `/tasks/${a}`, { admin: true })).status).toBe(404);
  });
});

describe('tasks: comments and deliverables', () => {
  it('SEC-12: comment author is the caller; only admins may post as someone else', async () => {
    const id = await newTask();
    const c = await t.call('POST', `/tasks/${id}/comments`, {
      agentKey: alice.key,
      body: { content: 'hi <b>', author: 'someone-else' },
    });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ task_id: id, author: 'alice', content: 'hi <b>' });
    const a = await t.call('POST', `/tasks/${id}/comments`, {
      admin: true,
      headers: { 'X-Acting-As': 'x' },
      body: { content: 'from ops', author: 'ops' },
    });
    expect(a.body.author).toBe('ops');
    expect(
      (await t.call('POST', `/tasks/${id}/comments`, { agentKey: alice.key, body: { content: '' } })).body,
    ).toEqual({ error: 'content is required' });
    const list = await t.call('GET', `/tasks/${id}/comments`, { agentKey: bob.key });
    expect(list.body.map((x: any) => x.content)).toEqual(['hi <b>', 'from ops']);
    expect((await events('task_comment')).some((e) => JSON.parse(e.data).comment_id === c.body.id)).toBe(true);
    expect((await t.call('GET', '/tasks/99999/comments', { admin: true })).status).toBe(404);
  });

  it('SEC-18: delete comment — only own, only through its own task', async () => {
    const t1 = await newTask();
    const t2 = await newTask();
    const c = await t.call('POST', `/tasks/${t1}/comments`, { agentKey: alice.key, body: { content: 'mine' } });
    const wrongParent = await t.call('DELETE', `/tasks/${t2}/comments/${c.body.id}`, { agentKey: alice.key });
    expect(wrongParent.status).toBe(404);
    expect(wrongParent.body).toEqual({ error: 'Comment not found' });
    const other = await t.call('DELETE', `/tasks/${t1}/comments/${c.body.id}`, { agentKey: bob.key });
    expect(other.status).toBe(403);
    expect(other.body).toEqual({ error: 'Can only delete your own comments' });
    const own = await t.call('DELETE', `/tasks/${t1}/comments/${c.body.id}`, { agentKey: alice.key });
    expect(own.body).toEqual({ ok: true, deleted: c.body.id });
  });

  it('SEC-12: deliverables are append-only, raw content, author from auth', async () => {
    const id = await newTask();
    const d = await t.call('POST', `/tasks/${id}/deliverable`, {
      agentKey: carol.key,
      body: { content: '# Report\n<script>', author: 'mallory' },
    });
    expect(d.status).toBe(200);
    expect(d.body).toMatchObject({
      task_id: id,
      author: 'carol',
      kind: 'report',
      format: 'markdown',
      content: '# Report\n<script>',
      flags: '',
    });
    await t.call('POST', `/tasks/${id}/deliverable`, {
      agentKey: carol.key,
      body: { content: 'v2', kind: 'patch', format: 'diff' },
    });
    const list = await t.call('GET', `/tasks/${id}/deliverables`, { admin: true });
    expect(list.body.map((x: any) => x.kind)).toEqual(['report', 'patch']);
    expect((await t.call('POST', `/tasks/${id}/deliverable`, { agentKey: carol.key, body: {} })).body).toEqual({
      error: 'content is required',
    });
    expect(
      (await t.call('POST', `/tasks/${id}/deliverable`, { agentKey: outsider.key, body: { content: 'x' } })).status,
    ).toBe(403);
  });
});
