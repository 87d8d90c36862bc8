import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { createContext } from '../../worker/src/context.js';
import type { Logger } from '../../worker/src/runtime.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { HOOK_WRITES_PER_MINUTE, startPluginHost } from '../../worker/src/plugins/host.js';
import { pluginRoutes } from '../../worker/src/plugins/routes.js';
import { taskRoutes } from '../../worker/src/domain/tasks/routes.js';
import { frame, identify, jsonBody } from '../../worker/src/http/pipeline.js';
import { Hono } from 'hono';
import type { AppEnv } from '../../worker/src/http/env.js';
import type { PluginApi, PluginSource } from '../../worker/src/plugins/types.js';
import { renderPluginsModule } from '../../scripts/gen-plugins.mjs';

const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (lvl: string) => (m: string) => void lines.push(`${lvl} ${m}`);
  return { lines, log: { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') } };
}

async function runtime(dataDir?: string, clock?: { now(): Date }) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'mycelium-plugins-'));
  if (!dataDir) dirs.push(dir);
  const { log, lines } = capture();
  const config = loadConfig({
    ADMIN_KEY: `k_${randomBytes(16).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: dir,
  });
  const rt = createNodeRuntime({ config, log, clock });
  closers.push(() => rt.close());
  await prepareDatabase(rt);
  return { rt, dir, lines, config };
}

const manifest = (name: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name, version: '1.0.0', enabled: true, ...extra });
const good = (name: string, over: Partial<PluginSource> = {}): PluginSource => ({
  dir: name,
  manifest: manifest(name),
  mcpTools: null,
  migrations: [{ name: '001_init', sql: `CREATE TABLE ${name.replace(/-/g, '_')}_items (id INTEGER PRIMARY KEY);` }],
  load: async () => ({ setup: (api: PluginApi) => api.get('/ping', () => ({ pong: true })) }),
  ...over,
});

describe('plugin host (Node)', () => {
  it('the generated registry is up to date with plugins/', () => {
    const file = readFileSync(join(process.cwd(), 'worker/src/plugins/registry.generated.ts'), 'utf8');
    expect(file).toBe(renderPluginsModule());
  });

  it('load-time failures are contained: bad manifests, import/setup throws and failing migrations refuse only that plugin, with one log line each', async () => {
    const { rt, lines } = await runtime();
    const ctx = createContext(rt);
    const host = startPluginHost(ctx, [
      good('alpha'),
      { ...good('bad-json'), manifest: '{ not json' },
      { ...good('bad-field'), manifest: manifest('bad-field', { routePrefix: 'no-slash' }) },
      { ...good('mismatch'), manifest: manifest('other-name') },
      good('import-throws', { load: () => Promise.reject(new Error('boom at import')) }),
      good('setup-throws', {
        load: async () => ({
          setup: (api: PluginApi) => {
            api.get('/x', () => 1);
            throw new Error('boom in setup');
          },
        }),
      }),
      good('bad-migration', {
        migrations: [{ name: '001_init', sql: 'CREATE TABLE ok_one (id INTEGER);\nTHIS IS NOT SQL;' }],
      }),
      good('public-undeclared', {
        load: async () => ({ setup: (api: PluginApi) => api.post('/hook', () => 1, { auth: 'public' }) }),
      }),
      good('omega'),
    ]);
    await host.ready;
    expect([...host.loaded.keys()].sort()).toEqual(['alpha', 'omega']);
    expect(host.failed.get('bad-json')).toMatch(/^plugin\.json is not valid JSON/);
    expect(host.failed.get('bad-field')).toMatch(/^invalid plugin\.json: routePrefix: /);
    expect(host.failed.get('mismatch')).toBe('plugin.json name "other-name" does not match its folder "mismatch"');
    expect(host.failed.get('import-throws')).toBe('boom at import');
    expect(host.failed.get('setup-throws')).toBe('boom in setup');
    expect(host.failed.get('bad-migration')).toMatch(/^Migration 001_init failed/);
    expect(host.failed.get('public-undeclared')).toBe(
      'route POST /hook is public but not listed in plugin.json publicRoutes',
    );
    for (const n of [
      'bad-json',
      'bad-field',
      'mismatch',
      'import-throws',
      'setup-throws',
      'bad-migration',
      'public-undeclared',
    ]) {
      expect(lines.filter((l) => l.startsWith(`error [plugins] Failed to load ${n}: `))).toHaveLength(1);
    }
    // W12/W13: the failed migration left nothing behind, and the failed setup registered nothing.
    const bad = await rt.pluginDb('bad-migration');
    expect(await bad.get("SELECT name FROM sqlite_master WHERE name = 'ok_one'")).toBeUndefined();
    expect(lines).toContain(
      'info [plugins] 2 plugin(s) loaded (7 failed: bad-json, bad-field, mismatch, import-throws, setup-throws, bad-migration, public-undeclared)',
    );
  });

  it('P-14: the start-up log has one line per plugin naming its routes, migrations, MCP tools and hooks, a skip line per disabled plugin, and a summary', async () => {
    const { rt, lines } = await runtime();
    const { app } = createApp(rt);
    await app.fetch(
      new Request('http://localhost/api/mycelium/plugins/mcp-tools', {
        headers: { 'X-Admin-Key': rt.config.adminKey },
      }),
    );
    expect(lines).toContain('info [plugins] Skipping disabled plugin: guardrails');
    expect(lines.some((l) => /^info \[plugins\] \d+ plugin\(s\) loaded/.test(l))).toBe(true);
    // Enabling loads it and logs its line.
    const en = await app.fetch(
      new Request('http://localhost/api/mycelium/plugins/guardrails/enable', {
        method: 'PUT',
        headers: { 'X-Admin-Key': rt.config.adminKey },
      }),
    );
    expect(en.status).toBe(200);
    const line = lines.find((l) => l.startsWith('info [plugins] Loaded guardrails v'));
    expect(line).toContain('routes /api/mycelium/plugins/guardrails/ (alias /api/mycelium/guardrails/)');
    expect(line).toContain('migrations applied 001_init');
    expect(line).toContain(
      'MCP tools 4 (mycelium_guardrails_rules, mycelium_guardrails_check, mycelium_guardrails_violations, mycelium_guardrails_stats)',
    );
    expect(line).toContain('event hooks: *');
  });

  it('spec 06 §5.10 / W2: github-sync shares /github with the core PR proxy (logged) and logs its own start-up line', async () => {
    const { rt, lines } = await runtime();
    const { app } = createApp(rt);
    expect(lines).toContain(
      'info [plugins] github-sync: route prefix /github shared with core routes under /github/prs (the core keeps those)',
    );
    const en = await app.fetch(
      new Request('http://localhost/api/mycelium/plugins/github-sync/enable', {
        method: 'PUT',
        headers: { 'X-Admin-Key': rt.config.adminKey },
      }),
    );
    expect(en.status).toBe(200);
    const line = lines.find((l) => l.startsWith('info [plugins] Loaded github-sync v'));
    expect(line).toContain('routes /api/mycelium/plugins/github-sync/ (alias /api/mycelium/github/)');
    expect(line).toContain('public: POST /webhook');
    expect(line).toContain('migrations applied 001_init');
    expect(line).toContain('event hooks: task_done, task_cancelled, bug_updated');
  });

  it('a plugin that throws at load (after a restart) is marked failed and the server keeps serving; its database file is 0600 in DATA_DIR/plugins', async () => {
    const first = await runtime();
    const a = createApp(first.rt).app;
    const admin = { 'X-Admin-Key': first.rt.config.adminKey, 'Content-Type': 'application/json' };
    expect(
      (
        await a.fetch(
          new Request('http://localhost/api/mycelium/plugins/fault-injection/enable', {
            method: 'PUT',
            headers: admin,
          }),
        )
      ).status,
    ).toBe(200);
    const cfg = await a.fetch(
      new Request('http://localhost/api/mycelium/plugins/fault-injection/config', {
        method: 'PUT',
        headers: admin,
        body: JSON.stringify({ fail_at_load: true }),
      }),
    );
    expect(cfg.status).toBe(200);
    const file = join(first.dir, 'plugins', 'fault-injection.db');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(first.dir, 'plugins')).mode & 0o777).toBe(0o700);

    // "Restart": a new app over the same data folder.
    const { lines } = capture();
    const rt2 = createNodeRuntime({
      config: first.config,
      log: {
        debug: () => undefined,
        info: (m) => void lines.push(m),
        warn: (m) => void lines.push(m),
        error: (m) => void lines.push(m),
      },
    });
    closers.push(() => rt2.close());
    const b = createApp(rt2).app;
    const ping = await b.fetch(
      new Request('http://localhost/api/mycelium/plugins/fault-injection/ping', { headers: admin }),
    );
    expect(ping.status).toBe(503);
    expect(await ping.json()).toEqual({ error: 'Plugin fault-injection failed to load' });
    expect(lines).toContain('[plugins] Failed to load fault-injection: fault-injection: configured to fail at load');
    expect((await b.fetch(new Request('http://localhost/health'))).status).toBe(200);
    const list = await (await b.fetch(new Request('http://localhost/api/mycelium/plugins', { headers: admin }))).json();
    expect(list.find((p: { name: string }) => p.name === 'fault-injection')).toMatchObject({
      enabled: 1,
      loaded: false,
      load_error: 'fault-injection: configured to fail at load',
    });
    const task = await b.fetch(
      new Request('http://localhost/api/mycelium/tasks', {
        method: 'POST',
        headers: admin,
        body: JSON.stringify({ title: 'still works' }),
      }),
    );
    expect(task.status).toBe(200);
  });

  it('SEC-36 / REL-13: an enabled guard plugin that failed to load refuses guarded writes (503) instead of letting them through', async () => {
    const { rt, lines } = await runtime();
    const ctx = createContext(rt);
    const host = startPluginHost(ctx, [
      good('strict', {
        manifest: manifest('strict', { preMutationGuard: true }),
        load: async () => ({
          setup: () => {
            throw new Error('cannot install');
          },
        }),
      }),
    ]);
    await host.ready;
    const p = { kind: 'admin', isAdmin: true, who: '__system__', actingAs: null } as const;
    await expect(ctx.guards.check('task.create', { title: 'x' }, p)).rejects.toMatchObject({ status: 503 });
    // Disabled → allowed (fail open when the operator turned it off), with one loud warning.
    await rt.db.run("UPDATE plugins SET enabled = 0 WHERE name = 'strict'");
    await expect(ctx.guards.check('task.create', { title: 'x' }, p)).resolves.toBeUndefined();
    await expect(ctx.guards.check('task.create', { title: 'y' }, p)).resolves.toBeUndefined();
    expect(lines.filter((l) => l.includes('NO PRE-MUTATION GUARD INSTALLED'))).toHaveLength(1);
  });

  it('W2: a plugin route prefix that collides with a core route is refused there (logged) and served under /plugins/<name>/ only', async () => {
    const { rt, lines } = await runtime();
    const ctx = createContext(rt);
    startPluginHost(ctx, [
      good('sneaky', { manifest: manifest('sneaky', { routePrefix: '/tasks' }) }),
      good('fine', { manifest: manifest('fine', { routePrefix: '/fine' }) }),
    ]);
    const app = new Hono<AppEnv>();
    app.use('*', frame(ctx));
    app.use('*', identify(ctx));
    app.use('*', jsonBody(ctx));
    const api = new Hono<AppEnv>();
    api.route('/', taskRoutes(ctx));
    api.route('/', pluginRoutes(ctx, api));
    app.route('/api/mycelium', api);
    app.onError((err, c) => c.json({ error: err.message }, 404));
    const h = { 'X-Admin-Key': rt.config.adminKey };
    expect(lines).toContain(
      'error [plugins] sneaky: route prefix /tasks collides with a core or plugin route; not mounted there (the plugin is served under /api/mycelium/plugins/sneaky/)',
    );
    const core = await app.fetch(new Request('http://localhost/api/mycelium/tasks/ping', { headers: h }));
    expect(core.status).not.toBe(200);
    expect(
      await (await app.fetch(new Request('http://localhost/api/mycelium/plugins/sneaky/ping', { headers: h }))).json(),
    ).toEqual({ pong: true });
    expect(
      await (await app.fetch(new Request('http://localhost/api/mycelium/fine/ping', { headers: h }))).json(),
    ).toEqual({ pong: true });
  });

  it('SEC-36 / REL-13: after a restart the very first write is already checked by guardrails (wired before routes serve)', async () => {
    const first = await runtime();
    const a = createApp(first.rt).app;
    const admin = { 'X-Admin-Key': first.rt.config.adminKey, 'Content-Type': 'application/json' };
    const post = (
      app: typeof a,
      path: string,
      body: unknown,
      headers: Record<string, string> = admin,
      method = 'POST',
    ) =>
      app.fetch(new Request(`http://localhost/api/mycelium${path}`, { method, headers, body: JSON.stringify(body) }));
    expect((await post(a, '/plugins/guardrails/enable', {}, admin, 'PUT')).status).toBe(200);
    const reg = await (await post(a, '/admin/agents', { id: 'agent-z', name: 'agent-z', project_id: 'proj' })).json();
    const rule = await post(a, '/guardrails/rules', {
      name: 'no-z',
      trigger_event: 'task_created',
      enforcement: 'block',
      conditions: { type: 'block_agent', agent_id: 'agent-z' },
    });
    expect(rule.status).toBe(200);

    const rt2 = createNodeRuntime({ config: first.config, log: capture().log });
    closers.push(() => rt2.close());
    const b = createApp(rt2).app;
    // No warm-up request, no waiting: the first thing the new process serves is the write.
    const r = await post(
      b,
      '/tasks',
      { title: 'sneak in at boot' },
      { 'X-Agent-Key': reg.api_key, 'Content-Type': 'application/json' },
    );
    expect(r.status).toBe(403);
    expect((await r.json()).error).toBe('Blocked by guardrail: no-z');
    expect(await rt2.db.get("SELECT id FROM tasks WHERE title = 'sneak in at boot'")).toBeUndefined();
  });

  it('W7: a hook cycle (a hook whose write triggers itself) is bounded per minute and logged, never unbounded', async () => {
    const fixed = new Date('2026-05-01T10:00:00Z');
    const { rt, lines } = await runtime(undefined, { now: () => fixed });
    const ctx = createContext(rt);
    const host = startPluginHost(ctx, [
      good('looper', {
        load: async () => ({
          setup: (api: PluginApi) => api.on('ping_loop', () => api.emit({ type: 'ping_loop', summary: 'again' })),
        }),
      }),
    ]);
    await host.ready;
    await ctx.events.emit({ type: 'ping_loop', summary: 'first' });
    await rt.settle();
    const n = (await rt.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'ping_loop'"))!.n;
    expect(n).toBe(1 + HOOK_WRITES_PER_MINUTE);
    expect(
      lines.filter((l) => l.includes(`looper: more than ${HOOK_WRITES_PER_MINUTE} writes from hooks this minute`)),
    ).toHaveLength(1);
    expect(host.statsOf('looper').hook_errors).toBeGreaterThanOrEqual(1);
  });

  it("REL-12: throwing, rejecting and hanging hooks are logged and counted per plugin; the other plugins' hooks still run", async () => {
    const { rt, lines } = await runtime();
    const ctx = createContext(rt);
    const seen: string[] = [];
    const host = startPluginHost(ctx, [
      good('bad-hooks', {
        load: async () => ({
          setup: (api: PluginApi) => {
            api.on('ping', () => {
              throw new Error('sync boom');
            });
            api.on('ping', async () => {
              throw new Error('async boom');
            });
            api.on('ping', () => new Promise(() => undefined));
          },
        }),
      }),
      good('good-hooks', {
        load: async () => ({ setup: (api: PluginApi) => api.on('*', (ev) => void seen.push(ev.type)) }),
      }),
    ]);
    await host.ready;
    const ev = await ctx.events.emit({ type: 'ping', summary: 'x' });
    expect(ev.id).toBeGreaterThan(0);
    await rt.settle();
    expect(seen).toEqual(['ping']);
    expect(host.statsOf('bad-hooks')).toMatchObject({ hook_errors: 2, hook_timeouts: 1 });
    expect(lines.filter((l) => l.startsWith('error [plugins] bad-hooks: event hook error for ping'))).toHaveLength(3);
  });
});
