import { atomicWrite } from '../domain/events/write.js';
import type { AppContext } from '../context.js';
import type { Principal } from '../auth/principal.js';
import type { Statement } from '../db/types.js';
import { badRequest, invalidEnum, notFound } from '../http/errors.js';
import { widgetsOf } from './manifest.js';
import { pluginsRepo, type PluginRow } from './repo.js';
import { SECRET_MASK, type PluginHost } from './host.js';

/** Management rules behind the /plugins endpoints (spec 06 §3 with W9, W10; spec 07 SEC-39). */

const who = (p: Principal) => p.who;

async function rowOr404(ctx: AppContext, name: string): Promise<PluginRow> {
  const row = await pluginsRepo.get(ctx.db, name);
  if (!row) throw notFound('Plugin not found');
  return row;
}

/** A plugin is enabled only where it can have its own database (on Workers: its binding is set). */
function assertPluginDbAvailable(ctx: AppContext, name: string) {
  const problem = ctx.runtime.pluginDbProblem(name);
  if (problem) throw badRequest(`Plugin ${name} cannot be enabled: ${problem}`);
}

/** Enabled (operator flag) and loaded (running in this process) are reported separately (W9). */
function withState(host: PluginHost, row: PluginRow) {
  return { ...row, loaded: host.loaded.has(row.name), load_error: host.failed.get(row.name) ?? null };
}

export async function listPlugins(ctx: AppContext, host: PluginHost) {
  await host.ready;
  return (await pluginsRepo.all(ctx.db)).map((r) => withState(host, r));
}

export async function pluginDetail(ctx: AppContext, host: PluginHost, name: string) {
  await host.ready;
  const row = await rowOr404(ctx, name);
  const known = host.known.get(name);
  const loaded = host.loaded.get(name);
  return {
    ...withState(host, row),
    type: known?.manifest.type ?? 'legacy',
    config_schema: (known?.fields ?? []).map((f) => ({ ...f })),
    mcp_tools: (loaded?.tools ?? []).map((t) => ({ name: t.name, description: t.description })),
    hooks: loaded ? [...new Set(loaded.hooks.map((h) => h.type))] : [],
    gated_actions: loaded ? loaded.manifest.gatedActions : [],
    pages: loaded ? loaded.manifest.pages : [],
    public_routes: known?.manifest.publicRoutes ?? [],
    routes: (loaded?.routes ?? []).map((r) => ({ method: r.method, path: r.path, auth: r.auth })),
    errors: host.statsOf(name),
  };
}

/** Effective values, secrets masked (SEC-39). */
export async function readConfig(ctx: AppContext, host: PluginHost, name: string): Promise<Record<string, string>> {
  await rowOr404(ctx, name);
  const fields = host.known.get(name)?.fields ?? [];
  const secret = new Set(fields.filter((f) => f.type === 'secret').map((f) => f.key));
  const stored = await pluginsRepo.config(ctx.db, name);
  for (const r of stored) if (Number(r.is_secret) === 1) secret.add(r.key);
  const eff = await host.effectiveConfig(name);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(eff)) out[k] = secret.has(k) && v !== '' ? SECRET_MASK : v;
  return out;
}

/**
 * Validates every entry against the manifest's config schema before writing anything (W10):
 * unknown keys, wrong types and values outside a select's options are 400s naming the key.
 * The mask value leaves a stored secret unchanged; null resets a key to its default.
 */
