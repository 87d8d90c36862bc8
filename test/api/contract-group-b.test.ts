import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Issue 15, group B: the areas converted to route contracts and the plugin routes are in the
 * OpenAPI document under their tags; answers are shaped by their schemas (internal columns never
 * leave); plugin routes declare schemas the host validates and that generate MCP tool inputs.
 */

let t: Target;
let a: { id: string; key: string };
let doc: any;

const PLUGINS = [
  'cost-tracker',
  'daily-digest',
  'error-monitor',
  'fault-injection',
  'guardrails',
  'workflow-automations',
  'workflows',
];

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'cgb-agent', 'cgb');
  for (const p of PLUGINS) {
    const r = await t.call('PUT', `/plugins/${p}/enable`, { admin: true });
    expect(r.status).toBe(200);
  }
  const r = await t.call('GET', '/openapi.json');
  expect(r.status).toBe(200);
  doc = r.body;
});
afterAll(async () => t?.close());

/** Document path of a route: the dashboard is mounted at the root, everything else under /api/mycelium. */
const api = (p: string) =>
  `${p.startsWith('/dashboard') || p === '/' ? '' : '/api/mycelium'}${p.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`;

/** Every route of the converted areas: [method, Hono path, tag]. */
const CORE: [string, string, string][] = [
  ['post', '/files', 'Files'],
  ['get', '/files', 'Files'],
  ['get', '/files/:filename', 'Files'],
  ['get', '/github/prs/:owner/:repo', 'GitHub'],
  ['post', '/github/prs/:owner/:repo', 'GitHub'],
  ['post', '/github/prs/:owner/:repo/:number/merge', 'GitHub'],
  ['post', '/reasoning', 'Reasoning'],
  ['get', '/assets', 'Assets'],
  ['post', '/assets', 'Assets'],
  ['put', '/assets/link-job', 'Assets'],
  ['get', '/assets/:id', 'Assets'],
  ['put', '/assets/:id', 'Assets'],
  ['post', '/assets/:id/upload', 'Assets'],
  ['get', '/assets/:id/download', 'Assets'],
  ['delete', '/assets/:id', 'Assets'],
  ['post', '/admin/cleanup', 'Admin operations'],
  ['get', '/admin/health', 'Admin operations'],
  ['post', '/admin/health/run', 'Admin operations'],
  ['get', '/admin/health/history', 'Admin operations'],
  ['get', '/admin/ops', 'Admin operations'],
  ['get', '/admin/overview', 'Admin operations'],
  ['get', '/admin/backups', 'Admin operations'],
  ['post', '/admin/backups', 'Admin operations'],
  ['get', '/reconciliation', 'Admin operations'],
  ['get', '/file-server/status', 'File server'],
  ['post', '/file-server/browse', 'File server'],
  ['post', '/file-server/info', 'File server'],
  ['post', '/file-server/search', 'File server'],
  ['get', '/file-server/download', 'File server'],
  ['get', '/file-server/download-folder', 'File server'],
  ['get', '/concepts', 'Concepts'],
  ['get', '/concepts/:id', 'Concepts'],
  ['post', '/concepts', 'Concepts'],
  ['put', '/concepts/:id', 'Concepts'],
  ['delete', '/concepts/:id', 'Concepts'],
  ['post', '/concepts/:id/link', 'Concepts'],
  ['delete', '/concepts/:id/link/:projectId', 'Concepts'],
  ['get', '/projects/:projectId/concepts', 'Concepts'],
  ['post', '/approvals', 'Approvals'],
  ['get', '/approvals', 'Approvals'],
  ['get', '/approvals/:id', 'Approvals'],
  ['get', '/approvals/:id/votes', 'Approvals'],
  ['put', '/approvals/:id', 'Approvals'],
  ['put', '/approvals/:id/vote', 'Approvals'],
  ['put', '/approvals/:id/executed', 'Approvals'],
  ['get', '/widgets', 'Widgets'],
  ['post', '/widgets', 'Widgets'],
  ['put', '/widgets/:id', 'Widgets'],
  ['delete', '/widgets/:id', 'Widgets'],
  ['post', '/spend', 'Spend'],
  ['get', '/spend', 'Spend'],
  ['get', '/spend/budgets', 'Spend'],
  ['put', '/spend/budgets', 'Spend'],
  ['delete', '/spend/budgets/:id', 'Spend'],
  ['get', '/spend/:agentId', 'Spend'],
  ['post', '/dashboard/session', 'Dashboard'],
  ['delete', '/dashboard/session', 'Dashboard'],
  ['get', '/dashboard/api/spend', 'Dashboard'],
  ['get', '/', 'Dashboard'],
  ['post', '/mcp', 'MCP'],
  ['get', '/plugins', 'Plugins'],
  ['get', '/plugins/mcp-tools', 'Plugins'],
  ['put', '/plugins/:name/enable', 'Plugins'],
  ['delete', '/plugins/:name/uninstall', 'Plugins'],
  ['get', '/plugins/:name/config', 'Plugins'],
  ['get', '/skills', 'Skills'],
  ['get', '/skills/:id', 'Skills'],
  ['post', '/skills', 'Skills'],
  ['put', '/skills/:id', 'Skills'],
  ['post', '/skills/:id/install', 'Skills'],
  ['post', '/skills/:id/uninstall', 'Skills'],
];

