import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import { callTool as call, mcpClient } from '../support/mcp-client.js';

/**
 * The remote MCP endpoint (issue 12), driven by the official MCP client SDK over the streamable HTTP
 * transport, on Node and in workerd. Tool answers are checked against the database, not only
 * against their own text.
 */

let t: Target;
let alice: { id: string; key: string };
let bob: { id: string; key: string };
let carol: { id: string; key: string };
let asAlice: Client;
let asBob: Client;
let asAdmin: Client;

beforeAll(async () => {
  t = await startTarget();
  alice = await registerAgent(t, 'alice', 'proj');
  bob = await registerAgent(t, 'bob', 'proj');
  carol = await registerAgent(t, 'carol', 'other');
  asAlice = await mcpClient(t, { 'X-Agent-Key': alice.key });
  asBob = await mcpClient(t, { 'X-Agent-Key': bob.key });
  asAdmin = await mcpClient(t, { 'X-Admin-Key': t.adminKey });
});
afterAll(async () => {
  await Promise.all([asAlice?.close(), asBob?.close(), asAdmin?.close()]);
  await t.close();
});

/** Spec 08 §4 tool names whose REST areas are served by this tree's core (drones, assets, the skills catalogue, widgets and GitHub are checked separately). */
const CORE_TOOLS = [
  'boot',
  'overview',
  'list_agents',
  'get_work',
  'claim_task',
  'complete_task',
  'create_task',
  'list_tasks',
  'get_task',
  'update_task',
  'send_message',
  'send_request',
  'respond_to_request',
  'read_messages',
  'check_plans',
  'update_step',
  'create_plan',
  'file_bug',
  'get_context',
  'set_context',
  'delete_context',
  'list_namespaces',
  'context_history',
  'rollback_context',
  'log_spend',
  'spend_summary',
  'my_skills',
  'list_bugs',
  'claim_bug',
  'fix_bug',
  'heartbeat',
  'sleep',
  'rekey',
  'set_avatar',
  'agent_profile',
  'list_orgs',
  'create_org',
  'list_projects',
  'create_project',
  'update_project',
  'list_concepts',
  'get_concept',
  'create_concept',
  'update_concept',
  'link_concept',
  'list_channels',
  'create_channel',
  'read_channel',
  'send_to_channel',
  'request_approval',
  'check_approval',
  'mark_executed',
  'list_approvals',
  'request_work',
  'file_directive',
  'api',
  'leave_notes',
  'view_savepoint',
  'savepoint_diff',
  'a2a_discover',
  'a2a_send',
  'a2a_list',
].map((n) => `mycelium_${n}`);

/** Tools over REST areas built elsewhere: listed exactly when their route is mounted (probe → not the app's 404). */
const AREA_TOOLS: [string, string[]][] = [
  [
    '/drones',
    [
      'list_drone_jobs',
      'get_drone_job',
      'queue_drone_job',
      'cancel_drone_job',
      'list_drones',
      'list_artifacts',
      'list_job_templates',
      'check_drone_compatibility',
    ],
  ],
  ['/widgets', ['create_widget', 'update_widget', 'list_widgets']],
  ['/skills', ['list_skills', 'install_skill']],
];

