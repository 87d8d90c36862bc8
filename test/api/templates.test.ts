import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('agent templates (spec 02 §3.9)', () => {
  it('CRUD with exact errors; reads for agents, writes for admins', async () => {
    const a = await registerAgent(t, 'tpl-reader', 'tp');
    const missing = await t.call('POST', '/agent-templates', { admin: true, body: { id: 'x' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('id and name are required');
    const c = await t.call('POST', '/agent-templates', {
      admin: true,
      headers: { 'X-Acting-As': 'ops' },
      body: {
        id: 'coder',
        name: 'Coder',
        runtime: 'claude-code',
        llm_backend: 'anthropic',
        capabilities: ['code', 'review'],
      },
    });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({
      id: 'coder',
      name: 'Coder',
      agent_type: 'agent',
      capabilities: ['code', 'review'],
      team_ids: [],
      profile_rules: {},
      created_by: 'ops',
    });
    expect(
      (await t.call('POST', '/agent-templates', { admin: true, body: { id: 'coder', name: 'Again' } })).body.error,
    ).toBe('Template coder already exists');
    expect((await t.call('POST', '/agent-templates', { agentKey: a.key, body: { id: 'y', name: 'Y' } })).status).toBe(
      401,
    );
    const bad = await t.call('POST', '/agent-templates', {
      admin: true,
      body: { id: 'z', name: 'Z', capabilities: 'code' },
    });
    expect(bad.status).toBe(400);
    const list = await t.call('GET', '/agent-templates', { agentKey: a.key });
    expect(list.body.map((x: { id: string }) => x.id)).toEqual(['coder']);
    const up = await t.call('PUT', '/agent-templates/coder', { admin: true, body: { llm_model: 'opus' } });
    expect(up.body.llm_model).toBe('opus');
    expect((await t.call('PUT', '/agent-templates/nope', { admin: true, body: { name: 'n' } })).body.error).toBe(
      'Template not found',
    );
    expect((await t.call('GET', '/agent-templates/nope', { agentKey: a.key })).status).toBe(404);
  });

  it('apply copies fields and never returns the key hash (W16); registration uses template_id', async () => {
    await t.call('POST', '/agent-templates', {
      admin: true,
      body: {
        id: 'artist',
        name: 'Artist',
        runtime: 'sdk',
        agent_type: 'agent',
        capabilities: ['assets', 'gpu'],
        llm_model: 'm1',
      },
    });
    const a = await registerAgent(t, 'tpl-apply', 'tp');
    const r = await t.call('POST', `/agent-templates/artist/apply/${a.id}`, { admin: true });
    expect(r.status).toBe(200);
    expect(r.body.template).toBe('artist');
    expect(r.body.agent).toMatchObject({ id: a.id, runtime: 'sdk', llm_model: 'm1', capabilities: '["assets","gpu"]' });
    expect(JSON.stringify(r.body)).not.toContain('api_key_hash');
    expect((await t.call('POST', '/agent-templates/artist/apply/nobody', { admin: true })).body.error).toBe(
      'Agent not found',
    );
    expect((await t.call('POST', `/agent-templates/none/apply/${a.id}`, { admin: true })).body.error).toBe(
      'Template not found',
    );

    const reg = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'tpl-born', name: 'Born', project_id: 'tp', template_id: 'artist' },
    });
    expect(reg.status).toBe(200);
    expect(await t.db.get('SELECT runtime, llm_model, capabilities FROM agents WHERE id = ?', ['tpl-born'])).toEqual({
      runtime: 'sdk',
      llm_model: 'm1',
      capabilities: '["assets","gpu"]',
    });
    const bad = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'tpl-ghost', name: 'G', project_id: 'tp', template_id: 'missing' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('Template missing not found');
    expect(await t.db.get("SELECT 1 FROM agents WHERE id = 'tpl-ghost'")).toBeUndefined();
    const del = await t.call('DELETE', '/agent-templates/artist', { admin: true });
    expect(del.body).toEqual({ ok: true, deleted: 'artist' });
    expect((await t.call('DELETE', '/agent-templates/artist', { admin: true })).status).toBe(404);
  });
});
