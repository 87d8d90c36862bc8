import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Issue 11 made the work poll, the task claim and the context put one batch each, with scope,
 * kill switch, planner deferral, events and the write rule moved into SQL. These tests pin the
 * behaviours that moved (spec 02 §3.5, spec 03 §3.6, spec 04 §1.4–1.6) on both runtimes.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

async function insert(table: string, cols: Record<string, unknown>): Promise<number> {
  const keys = Object.keys(cols);
  const r = await t.db.get<{ id: number }>(
    `INSERT INTO ${table} (${keys.join(',')}) VALUES (${keys.map(() => '?').join(',')}) RETURNING id`,
    Object.values(cols) as never[],
  );
  return Number(r!.id);
}

async function eventsOf(type: string, match: string) {
  return t.db.all<{ id: number; project_id: string | null; data: string; summary: string }>(
    'SELECT id, project_id, data, summary FROM events WHERE type = ? AND data LIKE ? ORDER BY id',
    [type, `%${match}%`],
  );
}

describe('work poll in one batch (spec 02 §3.5)', () => {
  it('team projects are in scope for unassigned steps and bugs; other projects are not', async () => {
    const a = await registerAgent(t, 'hp-ada', 'hp-home');
    await t.db.run("INSERT INTO teams (id, org_id, name) VALUES ('hp-team', 'o', 'T')");
    await t.db.run("INSERT INTO projects (id, name, team_id) VALUES ('hp-team-proj', 'TP', 'hp-team')");
    await t.db.run("INSERT INTO team_members (team_id, user_id, user_type) VALUES ('hp-team', 'hp-ada', 'agent')");
    const inTeam = await insert('bugs', {
      title: 'team bug',
      description: 'd',
      project_id: 'hp-team-proj',
      status: 'open',
    });
    const home = await insert('bugs', { title: 'home bug', description: 'd', project_id: 'hp-home', status: 'open' });
    const away = await insert('bugs', { title: 'away bug', description: 'd', project_id: 'hp-away', status: 'open' });
    const plan = await insert('plans', { title: 'TP plan', project_id: 'hp-team-proj', status: 'active' });
    const step = await insert('plan_steps', { plan_id: plan, step_order: 1, title: 'S', status: 'pending' });
    const r = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    expect(r.status).toBe(200);
    const ids = (type: string) =>
      r.body.queue.filter((q: { type: string }) => q.type === type).map((q: { id: number }) => q.id);
    expect(ids('bug_unassigned')).toEqual(expect.arrayContaining([inTeam, home]));
    expect(ids('bug_unassigned')).not.toContain(away);
    expect(ids('plan_step_unassigned')).toContain(step);
  });

  it('unassigned-bug triage waits for a live planner in scope, but never for the caller itself', async () => {
    const a = await registerAgent(t, 'hp-dev', 'hp-tri');
    const b = await insert('bugs', { title: 'triage me', description: 'd', project_id: 'hp-tri', status: 'open' });
    const bugIds = async (who: { id: string; key: string }) =>
      (await t.call('GET', `/work/${who.id}`, { agentKey: who.key })).body.queue
        .filter((q: { type: string }) => q.type === 'bug_unassigned')
        .map((q: { id: number }) => q.id);
    expect(await bugIds(a)).toContain(b);
    // A planner elsewhere (out of scope) does not defer; a stale one neither.
    await registerAgent(t, 'hp-far-planner', 'hp-far', { capabilities: ['reasoning_planning'] });
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now') WHERE id = 'hp-far-planner'");
    const planner = await registerAgent(t, 'hp-planner', 'hp-tri', { capabilities: ['code', 'reasoning_planning'] });
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-2 hours') WHERE id = 'hp-planner'");
    expect(await bugIds(a)).toContain(b);
    // A live planner in the same project: the bug waits for it.
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now') WHERE id = 'hp-planner'");
    expect(await bugIds(a)).not.toContain(b);
    // The planner itself still sees it.
    expect(await bugIds(planner)).toContain(b);
  });

  it('an unknown agent is 404, and a frozen network serves an empty queue (SEC-49)', async () => {
    const r = await t.call('GET', '/work/hp-nobody', { admin: true });
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('Agent not found');
    const a = await registerAgent(t, 'hp-frozen', 'hp-fz');
    await insert('tasks', {
      title: 'x',
      project_id: 'hp-fz',
      requester: 'admin',
      assignee: a.id,
      status: 'in_progress',
    });
    await t.db.run("INSERT OR REPLACE INTO instance_config (key, value) VALUES ('admin_status', 'frozen')");
    try {
      const f = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
      expect(f.status).toBe(200);
      expect(f.body).toEqual({ ok: true, queue: [], frozen: true });
    } finally {
      await t.db.run("DELETE FROM instance_config WHERE key = 'admin_status'");
    }
    const g = await t.call('GET', `/work/${a.id}`, { agentKey: a.key });
    expect(g.body.queue.length).toBe(1);
  });
});

