import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agentKey = '';
let op: { id: number; token: string };
beforeAll(async () => {
  t = await startTarget();
  agentKey = (await registerAgent(t, 'tc-agent', 'p')).key;
  op = await createOperator(t, 'gina', 'operator');
});
afterAll(async () => t?.close());

describe('team chat', () => {
  it('is human only: agents and the admin key cannot post; the admin key may read', async () => {
    expect((await t.call('GET', '/team-chat', { agentKey })).body).toEqual({ error: 'Studio login required' });
    expect((await t.call('POST', '/team-chat', { agentKey, body: { content: 'hi' } })).status).toBe(403);
    expect((await t.call('POST', '/team-chat', { admin: true, body: { content: 'hi' } })).body).toEqual({
      error: 'Studio login required',
    });
    expect((await t.call('GET', '/team-chat', { admin: true })).status).toBe(200);
  });

  it('an operator posts (trimmed, raw) as __user:<name>; newest first; not a channel message', async () => {
    const r = await t.call('POST', '/team-chat', { token: op.token, body: { content: '  ship <it>  ' } });
    expect(r.body).toEqual({ ok: true, id: expect.any(Number) });
    await t.call('POST', '/team-chat', { token: op.token, body: { content: 'second' } });
    const list = await t.call('GET', '/team-chat?limit=10', { token: op.token });
    expect(list.body.map((m: any) => m.content)).toEqual(['second', 'ship <it>']);
    expect(list.body[0]).toMatchObject({
      from_agent: '__user:gina',
      msg_type: 'chat',
      channel_id: null,
      to_agent: null,
    });
    expect((await t.call('POST', '/team-chat', { token: op.token, body: { content: '   ' } })).body).toEqual({
      error: 'content is required',
    });
    expect((await t.call('POST', '/team-chat', { token: op.token, body: { content: ['x'] } })).status).toBe(400);
    const limited = await t.call('GET', '/team-chat?limit=1', { token: op.token });
    expect(limited.body).toHaveLength(1);
  });
});
