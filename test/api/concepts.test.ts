import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let a: { id: string; key: string };
let b: { id: string; key: string };
let op: { token: string };

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'cc-a', 'cpa');
  b = await registerAgent(t, 'cc-b', 'cpb');
  op = await createOperator(t, 'cc-op', 'operator');
  await t.db.run("INSERT INTO projects (id, name) VALUES ('cpa', 'Alpha project'), ('cpb', 'Bravo project')");
});
afterAll(async () => t?.close());

const create = (key: string, body: Record<string, unknown>) => t.call('POST', '/concepts', { agentKey: key, body });

describe('concepts', () => {
  it('creates with defaults, parses data, lists newest first with projects', async () => {
    const r = await create(a.key, { name: 'Hero', type: 'character', data: { hp: 10 } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      name: 'Hero',
      type: 'character',
      description: '',
      data: { hp: 10 },
      version: 1,
      created_by: a.id,
      projects: [],
    });
    const s = await create(a.key, { name: 'Plain', data: '{"k":1}' });
    expect(s.body).toMatchObject({ type: 'custom', data: { k: 1 } });
    const txt = await create(a.key, { name: 'Text', data: 'just words' });
    expect(txt.body.data).toBe('just words');
    const list = await t.call('GET', '/concepts', { agentKey: b.key });
    expect(list.body.map((c: { name: string }) => c.name).slice(0, 3)).toEqual(
      expect.arrayContaining(['Hero', 'Plain', 'Text']),
    );
    expect(
      (await t.call('GET', '/concepts?type=character', { agentKey: b.key })).body.map((c: { name: string }) => c.name),
    ).toEqual(['Hero']);
    const ev = await t.db.get<{ summary: string }>(
      "SELECT summary FROM events WHERE type = 'concept_created' ORDER BY id LIMIT 1",
    );
    expect(ev?.summary).toBe('Created concept: Hero (character)');
  });

  it('validates name and type on create and update (K1)', async () => {
    expect((await create(a.key, {})).body).toEqual({ error: 'name is required' });
    expect((await create(a.key, { name: 'x', type: 'weapon' })).body).toEqual({
      error: 'type must be one of: character, style, ruleset, library, brand, custom',
    });
    expect((await create(a.key, { name: { x: 1 } })).status).toBe(400);
    const c = await create(a.key, { name: 'Typed' });
    expect((await t.call('PUT', `/concepts/${c.body.id}`, { agentKey: a.key, body: { type: 'weapon' } })).status).toBe(
      400,
    );
    expect((await t.call('GET', '/concepts/abc', { agentKey: a.key })).status).toBe(404);
    expect((await t.call('GET', '/concepts/999999', { agentKey: a.key })).body).toEqual({ error: 'Concept not found' });
  });

  it('updates bump the version; only the creator, a linked project or a human may edit (K1)', async () => {
    const c = await create(a.key, { name: 'Style guide', type: 'style' });
    const u = await t.call('PUT', `/concepts/${c.body.id}`, {
      agentKey: a.key,
      body: { description: 'warm colours', data: { palette: ['red'] } },
    });
    expect(u.body).toMatchObject({ version: 2, description: 'warm colours', data: { palette: ['red'] } });
    expect(
      (await t.call('PUT', `/concepts/${c.body.id}`, { agentKey: b.key, body: { name: 'hijacked' } })).status,
    ).toBe(403);
    expect(
      (await t.call('PUT', `/concepts/${c.body.id}`, { token: op.token, body: { name: 'Style guide v2' } })).body
        .version,
    ).toBe(3);
    // Linking to bravo's project lets bravo's agents edit it.
    await t.call('POST', `/concepts/${c.body.id}/link`, { agentKey: b.key, body: { project: 'cpb' } });
    expect(
      (await t.call('PUT', `/concepts/${c.body.id}`, { agentKey: b.key, body: { description: 'shared now' } })).status,
    ).toBe(200);
  });

  it('links and unlinks within the caller’s project scope; per-project list', async () => {
    const c = await create(a.key, { name: 'Rules', type: 'ruleset', data: { max: 3 } });
    const l = await t.call('POST', `/concepts/${c.body.id}/link`, { agentKey: a.key, body: { project_id: 'cpa' } });
    expect(l.body).toEqual({ ok: true, concept_id: c.body.id, project: 'cpa' });
    await t.call('POST', `/concepts/${c.body.id}/link`, { agentKey: a.key, body: { project_id: 'cpa' } });
    expect(
      (await t.call('POST', `/concepts/${c.body.id}/link`, { agentKey: a.key, body: { project_id: 'cpb' } })).status,
    ).toBe(403);
    expect((await t.call('POST', `/concepts/${c.body.id}/link`, { agentKey: a.key, body: {} })).body).toEqual({
      error: 'project_id is required',
    });
    const g = await t.call('GET', `/concepts/${c.body.id}`, { agentKey: b.key });
    expect(g.body.projects).toEqual([expect.objectContaining({ id: 'cpa', name: 'Alpha project', linked_by: a.id })]);
    const per = await t.call('GET', '/projects/cpa/concepts', { agentKey: b.key });
    expect(per.body.find((x: { id: number }) => x.id === c.body.id)).toMatchObject({
      name: 'Rules',
      data: { max: 3 },
      linked_by: a.id,
    });
    expect((await t.call('GET', '/projects/nowhere/concepts', { agentKey: b.key })).body).toEqual([]);
    const links = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE type = 'concept_linked' AND json_extract(data, '$.concept_id') = ?",
      [c.body.id],
    );
    expect(links?.n).toBe(1);
    expect((await t.call('DELETE', `/concepts/${c.body.id}/link/cpb`, { agentKey: a.key })).status).toBe(403);
    expect((await t.call('DELETE', `/concepts/${c.body.id}/link/cpa`, { agentKey: a.key })).body).toEqual({ ok: true });
    expect((await t.call('GET', `/concepts/${c.body.id}`, { agentKey: a.key })).body.projects).toEqual([]);
  });

  it('SEC-48: an agent deletes only with an approved delete approval, used once', async () => {
    const c1 = await create(a.key, { name: 'Doomed 1' });
    const c2 = await create(a.key, { name: 'Doomed 2' });
    await t.call('POST', `/concepts/${c1.body.id}/link`, { agentKey: a.key, body: { project_id: 'cpa' } });
    const none = await t.call('DELETE', `/concepts/${c1.body.id}`, { agentKey: a.key });
    expect(none.status).toBe(403);
    expect(none.body).toEqual({ error: 'Approval required for delete', approval_required: true });
    const ap = await t.call('POST', '/approvals', {
      agentKey: a.key,
      body: { action_type: 'delete', title: 'drop concepts', payload: { id: c1.body.id }, project: 'cpa' },
    });
    const pending = await t.call('DELETE', `/concepts/${c1.body.id}`, {
      agentKey: a.key,
      body: { approval_id: ap.body.id },
    });
    expect(pending.body).toEqual({
      error: `Approval #${ap.body.id} is pending, not approved`,
      approval_required: true,
    });
    await t.call('PUT', `/approvals/${ap.body.id}/vote`, { token: op.token, body: { vote: 'approve' } });
    // Someone else's approval does not work for b.
    const c3 = await create(b.key, { name: 'Bravo thing' });
    const theft = await t.call('DELETE', `/concepts/${c3.body.id}?approval_id=${ap.body.id}`, { agentKey: b.key });
    expect(theft.body.error).toBe(`Approval #${ap.body.id} belongs to ${a.id}, not ${b.id}`);
    const ok = await t.call('DELETE', `/concepts/${c1.body.id}`, {
      agentKey: a.key,
      body: { approval_id: ap.body.id },
    });
    expect(ok.body).toEqual({ ok: true });
    expect(
      (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM project_concepts WHERE concept_id = ?', [c1.body.id]))
        ?.n,
    ).toBe(0);
    expect((await t.call('GET', `/approvals/${ap.body.id}`, { admin: true })).body.status).toBe('executed');
    const reuse = await t.call('DELETE', `/concepts/${c2.body.id}`, {
      agentKey: a.key,
      body: { approval_id: ap.body.id },
    });
    expect(reuse.status).toBe(403);
    expect(reuse.body.error).toBe(`Approval #${ap.body.id} is executed, not approved`);
    expect((await t.call('DELETE', `/concepts/${c2.body.id}`, { admin: true })).body).toEqual({ ok: true });
    expect((await t.call('DELETE', `/concepts/${c2.body.id}`, { admin: true })).status).toBe(404);
  });
});
