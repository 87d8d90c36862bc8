import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAgent } from '../support/fixtures.js';
import { startTarget, type Target } from '../support/target.js';

/**
 * Issue 15, group A: every route of these areas is declared with a contract, so it appears in
 * the generated OpenAPI document under its area's tag; and answers pass through their schema,
 * so an internal column the repo reads (key hashes, fencing tokens) never leaves.
 */

const ROUTES: Record<string, string[]> = {
  Heartbeat: ['post /agents/heartbeat', 'put /admin/agents/:id/heartbeat'],
  Boot: ['get /boot/:agentId'],
  Work: ['post /work/request', 'get /work/:agentId'],
  Health: ['get /health'],
  Config: ['get /admin/config', 'get /admin/config/:key', 'put /admin/config/:key'],
  Admin: ['put /admin/override', 'put /admin/sleep', 'get /admin/sleep'],
  Messages: [
    'get /messages/threads',
    'get /messages',
    'post /messages',
    'delete /messages/bulk',
    'put /messages/:id/ack',
    'put /messages/:id/resolve',
  ],
  Requests: ['post /requests', 'get /requests/pending', 'put /requests/:id'],
  Savepoints: [
    'get /agents/:id/savepoint/diff',
    'get /agents/:id/savepoint',
    'get /agents/:id/savepoints',
    'put /agents/:id/savepoint/notes',
    'post /agents/:id/savepoint',
  ],
  Feedback: ['get /feedback/summary', 'get /feedback', 'post /feedback', 'delete /feedback/:id'],
  'Team chat': ['get /team-chat', 'post /team-chat'],
  'Team settings': [
    'get /team-settings',
    'post /team-settings/sync',
    'get /team-settings/:section',
    'put /team-settings/:section/:key',
    'delete /team-settings/:section/:key',
  ],
  Organizations: ['get /orgs', 'post /orgs', 'get /orgs/:id', 'put /orgs/:id', 'delete /orgs/:id'],
  Operators: [
    'get /operators',
    'get /operators/:id',
    'post /operators',
    'put /operators/:id/availability',
    'put /operators/:id',
    'delete /operators/:id',
  ],
  Teams: [
    'get /teams',
    'get /teams/:id',
    'get /teams/:id/projects',
    'post /teams',
    'put /teams/:id',
    'delete /teams/:id',
    'post /teams/:id/members',
    'put /teams/:id/members/:userId',
    'delete /teams/:id/members/:userId',
  ],
  Projects: [
    'get /projects',
    'post /projects',
    'get /projects/:id/bug-categories',
    'get /projects/:id',
    'put /projects/:id',
    'delete /projects/:id',
  ],
  Bugs: ['post /bugs', 'get /bugs', 'get /bugs/:id', 'post /bugs/:id/claim', 'put /bugs/:id', 'delete /bugs/:id'],
  Plans: [
    'get /plans',
    'post /plans',
    'get /plans/:id',
    'put /plans/:id',
    'delete /plans/:id',
    'post /plans/:id/steps',
    'put /plans/:id/reorder',
    'put /plans/:id/steps/:stepId',
    'delete /plans/:id/steps/:stepId',
    'get /plans/:id/steps/:stepId/comments',
    'post /plans/:id/steps/:stepId/comments',
  ],
  Events: ['get /events', 'post /events', 'post /events/stream-ticket', 'get /events/stream'],
  Webhooks: [
    'post /webhooks',
    'get /webhooks',
    'get /webhooks/deliveries',
    'post /webhooks/deliveries/:id/redeliver',
    'put /webhooks/:id',
    'delete /webhooks/:id',
  ],
  Inbox: [
    'get /inbox',
    'get /inbox/count',
    'post /inbox/bulk-dismiss',
    'post /inbox',
    'get /inbox/:id',
    'put /inbox/:id/read',
    'put /inbox/:id/action',
    'delete /inbox/:id',
  ],
  Channels: [
    'get /channels/unread',
    'get /channels',
    'post /channels',
    'post /channels/dm',
    'get /channels/:id',
    'put /channels/:id',
    'delete /channels/:id',
    'get /channels/:id/members',
    'post /channels/:id/members',
    'delete /channels/:id/members/:userId',
    'get /channels/:id/messages',
    'post /channels/:id/messages',
    'put /channels/:id/read',
  ],
  Agents: [
    'post /admin/agents',
    'put /admin/agents/:id/key',
    'post /agents/rekey',
    'get /agents',
    'get /agents/profiles',
    'get /agents/leaderboard',
    'delete /admin/agents/:id',
    'put /agents/:id',
    'get /agents/:agentId/skills',
    'get /agents/:id/profile',
    'put /agents/:id/profile',
    'get /agents/:id/identity',
    'put /agents/:id/identity',
    'get /agents/:id/mcp-config',
    'get /agents/:id',
  ],
  'Calibration profiles': [
    'get /profiles',
    'get /profiles/resolve/:agentId',
    'get /profiles/:id',
    'post /profiles',
    'put /profiles/:id',
    'delete /profiles/:id',
  ],
  Studio: [
    'post /studio/login',
    'get /studio/me',
    'post /studio/me/password',
    'post /studio/users',
    'get /studio/users',
    'put /studio/users/:id',
    'put /studio/users/:id/password',
    'delete /studio/users/:id',
    'post /studio/forgot-password',
    'post /studio/reset-password',
  ],
  'Agent templates': [
    'get /agent-templates',
    'get /agent-templates/:id',
    'post /agent-templates',
    'put /agent-templates/:id',
    'delete /agent-templates/:id',
    'post /agent-templates/:id/apply/:agentId',
  ],
};

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

