import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startWebhookReceiver, waitFor } from '../support/fake-servers.js';

/** Webhooks of the coordination area: agent_status_changed, message_sent, request_created (spec 02 §4, 03 §14). */
let t: Target;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver<{ event: string; agent_id: string; data: any }>>>;
let ada: { id: string; key: string };
let bob: { id: string; key: string };

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  const port = receiver.port;
  t = await startTarget({ env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${port}` } });
  ada = await registerAgent(t, 'wh-ada', 'wh');
  bob = await registerAgent(t, 'wh-bob', 'wh');
  const hook = await t.call('POST', '/webhooks', {
    admin: true,
    body: {
      agent_id: ada.id,
      url: `http://127.0.0.1:${port}/hook`,
      events: ['agent_status_changed', 'message_sent', 'request_created'],
    },
  });
  if (hook.status !== 200) throw new Error(`webhook create failed: ${hook.text}`);
});
afterAll(async () => {
  await t?.close();
  await receiver.close();
});

describe('coordination webhooks', () => {
  it('agent_status_changed fires on a status change only', async () => {
    await t.call('POST', '/agents/heartbeat', { agentKey: ada.key, body: { status: 'busy', working_on: 'x' } });
    const first = await waitFor(() => receiver.payloads().find((r) => r.event === 'agent_status_changed'));
    expect(first).toMatchObject({
      agent_id: ada.id,
      data: { agent_id: ada.id, previous_status: 'offline', new_status: 'busy', working_on: 'x' },
    });
    await t.call('POST', '/agents/heartbeat', { agentKey: ada.key, body: { status: 'busy', working_on: 'y' } });
    await t.call('POST', '/agents/heartbeat', { agentKey: ada.key, body: { status: 'idle', working_on: 'y' } });
    const second = await waitFor(() => receiver.payloads().filter((r) => r.event === 'agent_status_changed')[1]);
    expect(second.data).toMatchObject({ previous_status: 'busy', new_status: 'idle' });
    expect(receiver.payloads().filter((r) => r.event === 'agent_status_changed')).toHaveLength(2);
  });

  it('boot of an offline agent sends agent_status_changed (spec 02 W30): the outbox is drained when a webhook is active', async () => {
    await t.db.run("UPDATE agents SET status = 'offline' WHERE id = ?", [ada.id]);
    const before = receiver.payloads().filter((r) => r.event === 'agent_status_changed').length;
    expect((await t.call('GET', `/boot/${ada.id}`, { agentKey: ada.key })).status).toBe(200);
    const sent = await waitFor(() => receiver.payloads().filter((r) => r.event === 'agent_status_changed')[before]);
    expect(sent.data).toMatchObject({ agent_id: ada.id, previous_status: 'offline', new_status: 'online' });
  });

  it('message_sent and request_created reach the recipient', async () => {
    const m = await t.call('POST', '/messages', {
      agentKey: bob.key,
      body: { to_agent: ada.id, content: 'hello ada' },
    });
    const msg = await waitFor(() => receiver.payloads().find((r) => r.event === 'message_sent'));
    expect(msg.data).toEqual({ message_id: m.body.id, from: bob.id, content: 'hello ada' });
    const r = await t.call('POST', '/requests', { agentKey: bob.key, body: { to_agent: ada.id, content: 'please' } });
    const req = await waitFor(() => receiver.payloads().find((x) => x.event === 'request_created'));
    expect(req.data).toEqual({ message_id: r.body.id, from: bob.id, content: 'please' });
  });
});