describe('task claim in one batch (spec 03 §3.6, SEC-13, REL-03)', () => {
  it('a won claim writes one task_claimed event with the task project; a renewal writes none and keeps the token', async () => {
    const a = await registerAgent(t, 'hp-claimer', 'hp-cl');
    const id = await insert('tasks', { title: 'c', project_id: 'hp-cl', requester: 'admin', status: 'open' });
    const first = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ ok: true, id, assignee: a.id, status: 'in_progress' });
    const again = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.lease_token).toBe(first.body.lease_token);
    const evs = await eventsOf('task_claimed', `"task_id":${id},`);
    expect(evs).toHaveLength(1);
    expect(evs[0].project_id).toBe('hp-cl');
    expect(JSON.parse(evs[0].data)).toEqual({ task_id: id, agent: a.id });
    expect(evs[0].summary).toBe(`${a.id} claimed task #${id}`);
  });

  it('refusals answer as before, write nothing: 404, 403 out of scope, 409 held / blocked with blockers, 503 frozen', async () => {
    const a = await registerAgent(t, 'hp-ref-a', 'hp-ref');
    const b = await registerAgent(t, 'hp-ref-b', 'hp-ref');
    expect((await t.call('POST', '/tasks/999999/claim', { agentKey: a.key, body: {} })).status).toBe(404);
    const away = await insert('tasks', {
      title: 'away',
      project_id: 'hp-elsewhere',
      requester: 'admin',
      status: 'open',
    });
    const out = await t.call('POST', `/tasks/${away}/claim`, { agentKey: a.key, body: {} });
    expect(out.status).toBe(403);
    expect(out.body.error).toBe(`Agent ${a.id} cannot access resources in project hp-elsewhere`);
    const held = await insert('tasks', {
      title: 'held',
      project_id: 'hp-ref',
      requester: 'admin',
      status: 'in_progress',
      assignee: b.id,
    });
    const h = await t.call('POST', `/tasks/${held}/claim`, { agentKey: a.key, body: {} });
    expect(h.status).toBe(409);
    expect(h.body).toEqual({ error: 'Task already claimed', assignee: b.id });
    const blocker = await insert('tasks', {
      title: 'blocker',
      project_id: 'hp-ref',
      requester: 'admin',
      status: 'open',
    });
    const blocked = await insert('tasks', {
      title: 'blocked',
      project_id: 'hp-ref',
      requester: 'admin',
      status: 'open',
      blocked_by: JSON.stringify([blocker]),
    });
    const bl = await t.call('POST', `/tasks/${blocked}/claim`, { agentKey: a.key, body: {} });
    expect(bl.status).toBe(409);
    expect(bl.body).toEqual({ error: 'Task is blocked by unfinished tasks', assignee: null, blocked_by: [blocker] });
    await t.db.run("INSERT OR REPLACE INTO instance_config (key, value) VALUES ('admin_status', 'frozen')");
    try {
      const fz = await t.call('POST', `/tasks/${blocker}/claim`, { agentKey: a.key, body: {} });
      expect(fz.status).toBe(503);
    } finally {
      await t.db.run("DELETE FROM instance_config WHERE key = 'admin_status'");
    }
    const rows = await t.db.all<{ id: number; assignee: string | null; status: string }>(
      `SELECT id, assignee, status FROM tasks WHERE id IN (${[away, held, blocked, blocker].join(',')}) ORDER BY id`,
    );
    expect(rows.map((r) => [r.assignee ?? null, r.status])).toEqual([
      [null, 'open'],
      [b.id, 'in_progress'],
      [null, 'open'],
      [null, 'open'],
    ]);
    for (const id of [away, held, blocked, blocker])
      expect(await eventsOf('task_claimed', `"task_id":${id},`)).toEqual([]);
  });

  it('a team project is in scope for a claim', async () => {
    const a = await registerAgent(t, 'hp-teamer', 'hp-own');
    await t.db.run("INSERT INTO teams (id, org_id, name) VALUES ('hp-team2', 'o', 'T2')");
    await t.db.run("INSERT INTO projects (id, name, team_id) VALUES ('hp-team2-proj', 'TP2', 'hp-team2')");
    await t.db.run("INSERT INTO team_members (team_id, user_id, user_type) VALUES ('hp-team2', 'hp-teamer', 'agent')");
    const id = await insert('tasks', { title: 'tp', project_id: 'hp-team2-proj', requester: 'admin', status: 'open' });
    const r = await t.call('POST', `/tasks/${id}/claim`, { agentKey: a.key, body: {} });
    expect(r.status).toBe(200);
  });
});

