import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let a = { id: '', key: '' };
beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'rs-a', 'proj-r');
  await registerAgent(t, 'rs-b', 'proj-r');
});
afterAll(async () => t?.close());

describe('POST /reasoning (spec 01 §5.12)', () => {
  it('stores agent_reasoning attributed to the caller (body agent ignored), with the documented summary and data', async () => {
    const r = await t.call('POST', '/reasoning', {
      agentKey: a.key,
      body: {
        agent: 'rs-b',
        step: 'tool_call',
        task_id: 7,
        turn: 3,
        text: 'reading',
        tool: { name: 'grep', args: ['x'] },
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, id: expect.any(Number) });
    const ev = await t.db.get<any>('SELECT * FROM events WHERE id = ?', [r.body.id]);
    expect(ev).toMatchObject({
      type: 'agent_reasoning',
      agent: 'rs-a',
      project_id: 'proj-r',
      summary: 'rs-a · tool_call · grep (task #7)',
    });
    expect(JSON.parse(ev.data)).toEqual({
      task_id: 7,
      turn: 3,
      step: 'tool_call',
      text: 'reading',
      tool: { name: 'grep', args: ['x'] },
    });
    const d = await t.call('POST', '/reasoning', { agentKey: a.key, body: {} });
    expect(JSON.parse((await t.db.get<any>('SELECT data FROM events WHERE id = ?', [d.body.id])).data)).toEqual({
      task_id: null,
      turn: null,
      step: 'thinking',
      text: '',
      tool: null,
    });
  });

  it('an admin may attribute to another agent; bad step → 400 invalid step; wrong types → 400; no auth → 401', async () => {
    const r = await t.call('POST', '/reasoning', { admin: true, body: { agent: 'rs-b', step: 'done' } });
    expect(await t.db.get<any>('SELECT agent, project_id FROM events WHERE id = ?', [r.body.id])).toEqual({
      agent: 'rs-b',
      project_id: null,
    });
    expect((await t.call('POST', '/reasoning', { agentKey: a.key, body: { step: 'dreaming' } })).body).toEqual({
      error: 'invalid step',
    });
    expect((await t.call('POST', '/reasoning', { agentKey: a.key, body: { text: { x: 1 } } })).status).toBe(400);
    expect((await t.call('POST', '/reasoning', { agentKey: a.key, body: { task_id: '7abc' } })).status).toBe(400);
    expect((await t.call('POST', '/reasoning', { body: {} })).status).toBe(401);
  });
});

describe('GET /admin/overview?verbose=true: assets, channels, plugins (spec 01 §5.7)', () => {
  it('carries the assets, channels (no foreign DMs), channel_counts and plugins keys from real data', async () => {
    await t.call('POST', '/assets', { agentKey: a.key, body: { name: 'ov-asset' } });
    await t.call('POST', '/channels', {
      agentKey: a.key,
      body: { name: 'ov-room', slug: 'ov-room', members: [{ user_id: 'rs-a' }] },
    });
    const dm = await t.call('POST', '/channels/dm', { agentKey: a.key, body: { user_id: 'rs-b', user_type: 'agent' } });
    expect(dm.status).toBe(200);
    const v = await t.call('GET', '/admin/overview?verbose=true', { admin: true });
    expect(v.status).toBe(200);
    expect(v.body.assets.map((x: any) => x.name)).toContain('ov-asset');
    const slugs = v.body.channels.map((c: any) => c.slug);
    expect(slugs).toContain('ov-room');
    expect(v.body.channels.some((c: any) => c.type === 'dm')).toBe(false);
    const total = Number((await t.db.get<any>('SELECT COUNT(*) AS n FROM channels')).n);
    expect(v.body.channel_counts).toEqual({ total, active: total, archived: 0 });
    const plugins = (await t.db.all<any>('SELECT name FROM plugins ORDER BY name')).map((p) => p.name);
    expect(v.body.plugins.map((p: any) => p.name)).toEqual(plugins);
    expect(v.body).toHaveProperty('approval_queue');
    expect(v.body).toHaveProperty('bug_counts');
  });
});
