import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agent: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  agent = await registerAgent(t, 'ada', 'home');
});
afterAll(async () => t?.close());

describe('projects', () => {
  it('admin creates; the row comes back with defaults; project_created event; agents cannot create', async () => {
    const r = await t.call('POST', '/projects', {
      admin: true,
      headers: { 'X-Acting-As': 'ops' },
      body: { id: 'web', name: 'Website', org_id: 'acme', repo_url: 'https://git/x' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: 'web',
      name: 'Website',
      description: '',
      org_id: 'acme',
      repo_url: 'https://git/x',
      repo_path: '',
      type: 'software',
      status: 'active',
      bug_categories: '[]',
      team_id: null,
    });
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'project_created' ORDER BY id DESC LIMIT 1",
    );
    expect(ev).toMatchObject({ agent: 'ops', project_id: 'web', summary: 'Project created: Website' });
    expect((await t.call('POST', '/projects', { agentKey: agent.key, body: { id: 'x', name: 'X' } })).status).toBe(401);
    expect(await t.db.get("SELECT id FROM projects WHERE id = 'x'")).toBeUndefined();
  });

  it('id and name required; duplicate id is 409 (P1) and keeps the original', async () => {
    expect((await t.call('POST', '/projects', { admin: true, body: { id: 'only-id' } })).body).toEqual({
      error: 'id and name required',
    });
    await t.call('POST', '/projects', { admin: true, body: { id: 'dup', name: 'First' } });
    const again = await t.call('POST', '/projects', { admin: true, body: { id: 'dup', name: 'Second' } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: 'Project dup already exists' });
    expect((await t.call('GET', '/projects/dup', { agentKey: agent.key })).body.name).toBe('First');
  });

  it('list (any caller) ordered by created_at, filter by org_id; get 404', async () => {
    await t.call('POST', '/projects', { admin: true, body: { id: 'p-org1', name: 'A', org_id: 'org1' } });
    await t.call('POST', '/projects', { admin: true, body: { id: 'p-org1b', name: 'B', org_id: 'org1' } });
    const all = await t.call('GET', '/projects', { agentKey: agent.key });
    expect(all.body.map((p: any) => p.id)).toEqual(expect.arrayContaining(['web', 'p-org1', 'p-org1b']));
    const f = await t.call('GET', '/projects?org_id=org1', { agentKey: agent.key });
    expect(f.body.map((p: any) => p.id)).toEqual(['p-org1', 'p-org1b']);
    expect((await t.call('GET', '/projects/ghost', { agentKey: agent.key })).body).toEqual({
      error: 'Project not found',
    });
  });

  it('update (admin) writes only known fields, bug_categories must be a list, emits project_updated', async () => {
    const r = await t.call('PUT', '/projects/web', {
      admin: true,
      body: { name: 'Web 2', status: 'archived', bug_categories: ['ui', 'perf'], created_at: 'x', id: 'hijack' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'web', name: 'Web 2', status: 'archived', bug_categories: '["ui","perf"]' });
    expect(r.body.created_at).not.toBe('x');
    const bad = await t.call('PUT', '/projects/web', { admin: true, body: { bug_categories: { a: 1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^bug_categories/);
    expect(
      (await t.call('PUT', '/projects/web', { admin: true, body: { bug_categories: '["a","b"]' } })).body
        .bug_categories,
    ).toBe('["a","b"]');
    expect((await t.call('PUT', '/projects/ghost', { admin: true, body: { name: 'n' } })).status).toBe(404);
    expect((await t.call('PUT', '/projects/web', { agentKey: agent.key, body: { name: 'n' } })).status).toBe(401);
    const op = await createOperator(t, 'plainop', 'operator');
    expect((await t.call('PUT', '/projects/web', { token: op.token, body: { name: 'n' } })).body).toEqual({
      error: 'Admin role required',
    });
    expect((await t.db.all("SELECT id FROM events WHERE type = 'project_updated'")).length).toBeGreaterThan(0);
  });

  it('bug categories: project list when set, defaults otherwise (also unknown projects)', async () => {
    await t.call('PUT', '/projects/web', { admin: true, body: { bug_categories: ['ui', 'perf'] } });
    expect((await t.call('GET', '/projects/web/bug-categories', { agentKey: agent.key })).body).toEqual({
      project_id: 'web',
      categories: ['ui', 'perf'],
    });
    const def = ['bug', 'feature', 'ui', 'crash', 'api', 'infrastructure', 'other'];
    expect((await t.call('GET', '/projects/nowhere/bug-categories', { agentKey: agent.key })).body).toEqual({
      project_id: 'nowhere',
      categories: def,
    });
    await t.call('PUT', '/projects/web', { admin: true, body: { bug_categories: [] } });
    expect((await t.call('GET', '/projects/web/bug-categories', { agentKey: agent.key })).body.categories).toEqual(def);
  });

  it('delete (admin): refused with 409 while work or agents reference it (P2), then deleted with an event', async () => {
    await t.call('POST', '/projects', { admin: true, body: { id: 'busy', name: 'Busy' } });
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 't', project_id: 'busy' } });
    const refused = await t.call('DELETE', '/projects/busy', { admin: true });
    expect(refused.status).toBe(409);
    expect(refused.body.dependants).toEqual({ agents: 0, tasks: 1, plans: 0, bugs: 0 });
    expect(await t.db.get("SELECT id FROM projects WHERE id = 'busy'")).toBeDefined();
    await t.call('DELETE', `/tasks/${task.body.id}`, { admin: true });
    expect((await t.call('DELETE', '/projects/busy', { admin: true })).body).toEqual({ ok: true, deleted: 'busy' });
    expect(await t.db.get("SELECT id FROM projects WHERE id = 'busy'")).toBeUndefined();
    expect((await t.call('DELETE', '/projects/busy', { admin: true })).body).toEqual({ error: 'Project not found' });
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'project_deleted' ORDER BY id DESC LIMIT 1",
    );
    expect(ev?.project_id).toBe('busy');
  });
});
