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

describe('orgs', () => {
  it('admin creates (owner = admin identity, org_created event); 400 without id/name; 409 on duplicate', async () => {
    const op = await createOperator(t, 'boss', 'admin');
    const r = await t.call('POST', '/orgs', { token: op.token, body: { id: 'acme', name: 'Acme', description: 'd' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: 'acme',
      name: 'Acme',
      description: 'd',
      owner_id: 'boss',
      plan: 'free',
      status: 'active',
    });
    expect(r.body.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'org_created' ORDER BY id DESC LIMIT 1",
    );
    expect(ev?.summary).toBe('Organization created: Acme');
    expect((await t.call('POST', '/orgs', { admin: true, body: { name: 'x' } })).body).toEqual({
      error: 'id and name required',
    });
    const dup = await t.call('POST', '/orgs', { admin: true, body: { id: 'acme', name: 'Other' } });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ error: 'Organization already exists' });
    expect((await t.db.get<{ name: string }>("SELECT name FROM organizations WHERE id = 'acme'"))?.name).toBe('Acme');
    expect((await t.call('POST', '/orgs', { agentKey: agent.key, body: { id: 'a2', name: 'A2' } })).status).toBe(401);
  });

  it('list and get (any caller); get includes the org projects; 404 for unknown', async () => {
    await t.call('POST', '/orgs', { admin: true, body: { id: 'globex', name: 'Globex' } });
    await t.call('POST', '/projects', { admin: true, body: { id: 'g-web', name: 'Web', org_id: 'globex' } });
    const list = await t.call('GET', '/orgs', { agentKey: agent.key });
    expect(list.body.map((o: any) => o.id)).toEqual(expect.arrayContaining(['acme', 'globex']));
    const g = await t.call('GET', '/orgs/globex', { agentKey: agent.key });
    expect(g.body).toMatchObject({ id: 'globex', name: 'Globex' });
    expect(g.body.projects.map((p: any) => p.id)).toEqual(['g-web']);
    expect((await t.call('GET', '/orgs/nope', { agentKey: agent.key })).body).toEqual({
      error: 'Organization not found',
    });
  });

  it('update (admin) name/description/plan/status only; 404 for unknown', async () => {
    const r = await t.call('PUT', '/orgs/acme', {
      admin: true,
      body: { name: 'Acme Inc', plan: 'pro', owner_id: 'hijack' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'acme', name: 'Acme Inc', plan: 'pro' });
    expect(r.body.owner_id).not.toBe('hijack');
    expect((await t.call('PUT', '/orgs/nope', { admin: true, body: { name: 'x' } })).body).toEqual({
      error: 'Organization not found',
    });
    expect((await t.call('PUT', '/orgs/acme', { admin: true, body: { name: 7 } })).status).toBe(400);
  });

  it('delete (admin): 409 while projects or teams reference it, 404 unknown, then ok', async () => {
    const refused = await t.call('DELETE', '/orgs/globex', { admin: true });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ projects: 1, teams: 0 });
    await t.call('DELETE', '/projects/g-web', { admin: true });
    await t.db.run("INSERT INTO teams (id, org_id, name) VALUES ('t1', 'globex', 'T')");
    expect((await t.call('DELETE', '/orgs/globex', { admin: true })).body.teams).toBe(1);
    await t.db.run("DELETE FROM teams WHERE id = 't1'");
    expect((await t.call('DELETE', '/orgs/globex', { admin: true })).body).toEqual({ ok: true });
    expect((await t.call('DELETE', '/orgs/globex', { admin: true })).status).toBe(404);
    expect((await t.call('DELETE', '/orgs/acme', { agentKey: agent.key })).status).toBe(401);
  });
});
