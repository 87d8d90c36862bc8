import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startWebhookReceiver, waitFor } from '../support/fake-servers.js';

/** Webhooks of the drone area go to the job's requester (spec 05 §4, §16), once per transition (REL-05). */
let t: Target;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver<{ event: string; agent_id: string; data: any }>>>;
let requesterKey: string;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await startTarget({ env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${receiver.port}` } });
  requesterKey = (await registerAgent(t, 'wh-req', 'lab')).key;
  const hook = await t.call('POST', '/webhooks', {
    admin: true,
    body: {
      agent_id: 'wh-req',
      url: `http://127.0.0.1:${receiver.port}/hook`,
      events: ['drone_job_created', 'drone_job_completed', 'drone_job_failed'],
    },
  });
  if (hook.status !== 200) throw new Error(`webhook create failed: ${hook.text}`);
  await t.call('POST', '/drones/templates', {
    admin: true,
    body: { id: 'wh-tpl', requires: ['whcap'], command_template: 'echo {{n}}' },
  });
});
afterAll(async () => {
  await t?.close();
  await receiver.close();
});

const of = (event: string, jobId: number) =>
  receiver.payloads().filter((p) => p.event === event && p.data.job_id === jobId);

describe('drone job webhooks', () => {
  it('created, then completed exactly once even when done is reported twice', async () => {
    const q = await t.call('POST', '/drones/jobs', {
      agentKey: requesterKey,
      body: { title: 'hooked', job_type: 'wh-tpl', input_data: { n: 1 } },
    });
    const id = q.body.id as number;
    const created = await waitFor(
      () => of('drone_job_created', id)[0],
      8000,
      () => t.settle(),
    );
    expect(created).toMatchObject({
      agent_id: 'wh-req',
      data: { job_id: id, title: 'hooked', requester: 'wh-req', job_type: 'wh-tpl' },
    });

    const d = await registerAgent(t, 'wh-drone', 'drone');
    await t.call('POST', '/agents/heartbeat', {
      agentKey: d.key,
      body: { state_snapshot: { system_info: { os: 'linux' } } },
    });
    expect(
      (await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['whcap'] } })).body.job.id,
    ).toBe(id);
    for (let i = 0; i < 2; i++) {
      const r = await t.call('PUT', `/drones/jobs/${id}`, {
        agentKey: d.key,
        body: { status: 'done', result_url: 'https://cdn.example/out.png' },
      });
      expect(r.status).toBe(200);
    }
    const done = await waitFor(
      () => of('drone_job_completed', id)[0],
      8000,
      () => t.settle(),
    );
    expect(done.data).toEqual({
      job_id: id,
      title: 'hooked',
      drone_id: d.id,
      result_url: 'https://cdn.example/out.png',
    });
    await t.settle();
    await new Promise((r) => setTimeout(r, 200));
    expect(of('drone_job_completed', id)).toHaveLength(1);
    expect(of('drone_job_created', id)).toHaveLength(1);
  });

  it('failed reaches the requester with the error', async () => {
    const q = await t.call('POST', '/drones/jobs', {
      agentKey: requesterKey,
      body: { title: 'doomed', job_type: 'wh-tpl', input_data: { n: 2, _no_retry: true } },
    });
    const id = q.body.id as number;
    const d = await registerAgent(t, 'wh-drone2', 'drone');
    await t.call('POST', '/agents/heartbeat', {
      agentKey: d.key,
      body: { state_snapshot: { system_info: { os: 'linux' } } },
    });
    expect(
      (await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['whcap'] } })).body.job.id,
    ).toBe(id);
    await t.call('PUT', `/drones/jobs/${id}`, {
      agentKey: d.key,
      body: { status: 'failed', error: 'CUDA out of memory' },
    });
    const failed = await waitFor(
      () => of('drone_job_failed', id)[0],
      8000,
      () => t.settle(),
    );
    expect(failed.data).toEqual({ job_id: id, title: 'doomed', drone_id: d.id, error: 'CUDA out of memory' });
  });
});
