import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let key = '';
let other = '';
beforeAll(async () => {
  t = await startTarget();
  key = (await registerAgent(t, 'sk-agent', 'p')).key;
  other = (await registerAgent(t, 'sk-other', 'p')).key;
});
afterAll(async () => t?.close());

describe('skills registry (spec 05 §12)', () => {
  it('admin creates (201), duplicates 409, agents 401; JSON columns are stored as strings', async () => {
    const r = await t.call('POST', '/skills', {
      admin: true,
      body: {
        id: 'gh-review',
        name: 'GitHub review',
        category: 'github',
        tags: ['pr', 'review'],
        install_data: { url: 'x' },
      },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ id: 'gh-review' });
    expect((await t.call('POST', '/skills', { admin: true, body: { id: 'gh-review', name: 'again' } })).body).toEqual({
      error: 'skill already exists',
    });
    expect((await t.call('POST', '/skills', { admin: true, body: { name: 'no id' } })).body).toEqual({
      error: 'id and name required',
    });
    expect((await t.call('POST', '/skills', { agentKey: key, body: { id: 'x', name: 'x' } })).status).toBe(401);
    const s = (await t.call('GET', '/skills/gh-review', { agentKey: key })).body;
    expect(s).toMatchObject({
      id: 'gh-review',
      category: 'github',
      tags: '["pr","review"]',
      install_data: '{"url":"x"}',
      status: 'published',
      install_count: 0,
      version: '1.0.0',
    });
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'skill_created'");
    expect(ev).toMatchObject({ agent: 'admin', summary: 'GitHub review' });
    expect((await t.call('GET', '/skills/nope', { agentKey: key })).body).toEqual({ error: 'skill not found' });
  });

  it('list shows published skills only, filters by category and search (name, description, tags)', async () => {
    await t.call('POST', '/skills', {
      admin: true,
      body: { id: 'art-gen', name: 'Art generator', category: 'art', description: 'sprites' },
    });
    await t.call('POST', '/skills', { admin: true, body: { id: 'draft-one', name: 'Draft' } });
    expect((await t.call('PUT', '/skills/draft-one', { admin: true, body: { status: 'draft' } })).body.status).toBe(
      'draft',
    );
    const all = (await t.call('GET', '/skills', { agentKey: key })).body.map((s: any) => s.id);
    expect(all).toContain('art-gen');
    expect(all).not.toContain('draft-one');
    expect((await t.call('GET', '/skills?category=art', { agentKey: key })).body.map((s: any) => s.id)).toEqual([
      'art-gen',
    ]);
    expect((await t.call('GET', '/skills?search=SPRITE', { agentKey: key })).body.map((s: any) => s.id)).toEqual([
      'art-gen',
    ]);
    expect((await t.call('GET', '/skills?search=review', { agentKey: key })).body.map((s: any) => s.id)).toEqual([
      'gh-review',
    ]);
    expect((await t.call('GET', '/skills?search=%25', { agentKey: key })).body).toEqual([]);
  });

  it('PUT updates allowed fields, ignores install_count, returns the row; an empty PUT returns it unchanged; unknown → 404', async () => {
    const r = await t.call('PUT', '/skills/art-gen', {
      admin: true,
      body: { version: '2.0.0', install_count: 99, tags: ['a'] },
    });
    expect(r.body).toMatchObject({ id: 'art-gen', version: '2.0.0', install_count: 0, tags: '["a"]' });
    expect((await t.call('PUT', '/skills/art-gen', { admin: true, body: {} })).body).toMatchObject({
      id: 'art-gen',
      version: '2.0.0',
    });
    expect((await t.call('PUT', '/skills/ghost', { admin: true, body: { name: 'x' } })).status).toBe(404);
    expect((await t.call('PUT', '/skills/art-gen', { admin: true, body: { name: 5 } })).status).toBe(400);
  });

  it('install: an agent installs for itself (body agent_id ignored); re-install does not double count; GET /agents/:id/skills lists it', async () => {
    const r = await t.call('POST', '/skills/gh-review/install', {
      agentKey: key,
      body: { agent_id: 'sk-other', config: { repo: 'a/b' } },
    });
    expect(r.body).toEqual({ ok: true, skill_id: 'gh-review', agent_id: 'sk-agent' });
    await t.call('POST', '/skills/gh-review/install', { agentKey: key, body: {} });
    await t.call('POST', '/skills/gh-review/install', { agentKey: other, body: {} });
    expect((await t.call('GET', '/skills/gh-review', { agentKey: key })).body.install_count).toBe(2);
    const mine = (await t.call('GET', '/agents/sk-agent/skills', { agentKey: key })).body;
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      id: 'gh-review',
      name: 'GitHub review',
      config: '{}',
      installed_at: expect.any(String),
    });
    expect(await t.db.get<any>("SELECT agent FROM events WHERE type = 'skill_installed' ORDER BY id LIMIT 1")).toEqual({
      agent: 'sk-agent',
    });
    expect((await t.call('POST', '/skills/ghost/install', { agentKey: key, body: {} })).body).toEqual({
      error: 'skill not found',
    });
  });

  it('B7: admins and operators install for the agent named in agent_id, which must exist', async () => {
    const op = await createOperator(t, 'skill-op', 'operator');
    expect(
      (
        await t.call('POST', '/skills/art-gen/install', {
          admin: true,
          headers: { 'X-Acting-As': 'boss' },
          body: { agent_id: 'sk-other' },
        })
      ).body.agent_id,
    ).toBe('sk-other');
    expect(
      (await t.call('POST', '/skills/art-gen/install', { token: op.token, body: { agent_id: 'sk-agent' } })).body
        .agent_id,
    ).toBe('sk-agent');
    expect((await t.call('POST', '/skills/art-gen/install', { admin: true, body: { agent_id: 'ghost' } })).status).toBe(
      404,
    );
    expect((await t.call('POST', '/skills/art-gen/install', { admin: true, body: {} })).body).toEqual({
      error: 'agent_id is required',
    });
    expect(
      await t.db.get("SELECT 1 FROM agent_skills WHERE agent_id IN ('ghost', '__system__', 'boss')"),
    ).toBeUndefined();
    expect((await t.call('GET', '/skills/art-gen', { agentKey: key })).body.install_count).toBe(2);
  });

  it('B8: uninstall removes the row and the count follows', async () => {
    expect((await t.call('POST', '/skills/gh-review/uninstall', { agentKey: other, body: {} })).body).toEqual({
      ok: true,
    });
    expect((await t.call('POST', '/skills/gh-review/uninstall', { agentKey: other, body: {} })).body).toEqual({
      ok: true,
    });
    expect((await t.call('GET', '/skills/gh-review', { agentKey: key })).body.install_count).toBe(1);
    expect((await t.call('GET', '/agents/sk-other/skills', { agentKey: key })).body.map((s: any) => s.id)).toEqual([
      'art-gen',
    ]);
    expect((await t.call('GET', '/agents/nobody/skills', { agentKey: key })).body).toEqual([]);
  });
});
