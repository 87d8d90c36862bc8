import type { MiddlewareHandler } from 'hono';
import type { AppContext } from '../context.js';
import { AppError, badRequest } from './errors.js';
import type { AppEnv } from './env.js';
import { clientIp } from './client-ip.js';
import { Credentials } from '../auth/principal.js';
import { matchedRoutes } from 'hono/route';
import { isAuthFirst } from './body.js';
import type { Runtime } from '../runtime.js';

/** Exact values from spec 01 §1.4 / spec 07 SEC-50, on every response. */
export const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'X-XSS-Protection': '0',
  'Referrer-Policy': 'strict-origin-when-cross-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
  'Strict-Transport-Security': 'max-age=63072000; includeSubDomains',
  'Content-Security-Policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
};

/** The same pairs as a list, built once: every response sets them. */
const SECURITY_HEADER_LIST = Object.entries(SECURITY_HEADERS);

export const BODY_LIMIT_BYTES = 1024 * 1024;
/** One decoder for every body: a whole-buffer `decode` keeps no state between calls. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
/**
 * Deepest JSON nesting a body may have. Deeper values overflow the stack later, wherever a
 * value is cloned, stringified or compared recursively (a 500 found by fuzzing), so the bound is
 * enforced once, here, before the body is parsed (spec 07 SEC-51).
 */
const MAX_JSON_DEPTH = 64;

const CORS_METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
const CORS_HEADERS = 'Content-Type, Authorization, X-Admin-Key, X-Agent-Key, X-Acting-As, X-Request-Id';

/**
 * Outermost layer: request id, CORS (an allow-list, never a reflected arbitrary origin),
 * preflights, security headers and the JSON charset on whatever response comes back —
 * including errors and 404s.
 */
export function frame(app: AppContext): MiddlewareHandler<AppEnv> {
  const allowed = new Set(app.config.corsOrigins);
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && /^[A-Za-z0-9._-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', requestId);
    const origin = c.req.header('origin');
    const originAllowed = !!origin && allowed.has(origin);

    if (c.req.method === 'OPTIONS') {
      c.res = new Response(null, { status: 204 });
      if (originAllowed) {
        c.res.headers.set('Access-Control-Allow-Methods', CORS_METHODS);
        c.res.headers.set('Access-Control-Allow-Headers', CORS_HEADERS);
        c.res.headers.set('Access-Control-Max-Age', '600');
      }
    } else {
      await next();
    }

    const h = c.res.headers;
    if (originAllowed) {
      h.set('Access-Control-Allow-Origin', origin!);
      h.set('Access-Control-Allow-Credentials', 'true');
    }
    if (origin) h.append('Vary', 'Origin');
    for (const [k, v] of SECURITY_HEADER_LIST) h.set(k, v);
    h.set('X-Request-Id', requestId);
    const ct = h.get('content-type');
    if (ct && /^application\/json\s*$/i.test(ct)) h.set('content-type', 'application/json; charset=utf-8');
  };
}

/** Client address and lazily-read credentials for the guards. */
export function identify(app: AppContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ip = clientIp(
      app.config.trustProxy,
      c.req.header('x-forwarded-for'),
      app.runtime.peerAddress(c.req.raw, c.env),
    );
    c.set('clientIp', ip);
    c.set('credentials', new Credentials(app, c.req.raw.headers, ip));
    await next();
  };
}

/** Memory all in-flight request bodies may hold together, and any one client (spec 07 REL-24). */
const BODY_MEMORY_TOTAL_BYTES = 64 * 1024 * 1024;
const BODY_MEMORY_PER_CLIENT_BYTES = 8 * 1024 * 1024;

/**
 * Bytes held by request bodies being read, overall and per client. A reservation that would pass
 * either cap is refused, so slow or abandoned uploads cannot pile up memory: per client → 429,
 * overall → 503 (both with Retry-After).
 */
export class BodyBudget {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  constructor(
    readonly totalCap = BODY_MEMORY_TOTAL_BYTES,
    readonly clientCap = BODY_MEMORY_PER_CLIENT_BYTES,
  ) {}

  take(client: string, n: number): void {
    const mine = this.perClient.get(client) ?? 0;
    if (mine + n > this.clientCap)
      throw new AppError(429, 'Too many request bodies in flight from this client', {}, { 'Retry-After': '1' });
    if (this.total + n > this.totalCap)
      throw new AppError(503, 'Server busy: too many request bodies in flight', {}, { 'Retry-After': '1' });
    this.total += n;
    this.perClient.set(client, mine + n);
  }

  give(client: string, n: number): void {
    if (n <= 0) return;
    this.total -= n;
    const left = (this.perClient.get(client) ?? 0) - n;
    if (left > 0) this.perClient.set(client, left);
    else this.perClient.delete(client);
  }

  get held(): number {
    return this.total;
  }
}