/** The bundled plugins' routes, read from their sources (what `api.get('/x', …)` registers). */
function pluginRoutes(): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const dir of readdirSync('plugins', { withFileTypes: true })) {
    if (!dir.isDirectory() || !PLUGINS.includes(dir.name)) continue;
    const src = readFileSync(`plugins/${dir.name}/index.ts`, 'utf8');
    for (const m of src.matchAll(/api\.(get|post|put|delete)\(\s*'([^']*)'/g)) {
      // A plugin's own GET / is not served under /plugins/<name>: that path is the core's plugin
      // detail (core routes win on overlap), so it is documented under the plugin's prefix only.
      if (m[1] === 'get' && m[2] === '/') continue;
      const path = m[2] === '/' ? '' : m[2];
      out.push([m[1], `/plugins/${dir.name}${path}`, `Plugin: ${dir.name}`]);
    }
  }
  return out;
}

describe('OpenAPI document: group B areas and plugins (issue 15)', () => {
  it('lists every route of the converted areas with its tag', () => {
    const missing = CORE.filter(([m, p, tag]) => !doc.paths[api(p)]?.[m]?.tags?.includes(tag));
    expect(missing).toEqual([]);
  });

  it('lists every bundled plugin route under /plugins/<name> with the plugin tag', () => {
    const routes = pluginRoutes();
    expect(routes.length).toBeGreaterThan(50);
    const missing = routes.filter(([m, p, tag]) => !doc.paths[api(p)]?.[m]?.tags?.includes(tag));
    expect(missing).toEqual([]);
    const tags = doc.tags.map((x: { name: string }) => x.name);
    for (const p of PLUGINS) expect(tags).toContain(`Plugin: ${p}`);
    // The workflow list (workflows' GET /) is documented where it answers, under its own prefix.
    expect(doc.paths['/api/mycelium/workflows']?.get?.tags).toContain('Plugin: workflows');
    expect(doc.paths['/api/mycelium/plugins/workflows']?.get?.tags ?? []).not.toContain('Plugin: workflows');
    // Declared schemas reach the document: the guardrails dry-run body names its fields.
    const check = doc.paths['/api/mycelium/plugins/guardrails/check'].post;
    expect(Object.keys(check.requestBody.content['application/json'].schema.properties)).toEqual(
      expect.arrayContaining(['event_type', 'data']),
    );
    expect(check.responses['400']).toBeDefined();
  });
});

