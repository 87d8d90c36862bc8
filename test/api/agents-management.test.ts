import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('PUT /agents/:id', () => {
  it('self may change its own display fields; admin-only fields are ignored for agents (no mass assignment)', async () => {
    const a = await registerAgent(t, 'upd-ada', 'up');
    const r = await t.call('PUT', `/agents/${a.id}`, {
      agentKey: a.key,
      body: {
        avatar_url: 'https://x/y.png',
        role: 'admin',
        project_id: 'other',
        capabilities: ['admin'],
        api_key_hash: 'x',
        status: 'online',
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, id: a.id, updated: ['avatar_url'] });
    const row = await t.db.get<Record<string, string>>('SELECT * FROM agents WHERE id = ?', [a.id]);
    expect(row).toMatchObject({
      avatar_url: 'https://x/y.png',
      role: '',
      project_id: 'up',
      capabilities: '["code","assets"]',
      status: 'offline',
    });
    const nothing = await t.call('PUT', `/agents/${a.id}`, { agentKey: a.key, body: { role: 'admin' } });
    expect(nothing.status).toBe(400);
    expect(nothing.body.error).toBe('Nothing to update');
  });

  it('another agent and a same-named operator get 403 (SEC-14 / W17)', async () => {
    const a = await registerAgent(t, 'upd-victim', 'up');
    const b = await registerAgent(t, 'upd-other', 'up');
    const r = await t.call('PUT', `/agents/${a.id}`, { agentKey: b.key, body: { name: 'pwned' } });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('Can only update your own profile');
    const op = await createOperator(t, 'upd-victim', 'operator');
    expect((await t.call('PUT', `/agents/${a.id}`, { token: op.token, body: { name: 'pwned' } })).status).toBe(403);
  });

  it('admin sets role, project, capabilities; status only "retired"; names stay unique (W18)', async () => {
    const a = await registerAgent(t, 'upd-admin', 'up');
    await registerAgent(t, 'upd-taken', 'up');
    const r = await t.call('PUT', `/agents/${a.id}`, {
      admin: true,
      body: { role: 'operator', project_id: 'p2', capabilities: ['code', 'review'] },
    });
    expect(r.body.updated.sort()).toEqual(['capabilities', 'project_id', 'role']);
    expect(await t.db.get('SELECT role, project_id, capabilities FROM agents WHERE id = ?', [a.id])).toEqual({
      role: 'operator',
      project_id: 'p2',
      capabilities: '["code","review"]',
    });
    const st = await t.call('PUT', `/agents/${a.id}`, { admin: true, body: { status: 'online' } });
    expect(st.status).toBe(400);
    expect(st.body.error).toBe("status can only be set to 'retired' here; presence derives from heartbeats");
    const caps = await t.call('PUT', `/agents/${a.id}`, { admin: true, body: { capabilities: 'code' } });
    expect(caps.status).toBe(400);
    const dup = await t.call('PUT', `/agents/${a.id}`, { admin: true, body: { name: 'UPD-TAKEN' } });
    expect(dup.status).toBe(409);
    expect((await t.call('PUT', '/agents/nobody', { admin: true, body: { name: 'x' } })).status).toBe(404);
  });

  it('a project change takes effect for the key at once (W37)', async () => {
    const a = await registerAgent(t, 'upd-scope', 'old-proj');
    await t.call('GET', `/agents/${a.id}`, { agentKey: a.key }); // warms the key cache
    await t.call('PUT', `/agents/${a.id}`, { admin: true, body: { project_id: 'new-proj' } });
    const mk = await t.call('POST', '/tasks', { agentKey: a.key, body: { title: 'in old', project_id: 'old-proj' } });
    expect(mk.status).toBe(403);
  });
});

describe('registration', () => {
  it('SEC-14: reserved and __-prefixed ids are refused with 400', async () => {
    for (const id of [
      '__system__',
      '__admin__',
      '__global__',
      '__x',
      'heartbeat',
      'profiles',
      'leaderboard',
      'rekey',
    ]) {
      const r = await t.call('POST', '/admin/agents', { admin: true, body: { id, name: 'x', project_id: 'p' } });
      expect(r.status, id).toBe(400);
    }
    expect(await t.db.get("SELECT 1 FROM agents WHERE id LIKE '\\_\\_%' ESCAPE '\\'")).toBeUndefined();
  });
});

describe('profile, identity, skills, profiles, leaderboard', () => {
  it('profile: 404 before the first boot; PUT accepts JSON strings (W36) and creates the row', async () => {
    const a = await registerAgent(t, 'prof-ada', 'pr');
    const none = await t.call('GET', `/agents/${a.id}/profile`, { agentKey: a.key });
    expect(none.status).toBe(404);
    expect(none.body.error).toBe('Profile not found');
    const r = await t.call('PUT', `/agents/${a.id}/profile`, {
      agentKey: a.key,
      body: {
        specializations: '["ts","sql"]',
        preferred_projects: ['pr'],
        profile_data: '{"motto":"ship"}',
        max_concurrent: 2,
        display_name: 'Ada L.',
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      agent_id: a.id,
      display_name: 'Ada L.',
      specializations: ['ts', 'sql'],
      preferred_projects: ['pr'],
      profile_data: { motto: 'ship' },
      max_concurrent: 2,
      session_count: 0,
    });
    const bad = await t.call('PUT', `/agents/${a.id}/profile`, {
      agentKey: a.key,
      body: { specializations: 'not json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('specializations must be an array');
    const other = await registerAgent(t, 'prof-bob', 'pr');
    expect(
      (await t.call('PUT', `/agents/${a.id}/profile`, { agentKey: other.key, body: { display_name: 'x' } })).status,
    ).toBe(403);
  });

  it('identity: GET shape; PUT admin-only, validates everything before writing', async () => {
    const d = await registerAgent(t, 'id-drone', 'drone', { agent_type: 'drone', capabilities: ['gpu'] });
    const g = await t.call('GET', `/agents/${d.id}/identity`, { admin: true });
    expect(g.status).toBe(200);
    expect(g.body.agent).toMatchObject({ id: d.id, agent_type: 'drone', role: 'agent' });
    expect(g.body.capabilities).toEqual(['gpu']);
    expect(g.body.forbidden_capabilities).toEqual(['code', 'coordination', 'admin']);
    expect(g.body.calibration.layers_applied).toEqual([{ id: 'default-drone', layer: 'platform', node_type: 'drone' }]);
    expect(g.body.guardrails.map((x: { value: string }) => x.value.split(':')[0])).toEqual([
      'execution',
      'no_messages',
    ]);
    const bad = await t.call('PUT', `/agents/${d.id}/identity`, {
      admin: true,
      body: { capabilities: ['gpu', 'code'], guardrails: ['x'] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('Capability "code" is forbidden for drones');
    const bad2 = await t.call('PUT', `/agents/${d.id}/identity`, {
      admin: true,
      body: { capabilities: ['gpu', 'render'], guardrails: 'x' },
    });
    expect(bad2.body.error).toBe('guardrails must be an array');
    expect(
      (await t.db.get<{ capabilities: string }>('SELECT capabilities FROM agents WHERE id = ?', [d.id]))!.capabilities,
    ).toBe('["gpu"]');
    const ok = await t.call('PUT', `/agents/${d.id}/identity`, {
      admin: true,
      body: { capabilities: ['gpu', 'render'], guardrails: ['be careful'] },
    });
    expect(ok.body).toEqual({ ok: true, updated: { capabilities: ['gpu', 'render'], guardrails: ['be careful'] } });
    const after = await t.call('GET', `/agents/${d.id}/identity`, { agentKey: d.key });
    expect(after.body.guardrails.at(-1)).toEqual({ value: 'be careful', source: 'custom', locked: false });
    expect((await t.call('PUT', `/agents/${d.id}/identity`, { agentKey: d.key, body: {} })).status).toBe(401);
  });

  it('skills answer an array; profiles and leaderboard are ordered by tasks completed', async () => {
    const a = await registerAgent(t, 'lb-a', 'lb');
    const b = await registerAgent(t, 'lb-b', 'lb');
    expect((await t.call('GET', `/agents/${a.id}/skills`, { agentKey: a.key })).body).toEqual([]);
    await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    await t.call('GET', `/boot/${b.id}`, { agentKey: b.key });
    await t.db.run('UPDATE agent_profiles SET total_tasks_completed = 5 WHERE agent_id = ?', [b.id]);
    const lb = await t.call('GET', '/agents/leaderboard?limit=1', { agentKey: a.key });
    expect(lb.body).toHaveLength(1);
    expect(lb.body[0]).toMatchObject({
      agent_id: b.id,
      total_tasks_completed: 5,
      session_count: 1,
      specializations: [],
    });
    const profiles = await t.call('GET', '/agents/profiles', { agentKey: a.key });
    expect(profiles.body[0].agent_id).toBe(b.id);
  });
});

describe('DELETE /admin/agents/:id (REL-19)', () => {
  it('revokes the key, unassigns open work back to open, keeps messages and history', async () => {
    const x = await registerAgent(t, 'del-x', 'del');
    const y = await registerAgent(t, 'del-y', 'del');
    const task = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO tasks (title, project_id, requester, assignee, status) VALUES ('T', 'del', 'a', ?, 'in_progress') RETURNING id",
        [x.id],
      ))!.id,
    );
    const doneTask = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO tasks (title, project_id, requester, assignee, status) VALUES ('D', 'del', 'a', ?, 'done') RETURNING id",
        [x.id],
      ))!.id,
    );
    const bug = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO bugs (title, description, project_id, assignee, status) VALUES ('B', 'd', 'del', ?, 'in_progress') RETURNING id",
        [x.id],
      ))!.id,
    );
    const msg = await t.call('POST', '/messages', { agentKey: x.key, body: { to_agent: y.id, content: 'keep me' } });
    await t.call('POST', '/agents/heartbeat', { agentKey: x.key, body: { working_on: 'w' } });
    // The heartbeat delivered everything (nothing), so x has a read-up-to mark; deletion drops it.
    expect(await t.db.get('SELECT 1 AS y FROM inbox_marks WHERE agent_id = ?', [x.id])).toBeTruthy();
    const r = await t.call('DELETE', `/admin/agents/${x.id}`, { admin: true });
    expect(r.body).toEqual({ ok: true, deleted: x.id });
    expect(await t.db.get('SELECT assignee, status FROM tasks WHERE id = ?', [task])).toEqual({
      assignee: null,
      status: 'open',
    });
    expect(await t.db.get('SELECT assignee, status FROM tasks WHERE id = ?', [doneTask])).toEqual({
      assignee: x.id,
      status: 'done',
    });
    expect(await t.db.get('SELECT assignee, status FROM bugs WHERE id = ?', [bug])).toEqual({
      assignee: null,
      status: 'open',
    });
    expect(await t.db.get('SELECT id FROM messages WHERE id = ?', [msg.body.id])).toBeTruthy();
    expect(await t.db.get('SELECT 1 FROM agent_savepoints WHERE agent_id = ?', [x.id])).toBeUndefined();
    expect(await t.db.get('SELECT 1 FROM inbox_marks WHERE agent_id = ?', [x.id])).toBeUndefined();
    const me = await t.call('GET', '/agents', { agentKey: x.key });
    expect(me.status).toBe(403);
    expect(
      (await t.db.get<{ summary: string }>("SELECT summary FROM events WHERE type = 'agent_removed' ORDER BY id DESC"))!
        .summary,
    ).toBe(`Admin removed agent: ${x.id}`);
    expect((await t.call('DELETE', `/admin/agents/${x.id}`, { admin: true })).status).toBe(404);
  });
});

describe('GET /agents filters', () => {
  it('filters by derived status, project and type; unknown params are ignored; never the key hash', async () => {
    const a = await registerAgent(t, 'flt-live', 'flt');
    await registerAgent(t, 'flt-silent', 'flt');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    await t.db.run(
      "UPDATE agents SET status = 'online', last_heartbeat = datetime('now', '-1 hour') WHERE id = 'flt-silent'",
    );
    const online = await t.call('GET', '/agents?status=online&project=flt', { agentKey: a.key });
    expect(online.body.map((x: { id: string }) => x.id)).toEqual([a.id]);
    const all = await t.call('GET', '/agents?project_id=flt&whatever=1', { agentKey: a.key });
    expect(all.body.map((x: { id: string }) => x.id)).toEqual([a.id, 'flt-silent']);
    expect(all.body.every((x: Record<string, unknown>) => !('api_key_hash' in x))).toBe(true);
    expect(typeof all.body[0].capabilities).toBe('string');
  });
});