export async function writeConfig(
  ctx: AppContext,
  host: PluginHost,
  p: Principal,
  name: string,
  body: Record<string, unknown>,
) {
  await rowOr404(ctx, name);
  await host.ready;
  const fields = host.known.get(name)?.fields ?? [];
  const stmts: Statement[] = [];
  const changed: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    const f = fields.find((x) => x.key === key);
    if (!f) throw badRequest(`Unknown config key: ${key}`);
    if (value === null) {
      stmts.push({ sql: 'DELETE FROM plugin_config WHERE plugin_name = ? AND key = ?', args: [name, key] });
      changed.push(key);
      continue;
    }
    if (f.type === 'secret' && value === SECRET_MASK) continue;
    let v: string;
    switch (f.type) {
      case 'number': {
        const n =
          typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
        if (!Number.isFinite(n)) throw badRequest(`${key} must be a number`);
        v = String(n);
        break;
      }
      case 'boolean':
        if (value === true || value === 'true') v = 'true';
        else if (value === false || value === 'false') v = 'false';
        else throw badRequest(`${key} must be a boolean`);
        break;
      case 'select':
        if (typeof value !== 'string' || !(f.options ?? []).includes(value))
          throw invalidEnum(key, value, f.options ?? []);
        v = value;
        break;
      default:
        if (typeof value !== 'string') throw badRequest(`${key} must be a string`);
        if (value.length > 4000) throw badRequest(`${key} exceeds max length (4000 chars)`);
        v = value;
    }
    stmts.push(pluginsRepo.upsertConfig(name, key, v, f.type === 'secret'));
    changed.push(key);
  }
  if (stmts.length) {
    await atomicWrite(ctx)
      .addAll(stmts)
      .event({
        type: 'plugin_config_updated',
        agent: who(p),
        projectId: null,
        summary: `Updated config for plugin: ${name}`,
        data: { plugin: name, keys: changed },
      })
      .commit();
  }
  // The write response carries the masked view, never a stored secret (SEC-39).
  return { ok: true, config: await readConfig(ctx, host, name) };
}

async function setEnabled(
  ctx: AppContext,
  p: Principal,
  name: string,
  enabled: boolean,
  type: string,
  summary: string,
  data: Record<string, unknown> = {},
) {
  const ev = { type, agent: who(p), projectId: null, summary, data };
  // Flag change and its event in one batch; the event is written only if the flag changed.
  const res = await atomicWrite(ctx).add('flip', pluginsRepo.setEnabled(name, enabled)).eventIfChanged(ev).commit();
  return res.rows('flip').length > 0;
}

/** Takes effect on the next request and the next event: routes and hooks read the flag live (W9). */
export async function enablePlugin(ctx: AppContext, host: PluginHost, p: Principal, name: string) {
  await rowOr404(ctx, name);
  assertPluginDbAvailable(ctx, name);
  await setEnabled(ctx, p, name, true, 'plugin_enabled', `Enabled plugin: ${name}`);
  host.flagsChanged();
  const loaded = await host.ensureLoaded(name);
  return { ok: true, name, enabled: 1, loaded, load_error: host.failed.get(name) ?? null };
}

export async function disablePlugin(ctx: AppContext, host: PluginHost, p: Principal, name: string) {
  await rowOr404(ctx, name);
  await setEnabled(ctx, p, name, false, 'plugin_disabled', `Disabled plugin: ${name}`);
  host.flagsChanged();
  return { ok: true, name, enabled: 0 };
}

export async function installPlugin(ctx: AppContext, host: PluginHost, p: Principal, body: Record<string, unknown>) {
  const name = body.name;
  if (name === undefined || name === null || name === '') throw badRequest('Plugin name required');
  if (typeof name !== 'string') throw badRequest('name must be a string');
  await host.ready;
  const row = await pluginsRepo.get(ctx.db, name);
  if (!row) throw notFound('Plugin not found in server/plugins/');
  if (Number(row.enabled) === 1) return { ok: true, message: 'Plugin already enabled', name };
  assertPluginDbAvailable(ctx, name);
  await setEnabled(ctx, p, name, true, 'plugin_installed', `Installed plugin: ${name}`, { plugin: name });
  host.flagsChanged();
  const loaded = await host.ensureLoaded(name);
  return {
    ok: true,
    name,
    loaded,
    message: loaded
      ? 'Plugin enabled. No restart required.'
      : `Plugin enabled but failed to load: ${host.failed.get(name)}`,
  };
}

/**
 * Disables and clears config. Data is kept unless `purge` is asked: then every table of the
 * plugin's own database is dropped and its migrations forgotten, so a reinstall starts clean.
 */