describe('answers are shaped by their schemas (issue 15)', () => {
  it('a claimed task in the verbose overview carries no lease_token, though the row holds one', async () => {
    const task = await t.call('POST', '/tasks', { agentKey: a.key, body: { title: 'cgb-claimed', project_id: 'cgb' } });
    const claim = await t.call('POST', `/tasks/${task.body.id}/claim`, { agentKey: a.key, body: {} });
    expect(claim.status).toBe(200);
    const stored = await t.db.get<{ lease_token: string | null }>('SELECT lease_token FROM tasks WHERE id = ?', [
      task.body.id,
    ]);
    expect(stored?.lease_token).toMatch(/^[0-9a-f]{32}$/);
    const ov = await t.call('GET', '/admin/overview?verbose=true', { admin: true });
    expect(ov.status).toBe(200);
    const row = ov.body.tasks.in_progress.find((x: { id: number }) => x.id === task.body.id);
    expect(row).toMatchObject({ title: 'cgb-claimed', assignee: 'cgb-agent' });
    expect(row).not.toHaveProperty('lease_token');
    expect(JSON.stringify(ov.body)).not.toContain(stored!.lease_token!);
  });

  it("pending approvals in /admin/ops and the overview carry no requester_key (the requester's identity key)", async () => {
    const req = await t.call('POST', '/approvals', {
      agentKey: a.key,
      body: { action_type: 'deploy', title: 'cgb deploy', payload: { v: 1 }, project_id: 'cgb', risk_tier: 'high' },
    });
    expect(req.status).toBe(200);
    const stored = await t.db.get<{ requester_key: string }>('SELECT requester_key FROM approvals WHERE id = ?', [
      req.body.id,
    ]);
    expect(stored?.requester_key).toBeTruthy();
    const ops = await t.call('GET', '/admin/ops', { admin: true });
    const row = ops.body.pending_approvals.find((x: { id: number }) => x.id === req.body.id);
    expect(row).toMatchObject({ title: 'cgb deploy', requested_by: 'cgb-agent' });
    expect(row).not.toHaveProperty('requester_key');
    expect(row).not.toHaveProperty('decision_id');
    const ov = await t.call('GET', '/admin/overview?verbose=true', { admin: true });
    const queued = ov.body.approval_queue.find((x: { id: number }) => x.id === req.body.id);
    expect(queued).toBeDefined();
    expect(queued).not.toHaveProperty('requester_key');
  });

  it('the temp file list names no blob key; the Asset component lists exactly the public columns', async () => {
    const form = new FormData();
    form.append('file', new Blob(['hello']), 'cgb.txt');
    const up = await t.call('POST', '/files', { agentKey: a.key, raw: form });
    expect(up.status).toBe(200);
    const list = await t.call('GET', '/files', { agentKey: a.key });
    const row = list.body.find((f: { filename: string }) => f.filename === up.body.filename);
    expect(Object.keys(row).sort()).toEqual(['expires_in_seconds', 'filename', 'size', 'uploaded', 'url']);
    expect(Object.keys(doc.components.schemas.TempFile.properties)).not.toContain('blob_key');
    expect(Object.keys(doc.components.schemas.Approval.properties)).not.toContain('requester_key');
  });
});

describe('plugin routes declare their input; the host validates it (issue 15)', () => {
  it('rejects a bad body with the plugin’s own sentence, after authentication', async () => {
    expect((await t.call('POST', '/guardrails/check', { body: { event_type: 'x', data: 5 } })).status).toBe(401);
    const bad = await t.call('POST', '/guardrails/check', { agentKey: a.key, body: { event_type: 'x', data: 5 } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'data must be an object' });
    const none = await t.call('POST', '/plugins/guardrails/check', { agentKey: a.key, body: {} });
    expect(none.body).toEqual({ error: 'event_type is required' });
    const neg = await t.call('POST', '/costs/record', { agentKey: a.key, body: { input_tokens: -1 } });
    expect(neg.body).toEqual({ error: 'input_tokens must be a non-negative integer' });
    const day = await t.call('GET', '/costs/by-agent?date_from=yesterday', { agentKey: a.key });
    expect(day.body).toEqual({ error: 'date_from must be a date (YYYY-MM-DD)' });
    // A good request still passes through to the plugin.
    const ok = await t.call('POST', '/guardrails/check', { agentKey: a.key, body: { event_type: 'x', data: {} } });
    expect(ok.body).toMatchObject({ event_type: 'x', results: expect.any(Array) });
  });

  it('generates MCP tool inputSchemas from the route schemas (mcp-tools.json no longer restates them)', async () => {
    const tools = (await t.call('GET', '/plugins/mcp-tools', { agentKey: a.key })).body as any[];
    const check = tools.find((x) => x.name === 'mycelium_guardrails_check');
    const route =
      doc.paths['/api/mycelium/plugins/guardrails/check'].post.requestBody.content['application/json'].schema;
    expect(check.inputSchema.properties).toEqual(route.properties);
    expect(check.inputSchema.properties.data).toMatchObject({ type: 'object' });
    const record = tools.find((x) => x.name === 'mycelium_cost_record');
    const recordRoute =
      doc.paths['/api/mycelium/plugins/cost-tracker/record'].post.requestBody.content['application/json'].schema;
    expect(record.inputSchema.properties).toEqual(recordRoute.properties);
    expect(Object.keys(record.inputSchema.properties)).toEqual(
      expect.arrayContaining(['input_tokens', 'output_tokens', 'model', 'task_id']),
    );
    const raw = JSON.parse(readFileSync('plugins/guardrails/mcp-tools.json', 'utf8'));
    expect(raw.find((x: { name: string }) => x.name === 'mycelium_guardrails_check').inputSchema).toBeUndefined();
  });
});
