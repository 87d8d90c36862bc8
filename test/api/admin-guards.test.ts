import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { requireAdmin } from '../../worker/src/auth/principal.js';
import { pluginHostOf } from '../../worker/src/plugins/host.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';

/**
 * Every admin guard answers each kind of wrong credential with the sentence that matches it
 * (spec 07 standard auth errors, SEC-05). The admin routes are read from the app itself: core
 * routes guarded by `requireAdmin` and plugin routes declared `auth: 'admin'`, so a route mounted
 * tomorrow is walked too.
 */
let t: Target;
const routes: { method: string; path: string }[] = [];
let agentKey: string;
let operator: { id: number; token: string };
let demoted: { id: number; token: string };

const fill = (path: string) =>
  path
    .replace(/:([A-Za-z_]+)\{[^}]*\}/g, '1')
    .replace(
      /:(id|taskId|stepId|planId|bugId|messageId|approvalId|webhookId|userId|channelId|itemId|runId|jobId|nodeId|ruleId|version|historyId)\b/g,
      '1',
    )
    .replace(/:[A-Za-z_]+/g, 'guard-walker')
    .replace(/\*$/, 'x');

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-guards-'));
  const runtime = createNodeRuntime({
    config: loadConfig({ ADMIN_KEY: 'g'.repeat(40), JWT_SECRET: 'h'.repeat(40), DATA_DIR: dir }),
  });
  await prepareDatabase(runtime);
  const { app, ctx } = createApp(runtime);
  const seen = new Set<string>();
  for (const r of app.routes) {
    if (r.handler !== requireAdmin || !r.path.startsWith('/api/mycelium/')) continue;
    const k = `${r.method} ${r.path}`;
    // `use(path, requireAdmin)` guards every method of a prefix; walk it with GET.
    if (!seen.has(k)) routes.push({ method: r.method === 'ALL' ? 'GET' : r.method, path: r.path });
    seen.add(k);
  }
  const host = pluginHostOf(ctx);
  await host.ready;
  for (const name of host.known.keys()) {
    if (!(await host.ensureLoaded(name))) continue;
    for (const r of host.loaded.get(name)!.routes) {
      if (r.auth === 'admin')
        routes.push({ method: r.method, path: `/api/mycelium/plugins/${name}${r.path === '/' ? '' : r.path}` });
    }
  }
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });

  t = await startTarget();
  // Plugins answer 404 while disabled, before any guard runs: enable them all for the walk.
  for (const name of host.known.keys()) await t.call('PUT', `/plugins/${name}/enable`, { admin: true });
  agentKey = (await registerAgent(t, 'guard-walker', 'walk')).key;
  operator = await createOperator(t, 'guard-operator', 'operator');
  demoted = await createOperator(t, 'guard-demoted', 'admin');
  const d = await t.call('PUT', `/studio/users/${demoted.id}`, { admin: true, body: { role: 'operator' } });
  expect(d.status).toBe(200);
});
afterAll(async () => t?.close());

describe('admin guards: the sentence matches the credential presented', () => {
  it('SEC-05: a demoted admin operator keeps its session but gets 403 Admin role required on an admin route', async () => {
    const r = await t.call('GET', '/studio/users', { token: demoted.token });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'Admin role required' });
    // The session itself still works where an operator may go.
    expect((await t.call('GET', '/agents', { token: demoted.token })).status).toBe(200);
  });

  it('SEC-05 / spec 07 auth errors: every admin route (core and plugin) answers operator, demoted operator, agent key, wrong admin key and nothing alike', async () => {
    expect(routes.length).toBeGreaterThan(60);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining([
        'GET /api/mycelium/studio/users',
        'POST /api/mycelium/admin/agents',
        'PUT /api/mycelium/approvals/:id',
      ]),
    );
    expect(routes.some((r) => r.path.startsWith('/api/mycelium/plugins/guardrails/'))).toBe(true);
    const wrongKey = `${'g'.repeat(39)}x`;
    const cases: [string, Parameters<Target['call']>[2], number, string][] = [
      ['non-admin operator', { token: operator.token }, 403, 'Admin role required'],
      ['demoted operator', { token: demoted.token }, 403, 'Admin role required'],
      ['agent key', { agentKey }, 401, 'Authentication required'],
      ['wrong admin key', { headers: { 'X-Admin-Key': wrongKey } }, 403, 'Invalid admin key'],
      ['nothing', {}, 401, 'Authentication required'],
    ];
    const wrong: string[] = [];
    for (const r of routes) {
      if (/stream/.test(r.path)) continue;
      const path = fill(r.path).replace(/^\/api\/mycelium/, '');
      for (const [name, opts, status, error] of cases) {
        const res = await t.call(r.method, path, { ...opts, body: r.method === 'GET' ? undefined : {} });
        if (res.status !== status || res.body?.error !== error)
          wrong.push(`${r.method} ${r.path} as ${name} → ${res.status} ${res.text.slice(0, 80)}`);
      }
    }
    expect(wrong).toEqual([]);
  }, 180_000);
});
