import type { ZodObject, ZodType } from 'zod';
import type { Principal } from '../auth/principal.js';
import type { Db, Queryable } from '../db/db.js';
import type { Clock, Logger } from '../runtime.js';
import type { MyceliumEvent } from '../domain/events/bus.js';
import type { CoreApi } from './core-api.js';

/**
 * The contract between the host and a plugin. A plugin module exports `setup(api)`; everything
 * it may touch comes through `api`: its own database, its own config, a narrow core API, and
 * registration functions for routes, hooks, pre-mutation guards and periodic jobs. It never
 * receives the core database handle (spec README "Plugins keep the promises", spec 06 W1).
 */

/** Who may call a route. `public` must also be listed in the manifest's `publicRoutes` (SEC-38). */
export type RouteAuth = 'any' | 'agent' | 'admin' | 'human' | 'public';
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

export interface PluginRequest {
  method: HttpMethod;
  /** Path inside the plugin, e.g. `/rules/3`. */
  path: string;
  params: Record<string, string>;
  /** Query with `project`/`game` → `project_id` normalisation. */
  query: Record<string, string>;
  /** JSON body object with the same normalisation ({} when absent). */
  body: Record<string, unknown>;
  /** The exact request bytes (signature checks of inbound webhooks). */
  rawBody: Uint8Array;
  headers: Headers;
  /** Null only on public routes. */
  principal: Principal | null;
  /** Attribution string of the caller ('' on public routes). */
  who: string;
  /**
   * The input as the route's declared schemas parsed it (issue 15): `params`, `query` and `body`
   * are the schemas' outputs (undefined when the route declares none, or a raw body). With
   * `lazyBody` the body is validated on first read, so a plugin's own 404 or guard check can come
   * first, as in core routes.
   */
  readonly input: { readonly params: unknown; readonly query: unknown; readonly body: unknown };
}

/**
 * What a plugin may declare about a route besides who may call it. Schemas are optional zod
 * objects; the host validates them with the core's sentences (`issueToError`), documents them in
 * /openapi.json under the plugin's tag, and generates the `inputSchema` of MCP tools naming the
 * route from them.
 */
export interface RouteOptions {
  auth?: RouteAuth;
  summary?: string;
  description?: string;
  /** Path placeholders (`:id`): documented, validated, and typed in generated MCP tool schemas. */
  params?: ZodObject;
  query?: ZodObject;
  /**
   * The JSON body, or `'raw'` for a route that reads `req.rawBody` itself (a signed webhook whose
   * signature covers the exact bytes): documented as a JSON object, never parsed by the host.
   */
  body?: ZodType | 'raw';
  /** Validate the body when the handler first reads `req.input.body` (404s and guards first). */
  lazyBody?: boolean;
  /**
   * The success answer's schema (issue 15): a 2xx answer is parsed through it as core routes'
   * answers are (`shapeResponse`), so fields it does not name (a secret, an internal column) are
   * dropped and a mismatch is a logged 500. Documented in /openapi.json. Plain zod without
   * `.meta({ id })` (plugin schemas are inlined in the document, not shared components).
   */
  response?: ZodType;
  /** The success status the route answers (documentation; default 200). */
  status?: 200 | 201 | 202;
}

/** A handler may return a plain value (200 JSON) or an explicit reply. */
export class PluginReply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}
export const reply = (status: number, body: unknown, headers?: Record<string, string>) =>
  new PluginReply(status, body, headers);

export type RouteHandler = (req: PluginRequest) => unknown | Promise<unknown>;
export type HookHandler = (event: MyceliumEvent) => unknown | Promise<unknown>;

/** Normalised input of a pre-mutation check: the same shape guardrails evaluates for events (W5). */
export interface GuardInput {
  /** Event kind the mutation will produce, e.g. `task_created`. */
  type: string;
  /** Core action name as the service called it, e.g. `task.create`. */
  action: string;
  agent: string;
  project_id: string | null;
  data: Record<string, unknown>;
  principal: Principal;
}
export type PluginGuard = (input: GuardInput) => void | Promise<void>;

