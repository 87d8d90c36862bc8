import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTarget, type Target } from '../support/target.js';
import { callTool, mcpClient } from '../support/mcp-client.js';

/**
 * Plugin routes as contracts (issue 15) seen from outside: the MCP client SDK lists the generated
 * schema of a plugin tool and gets the route's own validation sentence for a bad argument; and a
 * plugin write whose event cannot be recorded leaves none of the plugin's rows (issue 17, api.atomic).
 */

let t: Target;
let admin: Client;
beforeAll(async () => {
  t = await startTarget();
  // workflows ships enabled; automations and github-sync are enabled for their cases.
  for (const p of ['workflow-automations', 'github-sync'])
    expect((await t.call('PUT', `/plugins/${p}/enable`, { admin: true })).status).toBe(200);
  admin = await mcpClient(t, { 'X-Admin-Key': t.adminKey });
});
afterAll(async () => {
  await admin?.close();
  await t.close();
});

const refuseEvents = (type: string) =>
  t.db.run(
    `CREATE TRIGGER refuse_${type} BEFORE INSERT ON events WHEN NEW.type = '${type}' BEGIN SELECT RAISE(ABORT, 'x'); END`,
  );
const allowEvents = (type: string) => t.db.run(`DROP TRIGGER refuse_${type}`);

describe('plugin tools through the MCP client SDK', () => {
  it('tools/list publishes the schema generated from the route (no hand-written copy)', async () => {
    const { tools } = await admin.listTools();
    const fire = tools.find((x) => x.name === 'mycelium_fire_workflow')!;
    expect(fire.inputSchema.required).toEqual(['name']);
    expect(fire.inputSchema.properties).toMatchObject({
      name: { type: 'string', maxLength: 200 },
      shape: { type: 'string', enum: ['fanout', 'pipeline', 'repair', 'custom'] },
      invocations: { type: 'array' },
    });
    const status = tools.find((x) => x.name === 'mycelium_workflow_status')!;
    expect(status.inputSchema).toMatchObject({ required: ['id'], properties: { id: { type: 'integer' } } });
    const list = tools.find((x) => x.name === 'mycelium_list_workflows')!;
    expect(list.inputSchema.properties).toMatchObject({ limit: { type: 'integer', minimum: 1, maximum: 500 } });
    // What GET /plugins/mcp-tools serves is what the MCP server lists.
    const served = (await t.call('GET', '/plugins/mcp-tools', { admin: true })).body as {
      name: string;
      inputSchema: { properties: unknown };
    }[];
    expect(served.find((x) => x.name === 'mycelium_fire_workflow')!.inputSchema.properties).toEqual(
      fire.inputSchema.properties,
    );
  });

  it("a bad argument to a converted plugin tool answers the route's validation sentence, and nothing is written", async () => {
    const bad = await callTool(admin, 'mycelium_fire_workflow', {
      name: 'wf-bad-shape',
      shape: 'zigzag',
      invocations: [{ id: 'a', agent: 'x' }],
    });
    expect(bad.isError).toBe(true);
    expect(bad.text).toBe(
      'Error in mycelium_fire_workflow: shape must be one of: fanout, pipeline, repair, custom (HTTP 400)',
    );
    const limit = await callTool(admin, 'mycelium_list_workflows', { limit: 'lots' });
    expect(limit).toEqual({
      isError: true,
      text: 'Error in mycelium_list_workflows: limit must be an integer (HTTP 400)',
    });
    const all = await t.call('GET', '/workflows?limit=500', { admin: true });
    expect(all.body.filter((w: { name: string }) => w.name === 'wf-bad-shape')).toEqual([]);
  });

  it('the same tool with good arguments fires the workflow', async () => {
    const ok = await callTool(admin, 'mycelium_fire_workflow', {
      name: 'wf-good',
      shape: 'fanout',
      invocations: [{ id: 'a', agent: 'x' }],
    });
    expect(ok.isError).toBe(false);
    expect(JSON.parse(ok.text).workflow).toMatchObject({ name: 'wf-good', shape: 'fanout', status: 'pending' });
  });
});

describe('plugin writes commit with their events (api.atomic)', () => {
  it('a failing workflow_created insert leaves no workflow, invocation or workflow event row; allowed again, all are written', async () => {
    await refuseEvents('workflow_created');
    try {
      const r = await t.call('POST', '/workflows', {
        admin: true,
        body: {
          name: 'wf-refused',
          invocations: [
            { id: 'a', agent: 'x' },
            { id: 'b', agent: 'y', deps: ['a'] },
          ],
        },
      });
      expect(r.status).toBe(500);
      const list = await t.call('GET', '/workflows?limit=500', { admin: true });
      expect(list.body.filter((w: { name: string }) => w.name === 'wf-refused')).toEqual([]);
    } finally {
      await allowEvents('workflow_created');
    }
    const r = await t.call('POST', '/workflows', {
      admin: true,
      body: {
        name: 'wf-refused',
        invocations: [
          { id: 'a', agent: 'x' },
          { id: 'b', agent: 'y', deps: ['a'] },
        ],
      },
    });
    expect(r.status).toBe(200);
    const w = r.body.workflow;
    expect(w.invocations).toHaveLength(2);
    expect(w.events.map((e: { kind: string }) => e.kind)).toEqual(['created']);
    // The refused attempt left no half: this workflow's id is the only one with that name.
    const named = (await t.call('GET', '/workflows?limit=500', { admin: true })).body.filter(
      (x: { name: string }) => x.name === 'wf-refused',
    );
    expect(named.map((x: { id: number }) => x.id)).toEqual([w.id]);
    const ev = await t.db.get<{ data: string }>(
      "SELECT data FROM events WHERE type = 'workflow_created' AND data LIKE ?",
      [`%"workflow_id":${w.id}%`],
    );
    expect(JSON.parse(ev!.data)).toEqual({ workflow_id: w.id });
  });

  it('a failing automation_rule_created insert leaves no rule', async () => {
    await refuseEvents('automation_rule_created');
    try {
      const r = await t.call('POST', '/plugins/workflow-automations/rules', {
        admin: true,
        body: { name: 'refused-rule', trigger_event: 'task_created', actions: [] },
      });
      expect(r.status).toBe(500);
    } finally {
      await allowEvents('automation_rule_created');
    }
    const rules = await t.call('GET', '/plugins/workflow-automations/rules', { admin: true });
    expect(rules.body.filter((x: { name: string }) => x.name === 'refused-rule')).toEqual([]);
  });

  it('a failing github_link_created insert leaves no link, so the same link can be made afterwards', async () => {
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'linked', project_id: 'mycelium' } });
    expect(task.status).toBe(200);
    const body = {
      github_repo: 'acme/web',
      github_number: 7,
      github_type: 'issue',
      mycelium_type: 'task',
      mycelium_id: task.body.id ?? task.body.task?.id,
    };
    await refuseEvents('github_link_created');
    try {
      expect((await t.call('POST', '/plugins/github-sync/links', { admin: true, body })).status).toBe(500);
    } finally {
      await allowEvents('github_link_created');
    }
    expect((await t.call('GET', '/plugins/github-sync/links', { admin: true })).body).toEqual([]);
    // Were the refused link kept, this would be a 409 "Link already exists".
    expect((await t.call('POST', '/plugins/github-sync/links', { admin: true, body })).status).toBe(200);
  });
});
