import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { defineRoute, shapeResponse } from '../http/contract.js';
import type { AppContext } from '../context.js';
import type { AppEnv } from '../http/env.js';
import { AppError } from '../http/errors.js';
import { parseWith } from '../http/validate.js';
import { bodyOf, loadBody, queryOf, readsBodyAfterAuth } from '../http/body.js';
import {
  principalOf,
  resolveAdmin,
  resolveAgent,
  resolveAny,
  resolveHuman,
  type Principal,
} from '../auth/principal.js';
import { PLUGIN_SOURCES } from './registry.generated.js';
import { manifestSchema } from './manifest.js';
import { matchPath, pluginHostOf, startPluginHost, type PluginHost } from './host.js';
import * as manage from './manage.js';
import {
  InstallPlugin,
  ManifestAnswer,
  ManifestList,
  Plugin,
  PluginConfig,
  PluginDetail,
  PluginNameParams,
  Toggled,
  UninstallBody,
  UninstallQuery,
  WritePluginConfig,
} from './schema.js';
import { pluginDocKey, pluginOperations } from './contract.js';
import type { ExtraOperation } from '../http/openapi.js';
import { PluginReply, type HttpMethod, type PluginRequest, type PluginSource } from './types.js';

/** createApp calls this first thing, so hooks and guards exist before any route serves (REL-13). */
export function startPlugins(ctx: AppContext, sources: PluginSource[] = PLUGIN_SOURCES): PluginHost {
  return startPluginHost(ctx, sources);
}

/** Route prefixes of the bundled plugins, read statically so aliases can be mounted up front. */
function aliasPrefixes(sources: PluginSource[]): { name: string; prefix: string }[] {
  const out: { name: string; prefix: string }[] = [];
  for (const s of sources) {
    try {
      const m = manifestSchema.safeParse(JSON.parse(s.manifest));
      if (m.success && m.data.routePrefix && m.data.name === s.dir && m.data.routePrefix !== '/plugins')
        out.push({ name: m.data.name, prefix: m.data.routePrefix });
    } catch {
      // refused at load with its own log line
    }
  }
  return out;
}

/**
 * Management endpoints (spec 06 §3) and the dispatcher for plugin routes: every plugin is
 * reached under `/plugins/<name>/…` and, for wire compatibility, under its original prefix.
 * Mounted after every core router, so core routes win on overlap (spec 06 §2.3 step 9).
 */
