import type { MiddlewareHandler } from 'hono';
import type { AppContext } from '../context.js';
import { AppError, badRequest } from './errors.js';
import type { AppEnv } from './env.js';
import { clientIp } from './client-ip.js';
import { Credentials } from '../auth/principal.js';

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

export const BODY_LIMIT_BYTES = 1024 * 1024;
/**
 * Deepest JSON nesting a body may have. Deeper values overflow the stack later, wherever a
 * value is cloned, stringified or compared recursively (a 500 found by fuzzing), so the bound is
 * enforced once, here, before the body is parsed (spec 07 SEC-51).
 */
export const MAX_JSON_DEPTH = 64;

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
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) h.set(k, v);
    h.set('X-Request-Id', requestId);
    const ct = h.get('content-type');
    if (ct && /^application\/json\s*$/i.test(ct)) h.set('content-type', 'application/json; charset=utf-8');
  };
}

/** Client address and lazily-read credentials for the guards. */
export function identify(app: AppContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ip = clientIp(app.config.trustProxy, c.req.header('x-forwarded-for'), app.runtime.peerAddress(c.req.raw, c.env));
    c.set('clientIp', ip);
    c.set('credentials', new Credentials(app, c.req.raw.headers, ip));
    await next();
  };
}

/**
 * Reads the body once, bounded to 1 MB whatever Content-Length claims, and parses JSON:
 * too large → 413, malformed → 400 `Invalid JSON in request body`. Other content types give `{}`.
 */
export function jsonBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('body', {});
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return next();
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > BODY_LIMIT_BYTES) throw new AppError(413, 'Request body too large');
    const bytes = await readBounded(c.req.raw.body);
    // Kept for signature checks of inbound webhooks (HMAC over the exact bytes).
    c.set('rawBody', bytes);
    const type = c.req.header('content-type') ?? '';
    if (/^application\/([a-z.+-]*\+)?json/i.test(type) && bytes.length > 0) {
      let parsed: unknown;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw badRequest('Invalid JSON in request body');
      }
      if (jsonDepth(text) > MAX_JSON_DEPTH) throw badRequest(`JSON in request body is nested deeper than ${MAX_JSON_DEPTH} levels`);
      try {
        parsed = JSON.parse(text);
      } catch {
        throw badRequest('Invalid JSON in request body');
      }
      if (parsed === null || typeof parsed !== 'object') throw badRequest('Invalid JSON in request body');
      c.set('body', parsed);
    }
    await next();
  };
}

async function readBounded(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > BODY_LIMIT_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new AppError(413, 'Request body too large');
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.length;
  }
  return out;
}

/**
 * Deepest bracket nesting of a JSON text, skipping string contents; a linear scan without
 * recursion, so it is safe on any input (malformed text is left for JSON.parse to reject).
 */
export function jsonDepth(text: string): number {
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
