import type { AppContext } from '../context.js';
import type { Db, Queryable } from '../db/db.js';
import type { EventInput } from '../domain/events/bus.js';
import type { GuardCheck } from '../guards.js';
import type { MyceliumEvent } from '../domain/events/bus.js';
import type { Logger } from '../runtime.js';
import { migrate } from '../db/migrator.js';
import { AppError, unavailable } from '../http/errors.js';
import { guardedFetch } from '../http/ssrf.js';
import { CORE_EVENT_TYPES } from '../domain/events/catalogue.js';
import {
  configFields,
  describeIssue,
  manifestSchema,
  mcpToolSchema,
  toolArgs,
  type ConfigField,
  type Manifest,
  type McpTool,
} from './manifest.js';
import { createCoreApi, type CoreApi } from './core-api.js';
import { pluginsRepo } from './repo.js';
import { registerGatedAction } from '../domain/approvals/service.js';
import { PLUGIN_ENV_VARS } from '../config.js';
import type {
  GuardInput,
  HookHandler,
  HttpMethod,
  PluginApi,
  PluginEventInput,
  PluginGuard,
  PluginJob,
  PluginModule,
  PluginSource,
  RouteAuth,
  RouteHandler,
  RouteOptions,
} from './types.js';
import type { ZodObject, ZodType } from 'zod';
import { generatedToolSchema } from './contract.js';

/** Hooks and guards get this long before the host stops waiting and counts a timeout (REL-12). */
const HOOK_TIMEOUT_MS = 5_000;
const SETUP_TIMEOUT_MS = 10_000;
/** Each plugin database records its own applied migrations here (and the host mirrors them in core `plugin_migrations`). */
const PLUGIN_MIGRATIONS_TABLE = 'plugin_schema_migrations';
export const SECRET_MASK = '••••••••';
/**
 * Writes and emits a plugin may make from inside its hooks per minute. Hooks run after commit
 * and asynchronously, so a cycle (A's hook causes an event that runs A's hook again, directly or
 * through other plugins) never recurses the stack; this bound is what stops it (W7).
 */
export const HOOK_WRITES_PER_MINUTE = 1000;
const FLAG_CACHE_MS = 2_000;

const CORE_TYPES = new Set<string>(CORE_EVENT_TYPES);

/**
 * Core action names services pass to `guards.check` → the event kind guardrails rules name
 * (spec 06 §5.1 call-site table, spec 07 SEC-37). Unknown actions map `a.b` → `a_b`.
 */
const ACTION_KINDS: Record<string, string> = {
  'task.create': 'task_created',
  'task.update': 'task_updated',
  'message.send': 'message_sent',
  'drone_job.queue': 'drone_job_queued',
  'spend.log': 'spend_logged',
  'run.start': 'run_started',
  'asset.register': 'asset_registered',
  'event.emit': 'event_emitted',
  'request.create': 'request_created',
  'plan.create': 'plan_created',
  'bug.create': 'bug_created',
  'feedback.submit': 'feedback_submitted',
};
const kindOfAction = (action: string) => ACTION_KINDS[action] ?? action.replace(/\./g, '_');

export interface RouteEntry {
  method: HttpMethod;
  path: string;
  segments: string[];
  handler: RouteHandler;
  auth: RouteAuth;
  /** Declared schemas and document text (issue 15); all optional. */
  summary?: string;
  description?: string;
  params?: ZodObject;
  query?: ZodObject;
  body?: ZodType | 'raw';
  lazyBody?: boolean;
  /** Success answer schema: 2xx answers are shaped through it (routes.ts `dispatch`). */
  response?: ZodType;
  status?: 200 | 201 | 202;
}

export interface LoadedPlugin {
  name: string;
  manifest: Manifest;
  db: Db;
  routes: RouteEntry[];
  hooks: { type: string; fn: HookHandler }[];
  guards: PluginGuard[];
  jobs: PluginJob[];
  tools: McpTool[];
  migrationsApplied: string[];
  /** Named in-process services this plugin offers (`api.provide`). */
  services: Map<string, object>;
}

