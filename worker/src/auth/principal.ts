import type { Context, MiddlewareHandler } from 'hono';
import type { AppContext } from '../context.js';
import { type AppError, forbidden, unauthorized } from '../http/errors.js';
import { agentsRepo } from '../domain/agents/repo.js';
import { studioUsersRepo } from '../domain/studio/repo.js';
import { hashAgentKey } from './agent-keys.js';
import { secretsEqual } from './crypto.js';
import { verifyOperatorToken } from './jwt.js';
import type { AppEnv } from '../http/env.js';
import { loadBody, readsBodyAfterAuth } from '../http/body.js';

/**
 * Who is calling. Derived from credentials only (spec README: identity comes from
 * authentication). `who` is the wire attribution string (an agent's id, an operator's display name,
 * the admin's X-Acting-As or `__system__`): attribute writes with it, name it in summaries through
 * `displayName` (./who.ts); comparisons use the typed fields.
 */
export type Principal =
  | { kind: 'admin'; isAdmin: true; who: string; actingAs: string | null }
  | {
      kind: 'operator';
      isAdmin: boolean;
      who: string;
      userId: number;
      username: string;
      displayName: string;
      role: string;
    }
  | { kind: 'agent'; isAdmin: false; who: string; id: string; projectId: string; role: string };

type JwtResult =
  | { state: 'absent' }
  | { state: 'invalid' }
  | { state: 'valid'; principal: Extract<Principal, { kind: 'operator' }> };
type AgentResult =
  | { state: 'absent' }
  | { state: 'invalid' }
  | { state: 'limited'; error: AppError }
  | { state: 'valid'; principal: Extract<Principal, { kind: 'agent' }> };

/**
 * Reads each credential at most once per request, lazily: a route guarded for admins never
 * touches the agent-key failure counter, and vice versa.
 */
export class Credentials {
  private jwtP?: Promise<JwtResult>;
  private adminP?: Promise<boolean>;
  private agentP?: Promise<AgentResult>;

  constructor(
    private readonly app: AppContext,
    private readonly headers: Headers,
    private readonly ip: string,
  ) {}

  get hasAuthorizationHeader() {
    return this.headers.has('authorization');
  }
  get hasAdminKeyHeader() {
    return this.headers.has('x-admin-key');
  }
  get hasAgentKeyHeader() {
    return this.headers.has('x-agent-key');
  }

  jwt(): Promise<JwtResult> {
    this.jwtP ??= this.readJwt();
    return this.jwtP;
  }

  adminKey(): Promise<boolean> {
    this.adminP ??= secretsEqual(this.headers.get('x-admin-key'), this.app.config.adminKey);
    return this.adminP;
  }

  agent(): Promise<AgentResult> {
    this.agentP ??= this.readAgent();
    return this.agentP;
  }

  get actingAs(): string | null {
    const v = this.headers.get('x-acting-as')?.trim();
    return v ? v.slice(0, 128) : null;
  }

  private async readJwt(): Promise<JwtResult> {
    const h = this.headers.get('authorization');
    if (!h) return { state: 'absent' };
    const m = h.match(/^Bearer\s+(.+)$/i);
    if (!m) return { state: 'invalid' };
    return this.fromToken(m[1].trim());
  }

  /** Also used by the SSE `?token=` path. */
  async fromToken(token: string): Promise<JwtResult> {
    const now = this.app.clock.now();
    const claims = await verifyOperatorToken(this.app.config.jwtSecret, token, now);
    if (!claims) return { state: 'invalid' };
    // Role and existence come from the database, not the token (SEC-05); a bumped token
    // version (password change/reset, role change) revokes older tokens.
    const user = await studioUsersRepo.byId(this.app.db, claims.userId);
    if (!user || user.token_version !== claims.tv) return { state: 'invalid' };
    touchLastSeen(this.app, user.id);
    const displayName = user.display_name || user.username;
    return {
      state: 'valid',
      principal: {
        kind: 'operator',
        isAdmin: user.role === 'admin',
        who: displayName,
        userId: user.id,
        username: user.username,
        displayName,
        role: user.role,
      },
    };
  }