describe('context put in one batch (spec 04 §1.4–1.6)', () => {
  const put = (who: { key: string }, ns: string, key: string, body: Record<string, unknown>) =>
    t.call('PUT', `/context/keys/${ns}/${key}`, { agentKey: who.key, body });

  it('create, replace, merge: versions, history and exactly one context_key_updated event per put', async () => {
    const a = await registerAgent(t, 'hp-ctx', 'hp-cp');
    const v1 = await put(a, a.id, 'doc', { data: { a: 1, keep: 'x' }, ttl: 3600 });
    expect(v1.body).toEqual({ ok: true, namespace: a.id, key: 'doc', version: 1 });
    const v2 = await put(a, a.id, 'doc', { data: { b: 2, a: 3 } });
    expect(v2.body.version).toBe(2);
    const v3 = await put(a, a.id, 'doc', { data: '{"c":4}' });
    expect(v3.body.version).toBe(3);
    const row = await t.db.get<{
      data: string;
      version: number;
      project_id: string;
      expires_at: string | null;
      category: string;
    }>('SELECT data, version, project_id, expires_at, category FROM context_keys WHERE namespace = ? AND key = ?', [
      a.id,
      'doc',
    ]);
    expect(JSON.parse(row!.data)).toEqual({ a: 3, keep: 'x', b: 2, c: 4 });
    expect(row!.project_id).toBe('hp-cp');
    expect(row!.category).toBe('durable');
    expect(row!.expires_at).not.toBeNull(); // a rewrite without ttl keeps the expiry (C6)
    const v4 = await put(a, a.id, 'doc', { data: 'plain text', category: 'notes', expires_at: null });
    expect(v4.body.version).toBe(4);
    const after = await t.db.get<{ data: string; expires_at: string | null; category: string }>(
      'SELECT data, expires_at, category FROM context_keys WHERE namespace = ? AND key = ?',
      [a.id, 'doc'],
    );
    expect(after).toEqual({ data: 'plain text', expires_at: null, category: 'notes' });
    const hist = await t.db.all<{ version: number }>(
      'SELECT version FROM context_history WHERE namespace = ? AND key = ? ORDER BY id',
      [a.id, 'doc'],
    );
    expect(hist.map((h) => h.version)).toEqual([1, 2, 3]);
    const evs = await eventsOf('context_key_updated', `"namespace":"${a.id}","key":"doc"`);
    expect(evs.map((e) => JSON.parse(e.data).version)).toEqual([1, 2, 3, 4]);
    expect(evs.every((e) => e.project_id === a.id)).toBe(true);
  });

  it('expected_version is a compare-and-set: a stale writer gets 409 and nothing changes', async () => {
    const a = await registerAgent(t, 'hp-cas', 'hp-cas');
    expect((await put(a, a.id, 'k', { data: 'one', expected_version: 0 })).body.version).toBe(1);
    const stale = await put(a, a.id, 'k', { data: 'two', expected_version: 0 });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: 'Version conflict', current_version: 1, expected_version: 0 });
    expect((await put(a, a.id, 'k', { data: 'two', expected_version: 1 })).body.version).toBe(2);
    const missing = await put(a, a.id, 'nope', { data: 'x', expected_version: 3 });
    expect(missing.status).toBe(409);
    expect(
      await t.db.get("SELECT 1 AS x FROM context_keys WHERE namespace = 'hp-cas' AND key = 'nope'"),
    ).toBeUndefined();
  });

  it("the write rule holds inside the batch: another agent's namespace, a project out of scope, a key owned elsewhere", async () => {
    const a = await registerAgent(t, 'hp-w-a', 'hp-wa');
    const b = await registerAgent(t, 'hp-w-b', 'hp-wb');
    await t.db.run("INSERT INTO projects (id, name) VALUES ('hp-wb', 'WB')");
    const squat = await put(a, b.id, 'k', { data: 'mine now' });
    expect(squat.status).toBe(403);
    expect(squat.body.error).toBe(`Namespace ${b.id} belongs to agent ${b.id}`);
    const proj = await put(a, 'hp-wb', 'k', { data: 'x' });
    expect(proj.status).toBe(403);
    expect(proj.body.error).toBe(`Agent ${a.id} cannot access resources in project hp-wb`);
    expect((await put(b, 'shared-ns-hp', 'k', { data: 'b owns it' })).status).toBe(200);
    const owned = await put(a, 'shared-ns-hp', 'k', { data: 'overwrite' });
    expect(owned.status).toBe(403);
    const left = await t.db.all<{ namespace: string; data: string }>(
      "SELECT namespace, data FROM context_keys WHERE namespace IN ('hp-w-b', 'hp-wb', 'shared-ns-hp')",
    );
    expect(left).toEqual([{ namespace: 'shared-ns-hp', data: 'b owns it' }]);
    expect(await eventsOf('context_key_updated', '"namespace":"hp-w-b"')).toEqual([]);
  });

  it('concurrent merges onto one object lose no field', async () => {
    const a = await registerAgent(t, 'hp-race', 'hp-race');
    expect((await put(a, a.id, 'obj', { data: { start: true } })).status).toBe(200);
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => put(a, a.id, 'obj', { data: { [`f${i}`]: i } })));
    expect(rs.map((r) => r.status)).toEqual(Array(8).fill(200));
    const row = await t.db.get<{ data: string; version: number }>(
      'SELECT data, version FROM context_keys WHERE namespace = ? AND key = ?',
      [a.id, 'obj'],
    );
    expect(JSON.parse(row!.data)).toEqual({ start: true, f0: 0, f1: 1, f2: 2, f3: 3, f4: 4, f5: 5, f6: 6, f7: 7 });
    expect(row!.version).toBe(9);
  });
});