export interface KnownPlugin {
  name: string;
  source: PluginSource;
  manifest: Manifest;
  fields: ConfigField[];
  /** Tool declarations that parsed; those whose endpoint is not a route are dropped at load. */
  tools: McpTool[];
}

export interface PluginStats {
  route_errors: number;
  hook_errors: number;
  hook_timeouts: number;
  guard_errors: number;
}

function splitPath(p: string): string[] {
  return p.split('/').filter(Boolean);
}

/** Matches `/rules/:id` style patterns; returns the params or null. */
export function matchPath(pattern: string[], path: string[]): Record<string, string> | null {
  if (pattern.length !== path.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const seg = pattern[i];
    if (seg.startsWith(':')) {
      let v: string;
      try {
        v = decodeURIComponent(path[i]);
      } catch {
        return null;
      }
      params[seg.slice(1)] = v;
    } else if (seg !== path[i]) return null;
  }
  return params;
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HostTimeout(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
class HostTimeout extends Error {}

function prefixed(log: Logger, prefix: string): Logger {
  return {
    debug: (m, f) => log.debug(`${prefix} ${m}`, f),
    info: (m, f) => log.info(`${prefix} ${m}`, f),
    warn: (m, f) => log.warn(`${prefix} ${m}`, f),
    error: (m, f) => log.error(`${prefix} ${m}`, f),
  };
}

/**
 * The plugin host: loads the bundled plugins into isolated compartments (own database, staged
 * registrations), dispatches routes, hooks and pre-mutation guards to them, and keeps every
 * plugin failure contained (spec 06 §6 W1, W5, W7–W9, W11–W13, W24; spec 07 SEC-36, REL-12/13).
 *
 * Created synchronously by createApp: the event subscription and the guard checker are
 * registered before any route can serve, and both wait for loading to finish, so a core write
 * can never slip past guardrails during start-up (SEC-36 wiring order).
 */
export class PluginHost {
  readonly known = new Map<string, KnownPlugin>();
  readonly loaded = new Map<string, LoadedPlugin>();
  readonly failed = new Map<string, string>();
  readonly stats = new Map<string, PluginStats>();
  readonly ready: Promise<void>;
  readonly core: CoreApi;
  private readonly loading = new Map<string, Promise<boolean>>();
  /** Hooks of each plugin running right now, and its hook-caused writes in the current minute. */
  private readonly inHook = new Map<string, number>();
  private readonly hookWrites = new Map<string, { minute: number; n: number }>();
  private warnedNoGuard = false;

  constructor(
    private readonly ctx: AppContext,
    readonly sources: PluginSource[],
  ) {
    this.core = createCoreApi(ctx);
    ctx.events.subscribe((ev) => this.dispatch(ev));
    ctx.guards.register('plugins', (check) => this.runGuards(check));
    this.ready = this.boot().catch((err) => {
      ctx.log.error(`[plugins] plugin host failed to start: ${(err as Error).message}`);
    });
    // On Workers the boot starts inside the first request; keep that request alive until the
    // boot finishes, or its I/O would be cancelled with the request and `ready` never settle.
    ctx.runtime.waitUntil(this.ready);
  }

  statsOf(name: string): PluginStats {
    let s = this.stats.get(name);
    if (!s) {
      s = { route_errors: 0, hook_errors: 0, hook_timeouts: 0, guard_errors: 0 };
      this.stats.set(name, s);
    }
    return s;
  }

  private async boot(): Promise<void> {
    const log = this.ctx.log;
    for (const source of this.sources) {
      const known = this.parse(source);
      if (!known) continue;
      this.known.set(known.name, known);
      const m = known.manifest;
      const row = await pluginsRepo.upsert(this.ctx.db, {
        name: m.name,
        displayName: m.displayName,
        description: m.description,
        version: m.version,
        author: m.author,
        enabled: m.enabled === true,
        routePrefix: m.routePrefix ?? '',
        toolCount: known.tools.length,
      });
      if (!row || Number(row.enabled) !== 1) {
        log.info(`[plugins] Skipping disabled plugin: ${m.name}`);
        continue;
      }
      await this.ensureLoaded(m.name);
    }
    const failed = this.failed.size ? ` (${this.failed.size} failed: ${[...this.failed.keys()].join(', ')})` : '';
    log.info(`[plugins] ${this.loaded.size} plugin(s) loaded${failed}`);
  }

  /** Manifest and tool file; a bad one refuses the plugin with one log line (the server still starts). */
  private parse(source: PluginSource): KnownPlugin | null {
    const fail = (msg: string) => {
      this.failed.set(source.dir, msg);
      this.ctx.log.error(`[plugins] Failed to load ${source.dir}: ${msg}`);
      return null;
    };
    let raw: unknown;
    try {
      raw = JSON.parse(source.manifest);
    } catch (err) {
      return fail(`plugin.json is not valid JSON (${(err as Error).message})`);
    }
    const r = manifestSchema.safeParse(raw);
    if (!r.success) return fail(`invalid plugin.json: ${describeIssue(r.error)}`);
    const m = r.data;
    if (m.name !== source.dir) return fail(`plugin.json name "${m.name}" does not match its folder "${source.dir}"`);
    if (m.type === 'worker') return fail('out-of-process (type "worker") plugins are not supported by this host');
    let tools: McpTool[] = [];
    if (source.mcpTools !== null) {
      let list: unknown;
      try {
        list = JSON.parse(source.mcpTools);
      } catch (err) {
        return fail(`MCP tool file is not valid JSON (${(err as Error).message})`);
      }
      if (!Array.isArray(list)) return fail('MCP tool file must be a JSON array');
      tools = [];
      for (const [i, t] of list.entries()) {
        const tr = mcpToolSchema.safeParse(t);
        if (tr.success) tools.push(tr.data);
        else this.ctx.log.warn(`[plugins] ${m.name}: MCP tool #${i} refused: ${describeIssue(tr.error)}`);
      }
    }
    return { name: m.name, source, manifest: m, fields: configFields(m), tools };
  }

  /** Loads a known plugin once (also on first use after an enable at run time); false if it failed. */
  ensureLoaded(name: string): Promise<boolean> {
    if (this.loaded.has(name)) return Promise.resolve(true);
    if (this.failed.has(name)) return Promise.resolve(false);
    let p = this.loading.get(name);
    if (!p) {
      p = this.load(name).finally(() => this.loading.delete(name));
      this.loading.set(name, p);
      // Other requests may wait on this load: it must outlive the request that started it.
      this.ctx.runtime.waitUntil(p);
    }
    return p;
  }

  private async load(name: string): Promise<boolean> {
    const known = this.known.get(name);
    if (!known) return false;
    const { manifest: m, source } = known;
    try {
      const db = await this.ctx.runtime.pluginDb(name);
      // Migrations run in the plugin's own database, each atomically; the first failure stops
      // the load and marks the plugin failed, so a broken one is retried next start (W12).
      const applied = await migrate(db, source.migrations, PLUGIN_MIGRATIONS_TABLE);
      const records = applied.map((mig) => pluginsRepo.recordMigration(name, Number(mig.match(/^\d+/)?.[0] ?? 0), mig));
      if (records.length) await this.ctx.db.batch(records);

      if (!source.load) throw new Error('no index.ts entry module');
      const mod = (await source.load()) as Partial<PluginModule> & { default?: Partial<PluginModule> };
      const entry = typeof mod.setup === 'function' ? mod : mod.default;
      if (!entry || typeof entry.setup !== 'function') throw new Error('entry module exports no setup(api)');

      // Registrations are staged and committed only when setup completes (W13).
      const staged: LoadedPlugin = {
        name,
        manifest: m,
        db,
        routes: [],
        hooks: [],
        guards: [],
        jobs: [],
        tools: [],
        migrationsApplied: applied,
        services: new Map(),
      };
      await timeout(Promise.resolve(entry.setup(this.apiFor(known, staged))), SETUP_TIMEOUT_MS, 'setup');

      const publicDeclared = new Set(m.publicRoutes);
      for (const r of staged.routes) {
        if (r.auth === 'public' && !publicDeclared.has(`${r.method} ${r.path}`)) {
          throw new Error(`route ${r.method} ${r.path} is public but not listed in plugin.json publicRoutes`);
        }
      }
      staged.tools = this.checkTools(known, staged.routes);

      for (const job of staged.jobs) {
        if (this.ctx.jobs.some((j) => j.name === `plugin:${name}:${job.name}`)) continue; // reloaded after a purge
        this.ctx.jobs.push({
          name: `plugin:${name}:${job.name}`,
          everyMs: job.everyMs,
          run: async () => {
            const flags = await pluginsRepo.enabledFlags(this.ctx.db);
            if (!flags.get(name) || !this.loaded.has(name)) return null;
            return job.run();
          },
        });
      }
      // Committed only now that the whole plugin loaded (W13): its gated actions join the
      // approvals allow-list.
      for (const action of m.gatedActions) registerGatedAction(action);
      this.loaded.set(name, staged);
      this.logLoaded(staged);
      return true;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      this.failed.set(name, msg);
      this.ctx.log.error(`[plugins] Failed to load ${name}: ${msg}`);
      return false;
    }
  }

  /** One start-up line per plugin, for operators to review what it registered (W24, P-14). */
  private logLoaded(p: LoadedPlugin) {
    const m = p.manifest;
    const prefix = `/api/mycelium/plugins/${p.name}/${m.routePrefix ? ` (alias /api/mycelium${m.routePrefix}/)` : ''}`;
    const migrations = p.migrationsApplied.length ? `applied ${p.migrationsApplied.join(', ')}` : 'up to date';
    const hooks = p.hooks.length ? [...new Set(p.hooks.map((h) => h.type))].join(', ') : 'none';
    const tools = p.tools.length ? `${p.tools.length} (${p.tools.map((t) => t.name).join(', ')})` : '0';
    const pub = m.publicRoutes.length ? m.publicRoutes.join(', ') : 'none';
    this.ctx.log.info(
      `[plugins] Loaded ${p.name} v${m.version}: routes ${prefix} [${p.routes.length} routes, public: ${pub}]; own database, migrations ${migrations}; MCP tools ${tools}; event hooks: ${hooks}; guards: ${p.guards.length}; jobs: ${p.jobs.map((j) => j.name).join(', ') || 'none'}`,
    );
  }

  /** Every tool must name a route of its plugin (W11); placeholders must be tool arguments. */
  private checkTools(known: KnownPlugin, routes: RouteEntry[]): McpTool[] {
    const ok: McpTool[] = [];
    const m = known.manifest;
    for (const declared of known.tools) {
      let inner: string | null = null;
      const path = declared.endpoint.path.replace(/\{(\w+)\}|:(\w+)/g, 'x');
      const own = `/plugins/${known.name}`;
      if (path === own || path.startsWith(`${own}/`)) inner = path.slice(own.length) || '/';
      else if (m.routePrefix && (path === m.routePrefix || path.startsWith(`${m.routePrefix}/`)))
        inner = path.slice(m.routePrefix.length) || '/';
      const route =
        inner === null
          ? undefined
          : routes.find((r) => r.method === declared.endpoint.method && matchPath(r.segments, splitPath(inner!)));
      const resolves = route !== undefined;
      // Issue 15: a tool without its own inputSchema gets one generated from the route's schemas.
      const t = generatedToolSchema(declared, route);
      const args = new Set(toolArgs(t));
      const placeholders = [...t.endpoint.path.matchAll(/\{(\w+)\}|:(\w+)/g)].map((x) => x[1] ?? x[2]);
      const missing = placeholders.find((a) => !args.has(a));
      if (missing)
        this.ctx.log.warn(
          `[plugins] ${known.name}: MCP tool ${t.name} refused: placeholder {${missing}} is not an argument`,
        );
      else if (!resolves)
        this.ctx.log.warn(
          `[plugins] ${known.name}: MCP tool ${t.name} refused: ${t.endpoint.method} ${t.endpoint.path} is not a route of this plugin`,
        );
      else ok.push(t);
    }
    return ok;
  }

  private apiFor(known: KnownPlugin, staged: LoadedPlugin): PluginApi {
    const ctx = this.ctx;
    const name = known.name;
    const route = (method: HttpMethod, path: string, handler: RouteHandler, opts?: RouteOptions) => {
      if (!path.startsWith('/')) throw new Error(`route path must start with "/": ${path}`);
      const { auth, ...declared } = opts ?? {};
      staged.routes.push({ method, path, segments: splitPath(path), handler, auth: auth ?? 'any', ...declared });
    };
    const config = {
      get: async (key: string) => (await this.effectiveConfig(name))[key],
      all: () => this.effectiveConfig(name),
    };
    return {
      name,
      db: staged.db,
      log: prefixed(ctx.log, `[${name}]`),
      clock: ctx.clock,
      config,
      core: this.coreFor(name),
      emit: async (e) => {
        await ctx.events.emit(this.pluginEvent(name, e));
      },
      atomic: (fn) => this.atomic(name, staged.db, fn),
      route,
      get: (p, h, o) => route('GET', p, h, o),
      post: (p, h, o) => route('POST', p, h, o),
      put: (p, h, o) => route('PUT', p, h, o),
      delete: (p, h, o) => route('DELETE', p, h, o),
      on: (type, fn) => void staged.hooks.push({ type, fn }),
      guard: (fn) => void staged.guards.push(fn),
      job: (job) => void staged.jobs.push(job),
      fetch: (url, init = {}, opts = {}) =>
        guardedFetch(
          url,
          { signal: AbortSignal.timeout(opts.timeoutMs ?? HOOK_TIMEOUT_MS), ...init },
          {
            // The plugin's own allow-list (e.g. a local model server) plus the same explicit
            // development allow-list as core webhooks (empty by default).
            allow: [...(opts.allow ?? []), ...ctx.config.webhookAllowLoopback],
            resolveHost: ctx.runtime.resolveHost?.bind(ctx.runtime),
            fetchFn: ctx.runtime.pinnedFetch,
            methodPreservingOnly: true,
          },
        ),
      env: (key) => {
        if (!PLUGIN_ENV_VARS.has(key)) return undefined;
        const v = ctx.config.env[key];
        return typeof v === 'string' && v !== '' ? v : undefined;
      },
      provide: (serviceName, impl) => void staged.services.set(serviceName, impl),
      service: (serviceName) => this.service(serviceName),
    };
  }

  /** A plugin's event as the bus takes it; refused for a core type or past the hook write bound. */
  private pluginEvent(name: string, e: PluginEventInput): EventInput {
    // Plugins emit their own event names; a core type from a plugin would be a forgery (W7).
    if (CORE_TYPES.has(e.type)) throw new Error(`plugin ${name} may not emit core event type ${e.type}`);
    this.checkHookWrite(name);
    return {
      type: e.type,
      agent: e.agent ?? '__system__',
      projectId: e.projectId ?? null,
      summary: e.summary ?? '',
      data: e.data ?? {},
    };
  }

  /**
   * `api.atomic` (issue 17 for plugins). The plugin's rows live in its own database and events in
   * the core one, so no single batch holds both: the plugin's writes run in a transaction, the
   * event rows are inserted (one core batch, as `atomicWrite` does) while it is open, and only then
   * does it commit. An event insert that fails throws out of the transaction, which rolls the
   * plugin's writes back. The events are published after the plugin's commit, so no subscriber
   * sees an event whose rows are not readable yet. (The one window left: the plugin commit itself
   * failing after the core batch committed, an I/O failure, leaves the event without its rows.)
   */
  private async atomic<T>(
    name: string,
    db: Db,
    fn: (tx: Queryable, emit: (e: PluginEventInput) => void) => Promise<T>,
  ): Promise<T> {
    const events: EventInput[] = [];
    let ids: (number | null)[] = [];
    const out = await db.transaction(async (tx) => {
      const result = await fn(tx, (e) => void events.push(this.pluginEvent(name, e)));
      const written = await this.ctx.db.batch(events.map((e) => this.ctx.events.statement(e)));
      ids = written.map((r) => (r.rows[0]?.id === undefined ? null : Number(r.rows[0].id)));
      return result;
    });
    for (const [i, e] of events.entries()) this.ctx.events.publishWritten(e, ids[i] ?? null);
    return out;
  }

  /**
   * A service offered by a loaded plugin that is still enabled, or null. Cheap when nobody offers
   * it (no query at all), so core paths such as smart boot pay nothing while the plugin is off.
   */
  async service<T extends object>(serviceName: string): Promise<T | null> {
    await this.ready;
    for (const p of this.loaded.values()) {
      const impl = p.services.get(serviceName);
      if (!impl) continue;
      try {
        if ((await this.hookFlags()).get(p.name)) return impl as T;
      } catch {
        return null;
      }
    }
    return null;
  }

  /** Stored values over manifest defaults, as strings (W10: effective values). */
  async effectiveConfig(name: string): Promise<Record<string, string>> {
    const known = this.known.get(name);
    const out: Record<string, string> = {};
    for (const f of known?.fields ?? []) if (f.default !== undefined) out[f.key] = String(f.default);
    for (const r of await pluginsRepo.config(this.ctx.db, name)) out[r.key] = r.value;
    return out;
  }

  /** Current enabled flags, read from the database so a toggle is seen on the next request by every process. */
  enabledFlags(): Promise<Map<string, boolean>> {
    return pluginsRepo.enabledFlags(this.ctx.db);
  }

  private flagCache: { at: number; flags: Map<string, boolean> } | null = null;
  /**
   * Flags for event dispatch, which runs for every event (heartbeats included): cached for
   * FLAG_CACHE_MS and dropped at once by a toggle in this process, so only other processes
   * (Workers isolates) may see a toggle up to that much later.
   */
  private async hookFlags(): Promise<Map<string, boolean>> {
    const now = Date.now();
    if (this.flagCache && now - this.flagCache.at < FLAG_CACHE_MS) return this.flagCache.flags;
    const flags = await this.enabledFlags();
    this.flagCache = { at: now, flags };
    return flags;
  }

  /** Called by the management endpoints after any enable/disable/install/uninstall. */
  flagsChanged(): void {
    this.flagCache = null;
  }

  /**
   * Event hooks: after the emitting write committed (the bus calls us in the background),
   * each enabled plugin's matching hooks run concurrently, each with a deadline; a throw, a
   * rejection or a hang is logged and counted and never reaches the emitter (W7, REL-12).
   */
  private async dispatch(ev: MyceliumEvent): Promise<void> {
    await this.ready;
    if (!this.known.size) return;
    let flags: Map<string, boolean>;
    try {
      flags = await this.hookFlags();
    } catch (err) {
      this.ctx.log.error(`[plugins] hook dispatch skipped for ${ev.type}: ${(err as Error).message}`);
      return;
    }
    const runs: Promise<void>[] = [];
    for (const [name, on] of flags) {
      if (!on || !this.known.has(name)) continue;
      if (!(await this.ensureLoaded(name))) continue;
      const p = this.loaded.get(name)!;
      for (const h of p.hooks) {
        if (h.type !== '*' && h.type !== ev.type) continue;
        runs.push(this.runHook(p, h.fn, ev));
      }
    }
    await Promise.all(runs);
  }

  private async runHook(p: LoadedPlugin, fn: HookHandler, ev: MyceliumEvent): Promise<void> {
    this.inHook.set(p.name, (this.inHook.get(p.name) ?? 0) + 1);
    try {
      // Each plugin gets its own copy: one cannot alter what the next one sees.
      await timeout(
        Promise.resolve().then(() => fn(structuredClone(ev))),
        HOOK_TIMEOUT_MS,
        `hook ${ev.type}`,
      );
    } catch (err) {
      const s = this.statsOf(p.name);
      if (err instanceof HostTimeout) s.hook_timeouts++;
      else s.hook_errors++;
      this.ctx.log.error(
        `[plugins] ${p.name}: event hook error for ${ev.type}: ${(err as Error)?.message ?? String(err)}`,
      );
    } finally {
      this.inHook.set(p.name, (this.inHook.get(p.name) ?? 1) - 1);
    }
  }

  /** Counts a write made while the plugin's hooks run; past the bound it is refused (W7). */
  private checkHookWrite(name: string): void {
    if (!this.inHook.get(name)) return;
    const minute = Math.floor(this.ctx.clock.now().getTime() / 60_000);
    const w = this.hookWrites.get(name);
    const cur = w && w.minute === minute ? w : { minute, n: 0 };
    cur.n++;
    this.hookWrites.set(name, cur);
    if (cur.n > HOOK_WRITES_PER_MINUTE) {
      this.statsOf(name).hook_errors++;
      if (cur.n === HOOK_WRITES_PER_MINUTE + 1)
        this.ctx.log.error(
          `[plugins] ${name}: more than ${HOOK_WRITES_PER_MINUTE} writes from hooks this minute; refusing more (event loop?)`,
        );
      throw new Error(`plugin ${name} exceeded ${HOOK_WRITES_PER_MINUTE} hook-caused writes per minute`);
    }
  }

  /** The core API as one plugin sees it: every write counted against that plugin's hook bound. */
  private coreFor(name: string): CoreApi {
    const c = this.core;
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      (...a: A) => {
        this.checkHookWrite(name);
        return fn(...a);
      };
    return {
      ...c,
      tasks: { ...c.tasks, create: guard(c.tasks.create), assign: guard(c.tasks.assign) },
      bugs: { ...c.bugs, file: guard(c.bugs.file) },
      messages: { ...c.messages, send: guard(c.messages.send) },
      inbox: { notifyOperators: guard(c.inbox.notifyOperators) },
      spend: { ...c.spend, record: guard(c.spend.record) },
    };
  }

  /**
   * Pre-mutation checks from core services. One normalised input for every guard (W5). An
   * AppError from a guard (403 block) passes through; a guard that crashes or hangs fails
   * closed (503), and so does an enabled guard plugin that did not load (SEC-36, REL-13).
   */
  private async runGuards(check: GuardCheck): Promise<void> {
    await this.ready;
    if (!this.known.size) return;
    const flags = await this.enabledFlags();
    let guarded = false;
    for (const [name, on] of flags) {
      const known = this.known.get(name);
      if (!on || !known) continue;
      const declaresGuard = known.manifest.preMutationGuard === true;
      const ok = await this.ensureLoaded(name);
      const p = this.loaded.get(name);
      if (declaresGuard && (!ok || !p?.guards.length)) {
        throw unavailable(`Plugin ${name} is enabled but its pre-mutation check is not installed; refusing the write`);
      }
      if (!p?.guards.length) continue;
      guarded = true;
      const input: GuardInput = {
        type: kindOfAction(check.action),
        action: check.action,
        agent: check.principal.who,
        project_id: typeof check.subject.project_id === 'string' ? check.subject.project_id : null,
        data: structuredClone(check.subject),
        principal: check.principal,
      };
      for (const g of p.guards) {
        try {
          await timeout(
            Promise.resolve().then(() => g(input)),
            HOOK_TIMEOUT_MS,
            `guard ${check.action}`,
          );
        } catch (err) {
          if (err instanceof AppError) throw err;
          this.statsOf(name).guard_errors++;
          this.ctx.log.error(
            `[plugins] ${name}: guard error for ${check.action}: ${(err as Error)?.message ?? String(err)}`,
          );
          throw unavailable(`Plugin ${name} could not evaluate this write; refusing it`);
        }
      }
    }
    if (!guarded && !this.warnedNoGuard) {
      this.warnedNoGuard = true;
      this.ctx.log.warn(
        '[plugins] NO PRE-MUTATION GUARD INSTALLED - guardrails block rules are not enforced (guardrails plugin not enabled)',
      );
    }
  }
}

const hosts = new WeakMap<AppContext, PluginHost>();

/** Called by createApp before any router is built. */
export function startPluginHost(ctx: AppContext, sources: PluginSource[]): PluginHost {
  const host = new PluginHost(ctx, sources);
  hosts.set(ctx, host);
  return host;
}

/** A plugin-offered service for core code (null without a host, or while no enabled plugin offers it). */
export function pluginServiceOf<T extends object>(ctx: AppContext, name: string): Promise<T | null> {
  const h = hosts.get(ctx);
  return h ? h.service<T>(name) : Promise.resolve(null);
}

export function pluginHostOf(ctx: AppContext): PluginHost {
  const h = hosts.get(ctx);
  // REL-13: plugin routes without a host means the wiring order is wrong; fail loudly.
  if (!h)
    throw new Error('plugin host not started: createApp must call startPlugins(ctx) before mounting plugin routes');
  return h;
}