export function pluginRoutes(ctx: AppContext, core?: Hono<AppEnv>): Hono<AppEnv> {
  const host = pluginHostOf(ctx);
  const r = new Hono<AppEnv>();
  // Path prefixes the core already serves: a plugin alias there would be shadowed or would
  // shadow, so it is refused (W2) and the plugin stays reachable under /plugins/<name>/.
  // Exception, as in the original (core routes win on overlap, spec 06 §2.3 step 9): a prefix
  // where the core serves only fixed sub-paths (core `/github/prs/...` beside github-sync's
  // `/github/webhook`) is shared; the core keeps those sub-paths, the plugin gets the rest.
  const taken = new Set<string>();
  const coreSubpaths = new Map<string, Set<string>>();
  for (const x of core?.routes ?? []) {
    const segs = x.path.split('/').filter(Boolean);
    const prefix = `/${segs[0] ?? ''}`;
    if (segs.length < 2 || /^[:*]/.test(segs[1])) taken.add(prefix);
    else coreSubpaths.set(prefix, (coreSubpaths.get(prefix) ?? new Set()).add(segs[1]));
  }
  taken.add('/plugins');
  const aliases = new Map<string, string>();
  mountedAliases.set(host, aliases);

  // Management answers only once the host has registered every bundled plugin's row.
  const ready = async (_c: Context<AppEnv>, next: () => Promise<void>) => {
    await host.ready;
    await next();
  };
  r.use('/plugins', ready);
  r.use('/plugins/*', ready);
  const tags = ['Plugins'];
  const admin = (
    method: 'get' | 'post' | 'put' | 'delete',
    path: string,
    summary: string,
    response: z.ZodType,
    handler: (c: Context<AppEnv>, name: string) => Promise<unknown> | unknown,
    extra: { body?: z.ZodType; query?: z.ZodObject; access?: 'admin' | 'any' } = {},
  ) =>
    defineRoute(
      r,
      {
        method,
        path,
        tags,
        summary,
        access: extra.access ?? 'admin',
        params: path.includes(':name') ? PluginNameParams : undefined,
        query: extra.query,
        body: extra.body,
        lazyBody: true,
        response,
      },
      (c) => handler(c, c.req.param('name') as string),
    );
  admin('get', '/plugins', 'Installed plugins (enabled and loaded state)', z.array(Plugin), () =>
    manage.listPlugins(ctx, host),
  );
  admin('get', '/plugins/mcp-tools', "Enabled plugins' MCP tools", ManifestList, () => manage.mcpTools(host), {
    access: 'any',
  });
  admin('get', '/plugins/workers', 'Plugin workers (none: plugins run in process)', ManifestAnswer, () => ({}));
  admin('get', '/plugins/registry', 'Bundled plugins available', ManifestAnswer, () => manage.registry(host));
  admin('get', '/plugins/all-widgets', "Enabled plugins' dashboard widgets", ManifestList, () =>
    manage.allWidgets(host),
  );
  admin('get', '/plugins/nav', "Enabled plugins' dashboard pages", ManifestList, () => manage.nav(host));
  admin(
    'post',
    '/plugins/install',
    'Register a bundled plugin',
    ManifestAnswer,
    (c) => manage.installPlugin(ctx, host, principalOf(c), bodyOf(c)),
    { body: InstallPlugin },
  );
  admin('get', '/plugins/:name', 'One plugin: state, config schema, tools, hooks, routes', PluginDetail, (_c, name) =>
    manage.pluginDetail(ctx, host, name),
  );
  admin('get', '/plugins/:name/config', "A plugin's config (secrets masked)", PluginConfig, (_c, name) =>
    manage.readConfig(ctx, host, name),
  );
  admin(
    'put',
    '/plugins/:name/config',
    "Write a plugin's config",
    ManifestAnswer,
    (c, name) => manage.writeConfig(ctx, host, principalOf(c), name, bodyOf(c)),
    { body: WritePluginConfig },
  );
  admin('put', '/plugins/:name/enable', 'Enable a plugin (loads it)', Toggled, (c, name) =>
    manage.enablePlugin(ctx, host, principalOf(c), name),
  );
  admin('put', '/plugins/:name/disable', 'Disable a plugin', Toggled, (c, name) =>
    manage.disablePlugin(ctx, host, principalOf(c), name),
  );
  admin(
    'delete',
    '/plugins/:name/uninstall',
    'Uninstall a plugin (config cleared; `purge` deletes its data)',
    ManifestAnswer,
    (c, name) => {
      const purge = ['1', 'true'].includes(c.req.query('purge') ?? '') || bodyOf(c).purge === true;
      return manage.uninstallPlugin(ctx, host, principalOf(c), name, purge);
    },
    { query: UninstallQuery, body: UninstallBody },
  );
  admin('get', '/plugins/:name/widgets', "A plugin's widgets", ManifestAnswer, (_c, name) =>
    manage.pluginWidgets(ctx, host, name),
  );

  r.all(
    '/plugins/:name/*',
    readsBodyAfterAuth((c) => dispatch(ctx, host, c, c.req.param('name') as string, `/plugins/${c.req.param('name')}`)),
  );
  for (const { name, prefix } of aliasPrefixes(host.sources)) {
    if (taken.has(prefix)) {
      ctx.log.error(
        `[plugins] ${name}: route prefix ${prefix} collides with a core or plugin route; not mounted there (the plugin is served under /api/mycelium/plugins/${name}/)`,
      );
      continue;
    }
    taken.add(prefix);
    const shared = coreSubpaths.get(prefix);
    if (shared)
      ctx.log.info(
        `[plugins] ${name}: route prefix ${prefix} shared with core routes under ${[...shared].map((s) => `${prefix}/${s}`).join(', ')} (the core keeps those)`,
      );
    const reserved = shared ?? new Set<string>();
    aliases.set(name, prefix);
    r.all(
      prefix,
      readsBodyAfterAuth((c) => dispatch(ctx, host, c, name, prefix)),
    );
    r.all(
      `${prefix}/*`,
      readsBodyAfterAuth((c) => dispatch(ctx, host, c, name, prefix, reserved)),
    );
  }
  return r;
}

/** Original prefixes actually mounted per host (documented as aliases). */
const mountedAliases = new WeakMap<PluginHost, Map<string, string>>();

/**
 * The enabled plugins' routes for the OpenAPI document (issue 15), one tag per plugin, and a key
 * that changes when the set of enabled or loaded plugins does (the document is rebuilt then).
 */
