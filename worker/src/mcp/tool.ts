import { z } from 'zod';
import type { Principal } from '../auth/principal.js';
import type { Query, RestAnswer, RestCaller } from './dispatch.js';

/** A REST answer outside 2xx, carried to the tool result with its status and extra fields (spec 08 D25). */
export class ToolFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const b = body as { error?: unknown } | null;
    super(typeof b?.error === 'string' ? b.error : typeof body === 'string' && body ? body : `HTTP ${status}`);
  }
}

/** A tool argument problem found by the tool itself (invalid JSON text, a missing id) — an isError answer. */
export class ToolArgError extends Error {}

/** What a tool handler gets: the caller, its own agent id ("self") and the in-process REST caller. */
export class ToolEnv {
  constructor(
    readonly principal: Principal,
    private readonly caller: RestCaller,
  ) {}

  /** The caller's agent id: the agent itself, or the admin key's X-Acting-As name. */
  get self(): string | null {
    const p = this.principal;
    if (p.kind === 'agent') return p.id;
    if (p.kind === 'admin') return p.actingAs;
    return null;
  }

  get isAgent() {
    return this.principal.kind === 'agent';
  }

  raw(method: string, path: string, opts?: { query?: Query; body?: unknown }): Promise<RestAnswer> {
    return this.caller.call(method, path, opts);
  }

  /** The body of a 2xx answer; anything else becomes a ToolFailure. */
  async rest(method: string, path: string, opts?: { query?: Query; body?: unknown }): Promise<any> {
    const r = await this.caller.call(method, path, opts);
    if (r.status < 200 || r.status >= 300) throw new ToolFailure(r.status, r.body);
    return r.body;
  }
}

export interface ToolDef {
  name: string;
  description: string;
  args: z.ZodObject;
  /**
   * The REST route the tool needs ("GET /drones/jobs"). Tools of an area whose routes this build
   * does not mount are not listed, so a client never sees a tool that can only answer 404.
   */
  requires?: string;
  run(env: ToolEnv, args: Record<string, unknown>): Promise<string>;
}

/** Declares a tool with typed arguments. Unknown arguments are refused, never silently dropped (spec 08 §1.7). */
export function tool<S extends z.ZodRawShape>(def: {
  name: string;
  description: string;
  args?: S;
  requires?: string;
  run(env: ToolEnv, args: z.infer<z.ZodObject<S>>): Promise<string>;
}): ToolDef {
  return {
    name: def.name,
    description: def.description,
    args: z.strictObject(def.args ?? ({} as S)),
    requires: def.requires,
    run: def.run as ToolDef['run'],
  };
}

// ---------- shared argument shapes ----------

/** Positive integer ids (JSON numbers; integer-valued strings such as "12" are accepted too). */
export const intId = z.union([z.number().int().positive(), z.string().regex(/^\d+$/).transform(Number)]);
export const text = (max = 100_000) => z.string().max(max);
/**
 * A JSON value given either as JSON itself or as JSON text (spec 08 D19). Parsing happens in the
 * handler through `jsonArg`, so invalid text becomes an isError answer that names the argument.
 */
export const jsonish = z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]);

export function jsonArg(name: string, v: unknown, opts: { lenient?: boolean } = {}): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    if (opts.lenient) return v;
    throw new ToolArgError(`${name} is not valid JSON: ${v.slice(0, 100)}`);
  }
}

export const enc = encodeURIComponent;

/** Drops undefined fields so "absent" stays absent while "" / 0 / false are sent (spec 08 D21). */
export function present<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

export const json = (v: unknown) => JSON.stringify(v, null, 2);

/** `42s ago` / `5m ago` / `3h ago` / `2d ago` / `never`, from a DB timestamp or ISO string. */
export function age(ts: unknown, now = Date.now()): string {
  if (typeof ts !== 'string' || !ts) return 'never';
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(ts) ? `${ts.replace(' ', 'T')}Z` : ts;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

/** A list answer: a header with the count, one line per item, or the empty sentence. */
export function listing<T>(title: string, items: T[], line: (x: T) => string, empty: string): string {
  if (!items.length) return empty;
  return [`=== ${title} (${items.length}) ===`, ...items.map(line)].join('\n');
}

export function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}