export interface PluginJob {
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export interface PluginConfigReader {
  /** Effective value: stored value, else the manifest default, else undefined. */
  get(key: string): Promise<string | undefined>;
  all(): Promise<Record<string, string>>;
}

export interface PluginEventInput {
  type: string;
  agent?: string;
  projectId?: string | null;
  summary?: string;
  data?: Record<string, unknown>;
}

export interface PluginApi {
  readonly name: string;
  /** The plugin's own database (its own file on Node, its own libSQL database on Workers). */
  readonly db: Db;
  readonly log: Logger;
  readonly clock: Clock;
  readonly config: PluginConfigReader;
  readonly core: CoreApi;
  /** Emits a plugin event through the core bus (persisted, SSE, webhooks, other plugins' hooks). */
  emit(e: PluginEventInput): Promise<void>;
  /**
   * Writes to the plugin's own database together with the events that report them (issue 17):
   * `fn` runs in a transaction of the plugin database and stages events with `emit`; the events
   * are inserted into the core database (one batch) before that transaction commits, so a refused
   * event insert rolls the plugin's writes back, and they are published only after both committed.
   * Use `tx` (not `api.db`) for the writes inside `fn`. Answers what `fn` answered.
   */
  atomic<T>(fn: (tx: Queryable, emit: (e: PluginEventInput) => void) => Promise<T>): Promise<T>;
  route(method: HttpMethod, path: string, handler: RouteHandler, opts?: RouteOptions): void;
  get(path: string, handler: RouteHandler, opts?: RouteOptions): void;
  post(path: string, handler: RouteHandler, opts?: RouteOptions): void;
  put(path: string, handler: RouteHandler, opts?: RouteOptions): void;
  delete(path: string, handler: RouteHandler, opts?: RouteOptions): void;
  /** Subscribes to an event type (`*` = all). Runs after the emitting write committed, time-boxed. */
  on(type: string, fn: HookHandler): void;
  /** Registers a pre-mutation check; throw an AppError (403) to block the mutation. */
  guard(fn: PluginGuard): void;
  /** Periodic work run by maintenance (Node timer / Workers cron) while the plugin is enabled. */
  job(job: PluginJob): void;
  /**
   * Outbound HTTP through the SSRF guard (spec 07 SEC-31); throws SsrfBlockedError on a block.
   * `allow` exempts exact `host[:port]` entries an operator configured (e.g. a local Ollama);
   * `timeoutMs` replaces the default 5 s deadline.
   */
  fetch(url: string, init?: RequestInit, opts?: { allow?: readonly string[]; timeoutMs?: number }): Promise<Response>;
  /** An environment variable from the host's plugin-readable list (config.ts PLUGIN_ENV_VARS); never core secrets. */
  env(name: string): string | undefined;
  /** Offers a named in-process service to the core and to other plugins (e.g. `memory`). */
  provide(name: string, impl: object): void;
  /** A service another plugin provides, or null when that plugin is not enabled and loaded. */
  service<T extends object>(name: string): Promise<T | null>;
}

/**
 * Smart boot's optional vector scorer (spec 02 §3.4.2), offered by semantic-memory as the
 * `context-scorer` service: how close each context key (`namespace:key`) is to the agent's work.
 */
export interface ContextScorer {
  score(input: {
    agentId: string;
    projectId: string;
    query: string;
    keys: { namespace: string; key: string }[];
  }): Promise<{ scores: Map<string, number>; method: 'hybrid' | 'keyword+vector' } | null>;
}

export interface PluginModule {
  setup(api: PluginApi): void | Promise<void>;
}

/** One plugin as bundled at build time by scripts/gen-plugins.mjs (the Worker cannot read folders). */
export interface PluginSource {
  dir: string;
  /** plugin.json as text: parsed and validated at load, so a broken file is contained. */
  manifest: string;
  /** The MCP tool file named by the manifest (default mcp-tools.json) as text, or null. */
  mcpTools: string | null;
  migrations: { name: string; sql: string }[];
  /** Lazy import of the entry module: a throw while evaluating it is a load error of that plugin only. */
  load: (() => Promise<unknown>) | null;
}
