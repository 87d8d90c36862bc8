import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Plugin writes pass the same pre-mutation checks as routes (spec 06 §5.1, SEC-36/37, issue 9
 * item 5): a message a plugin sends through `core.messages.send` is checked against the
 * guardrails `message_sent` rules exactly as `POST /messages` is.
 */
let t: Target;
let agent: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  agent = await registerAgent(t, 'pgw-agent', 'pgw');
  expect((await t.call('PUT', '/plugins/guardrails/enable', { admin: true })).body.loaded).toBe(true);
  expect((await t.call('PUT', '/plugins/workflow-automations/enable', { admin: true })).body.loaded).toBe(true);
});
afterAll(async () => t?.close());

const messagesWith = (content: string) => t.db.all('SELECT id FROM messages WHERE content = ?', [content]);

describe('spec 06 §5.1: plugin messages pass the message.send guardrail', () => {
  it('SEC-36: a block rule on message_sent stops a workflow-automations send_message action; nothing is stored; without the rule it is sent', async () => {
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-automation-messages',
        trigger_event: 'message_sent',
        enforcement: 'block',
        conditions: { type: 'block_agent', agent_id: '__automation__' },
      },
    });
    expect(rule.status).toBe(200);
    const auto = await t.call('POST', '/automations/rules', {
      admin: true,
      body: {
        name: 'say',
        trigger_event: 'manual',
        actions: [{ type: 'send_message', to: agent.id, content: 'automated hello' }],
      },
    });
    expect(auto.status).toBe(200);

    const blocked = await t.call('POST', `/automations/rules/${auto.body.id}/trigger`, { admin: true, body: {} });
    expect(blocked.body.status).toBe('error');
    expect(blocked.body.actions[0]).toEqual({
      type: 'send_message',
      error: 'Blocked by guardrail: no-automation-messages',
    });
    expect(await messagesWith('automated hello')).toEqual([]);

    // The same rule does not touch other senders (the route path still runs the same single check).
    const direct = await t.call('POST', '/messages', {
      agentKey: agent.key,
      body: { to_agent: agent.id, content: 'direct hello' },
    });
    expect(direct.status).toBe(200);

    // Negative control: without the rule the automation's message goes out.
    expect((await t.call('DELETE', `/guardrails/rules/${rule.body.rule.id}`, { admin: true })).status).toBe(200);
    const sent = await t.call('POST', `/automations/rules/${auto.body.id}/trigger`, { admin: true, body: {} });
    expect(sent.body.actions[0]).toMatchObject({ type: 'send_message', to: agent.id });
    expect(await messagesWith('automated hello')).toHaveLength(1);
  });

  it('SEC-36: a daily-digest channel post is checked too; the block is reported as a delivery error and no message is stored', async () => {
    expect((await t.call('PUT', '/plugins/daily-digest/enable', { admin: true })).body.loaded).toBe(true);
    expect(
      (await t.call('PUT', '/plugins/daily-digest/config', { admin: true, body: { post_to_channel: 'true' } })).status,
    ).toBe(200);
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-digest-posts',
        trigger_event: 'message_sent',
        enforcement: 'block',
        conditions: { type: 'block_agent', agent_id: '__digest__' },
      },
    });
    const before = await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE from_agent = '__digest__'");
    const g = await t.call('POST', '/plugins/daily-digest/generate', { admin: true, body: { type: 'daily' } });
    expect(g.status).toBe(200);
    expect(g.body.delivered_to).not.toContain('channel');
    expect(g.body.delivery_errors).toEqual(['channel: Blocked by guardrail: no-digest-posts']);
    expect(await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE from_agent = '__digest__'")).toEqual(
      before,
    );

    await t.call('DELETE', `/guardrails/rules/${rule.body.rule.id}`, { admin: true });
    const ok = await t.call('POST', '/plugins/daily-digest/generate', { admin: true, body: { type: 'daily' } });
    expect(ok.body.delivered_to).toContain('channel');
    expect(
      (await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE from_agent = '__digest__'"))!.n,
    ).toBe(Number(before!.n) + 1);
  });

  it('SEC-37: POST /messages is still checked before validation (one check, in the service)', async () => {
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-pgw-messages',
        trigger_event: 'message_sent',
        enforcement: 'block',
        conditions: { type: 'block_agent', agent_id: agent.id },
      },
    });
    const r = await t.call('POST', '/messages', { agentKey: agent.key, body: {} });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('Blocked by guardrail: no-pgw-messages');
    await t.call('DELETE', `/guardrails/rules/${rule.body.rule.id}`, { admin: true });
    expect((await t.call('POST', '/messages', { agentKey: agent.key, body: {} })).status).toBe(400);
  });
});