  private async readAgent(): Promise<AgentResult> {
    const key = this.headers.get('x-agent-key');
    if (!key) return { state: 'absent' };
    const hash = this.app.runtime.sha256Hex?.(key) ?? hashAgentKey(key);
    let agent = this.app.keyCache.get(hash);
    if (!agent) {
      const row = await agentsRepo.byKeyHash(this.app.db, hash);
      if (row) {
        agent = { id: row.id, projectId: row.project_id, role: row.role };
        this.app.keyCache.set(hash, agent);
      }
    }
    if (agent) {
      // Keys that verify are never locked out by others' failures behind the same NAT (SEC-06).
      return {
        state: 'valid',
        principal: {
          kind: 'agent',
          isAdmin: false,
          who: agent.id,
          id: agent.id,
          projectId: agent.projectId,
          role: agent.role,
        },
      };
    }
    const limiter = this.app.limiters.agentKeyFailures;
    try {
      limiter.check(this.ip);
    } catch (err) {
      return { state: 'limited', error: err as AppError };
    }
    limiter.fail(this.ip);
    return { state: 'invalid' };
  }
}

/** last_seen is written at most once per 30 s per user (spec 07 REL-08). */
const lastSeenWrites = new WeakMap<AppContext, Map<number, number>>();
function touchLastSeen(app: AppContext, userId: number) {
  let m = lastSeenWrites.get(app);
  if (!m) {
    m = new Map();
    lastSeenWrites.set(app, m);
  }
  const now = app.clock.now().getTime();
  if ((m.get(userId) ?? 0) > now - 30_000) return;
  m.set(userId, now);
  if (m.size > 10_000) m.clear();
  app.runtime.waitUntil(studioUsersRepo.touchLastSeen(app.db, userId).catch(() => undefined));
}

function adminPrincipal(creds: Credentials): Principal {
  const actingAs = creds.actingAs;
  return { kind: 'admin', isAdmin: true, who: actingAs ?? '__system__', actingAs };
}

/** agent: X-Agent-Key only. */
export async function resolveAgent(creds: Credentials): Promise<Principal> {
  const r = await creds.agent();
  if (r.state === 'absent') throw unauthorized('Missing X-Agent-Key header');
  if (r.state === 'limited') throw r.error;
  if (r.state === 'invalid') throw forbidden('Invalid agent key');
  return r.principal;
}

/** admin: admin-role JWT, else the admin key (JWT wins: a non-admin JWT is refused even with a valid key). */
export async function resolveAdmin(creds: Credentials): Promise<Principal> {
  const j = await creds.jwt();
  if (j.state === 'valid') {
    if (!j.principal.isAdmin) throw forbidden('Admin role required');
    return j.principal;
  }
  if (await creds.adminKey()) return adminPrincipal(creds);
  if (!creds.hasAdminKeyHeader && !creds.hasAuthorizationHeader) throw unauthorized('Authentication required');
  throw forbidden('Invalid admin key');
}

/** human: any operator JWT, else the admin key; never an agent key. */
export async function resolveHuman(creds: Credentials): Promise<Principal> {
  const j = await creds.jwt();
  if (j.state === 'valid') return j.principal;
  if (await creds.adminKey()) return adminPrincipal(creds);
  throw forbidden('Operator or admin access required');
}

/** any: operator JWT, admin key, or agent key (failures are the agent guard's). */
export async function resolveAny(creds: Credentials): Promise<Principal> {
  const j = await creds.jwt();
  if (j.state === 'valid') return j.principal;
  if (await creds.adminKey()) return adminPrincipal(creds);
  return resolveAgent(creds);
}

type Resolver = (creds: Credentials) => Promise<Principal>;

/** Authenticates, and only then reads the request body (SEC-22: nothing read for strangers). */
function guard(resolve: Resolver): MiddlewareHandler<AppEnv> {
  return readsBodyAfterAuth(async (c, next) => {
    c.set('principal', await resolve(c.get('credentials')));
    await loadBody(c);
    await next();
  });
}

/** Route guards (spec 01 §2.3). Each sets `c.get('principal')`. */
export const requireAgent = guard(resolveAgent);
export const requireAdmin = guard(resolveAdmin);
export const requireHuman = guard(resolveHuman);
export const requireAny = guard(resolveAny);

export function principalOf(c: Context<AppEnv>): Principal {
  const p = c.get('principal');
  if (!p) throw new Error('route has no auth guard');
  return p;
}

/** Self-or-admin: typed comparison, so an operator named like an agent is never "self" (SEC-14). */
export function isSelfOrAdmin(p: Principal, agentId: string): boolean {
  return p.isAdmin || (p.kind === 'agent' && p.id === agentId);
}
