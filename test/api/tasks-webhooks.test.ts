import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startWebhookReceiver, waitFor } from '../support/fake-servers.js';

/** Assignee webhooks of the work items (spec 03 §3.5 step 3, §14): task_assigned, bug_assigned. */
let t: Target;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver<{ event: string; agent_id: string; data: any }>>>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  const port = receiver.port;
  t = await startTarget({ env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${port}` } });
  await registerAgent(t, 'alice', 'proj-a');
  const hook = await t.call('POST', '/webhooks', {
    admin: true,
    body: {
      agent_id: 'alice',
      url: `http://127.0.0.1:${port}/hook`,
      events: ['task_assigned', 'bug_assigned', 'bug_updated', 'bug_created'],
    },
  });
  if (hook.status !== 200) throw new Error(`webhook create failed: ${hook.text}`);
});
afterAll(async () => {
  await t?.close();
  await receiver.close();
});

describe('assignee webhooks', () => {
  it('PUT /tasks/:id with an assignee sends task_assigned to that assignee', async () => {
    const c = await t.call('POST', '/tasks', { admin: true, body: { title: 'Hooked', project_id: 'proj-a' } });
    await t.call('PUT', `/tasks/${c.body.id}`, { admin: true, body: { assignee: 'alice', status: 'in_progress' } });
    const got = await waitFor(() =>
      receiver.payloads().find((r) => r.event === 'task_assigned' && r.data?.task_id === c.body.id),
    );
    expect(got).toMatchObject({
      event: 'task_assigned',
      agent_id: 'alice',
      data: { task_id: c.body.id, title: 'Hooked', status: 'in_progress' },
    });
  });

  it('PUT /bugs/:id with a status sends bug_assigned to the existing assignee', async () => {
    const b = await t.call('POST', '/bugs', {
      admin: true,
      body: { title: 'Bug hook', description: 'd', project_id: 'proj-a', assignee: 'alice' },
    });
    await t.call('PUT', `/bugs/${b.body.id}`, { admin: true, body: { status: 'fixed' } });
    const got = await waitFor(() =>
      receiver.payloads().find((r) => r.event === 'bug_assigned' && r.data?.bug_id === b.body.id),
    );
    expect(got.data).toEqual({ bug_id: b.body.id, title: 'Bug hook', status: 'fixed' });
  });

  it("bug_created and bug_updated reach the acting agent's webhooks with the spec fields (also without a status)", async () => {
    const b = await t.call('POST', '/bugs', {
      admin: true,
      headers: { 'X-Acting-As': 'alice' },
      body: { title: 'Filed', description: 'd', project_id: 'proj-a', severity: 'high' },
    });
    const created = await waitFor(() =>
      receiver.payloads().find((r) => r.event === 'bug_created' && r.data?.bug_id === b.body.id),
    );
    expect(created.data).toEqual({
      bug_id: b.body.id,
      title: 'Filed',
      project_id: 'proj-a',
      severity: 'high',
      reporter: 'alice',
      assignee: null,
    });
    await t.call('PUT', `/bugs/${b.body.id}`, {
      admin: true,
      headers: { 'X-Acting-As': 'alice' },
      body: { admin_notes: 'looked at it' },
    });
    const updated = await waitFor(() =>
      receiver.payloads().find((r) => r.event === 'bug_updated' && r.data?.bug_id === b.body.id),
    );
    expect(updated.data).toEqual({ bug_id: b.body.id, title: 'Filed', updates: { admin_notes: 'looked at it' } });
  });
});