/**
 * The request body: bounded to 1 MB whatever Content-Length claims, and to the memory budget;
 * too large → 413, malformed → 400 `Invalid JSON in request body`, nested deeper than
 * MAX_JSON_DEPTH → 400. Other content types give `{}`. On a route whose guard authenticates
 * first (http/body.ts) the body is read only after the credentials pass, so unauthenticated
 * clients never make the server read or hold their bodies (SEC-22). A client that goes away
 * mid-upload gets no answer and leaves at most one rate-limited log line.
 */
export function jsonBody(app: AppContext, budget = new BodyBudget()): MiddlewareHandler<AppEnv> {
  const aborted = abortedUploadLog(app);
  return async (c, next) => {
    c.set('body', {});
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    // Multipart bodies (uploads) are left unread: the upload route streams them to storage
    // after its auth guard, so nothing is read or written for an unauthenticated caller (SEC-22).
    if (/^multipart\/form-data/i.test(c.req.header('content-type') ?? '')) return next();
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > BODY_LIMIT_BYTES) throw new AppError(413, 'Request body too large');
    const client = c.get('clientIp');
    let held = 0;
    const load = async () => {
      const bytes = await readBounded(app.runtime, c.req.raw, (n) => {
        budget.take(client, n);
        held += n;
      }).catch((err) => {
        if (err instanceof AppError) throw err;
        aborted();
        throw new AppError(400, 'Request body was not received completely');
      });
      // Kept for signature checks of inbound webhooks (HMAC over the exact bytes).
      c.set('rawBody', bytes);
      const type = c.req.header('content-type') ?? '';
      if (/^application\/([a-z.+-]*\+)?json/i.test(type) && bytes.length > 0) {
        let parsed: unknown;
        let text: string;
        try {
          text = STRICT_UTF8.decode(bytes);
        } catch {
          throw badRequest('Invalid JSON in request body');
        }
        if (jsonDepth(text) > MAX_JSON_DEPTH)
          throw badRequest(`JSON in request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
        try {
          parsed = JSON.parse(text);
        } catch {
          throw badRequest('Invalid JSON in request body');
        }
        if (parsed === null || typeof parsed !== 'object') throw badRequest('Invalid JSON in request body');
        c.set('body', parsed);
      }
    };
    let loading: Promise<void> | null = null;
    c.set('loadBody', () => (loading ??= load()));
    try {
      if (!matchedRoutes(c).some((r) => isAuthFirst(r.handler))) await c.get('loadBody')!();
      await next();
    } finally {
      budget.give(client, held);
    }
    // Refused before its body was read (failed authentication): close the connection rather than
    // let the server drain an upload nobody asked for. (Headers only: touching `c.req.raw.body`
    // would make the Node adapter start buffering the upload.)
    if (!loading && (declared > 0 || c.req.header('transfer-encoding'))) closeConnection(c.res);
  };
}

function closeConnection(res: Response) {
  try {
    res.headers.set('Connection', 'close');
  } catch {
    // immutable headers (a passed-through Response): leave the connection as it is
  }
}

/** One warning line per minute at most, with how many uploads were cut off since the last one. */
function abortedUploadLog(app: AppContext) {
  let last = 0;
  let count = 0;
  return () => {
    count++;
    const now = Date.now();
    if (now - last < 60_000) return;
    app.log.warn('request body not received completely (client went away)', { since_last_line: count });
    last = now;
    count = 0;
  };
}

/**
 * The whole body, at most BODY_LIMIT_BYTES (413 past it, without reading further), each chunk
 * reserved from the budget before it is kept. From the adapter when it can read the request itself
 * (`runtime.readBody`: Node reads the IncomingMessage, sparing the web stream), else from `req.body`.
 */
async function readBounded(runtime: Runtime, req: Request, reserve: (n: number) => void): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const take = (chunk: Uint8Array) => {
    total += chunk.length;
    if (total > BODY_LIMIT_BYTES) throw new AppError(413, 'Request body too large');
    reserve(chunk.length);
    chunks.push(chunk);
  };
  const direct = runtime.readBody?.(req, take);
  if (direct) await direct;
  else if (req.body) await readStream(req.body, take);
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.length;
  }
  return out;
}

async function readStream(stream: ReadableStream<Uint8Array>, take: (chunk: Uint8Array) => void): Promise<void> {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    try {
      take(value);
    } catch (err) {
      await reader.cancel().catch(() => undefined);
      throw err;
    }
  }
}

/**
 * Deepest bracket nesting of a JSON text, skipping string contents; a linear scan without
 * recursion, so it is safe on any input (malformed text is left for JSON.parse to reject).
 */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \\ */) i++;
      else if (ch === 34 /* " */) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 /* [ */ || ch === 123 /* { */) {
      if (++depth > max) max = depth;
    } else if (ch === 93 /* ] */ || ch === 125 /* } */) depth--;
  }
  return max;
}