export async function uninstallPlugin(ctx: AppContext, host: PluginHost, p: Principal, name: string, purge: boolean) {
  await rowOr404(ctx, name);
  await host.ready;
  const data = { plugin: name, purge };
  await atomicWrite(ctx)
    .add(null, { sql: "UPDATE plugins SET enabled = 0, updated_at = datetime('now') WHERE name = ?", args: [name] })
    .add(null, pluginsRepo.clearConfig(name))
    .addAll(purge ? [pluginsRepo.clearMigrations(name)] : [])
    .event({ type: 'plugin_uninstalled', agent: who(p), projectId: null, summary: `Uninstalled plugin: ${name}`, data })
    .commit();
  host.flagsChanged();
  if (purge && host.known.has(name)) {
    const pdb = await ctx.runtime.pluginDb(name);
    const tables = await pdb.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    );
    await pdb.batch(tables.map((t) => ({ sql: `DROP TABLE IF EXISTS "${t.name.replace(/"/g, '""')}"`, args: [] })));
    host.loaded.delete(name);
  }
  return {
    ok: true,
    name,
    purged: purge,
    message: purge
      ? 'Plugin disabled, config cleared and its data deleted.'
      : 'Plugin disabled and config cleared. Its data is kept for a reinstall (add ?purge=true to delete it).',
  };
}

export async function mcpTools(host: PluginHost) {
  await host.ready;
  const flags = await host.enabledFlags();
  const out: unknown[] = [];
  for (const p of host.loaded.values()) {
    if (!flags.get(p.name)) continue;
    for (const t of p.tools) out.push({ ...t, plugin: p.name });
  }
  return out;
}

export async function allWidgets(host: PluginHost) {
  await host.ready;
  const flags = await host.enabledFlags();
  const out: unknown[] = [];
  for (const p of host.loaded.values()) {
    if (!flags.get(p.name)) continue;
    for (const w of widgetsOf(p.manifest))
      out.push({
        plugin: p.name,
        plugin_display_name: p.manifest.displayName || p.name,
        route_prefix: p.manifest.routePrefix ?? '',
        widget: w,
      });
  }
  return out;
}

export async function nav(host: PluginHost) {
  await host.ready;
  const flags = await host.enabledFlags();
  return [...host.loaded.values()]
    .filter((p) => flags.get(p.name) && p.manifest.pages.length)
    .map((p) => ({
      name: p.name,
      display_name: p.manifest.displayName || p.name,
      route_prefix: p.manifest.routePrefix ?? '',
      pages: p.manifest.pages,
    }));
}

export async function pluginWidgets(ctx: AppContext, host: PluginHost, name: string) {
  await rowOr404(ctx, name);
  const p = host.loaded.get(name);
  if (!p) return { widgets: [] };
  return { widgets: widgetsOf(p.manifest), route_prefix: p.manifest.routePrefix ?? '' };
}

/** Informational list of the plugins bundled with this build; nothing installs from it (W23). */
export async function registry(host: PluginHost) {
  await host.ready;
  return {
    source: 'bundled',
    plugins: [...host.known.values()].map((k) => ({
      name: k.name,
      display_name: k.manifest.displayName,
      version: k.manifest.version,
      description: k.manifest.description,
      author: k.manifest.author,
      route_prefix: k.manifest.routePrefix ?? '',
    })),
  };
}

/** How long `GET /admin/health` waits for one plugin database before calling it unreachable. */
const PLUGIN_DB_PROBE_MS = 2_000;

/**
 * Enabled plugins that cannot serve right now (issue 16): one that failed to load (its reason), and
 * one whose own database stopped answering since it loaded (probed with `SELECT 1`). Reported by
 * `GET /admin/health` so an operator sees it before users do; core writes are not affected, except
 * that guardrails fails closed while it cannot check (spec 07 REL-13).
 */
export async function unavailablePlugins(host: PluginHost): Promise<{ name: string; error: string }[]> {
  await host.ready;
  const flags = await host.enabledFlags();
  const out: { name: string; error: string }[] = [];
  for (const [name, enabled] of flags) {
    if (!enabled) continue;
    const failed = host.failed.get(name);
    if (failed) {
      out.push({ name, error: failed });
      continue;
    }
    const loaded = host.loaded.get(name);
    if (!loaded) continue; // enabled, not yet loaded in this process: it loads on first use
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        loaded.db.get('SELECT 1 AS ok'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${PLUGIN_DB_PROBE_MS} ms`)), PLUGIN_DB_PROBE_MS);
        }),
      ]);
    } catch (err) {
      out.push({ name, error: `database unreachable: ${(err as Error).message}` });
    } finally {
      clearTimeout(timer);
    }
  }
  return out;
}