export async function pluginOpenApi(ctx: AppContext): Promise<{ key: string; operations: ExtraOperation[] }> {
  const host = pluginHostOf(ctx);
  const operations = await pluginOperations(host, mountedAliases.get(host));
  return { key: await pluginDocKey(host), operations };
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH']);

async function authenticate(c: Context<AppEnv>, auth: string): Promise<Principal | null> {
  const creds = c.get('credentials');
  switch (auth) {
    case 'public':
      return null;
    case 'admin':
      return resolveAdmin(creds);
    case 'agent':
      return resolveAgent(creds);
    case 'human':
      return resolveHuman(creds);
    default:
      return resolveAny(creds);
  }
}

/**
 * One plugin request: enabled flag read live (W9), route matched, the core's authentication
 * applied before the plugin runs (default-deny, SEC-38), and the handler wrapped so a throw or
 * rejection becomes a logged, counted 500 and never reaches the process (W8, REL-12).
 */
async function dispatch(
  ctx: AppContext,
  host: PluginHost,
  c: Context<AppEnv>,
  name: string,
  mount: string,
  coreReserved: ReadonlySet<string> = new Set(),
): Promise<Response> {
  await host.ready;
  const known = host.known.get(name);
  if (!known) return c.json({ error: 'Not found' }, 404);
  const flags = await host.enabledFlags();
  if (!flags.get(name)) return c.json({ error: `Plugin ${name} is disabled` }, 404);
  if (!(await host.ensureLoaded(name))) return c.json({ error: `Plugin ${name} failed to load` }, 503);
  const plugin = host.loaded.get(name)!;

  const url = new URL(c.req.url);
  const full = url.pathname.replace(/\/+$/, '');
  const base = `/api/mycelium${mount}`;
  const sub = full.length > base.length ? full.slice(base.length) : '/';
  const method = (c.req.method === 'HEAD' ? 'GET' : c.req.method) as HttpMethod;
  if (!METHODS.has(method)) return c.json({ error: 'Not found' }, 404);
  const segs = sub.split('/').filter(Boolean);
  // A sub-path the core serves under a shared prefix is never the plugin's (other methods there 404).
  if (segs.length && coreReserved.has(segs[0])) return c.json({ error: 'Not found' }, 404);
  let route = null;
  let params: Record<string, string> = {};
  for (const r of plugin.routes) {
    if (r.method !== method) continue;
    const m = matchPath(r.segments, segs);
    if (m) {
      route = r;
      params = m;
      break;
    }
  }
  if (!route) return c.json({ error: 'Not found' }, 404);

  const principal = await authenticate(c, route.auth);
  await loadBody(c); // only now: the core authenticated first (SEC-22)
  // Declared schemas (issue 15): validated after the core's authentication with the core's
  // sentences; a lazy body waits for the handler's first read, after its own 404 or guard check.
  const decl = route;
  const query = queryOf(c);
  const validParams = decl.params ? parseWith(decl.params, params) : undefined;
  const validQuery = decl.query ? parseWith(decl.query, query) : undefined;
  let bodyParsed = false;
  let validBody: unknown;
  const readBody = () => {
    if (!bodyParsed) {
      // A raw body is the plugin's to read from `rawBody` (signature checks cover the exact bytes).
      validBody = decl.body && decl.body !== 'raw' ? parseWith(decl.body, bodyOf(c)) : undefined;
      bodyParsed = true;
    }
    return validBody;
  };
  if (!decl.lazyBody) readBody();
  const req: PluginRequest = {
    input: {
      params: validParams,
      query: validQuery,
      get body() {
        return readBody();
      },
    },
    method,
    path: sub,
    params,
    query,
    body: bodyOf(c),
    rawBody: c.get('rawBody') ?? new Uint8Array(0),
    headers: c.req.raw.headers,
    principal,
    who: principal ? principal.who : '',
  };
  let result: unknown;
  try {
    result = await route.handler(req);
  } catch (err) {
    if (err instanceof AppError) throw err;
    host.statsOf(name).route_errors++;
    ctx.log.error(`[plugins] ${name}: route error ${method} ${route.path}: ${(err as Error)?.stack ?? String(err)}`, {
      request_id: c.get('requestId'),
    });
    return c.json({ error: 'Internal server error' }, 500);
  }
  // A declared response schema shapes every success answer as core routes' are (issue 15): fields
  // it does not name never leave; a mismatch throws ContractViolation, a logged 500.
  const shaped = (status: number, body: unknown) =>
    decl.response && status >= 200 && status < 300
      ? shapeResponse({ method, path: `/plugins/${name}${decl.path}` }, decl.response, body)
      : body;
  if (result instanceof PluginReply) {
    for (const [k, v] of Object.entries(result.headers)) c.header(k, v);
    return c.json(shaped(result.status, result.body) as object, result.status as 200);
  }
  return c.json(shaped(200, result ?? { ok: true }) as object);
}