describe('MCP endpoint: listing (spec 08 §1.9, issue 12)', () => {
  it('lists every spec 08 tool whose area this build serves, plus the enabled plugins’ tools, each with a JSON-Schema object input', async () => {
    const { tools } = await asAlice.listTools();
    const names = tools.map((x) => x.name);
    expect(new Set(names).size).toBe(names.length);
    for (const n of CORE_TOOLS) expect(names, n).toContain(n);
    for (const [probe, list] of AREA_TOOLS) {
      const served = (await t.call('GET', probe, { agentKey: alice.key })).status !== 404;
      for (const n of list) expect(names.includes(`mycelium_${n}`), `${n} listed iff ${probe} is served`).toBe(served);
    }
    // workflows is enabled by default; cost-tracker is not, so its tools are absent.
    for (const n of [
      'mycelium_fire_workflow',
      'mycelium_list_workflows',
      'mycelium_workflow_status',
      'mycelium_cancel_workflow',
    ])
      expect(names).toContain(n);
    const disabled = JSON.parse((await t.call('GET', '/plugins/mcp-tools', { admin: true })).text).filter(
      (x: { plugin: string }) => x.plugin !== 'workflows',
    );
    expect(disabled).toEqual([]);
    for (const x of tools) {
      expect(x.name).toMatch(/^mycelium_/);
      expect(x.inputSchema.type).toBe('object');
    }
    // D4: the arguments the original lost are declared.
    const schema = (n: string) => tools.find((x) => x.name === n)!.inputSchema;
    expect(Object.keys(schema('mycelium_get_work').properties ?? {})).toEqual(['auto_claim']);
    expect(schema('mycelium_request_work').required).toEqual(['type']);
    expect(schema('mycelium_file_directive').required).toEqual(['to', 'content']);
    // D3: organisation ids are text; D9: no identity arguments.
    expect((schema('mycelium_list_projects').properties as Record<string, { type: string }>).org_id.type).toBe(
      'string',
    );
    expect(Object.keys(schema('mycelium_create_org').properties ?? {})).toContain('id');
    expect(Object.keys(schema('mycelium_send_message').properties ?? {})).not.toContain('from_agent');
  });

  it('answers at /mcp as well, and GET (no standalone stream in stateless mode) is 405', async () => {
    const c = await mcpClient(t, { 'X-Agent-Key': alice.key }, '/mcp');
    expect((await call(c, 'mycelium_list_agents')).text).toContain('alice');
    await c.close();
    const g = await t.fetch('/api/mycelium/mcp', {
      headers: { 'X-Agent-Key': alice.key, Accept: 'text/event-stream' },
    });
    expect(g.status).toBe(405);
    expect(g.headers.get('allow')).toBe('POST');
  });
});

describe('MCP endpoint: authentication (issue 12)', () => {
  const init = {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  };
  const post = (headers: Record<string, string>, path = '/api/mycelium/mcp') =>
    t.fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(init),
    });

  it('anonymous → 401 with a WWW-Authenticate challenge naming the protected-resource metadata', async () => {
    for (const path of ['/api/mycelium/mcp', '/mcp']) {
      const r = await post({}, path);
      expect(r.status).toBe(401);
      const www = r.headers.get('www-authenticate') ?? '';
      expect(www).toMatch(/^Bearer /);
      expect(www).toMatch(/resource_metadata="http:\/\/[^/"]+\/\.well-known\/oauth-protected-resource"/);
      expect((await r.json()).error).toMatch(/Authentication required/);
    }
    await expect(mcpClient(t, {})).rejects.toThrow();
  });

  it('a credential that does not verify → 401 invalid_token (agent key, admin key, bearer)', async () => {
    const bad: Record<string, string>[] = [
      { 'X-Agent-Key': `dvk_${'0'.repeat(48)}` },
      { 'X-Admin-Key': 'wrong' },
      { Authorization: 'Bearer not-a-token' },
    ];
    for (const h of bad) {
      const r = await post(h);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('publishes RFC 9728 metadata that names the static credentials', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/api/mycelium/mcp',
    ]) {
      const res = await t.fetch(path);
      expect(res.status).toBe(200);
      const m = await res.json();
      expect(m.resource).toMatch(/^http:\/\/[^/]+\/api\/mycelium\/mcp$/);
      expect(m.bearer_methods_supported).toEqual(['header']);
      expect(JSON.stringify(m.mycelium_credentials)).toContain('X-Agent-Key');
    }
  });

  it('accepts Authorization: Bearer <agent key> as that agent, and an operator JWT as that operator', async () => {
    const viaBearer = await mcpClient(t, { Authorization: `Bearer ${bob.key}` });
    const r = await call(viaBearer, 'mycelium_send_message', { content: 'from bearer', to: 'alice' });
    expect(r.isError).toBe(false);
    const row = await t.db.get<{ from_agent: string }>("SELECT from_agent FROM messages WHERE content = 'from bearer'");
    expect(row?.from_agent).toBe('bob');
    await viaBearer.close();

    const op = await createOperator(t, 'olga', 'operator');
    const asOp = await mcpClient(t, { Authorization: `Bearer ${op.token}` });
    const d = await call(asOp, 'mycelium_file_directive', { to: 'carol', content: 'operator says hi' });
    expect(d.isError, d.text).toBe(false);
    const dir = await t.db.get<{ from_agent: string; msg_type: string; to_agent: string }>(
      "SELECT from_agent, msg_type, to_agent FROM messages WHERE content = 'operator says hi'",
    );
    expect(dir).toMatchObject({ msg_type: 'directive', to_agent: 'carol' });
    // The operator is not an admin: admin-only tools refuse it exactly as REST does.
    const o = await call(asOp, 'mycelium_create_org', { id: 'op-org', name: 'nope' });
    expect(o.isError).toBe(true);
    expect(o.text).toMatch(/HTTP 403/);
    expect(await t.db.get("SELECT id FROM organizations WHERE id = 'op-org'")).toBeUndefined();
    await asOp.close();
  });
});

