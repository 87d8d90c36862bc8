import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let alpha = '';
let bravo = '';
beforeAll(async () => {
  t = await startTarget();
  alpha = (await registerAgent(t, 'w-alpha', 'alpha')).key;
  bravo = (await registerAgent(t, 'w-bravo', 'bravo')).key;
});
afterAll(async () => t?.close());

describe('widgets (spec 05 §13)', () => {
  it('create (201) owned by the caller whatever agent_id says; list active by position; data stays a string', async () => {
    const r = await t.call('POST', '/widgets', {
      agentKey: alpha,
      body: { title: 'Build', project_id: 'alpha', data: { pct: 40 }, agent_id: 'w-bravo', position: 2 },
    });
    expect(r.status).toBe(201);
    const r2 = await t.call('POST', '/widgets', {
      agentKey: alpha,
      body: { title: 'Queue', project_id: 'alpha', widget_type: 'list', position: 1 },
    });
    const list = (await t.call('GET', '/widgets?project_id=alpha', { agentKey: bravo })).body;
    expect(list.map((w: any) => w.id)).toEqual([r2.body.id, r.body.id]);
    expect(list[1]).toMatchObject({ agent_id: 'w-alpha', widget_type: 'status', data: '{"pct":40}', status: 'active' });
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'widget_created' ORDER BY id LIMIT 1");
    expect(ev).toMatchObject({ agent: 'w-alpha', project_id: 'alpha', summary: 'Build' });
    expect(JSON.parse(ev.data)).toEqual({ widget_id: r.body.id, widget_type: 'status' });
    expect((await t.call('POST', '/widgets', { agentKey: alpha, body: {} })).body).toEqual({ error: 'title required' });
    expect((await t.call('POST', '/widgets', { agentKey: alpha, body: { title: 'x', position: 'top' } })).status).toBe(
      400,
    );
  });

  it("SEC-15: another project's agent gets 403 on PUT and DELETE; the owner's PUT returns the row; admin passes", async () => {
    const id = (await t.call('POST', '/widgets', { agentKey: alpha, body: { title: 'Mine', project_id: 'alpha' } }))
      .body.id;
    const put = await t.call('PUT', `/widgets/${id}`, { agentKey: bravo, body: { title: 'hacked' } });
    expect(put.status).toBe(403);
    expect(put.body.error).toBe('Agent w-bravo cannot access resources in project alpha');
    expect((await t.call('DELETE', `/widgets/${id}`, { agentKey: bravo })).status).toBe(403);
    expect(await t.db.get<any>('SELECT title, status FROM widgets WHERE id = ?', [id])).toEqual({
      title: 'Mine',
      status: 'active',
    });
    const own = await t.call('PUT', `/widgets/${id}`, { agentKey: alpha, body: { title: 'Renamed' } });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ id, title: 'Renamed', project_id: 'alpha' });
    expect((await t.call('PUT', `/widgets/${id}`, { agentKey: alpha, body: {} })).body.title).toBe('Renamed');
    expect((await t.call('PUT', `/widgets/${id}`, { admin: true, body: { position: 5 } })).body.position).toBe(5);
    expect((await t.call('DELETE', `/widgets/${id}`, { admin: true })).body).toEqual({ ok: true });
    expect((await t.db.get<any>('SELECT status FROM widgets WHERE id = ?', [id])).status).toBe('archived');
    expect((await t.call('GET', '/widgets', { agentKey: alpha })).body.some((w: any) => w.id === id)).toBe(false);
  });

  it('SEC-15: creation is scoped too; unknown ids are 404 on PUT and DELETE', async () => {
    const cross = await t.call('POST', '/widgets', { agentKey: bravo, body: { title: 'x', project_id: 'alpha' } });
    expect(cross.status).toBe(403);
    expect((await t.call('PUT', '/widgets/999999', { agentKey: alpha, body: { title: 'x' } })).body).toEqual({
      error: 'widget not found',
    });
    expect((await t.call('DELETE', '/widgets/999999', { agentKey: alpha })).body).toEqual({
      error: 'widget not found',
    });
    expect((await t.call('PUT', '/widgets/abc', { agentKey: alpha, body: { title: 'x' } })).status).toBe(404);
  });
});
