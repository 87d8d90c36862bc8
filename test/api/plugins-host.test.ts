import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/** Polls until `fn` returns a truthy value (background hooks), without timing assertions. */
async function until<T>(t: Target, fn: () => Promise<T>, tries = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await t.settle();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

let t: Target;
let pluginDb: (name: string) => Db;
const opened: Db[] = [];

beforeAll(async () => {
  t = await startTarget();
  pluginDb = (name) => {
    const d = new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', `${name}.db`)));
    opened.push(d);
    return d;
  };
});
afterAll(async () => {
  for (const d of opened) await d.close();
  await t.close();
});

const tables = async (db: Db) =>
  (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r) => r.name);

describe('plugin management', () => {
  it('GET /plugins lists bundled plugins with enabled and loaded reported separately (admin only)', async () => {
    const r = await t.call('GET', '/plugins', { admin: true });
    expect(r.status).toBe(200);
    const names = r.body.map((p: { name: string }) => p.name);
    expect(names).toEqual(expect.arrayContaining(['guardrails', 'workflows', 'fault-injection']));
    const g = r.body.find((p: { name: string }) => p.name === 'guardrails');
    expect(g).toMatchObject({ enabled: 0, loaded: false, route_prefix: '/guardrails' });
    expect((await t.call('GET', '/plugins')).status).toBe(401);
    const a = await registerAgent(t, 'mgmt-agent');
    const byAgent = await t.call('GET', '/plugins', { agentKey: a.key });
    expect(byAgent.status).toBe(401);
    expect(byAgent.body.error).toBe('Authentication required');
  });

  it('GET /plugins/:name → 404 Plugin not found for an unknown name', async () => {
    const r = await t.call('GET', '/plugins/nope', { admin: true });
    expect(r.status).toBe(404);
    expect(r.body.error).toBe('Plugin not found');
  });

  it('enable and disable take effect on the next request (W9)', async () => {
    const off = await t.call('GET', '/plugins/fault-injection/ping', { admin: true });
    expect(off.status).toBe(404);
    expect(off.body.error).toBe('Plugin fault-injection is disabled');
    const en = await t.call('PUT', '/plugins/fault-injection/enable', { admin: true });
    expect(en.status).toBe(200);
    expect(en.body).toMatchObject({ ok: true, name: 'fault-injection', enabled: 1, loaded: true });
    expect((await t.call('GET', '/plugins/fault-injection/ping', { admin: true })).body).toEqual({
      ok: true,
      plugin: 'fault-injection',
    });
    const dis = await t.call('PUT', '/plugins/fault-injection/disable', { admin: true });
    expect(dis.body).toEqual({ ok: true, name: 'fault-injection', enabled: 0 });
    const again = await t.call('GET', '/plugins/fault-injection/ping', { admin: true });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('Plugin fault-injection is disabled');
    const ev = await t.db.all(
      "SELECT type FROM events WHERE type IN ('plugin_enabled', 'plugin_disabled') ORDER BY id",
    );
    expect(ev.map((e) => e.type)).toEqual(['plugin_enabled', 'plugin_disabled']);
  });

  it('SEC-39: secrets are masked on read and in the write response; the mask leaves them unchanged', async () => {
    const put = await t.call('PUT', '/plugins/fault-injection/config', {
      admin: true,
      body: { api_token: 'sk-very-secret', hook_mode: 'ok' },
    });
    expect(put.status).toBe(200);
    expect(put.text).not.toContain('sk-very-secret');
    expect(put.body.config.api_token).toBe('••••••••');
    const get = await t.call('GET', '/plugins/fault-injection/config', { admin: true });
    expect(get.text).not.toContain('sk-very-secret');
    expect(get.body).toMatchObject({ api_token: '••••••••', hook_mode: 'ok', fail_at_load: 'false' });
    await t.call('PUT', '/plugins/fault-injection/config', { admin: true, body: { api_token: '••••••••' } });
    const row = await t.db.get(
      "SELECT value, is_secret FROM plugin_config WHERE plugin_name = 'fault-injection' AND key = 'api_token'",
    );
    expect(row).toMatchObject({ value: 'sk-very-secret', is_secret: 1 });
  });

  it('config is validated against the schema before anything is written (W10)', async () => {
    const bad = await t.call('PUT', '/plugins/fault-injection/config', {
      admin: true,
      body: { hook_mode: 'explode', api_token: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('hook_mode must be one of: ok, throw, reject, hang');
    const unknown = await t.call('PUT', '/plugins/fault-injection/config', { admin: true, body: { nope: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('Unknown config key: nope');
    const row = await t.db.get(
      "SELECT value FROM plugin_config WHERE plugin_name = 'fault-injection' AND key = 'api_token'",
    );
    expect(row?.value).toBe('sk-very-secret');
  });

  it('install / uninstall: data kept unless purge is asked', async () => {
    expect((await t.call('POST', '/plugins/install', { admin: true, body: {} })).body.error).toBe(
      'Plugin name required',
    );
    expect((await t.call('POST', '/plugins/install', { admin: true, body: { name: 'ghost' } })).status).toBe(404);
    const ins = await t.call('POST', '/plugins/install', { admin: true, body: { name: 'fault-injection' } });
    expect(ins.body).toMatchObject({ ok: true, name: 'fault-injection', loaded: true });
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'hooked' } });
    expect(task.status).toBe(200);
    const fdb = pluginDb('fault-injection');
    await until(t, async () => (await fdb.get('SELECT COUNT(*) AS n FROM fault_hook_runs'))?.n);
    const un = await t.call('DELETE', '/plugins/fault-injection/uninstall', { admin: true });
    expect(un.body).toMatchObject({ ok: true, name: 'fault-injection', purged: false });
    expect(await tables(fdb)).toContain('fault_hook_runs');
    expect(
      await t.db.get("SELECT COUNT(*) AS n FROM plugin_config WHERE plugin_name = 'fault-injection'"),
    ).toMatchObject({ n: 0 });
    const purge = await t.call('DELETE', '/plugins/fault-injection/uninstall?purge=true', { admin: true });
    expect(purge.body.purged).toBe(true);
    expect(await tables(fdb)).not.toContain('fault_hook_runs');
    // Reinstall recreates the schema from its migrations.
    await t.call('POST', '/plugins/install', { admin: true, body: { name: 'fault-injection' } });
    expect((await t.call('GET', '/plugins/fault-injection/hook-runs', { admin: true })).body).toEqual({ runs: [] });
    await t.call('PUT', '/plugins/fault-injection/disable', { admin: true });
  });

  it('nav, widgets, all-widgets, workers and registry answer for admins', async () => {
    expect((await t.call('GET', '/plugins/nav', { admin: true })).body).toEqual([]);
    expect((await t.call('GET', '/plugins/all-widgets', { admin: true })).body).toEqual([]);
    expect((await t.call('GET', '/plugins/workers', { admin: true })).body).toEqual({});
    expect((await t.call('GET', '/plugins/guardrails/widgets', { admin: true })).body).toEqual({ widgets: [] });
    const reg = await t.call('GET', '/plugins/registry', { admin: true });
    expect(reg.body.plugins.map((p: { name: string }) => p.name)).toContain('guardrails');
  });
});

describe('isolation', () => {
  it("P-10: a plugin's tables live in its own database and the core database has none of them", async () => {
    expect((await t.call('PUT', '/plugins/guardrails/enable', { admin: true })).body.loaded).toBe(true);
    expect(existsSync(join(t.dataDir, 'plugins', 'guardrails.db'))).toBe(true);
    const own = await tables(pluginDb('guardrails'));
    expect(own).toEqual(expect.arrayContaining(['guardrail_rules', 'guardrail_violations', 'guardrail_rule_history']));
    const core = await tables(t.db);
    expect(core.filter((n) => /^(guardrail|workflow|automation|cost_|error_events|digest_|fault_)/.test(n))).toEqual(
      [],
    );
    expect(core).toEqual(expect.arrayContaining(['plugins', 'plugin_config', 'plugin_migrations']));
    const mig = await t.db.all("SELECT version, description FROM plugin_migrations WHERE plugin_name = 'guardrails'");
    expect(mig).toEqual([{ version: 1, description: '001_init' }]);
  });

  it('REL-12: a plugin that throws or rejects in a route gets 500 Internal server error and the server keeps serving', async () => {
    await t.call('PUT', '/plugins/fault-injection/enable', { admin: true });
    const a = await t.call('GET', '/plugins/fault-injection/throw', { admin: true });
    expect(a.status).toBe(500);
    expect(a.body).toEqual({ error: 'Internal server error' });
    const b = await t.call('GET', '/plugins/fault-injection/reject', { admin: true });
    expect(b.status).toBe(500);
    expect(b.body).toEqual({ error: 'Internal server error' });
    expect((await t.call('GET', '/health')).status).toBe(200);
    const detail = await t.call('GET', '/plugins/fault-injection', { admin: true });
    expect(detail.body.errors.route_errors).toBeGreaterThanOrEqual(t.runtime === 'node' ? 2 : 0);
  });

  it('REL-12: a hook that throws, rejects or hangs never fails the core request, and later requests are served', async () => {
    const fdb = pluginDb('fault-injection');
    for (const mode of ['throw', 'reject', 'hang']) {
      await t.call('PUT', '/plugins/fault-injection/config', { admin: true, body: { hook_mode: mode } });
      const r = await t.call('POST', '/tasks', { admin: true, body: { title: `during ${mode}` } });
      expect(r.status).toBe(200);
      const id = r.body.id;
      const ev = await t.db.get<{ id: number }>(
        "SELECT id FROM events WHERE type = 'task_created' AND json_extract(data, '$.task_id') = ?",
        [id],
      );
      // The hook ran for this very event (it records first, then misbehaves) ...
      await until(
        t,
        async () => (await fdb.get('SELECT 1 AS ok FROM fault_hook_runs WHERE event_id = ?', [ev!.id]))?.ok,
      );
      // ... and the task is there and the server serves.
      expect((await t.call('GET', `/tasks/${id}`, { admin: true })).status).toBe(200);
      expect((await t.call('GET', '/health')).status).toBe(200);
    }
    await t.call('PUT', '/plugins/fault-injection/config', { admin: true, body: { hook_mode: 'ok' } });
    await t.call('PUT', '/plugins/fault-injection/disable', { admin: true });
  });

  it("a disabled plugin's hooks are skipped", async () => {
    const fdb = pluginDb('fault-injection');
    const before = (await fdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM fault_hook_runs'))!.n;
    const r = await t.call('POST', '/tasks', { admin: true, body: { title: 'while disabled' } });
    expect(r.status).toBe(200);
    await t.settle();
    const marker = await t.call('PUT', '/plugins/guardrails/enable', { admin: true }); // any later request
    expect(marker.status).toBe(200);
    await t.settle();
    expect((await fdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM fault_hook_runs'))!.n).toBe(before);
  });
});

describe('auth on plugin routes', () => {
  it('SEC-38 / P-07: every mounted plugin route that is not declared public answers 401 without credentials', async () => {
    const list = await t.call('GET', '/plugins', { admin: true });
    for (const p of list.body) await t.call('PUT', `/plugins/${p.name}/enable`, { admin: true });
    let checked = 0;
    let publicSeen = 0;
    for (const p of list.body) {
      const d = await t.call('GET', `/plugins/${p.name}`, { admin: true });
      expect(d.body.loaded, p.name).toBe(true);
      for (const r of d.body.routes as { method: string; path: string; auth: string }[]) {
        const path = `/plugins/${p.name}${r.path.replace(/:\w+/g, '1')}`;
        const res = await t.call(r.method, path, r.method === 'GET' ? {} : { body: {} });
        if (d.body.public_routes.includes(`${r.method} ${r.path}`)) {
          publicSeen++;
          expect(res.status, `${r.method} ${path}`).not.toBe(200); // public routes verify their caller themselves
        } else {
          expect(res.status, `${r.method} ${path}`).toBe(401);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(publicSeen).toBe(4); // error-monitor's three webhooks, github-sync's one
    for (const p of list.body)
      if (p.name !== 'workflows') await t.call('PUT', `/plugins/${p.name}/disable`, { admin: true });
  });

  it('GET /plugins/mcp-tools: every tool of every enabled plugin has an endpoint that is a mounted, callable route (W11)', async () => {
    const list = await t.call('GET', '/plugins', { admin: true });
    for (const p of list.body) await t.call('PUT', `/plugins/${p.name}/enable`, { admin: true });
    const r = await t.call('GET', '/plugins/mcp-tools', { agentKey: (await registerAgent(t, 'mcp-agent')).key });
    expect(r.status).toBe(200);
    const g = r.body.filter((x: { plugin: string }) => x.plugin === 'guardrails');
    expect(g.map((x: { name: string }) => x.name).sort()).toEqual([
      'mycelium_guardrails_check',
      'mycelium_guardrails_rules',
      'mycelium_guardrails_stats',
      'mycelium_guardrails_violations',
    ]);
    expect(new Set(r.body.map((x: { plugin: string }) => x.plugin))).toEqual(
      new Set([
        'guardrails',
        'workflows',
        'workflow-automations',
        'cost-tracker',
        'error-monitor',
        'daily-digest',
        'semantic-memory',
        'auto-memory',
        'github-sync',
      ]),
    );
    for (const tool of r.body) {
      expect(tool.endpoint.path, tool.name).toMatch(/^\//);
      const path = tool.endpoint.path.replace(/\{\w+\}|:\w+/g, '1');
      const res = await t.call(tool.endpoint.method, path, {
        admin: true,
        body: tool.endpoint.method === 'GET' ? undefined : { event_type: 'task_created' },
      });
      // A missing route answers the generic {error:'Not found'}; a missing record has its own message.
      expect(
        res.status === 404 && res.body?.error === 'Not found',
        `${tool.name} ${tool.endpoint.method} ${path}`,
      ).toBe(false);
      expect(res.status, tool.name).not.toBe(500);
    }
    for (const p of list.body)
      if (p.name !== 'workflows') await t.call('PUT', `/plugins/${p.name}/disable`, { admin: true });
  });
});