const docPath = (p: string) => p.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('Issue 15 group A: contracts in the OpenAPI document', () => {
  it('lists every route of these areas under its tag', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    const missing: string[] = [];
    for (const [tag, routes] of Object.entries(ROUTES)) {
      for (const route of routes) {
        const [method, path] = route.split(' ');
        const item = doc.paths[`/api/mycelium${docPath(path)}`] ?? doc.paths[docPath(path)];
        const op = item?.[method];
        if (!op?.tags?.includes(tag)) missing.push(`${tag}: ${route}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('names the shared entities as components, without their internal columns', async () => {
    const s = (await t.call('GET', '/openapi.json')).body.components.schemas;
    expect(Object.keys(s.Agent.properties)).toContain('last_heartbeat');
    expect(Object.keys(s.Agent.properties)).not.toContain('api_key_hash');
    expect(Object.keys(s.Bug.properties)).not.toContain('lease_token');
    expect(Object.keys(s.PlanStep.properties)).not.toContain('lease_token');
    expect(Object.keys(s.Webhook.properties)).toContain('secret_set');
    expect(Object.keys(s.Webhook.properties)).not.toContain('secret');
  });
});

describe('Issue 15 group A: answers are shaped by their schema', () => {
  it('an agent row never carries its key hash, though the table holds one (SEC-39)', async () => {
    const a = await registerAgent(t, 'shape-agent-1');
    const row = await t.db.get<{ api_key_hash: string }>('SELECT api_key_hash FROM agents WHERE id = ?', [a.id]);
    expect(row?.api_key_hash).toBeTruthy();
    const one = await t.call('GET', `/agents/${a.id}`, { admin: true });
    expect(one.status).toBe(200);
    expect(one.body.id).toBe(a.id);
    expect(one.body).not.toHaveProperty('api_key_hash');
    const list = await t.call('GET', '/agents', { agentKey: a.key });
    const mine = list.body.find((x: { id: string }) => x.id === a.id);
    expect(mine).toBeDefined();
    expect(mine).not.toHaveProperty('api_key_hash');
    const tpl = await t.call('POST', '/agent-templates', { admin: true, body: { id: 'shape-tpl', name: 'Shape' } });
    expect(tpl.status).toBe(201);
    const applied = await t.call('POST', `/agent-templates/shape-tpl/apply/${a.id}`, { admin: true });
    expect(applied.status).toBe(200);
    expect(applied.body.agent.id).toBe(a.id);
    expect(applied.body.agent).not.toHaveProperty('api_key_hash');
  });

  it("a claimed bug's fencing token leaves only in the claim answer, never in the bug row", async () => {
    const a = await registerAgent(t, 'shape-agent-2', 'shape');
    const made = await t.call('POST', '/bugs', {
      admin: true,
      body: { title: 'shape bug', description: 'd', project_id: 'shape' },
    });
    expect(made.status).toBe(200);
    const claim = await t.call('POST', `/bugs/${made.body.id}/claim`, { agentKey: a.key });
    expect(claim.status).toBe(200);
    expect(typeof claim.body.lease_token).toBe('string');
    const stored = await t.db.get<{ lease_token: string }>('SELECT lease_token FROM bugs WHERE id = ?', [made.body.id]);
    expect(stored?.lease_token).toBe(claim.body.lease_token);
    const one = await t.call('GET', `/bugs/${made.body.id}`, { agentKey: a.key });
    expect(one.body.assignee).toBe(a.id);
    expect(one.body).not.toHaveProperty('lease_token');
    const list = await t.call('GET', '/bugs?project_id=shape', { admin: true });
    expect(list.body.bugs.map((b: { id: number }) => b.id)).toContain(made.body.id);
    for (const b of list.body.bugs) expect(b).not.toHaveProperty('lease_token');
  });

  it('a savepoint diff lists changed tasks without their fencing token', async () => {
    const a = await registerAgent(t, 'shape-agent-3', 'shape3');
    const hb = await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { status: 'busy', working_on: 'x' },
    });
    expect(hb.status).toBe(200);
    // Savepoint times have second resolution: the task must change strictly after it.
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 minute') WHERE agent_id = ?", [
      a.id,
    ]);
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'shape task', project_id: 'shape3' } });
    const claim = await t.call('POST', `/tasks/${task.body.id}/claim`, { agentKey: a.key });
    expect(claim.status).toBe(200);
    expect(typeof claim.body.lease_token).toBe('string');
    const diff = await t.call('GET', `/agents/${a.id}/savepoint/diff`, { agentKey: a.key });
    expect(diff.status).toBe(200);
    const changed = diff.body.changes.tasks_changed.find((x: { id: number }) => x.id === task.body.id);
    expect(changed).toBeDefined();
    expect(changed.assignee).toBe(a.id);
    expect(changed).not.toHaveProperty('lease_token');
  });
});