describe('MCP endpoint: one representative tool per area, against the database', () => {
  it('agents and session: boot, heartbeat, profile, savepoints, avatar', async () => {
    const hb = await call(asAlice, 'mycelium_heartbeat', { working_on: 'mcp tests', state_snapshot: { step: 1 } });
    expect(hb.text).toContain('Heartbeat sent. working_on: "mcp tests"');
    expect(
      (await t.db.get<{ working_on: string }>("SELECT working_on FROM agents WHERE id = 'alice'"))?.working_on,
    ).toBe('mcp tests');
    const boot = await call(asAlice, 'mycelium_boot');
    expect(boot.text).toMatch(/^Booted as alice/);
    const sp = await call(asAlice, 'mycelium_view_savepoint', { agent_id: 'alice' });
    expect(sp.text).toContain('=== Savepoint for alice ===');
    expect(sp.text).toContain('"step": 1');
    const prof = await call(asAlice, 'mycelium_agent_profile', { action: 'update', specializations: ['testing'] });
    expect(JSON.parse(prof.text).specializations).toEqual(['testing']);
    await call(asAlice, 'mycelium_set_avatar', { avatar_url: 'https://example.org/a.png' });
    expect(
      (await t.db.get<{ avatar_url: string }>("SELECT avatar_url FROM agents WHERE id = 'alice'"))?.avatar_url,
    ).toBe('https://example.org/a.png');
    const notes = await call(asAdmin, 'mycelium_leave_notes', { agent_id: 'alice', notes: 'read me' });
    expect(notes.isError, notes.text).toBe(false);
  });

  it('tasks: create, atomic claim, complete keeps the description and stores notes as a comment (D7, D8)', async () => {
    const created = await call(asAlice, 'mycelium_create_task', {
      title: 'MCP task',
      description: 'original description',
      project_id: 'proj',
    });
    const id = Number(created.text.match(/#(\d+)/)![1]);
    expect(created.text).toBe(`Created task #${id}: MCP task`);
    expect((await call(asAlice, 'mycelium_claim_task', { task_id: id })).text).toContain(`Claimed task #${id}`);
    const again = await call(asAlice, 'mycelium_claim_task', { task_id: id }); // idempotent for the holder
    expect(again.isError).toBe(false);
    const stolen = await call(asBob, 'mycelium_claim_task', { task_id: id });
    expect(stolen.isError).toBe(true);
    expect(stolen.text).toMatch(/HTTP 409/);
    expect(stolen.text).toContain('"assignee":"alice"');
    expect((await t.db.get<{ assignee: string }>('SELECT assignee FROM tasks WHERE id = ?', [id]))?.assignee).toBe(
      'alice',
    );
    const done = await call(asAlice, 'mycelium_complete_task', { task_id: id, notes: 'finished via MCP' });
    expect(done.text).toContain(`Completed task #${id}.`);
    const row = await t.db.get<{ status: string; description: string }>(
      'SELECT status, description FROM tasks WHERE id = ?',
      [id],
    );
    expect(row).toEqual({ status: 'done', description: 'original description' });
    const comment = await t.db.get<{ content: string; author: string }>(
      'SELECT content, author FROM task_comments WHERE task_id = ?',
      [id],
    );
    expect(comment).toMatchObject({ content: 'finished via MCP', author: 'alice' });
    // D21: an empty string is sent (clears), not dropped.
    await call(asAlice, 'mycelium_update_task', { task_id: id, description: '' });
    expect(
      (await t.db.get<{ description: string }>('SELECT description FROM tasks WHERE id = ?', [id]))?.description,
    ).toBe('');
    const got = await call(asAlice, 'mycelium_get_task', { task_id: id });
    expect(got.text).toContain('Status: done');
  });

  it('work queue: get_work honours auto_claim (D4)', async () => {
    const r = await t.call('POST', '/tasks', {
      agentKey: bob.key,
      body: { title: 'for bob', project_id: 'proj', assignee: 'bob' },
    });
    const w = await call(asBob, 'mycelium_get_work', { auto_claim: true });
    expect(w.text).toContain('=== AUTO-CLAIMED ===');
    expect(
      await t.db.get<{ status: string; assignee: string }>('SELECT status, assignee FROM tasks WHERE id = ?', [
        r.body.id,
      ]),
    ).toMatchObject({ assignee: 'bob' });
    expect((await t.db.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', [r.body.id]))?.status).not.toBe(
      'open',
    );
  });

  it('plans: created plans (draft) show by default, with real step status (D10)', async () => {
    const p = await call(asAlice, 'mycelium_create_plan', {
      title: 'MCP plan',
      description: 'd',
      project_id: 'proj',
      steps: [{ title: 'first' }, { title: 'second' }],
    });
    const planId = Number(p.text.match(/#(\d+)/)![1]);
    expect(p.text).toContain('(2 steps)');
    const steps = await t.db.all<{ id: number }>('SELECT id FROM plan_steps WHERE plan_id = ? ORDER BY id', [planId]);
    expect(steps).toHaveLength(2);
    await call(asAlice, 'mycelium_update_step', { plan_id: planId, step_id: steps[1].id, status: 'blocked' });
    const list = await call(asAlice, 'mycelium_check_plans');
    expect(list.text).toContain(`#${planId} [draft] MCP plan`);
    expect(list.text).toContain(`[blocked] Step #${steps[1].id}: second`);
  });

  it('bugs: file, list reads {bugs, counts} (D1), claim never steals, fix', async () => {
    const f = await call(asAlice, 'mycelium_file_bug', {
      title: 'MCP bug',
      description: 'broken',
      project_id: 'proj',
      severity: 'high',
    });
    const id = Number(f.text.match(/#(\d+)/)![1]);
    expect(f.text).toBe(`Filed bug #${id} [high]: MCP bug`);
    const l = await call(asBob, 'mycelium_list_bugs', { project_id: 'proj' });
    expect(l.text).toContain(`#${id} [high] MCP bug (open)`);
    expect(l.text).toMatch(/Counts: .*open 1/);
    await call(asAlice, 'mycelium_claim_bug', { bug_id: id });
    const steal = await call(asBob, 'mycelium_claim_bug', { bug_id: id });
    expect(steal.isError).toBe(true);
    expect(steal.text).toContain('"assignee":"alice"');
    expect((await call(asAlice, 'mycelium_fix_bug', { bug_id: id, notes: 'patched' })).text).toBe(
      `Bug #${id} marked fixed.`,
    );
    expect((await t.db.get<{ status: string }>('SELECT status FROM bugs WHERE id = ?', [id]))?.status).toBe('fixed');
  });

  it('messages and requests: send, request, read, resolve; directives carry their arguments (D4)', async () => {
    const m = await call(asAlice, 'mycelium_send_message', { content: 'hi bob', to: 'bob' });
    expect(m.text).toMatch(/^Message sent \(id: \d+\) to bob$/);
    const rq = await call(asAlice, 'mycelium_send_request', { content: 'please review', to: 'bob' });
    const reqId = Number(rq.text.match(/id: (\d+)/)![1]);
    const inbox = await call(asBob, 'mycelium_read_messages', { since: '2000-01-01T00:00:00Z' });
    expect(inbox.text).toContain('[REQ] ');
    expect(inbox.text).toContain('alice→bob: please review');
    expect(inbox.text).toContain('alice→bob: hi bob');
    expect((await call(asBob, 'mycelium_respond_to_request', { request_id: reqId, response: 'done' })).text).toBe(
      `Request #${reqId} resolved.`,
    );
    expect((await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [reqId]))?.status).not.toBe(
      'pending',
    );
    const dir = await call(asAdmin, 'mycelium_file_directive', { to: 'bob', content: 'stand up' });
    expect(dir.text).toMatch(/^Directive sent to bob\. Message #\d+\./);
  });

  it('channels: create derives the slug (D2), send and read', async () => {
    const c = await call(asAlice, 'mycelium_create_channel', { name: '#Release Talk!', description: 'ship it' });
    const id = Number(c.text.match(/#(\d+)/)![1]);
    expect((await t.db.get<{ slug: string }>('SELECT slug FROM channels WHERE id = ?', [id]))?.slug).toBe(
      'release-talk-',
    );
    const dup = await call(asAlice, 'mycelium_create_channel', { name: 'Release talk!' });
    expect(dup.isError).toBe(true);
    expect(dup.text).toMatch(/HTTP 409/);
    // Creating a channel does not make an agent a member (REST rule); the tool answers as REST does.
    expect((await call(asAlice, 'mycelium_send_to_channel', { channel_id: id, content: 'too early' })).text).toMatch(
      /HTTP 403/,
    );
    expect((await t.call('POST', `/channels/${id}/members`, { admin: true, body: { user_id: 'alice' } })).status).toBe(
      200,
    );
    const sent = await call(asAlice, 'mycelium_send_to_channel', { channel_id: id, content: 'first post' });
    expect(sent.text).toMatch(new RegExp(`^Message sent to channel #${id} \\(msg id: \\d+\\)$`));
    expect((await call(asAlice, 'mycelium_read_channel', { channel_id: id })).text).toContain('alice→all: first post');
    expect((await call(asAlice, 'mycelium_list_channels')).text).toContain(`#${id} #Release Talk! [general] — ship it`);
  });

  it('context: JSON values and text (D19), history, rollback', async () => {
    await call(asAlice, 'mycelium_set_context', { namespace: 'proj', key: 'cfg', data: { level: 1 } });
    await call(asAlice, 'mycelium_set_context', { namespace: 'proj', key: 'cfg', data: 'plain text' });
    const g = JSON.parse((await call(asAlice, 'mycelium_get_context', { namespace: 'proj', key: 'cfg' })).text);
    expect(g.data).toBe('plain text');
    const h = await call(asAlice, 'mycelium_context_history', { namespace: 'proj', key: 'cfg' });
    const hid = Number(h.text.match(/\n#(\d+) \|/)![1]);
    expect(h.text).toContain('{"level":1}');
    expect((await call(asAlice, 'mycelium_rollback_context', { history_id: hid })).text).toContain(
      'Rolled back proj:cfg',
    );
    expect(
      JSON.parse(
        (await t.db.get<{ data: string }>("SELECT data FROM context_keys WHERE namespace = 'proj' AND key = 'cfg'"))!
          .data,
      ),
    ).toEqual({ level: 1 });
    expect((await call(asAlice, 'mycelium_list_namespaces')).text).toMatch(/ {2}proj \(\d+ keys\)/);
  });

  it('approvals: no "mycelium" default project, the server’s status is reported (D6); invalid JSON text is an isError naming the argument', async () => {
    const bad = await call(asAlice, 'mycelium_request_approval', {
      action_type: 'deploy',
      title: 'x',
      payload: '{nope',
    });
    expect(bad.isError).toBe(true);
    expect(bad.text).toContain('payload is not valid JSON');
    const r = await call(asAlice, 'mycelium_request_approval', {
      action_type: 'deploy',
      title: 'ship v2',
      payload: { version: 2 },
    });
    expect(r.isError, r.text).toBe(false);
    const id = Number(r.text.match(/id: (\d+)/)![1]);
    const row = await t.db.get<{ project_id: string; requested_by: string; status: string }>(
      'SELECT project_id, requested_by, status FROM approvals WHERE id = ?',
      [id],
    );
    expect(row).toMatchObject({ project_id: 'proj', requested_by: 'alice' });
    expect(r.text).toContain(`Status: ${row!.status}`);
    expect((await call(asAlice, 'mycelium_check_approval', { approval_id: id })).text).toContain(
      'Payload: {"version":2}',
    );
    expect((await call(asAlice, 'mycelium_list_approvals')).text).toContain(
      `#${id} [pending] deploy: ship v2 (by alice) — proj`,
    );
  });

  it('spend, organisations (D3), projects and concepts', async () => {
    await call(asAlice, 'mycelium_log_spend', { cost_usd: 1.25, source: 'llm', tokens_in: 10, tokens_out: 5 });
    expect(
      await t.db.get<{ cost_usd: number; tokens_in: number }>(
        "SELECT cost_usd, tokens_in FROM agent_spend WHERE agent_id = 'alice'",
      ),
    ).toMatchObject({ cost_usd: 1.25, tokens_in: 10 });
    expect((await call(asAlice, 'mycelium_spend_summary')).text).toContain('alice | proj | $1.2500');
    expect((await call(asAdmin, 'mycelium_create_org', { id: 'acme', name: 'Acme' })).text).toBe(
      'Created org #acme: Acme',
    );
    expect(
      (await call(asAdmin, 'mycelium_create_project', { id: 'rocket', name: 'Rocket', org_id: 'acme' })).isError,
    ).toBe(false);
    expect((await call(asAlice, 'mycelium_list_projects', { org_id: 'acme' })).text).toContain('rocket — Rocket');
    const cc = await call(asAlice, 'mycelium_create_concept', { name: 'Hero', type: 'character', data: '{"hp":3}' });
    const cid = Number(cc.text.match(/#(\d+)/)![1]);
    await call(asAlice, 'mycelium_link_concept', { concept_id: cid, project: 'proj' });
    const gc = await call(asAlice, 'mycelium_get_concept', { concept_id: cid });
    expect(gc.text).toContain('"hp": 3');
  });

  it('admin: overview and sleep; pass-through api; a plugin tool', async () => {
    expect((await call(asAdmin, 'mycelium_overview')).text).toContain('=== Agents ===');
    expect((await call(asAdmin, 'mycelium_sleep', { action: 'on', directive: 'quiet night' })).text).toContain(
      'Directive: quiet night',
    );
    expect((await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'sleep_mode_on'"))?.n).toBe(1);
    expect((await call(asAdmin, 'mycelium_sleep', { action: 'off' })).text).toContain('Sleep mode OFF');
    const api = await call(asAlice, 'mycelium_api', { method: 'GET', path: '/tasks?project_id=proj&limit=1' });
    expect(JSON.parse(api.text)).toHaveLength(1);
    const body = await call(asAlice, 'mycelium_api', { method: 'GET', path: '/tasks', body: { x: 1 } });
    expect(body.isError).toBe(true);
    const traversal = await call(asAlice, 'mycelium_api', { method: 'GET', path: '/../health' });
    expect(traversal.isError).toBe(true);
    const wf = await call(asAlice, 'mycelium_fire_workflow', {
      name: 'mcp-flow',
      invocations: [{ id: 'step-1', agent: 'bob', prompt: 'go' }],
      project_id: 'proj',
    });
    expect(wf.isError, wf.text).toBe(false);
    const list = await call(asAlice, 'mycelium_list_workflows', { project_id: 'proj' });
    expect(list.text).toContain('mcp-flow');
    // A2A tools go through the same SSRF guard as REST (SEC-31).
    const a2a = await call(asAlice, 'mycelium_a2a_discover', { url: 'http://127.0.0.1:9/' });
    expect(a2a.isError).toBe(true);
    expect(a2a.text).toContain('Invalid or blocked URL');
    expect((await call(asAlice, 'mycelium_a2a_list')).text).toBe('No A2A agents discovered.');
  });
});

describe('MCP endpoint: a tool may do exactly what the principal may do over REST', () => {
  it('an agent cannot act for another agent through a tool', async () => {
    // Identity arguments do not exist: passing one is refused, not silently dropped or honoured (D9).
    const forged = await call(asBob, 'mycelium_send_message', { content: 'forged', to: 'carol', from_agent: 'alice' });
    expect(forged.isError).toBe(true);
    expect(forged.text).toContain('from_agent');
    expect(await t.db.get("SELECT id FROM messages WHERE content = 'forged'")).toBeUndefined();
    // Another agent's savepoint, profile and notes are out of reach, as over REST.
    const sp = await call(asBob, 'mycelium_view_savepoint', { agent_id: 'alice' });
    expect(sp.isError).toBe(true);
    expect(sp.text).toMatch(/HTTP 403/);
    const prof = await call(asBob, 'mycelium_agent_profile', {
      action: 'update',
      agent_id: 'alice',
      max_concurrent: 9,
    });
    expect(prof.isError).toBe(true);
    const rest = await t.call('PUT', '/agents/alice/profile', { agentKey: bob.key, body: { max_concurrent: 9 } });
    expect(prof.text).toContain(`HTTP ${rest.status}`);
    const notes = await call(asBob, 'mycelium_leave_notes', { agent_id: 'alice', notes: 'evil' });
    expect(notes.isError).toBe(true);
    // set_avatar and heartbeat change only the caller.
    await call(asBob, 'mycelium_set_avatar', { avatar_url: 'https://example.org/b.png' });
    expect(
      (await t.db.get<{ avatar_url: string }>("SELECT avatar_url FROM agents WHERE id = 'alice'"))?.avatar_url,
    ).toBe('https://example.org/a.png');
    // Work routing of another agent is refused.
    const work = await call(asBob, 'mycelium_api', { method: 'GET', path: '/work/alice' });
    expect(work.isError).toBe(true);
    expect(work.text).toMatch(/HTTP 403/);
  });

  it('project scope and admin-only routes hold through tools, with nothing written', async () => {
    const before = (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))!.n;
    const asCarol = await mcpClient(t, { 'X-Agent-Key': carol.key });
    const cross = await call(asCarol, 'mycelium_create_task', { title: 'intrusion', project_id: 'proj' });
    const viaRest = await t.call('POST', '/tasks', {
      agentKey: carol.key,
      body: { title: 'intrusion', project_id: 'proj' },
    });
    expect(viaRest.status).toBeGreaterThanOrEqual(400);
    expect(cross.isError).toBe(true);
    expect(cross.text).toContain(`(HTTP ${viaRest.status})`);
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))!.n).toBe(before);
    const adminOnly = await call(asCarol, 'mycelium_create_project', { id: 'sneaky', name: 'Sneaky' });
    expect(adminOnly.isError).toBe(true);
    expect(await t.db.get("SELECT id FROM projects WHERE id = 'sneaky'")).toBeUndefined();
    const sleep = await call(asCarol, 'mycelium_sleep', { action: 'on' });
    expect(sleep.isError).toBe(true);
    await asCarol.close();
  });

  it('argument validation: wrong types and unknown tools are isError answers, never a write', async () => {
    const wrong = await call(asAlice, 'mycelium_create_task', { title: { nested: true } });
    expect(wrong.isError).toBe(true);
    expect(wrong.text).toContain('title');
    const unknown = await call(asAlice, 'mycelium_does_not_exist');
    expect(unknown.isError).toBe(true);
    expect(await t.db.get("SELECT id FROM tasks WHERE title = '[object Object]'")).toBeUndefined();
  });

  it('rekey returns the new key once and says this connection’s key is revoked (D17)', async () => {
    const dave = await registerAgent(t, 'dave', 'proj');
    const c = await mcpClient(t, { 'X-Agent-Key': dave.key });
    const r = await call(c, 'mycelium_rekey');
    const newKey = r.text.match(/dvk_[0-9a-f]{48}/)![0];
    expect(r.text).toContain('revoked');
    expect((await t.call('GET', '/agents/dave', { agentKey: newKey })).status).toBe(200);
    expect((await t.call('GET', '/agents/dave', { agentKey: dave.key })).status).toBe(403);
    await c.close().catch(() => undefined);
  });
});

describe('MCP endpoint: client configuration (issue 12)', () => {
  it('registration and GET /agents/:id/mcp-config carry a remote entry that connects as is', async () => {
    const reg = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'erin', name: 'erin', project_id: 'proj' },
    });
    const remote = reg.body.mcp_config.mcpServers.mycelium_remote;
    expect(remote).toEqual({
      type: 'http',
      url: `${reg.body.mcp_config.mcpServers.mycelium.env.MYCELIUM_API_URL}/mcp`,
      headers: { 'X-Agent-Key': reg.body.api_key },
    });
    expect(remote.url).toMatch(/^http:\/\/[^/]+\/api\/mycelium\/mcp$/);
    expect(reg.body.mcp_config.mcpServers.mycelium.command).toBe('npx'); // the stdio entry stays
    const c = await mcpClient(t, remote.headers, new URL(remote.url).pathname);
    expect((await call(c, 'mycelium_boot')).text).toMatch(/^Booted as erin/);
    await c.close();
    const cfg = await t.call('GET', '/agents/erin/mcp-config', { admin: true });
    expect(cfg.body.mcp_config.mcpServers.mycelium_remote).toEqual({
      type: 'http',
      url: remote.url,
      headers: { 'X-Agent-Key': '<YOUR_AGENT_API_KEY>' },
    });
  });
});
