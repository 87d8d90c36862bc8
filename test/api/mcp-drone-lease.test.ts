import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { callTool, mcpClient } from '../support/mcp-client.js';

/**
 * Drone job lease fencing through MCP (issue 17): `mycelium_cancel_drone_job` takes an optional
 * `lease_token` and forwards it to PUT /drones/jobs/:id, so a cancel aimed at one run of a job is
 * refused (409, nothing written) once that run's lease ended, exactly as over REST. Called through
 * the official MCP client SDK.
 */
let t: Target;
let asAdmin: Client;
beforeAll(async () => {
  t = await startTarget();
  asAdmin = await mcpClient(t, { 'X-Admin-Key': t.adminKey });
});
afterAll(async () => {
  await asAdmin?.close();
  await t?.close();
});

const LOST =
  'Lease on this drone job is no longer held (it was released or claimed again); claim it again before writing';
const jobRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM drone_jobs WHERE id = ?', [id]);

describe('MCP drone tools forward lease_token (issue 17)', () => {
  it('cancel_drone_job lists lease_token as an optional argument', async () => {
    const { tools } = await asAdmin.listTools();
    const schema = tools.find((x) => x.name === 'mycelium_cancel_drone_job')!.inputSchema as {
      properties?: Record<string, { type?: string }>;
      required?: string[];
    };
    expect(Object.keys(schema.properties ?? {}).sort()).toEqual(['job_id', 'lease_token']);
    expect(schema.properties!.lease_token.type).toBe('string');
    expect(schema.required).toEqual(['job_id']);
  });

  it("a cancel quoting an ended run's token is refused with REST's 409 and changes nothing; the current token cancels", async () => {
    const d = await registerAgent(t, 'mcp-lease-drone', 'drone');
    const q = await t.call('POST', '/drones/jobs', {
      admin: true,
      body: { title: 'fenced cancel', command: 'echo hi', requires: ['mlcap'] },
    });
    const id = q.body.id as number;
    const claim = () => t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['mlcap'] } });
    const first = (await claim()).body.lease_token as string;
    // The run ends (put back in the queue) and the job is claimed again: a new lease, a new token.
    expect((await t.call('PUT', `/drones/jobs/${id}`, { admin: true, body: { status: 'pending' } })).status).toBe(200);
    const second = (await claim()).body.lease_token as string;
    expect(second).not.toBe(first);

    const stale = await callTool(asAdmin, 'mycelium_cancel_drone_job', { job_id: id, lease_token: first });
    expect(stale.isError).toBe(true);
    expect(stale.text).toContain(LOST);
    // REST answers the same refusal for the same token.
    const rest = await t.call('PUT', `/drones/jobs/${id}`, {
      admin: true,
      body: { status: 'cancelled', lease_token: first },
    });
    expect(rest.status).toBe(409);
    expect(rest.body.error).toBe(LOST);
    expect(await jobRow(id)).toMatchObject({ status: 'claimed', drone_id: d.id });
    const cancelledEvents = () =>
      t.db.all("SELECT id FROM events WHERE type = 'drone_job_cancelled' AND json_extract(data, '$.job_id') = ?", [id]);
    expect(await cancelledEvents()).toEqual([]);

    const ok = await callTool(asAdmin, 'mycelium_cancel_drone_job', { job_id: id, lease_token: second });
    expect(ok).toEqual({ text: `Cancelled drone job #${id}`, isError: false });
    expect((await jobRow(id))!.status).toBe('cancelled');
    expect(await cancelledEvents()).toHaveLength(1);
    // The cancel ended that lease too: the holder's late report with it is fenced out.
    const late = await t.call('PUT', `/drones/jobs/${id}`, {
      agentKey: d.key,
      body: { status: 'done', lease_token: second },
    });
    expect(late.status).toBe(409);
  });

  it('a token on a job that is not claimed is refused; an empty token is refused by the tool before any call', async () => {
    const q = await t.call('POST', '/drones/jobs', {
      admin: true,
      body: { title: 'never claimed', command: 'echo hi', requires: ['mlcap-none'] },
    });
    const id = q.body.id as number;
    const r = await callTool(asAdmin, 'mycelium_cancel_drone_job', { job_id: id, lease_token: 'a'.repeat(32) });
    expect(r.isError).toBe(true);
    expect(r.text).toContain(LOST);
    expect((await jobRow(id))!.status).toBe('pending');
    const empty = await callTool(asAdmin, 'mycelium_cancel_drone_job', { job_id: id, lease_token: '' });
    expect(empty.isError).toBe(true);
    expect(empty.text).toContain('lease_token');
    expect((await jobRow(id))!.status).toBe('pending');
    // Without a token the cancel works as before.
    expect((await callTool(asAdmin, 'mycelium_cancel_drone_job', { job_id: id })).isError).toBe(false);
    expect((await jobRow(id))!.status).toBe('cancelled');
  });
});
