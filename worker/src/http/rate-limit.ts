import type { Principal } from '../auth/principal.js';
import { tooManyRequests } from './errors.js';

interface Window {
  count: number;
  resetAt: number;
}

/**
 * Fixed-window counter (spec 01 §1.5): the first hit opens a window, each later hit counts,
 * and more than `max` hits inside it is refused with 429 and Retry-After. In memory, per process
 * (per isolate on Workers), pruned by the maintenance tick so it cannot grow without bound.
 */
export class RateLimiter {
  private readonly windows = new Map<string, Window>();

  constructor(
    readonly name: string,
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a hit and throws 429 when over the limit. */
  hit(key: string): void {
    const w = this.bump(key);
    if (w.count > this.max) throw this.error(w);
  }

  /**
   * Failures-only mode: throws 429 once `max` failures were counted in the window, without
   * counting this attempt (pair with `fail` when the attempt turns out bad).
   */
  check(key: string): void {
    const w = this.windows.get(key);
    if (w && w.resetAt > this.now() && w.count >= this.max) throw this.error(w);
  }

  /** Counts a failure (credential limiters count only failures). */
  fail(key: string): void {
    this.bump(key);
  }

  private bump(key: string): Window {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= t) {
      w = { count: 0, resetAt: t + this.windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return w;
  }

  private error(w: Window) {
    return tooManyRequests(Math.max(1, Math.ceil((w.resetAt - this.now()) / 1000)));
  }

  prune(): void {
    const t = this.now();
    for (const [k, w] of this.windows) if (w.resetAt <= t) this.windows.delete(k);
  }

  get size(): number {
    return this.windows.size;
  }
}

/** The limiters of spec 01 §1.5, one set per app instance. */
export function createLimiters(now?: () => number) {
  const MIN = 60_000;
  return {
    login: new RateLimiter('login', 10, 15 * MIN, now),
    forgotPassword: new RateLimiter('forgot-password', 3, 15 * MIN, now),
    forgotPasswordIp: new RateLimiter('forgot-password-ip', 10, 15 * MIN, now),
    resetPassword: new RateLimiter('reset-password', 5, 15 * MIN, now),
    adminWrite: new RateLimiter('admin-write', 30, MIN, now),
    agentWrite: new RateLimiter('agent-write', 30, MIN, now),
    // "more than 30 failed lookups": the 31st forged key still gets its 403, the 32nd a 429 (SEC-06)
    agentKeyFailures: new RateLimiter('agent-key-failures', 31, MIN, now),
  };
}
export type Limiters = ReturnType<typeof createLimiters>;

/**
 * The one keying rule of the agent-write limiter (spec 01 §1.5, REL-24): everyone is limited; an
 * authenticated agent by its id (so rotating the key does not reset the window, and the raw key is
 * never held in memory), everyone else by client IP.
 */
function agentWriteKey(p: Principal, clientIp: string): string {
  return p.kind === 'agent' ? `agent:${p.id}` : `ip:${clientIp}`;
}

/** Counts one agent-write create (`POST /tasks`, `/bugs`, `/messages`); throws 429 past 30/min. */
export function hitAgentWrite(limiters: Limiters, p: Principal, clientIp: string): void {
  limiters.agentWrite.hit(agentWriteKey(p, clientIp));
}
