import type { AppContext } from '../../context.js';
import type { Config } from '../../config.js';
import { Credentials, resolveAny, type Principal } from '../../auth/principal.js';
import { base64Encode } from '../../auth/crypto.js';
import { clientIp } from '../../http/client-ip.js';
import { AppError } from '../../http/errors.js';
import { principalFromTicket } from '../events/service.js';

export type VoiceAuth = { ok: true; principal: Principal } | { ok: false; status: number; body: { error: string } };

/**
 * Who may open `/voice` (spec 07 P-06, spec 01 weak spot 14): the same credentials as REST, checked
 * before the upgrade completes, so a refused client gets an HTTP answer and never a socket.
 * Browsers cannot set headers on a WebSocket, so they pass `?ticket=` (the 5-minute stream ticket
 * from `POST /events/stream-ticket`) or, for compatibility with the original, `?token=<operator JWT>`;
 * other clients send `Authorization: Bearer`, `X-Admin-Key` or `X-Agent-Key` as on any route.
 */
export async function authenticateVoice(
  app: AppContext,
  url: URL,
  headers: Headers,
  peer?: string,
): Promise<VoiceAuth> {
  const ip = clientIp(app.config.trustProxy, headers.get('x-forwarded-for') ?? undefined, peer);
  const creds = new Credentials(app, headers, ip);
  try {
    const ticket = url.searchParams.get('ticket');
    if (ticket) {
      const p = await principalFromTicket(app, ticket);
      return p ? { ok: true, principal: p } : refuse(401, 'Invalid or expired stream ticket');
    }
    const token = url.searchParams.get('token');
    if (token) {
      // Operator tokens only, verified and re-read from the database like a Bearer header (SEC-05).
      const j = await creds.fromToken(token);
      return j.state === 'valid' ? { ok: true, principal: j.principal } : refuse(401, 'Invalid token');
    }
    if (!creds.hasAuthorizationHeader && !creds.hasAdminKeyHeader && !creds.hasAgentKeyHeader)
      return refuse(401, 'Authentication required');
    return { ok: true, principal: await resolveAny(creds) };
  } catch (err) {
    if (err instanceof AppError) return refuse(err.status, err.message);
    throw err;
  }
}

const refuse = (status: number, error: string): VoiceAuth => ({ ok: false, status, body: { error } });

/** The refusal as an HTTP response (Workers; Node writes the same status and body on the raw socket). */
export function refusalResponse(auth: Extract<VoiceAuth, { ok: false }>): Response {
  return new Response(JSON.stringify(auth.body), {
    status: auth.status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

export interface IceServer {
  urls: string;
  username?: string;
  credential?: string;
}

/**
 * `GET /api/voice/turn-credentials` (spec 01 §1.10): time-limited TURN credentials in the TURN REST
 * API scheme that coturn implements (`use-auth-secret`): `username = "<expiry unix seconds>:<user>"`,
 * `credential = base64(HMAC-SHA1(TURN_SECRET, username))`. The relay recomputes the HMAC and refuses
 * expired usernames, so nothing is stored here. Without TURN_URLS and TURN_SECRET only STUN servers
 * are returned — no third-party relay and no well-known shared secret (weak spot 14).
 */
export async function turnCredentials(
  config: Config,
  p: Principal,
  now: Date,
): Promise<{ iceServers: IceServer[]; ttl?: number }> {
  const v = config.voice;
  const iceServers: IceServer[] = v.stunUrls.map((urls) => ({ urls }));
  if (!v.turnSecret || !v.turnUrls.length) return { iceServers };
  const expiry = Math.floor(now.getTime() / 1000) + v.turnTtlSeconds;
  // The user part identifies the caller in the relay's logs; ':' is the scheme's separator.
  const user = (p.kind === 'agent' ? `agent-${p.id}` : p.kind === 'operator' ? `op-${p.userId}` : 'admin').replace(
    /[^A-Za-z0-9._@-]/g,
    '_',
  );
  const username = `${expiry}:${user}`;
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(v.turnSecret),
    { name: 'HMAC', hash: 'SHA-1' },
    false,
    ['sign'],
  );
  const credential = base64Encode(
    new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(username))),
  );
  for (const urls of v.turnUrls) iceServers.push({ urls, username, credential });
  return { iceServers, ttl: v.turnTtlSeconds };
}
