import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';

/**
 * REL-25: every mounted route, called once with admin credentials (and once with an agent key)
 * and an empty or junk body, answers something other than 500. The route list is read from the
 * app itself, so a new route is covered the day it is mounted.
 */
let t: Target;
let agentKey: string;
let routes: { method: string; path: string }[];

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-routes-'));
  const runtime = createNodeRuntime({
    config: loadConfig({ ADMIN_KEY: 'r'.repeat(40), JWT_SECRET: 's'.repeat(40), DATA_DIR: dir }),
  });
  await prepareDatabase(runtime);
  const { app } = createApp(runtime);
  const seen = new Set<string>();
  routes = app.routes
    .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/mycelium/'))
    .filter((r) => {
      const k = `${r.method} ${r.path}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .map((r) => ({ method: r.method, path: r.path }));
  await runtime.close();
  rmSync(dir, { recursive: true, force: true });
  t = await startTarget();
  agentKey = (await registerAgent(t, 'route-walker', 'walk')).key;
});
afterAll(async () => t?.close());

const fill = (path: string) =>
  path
    .replace(/:([A-Za-z_]+)\{[^}]*\}/g, '1')
    .replace(
      /:(id|taskId|stepId|planId|bugId|messageId|approvalId|webhookId|userId|channelId|itemId|runId|jobId|nodeId|ruleId|version)\b/g,
      '1',
    )
    .replace(/:[A-Za-z_]+/g, 'route-walker')
    .replace(/\*$/, 'x');

describe('route manifest (REL-25)', () => {
  it('lists the mounted routes', () => {
    expect(routes.length).toBeGreaterThan(10);
  });

  it('no route answers 500 to an admin with an empty body or a junk body', async () => {
    const failures: string[] = [];
    for (const r of routes) {
      if (/stream/.test(r.path)) continue; // long-lived SSE responses are covered by their own tests
      const path = fill(r.path);
      for (const body of [{}, { id: 7, name: ['x'], project_id: { a: 1 }, status: 42, value: null }]) {
        const res = await t.call(r.method, path, { admin: true, body: r.method === 'GET' ? undefined : body });
        if (res.status >= 500 && res.status !== 501 && res.status !== 503)
          failures.push(`${r.method} ${path} → ${res.status} ${res.text.slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('route × role matrix: every admin-only route denies agent keys and non-admin operators', async () => {
    const member = await createOperator(t, 'matrix-member', 'member');
    const adminOnly: string[] = [];
    const leaks: string[] = [];
    for (const r of routes) {
      if (/stream/.test(r.path)) continue;
      const path = fill(r.path);
      const body = r.method === 'GET' ? undefined : {};
      const asMember = await t.call(r.method, path, { token: member.token, body });
      if (asMember.body?.error !== 'Admin role required') continue;
      adminOnly.push(`${r.method} ${r.path}`);
      const asAgent = await t.call(r.method, path, { agentKey, body });
      if (asAgent.status !== 401 && asAgent.status !== 403) leaks.push(`${r.method} ${path} → agent ${asAgent.status}`);
      const anonymous = await t.call(r.method, path, { body });
      if (anonymous.status !== 401 && anonymous.status !== 403)
        leaks.push(`${r.method} ${path} → anonymous ${anonymous.status}`);
    }
    // the matrix must actually cover the admin surface (registration, config, plugins, webhooks …)
    expect(adminOnly.length).toBeGreaterThan(40);
    for (const must of [
      'POST /api/mycelium/admin/agents',
      'PUT /api/mycelium/admin/config/:key',
      'POST /api/mycelium/webhooks',
      'PUT /api/mycelium/plugins/:name/enable',
      'GET /api/mycelium/studio/users',
    ]) {
      expect(adminOnly).toContain(must);
    }
    expect(leaks).toEqual([]);
  }, 120_000);

  it('no route answers 500 to an agent key', async () => {
    const failures: string[] = [];
    for (const r of routes) {
      if (/stream/.test(r.path)) continue;
      const path = fill(r.path);
      const res = await t.call(r.method, path, { agentKey, body: r.method === 'GET' ? undefined : {} });
      if (res.status >= 500 && res.status !== 501 && res.status !== 503)
        failures.push(`${r.method} ${path} → ${res.status} ${res.text.slice(0, 120)}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
