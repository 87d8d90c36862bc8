import type { Hono } from 'hono';
import type { AppEnv } from '../http/env.js';

/** The answer of one in-process REST call. */
export interface RestAnswer {
  status: number;
  /** JSON of many shapes: each tool reads the fields it knows. */
  body: any;
  text: string;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

/**
 * Headers of the MCP request that a REST call inherits: the credentials (so the route's own guard
 * resolves the very same principal), the acting name, the client address (so rate limits and the
 * agent-key failure counter see the real caller, not one shared "MCP" bucket) and the host (links
 * in answers point at the instance the client used).
 */
export const INHERITED = [
  'x-agent-key',
  'x-admin-key',
  'authorization',
  'x-acting-as',
  'x-forwarded-for',
  'x-forwarded-proto',
  'cf-connecting-ip',
  'host',
  'x-request-id',
];

/**
 * Runs tool calls through the app's own router, in process: no socket, no Workers subrequest, and
 * no second copy of any rule. A tool therefore passes exactly the guard, validation, guardrail
 * check, rate limit and service a REST client passes — "a tool may do what the principal may do
 * over REST" holds by construction instead of by keeping two call paths in step.
 */
export class RestCaller {
  private readonly headers: Headers;
  private readonly origin: string;

  constructor(
    private readonly app: Hono<AppEnv>,
    incoming: Request,
    /** The caller's credential headers, already normalised by the endpoint (see mcp/auth.ts). */
    headers: Headers,
    private readonly env: unknown,
    private readonly exec: ExecutionContextLike | undefined,
    private readonly prefix: string,
  ) {
    this.origin = new URL(incoming.url).origin;
    this.headers = headers;
  }

  async call(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<RestAnswer> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined && v !== null) qs.set(k, String(v));
    const q = qs.toString();
    const url = `${this.origin}${this.prefix}${path}${q ? (path.includes('?') ? '&' : '?') + q : ''}`;
    const headers = new Headers(this.headers);
    let body: string | undefined;
    if (opts.body !== undefined && method !== 'GET') {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(opts.body);
    }
    const res = await this.app.fetch(new Request(url, { method, headers, body }), this.env, this.exec as never);
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: tools show the raw text.
    }
    return { status: res.status, body: parsed, text };
  }
}

export interface ExecutionContextLike {
  waitUntil(p: Promise<unknown>): void;
  passThroughOnException(): void;
}
