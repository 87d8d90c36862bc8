import type { Clock, Sleep } from './ports.js';

export interface HealthPollOptions {
  fetch: typeof fetch;
  url: string;
  /** Total time allowed for all attempts. */
  budgetMs: number;
  /** Pause between attempts. */
  intervalMs: number;
  /** Deadline of a single attempt. */
  attemptTimeoutMs: number;
  clock: Clock;
  sleep: Sleep;
}

export interface HealthPollResult {
  ok: boolean;
  attempts: number;
  elapsed: number;
  /** HTTP status of the last answer, when one arrived. */
  status?: number;
  error?: string;
}

/**
 * Polls a tenant's `/health` until it answers 2xx with `{"status":"ok"}` or the budget is
 * spent. Another attempt starts only if, after the interval, the budget still has time left;
 * each attempt then gets its full `attemptTimeoutMs` (so the total may exceed the budget by
 * at most one attempt) rather than an absurdly short deadline that could never succeed.
 */
export async function pollHealth(o: HealthPollOptions): Promise<HealthPollResult> {
  const start = o.clock().getTime();
  let attempts = 0;
  let lastStatus: number | undefined;
  let lastError = 'no attempt made';
  for (;;) {
    attempts++;
    try {
      const res = await o.fetch(o.url, {
        method: 'GET',
        headers: { Accept: 'application/json' },
        signal: AbortSignal.timeout(o.attemptTimeoutMs),
      });
      lastStatus = res.status;
      let body: unknown = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      const status = body && typeof body === 'object' ? (body as { status?: unknown }).status : undefined;
      if (res.ok && status === 'ok') {
        return { ok: true, attempts, elapsed: o.clock().getTime() - start, status: res.status };
      }
      lastError = res.ok
        ? `health answered status ${JSON.stringify(status ?? null)}`
        : `health answered HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error;
      lastStatus = undefined;
      lastError =
        e?.name === 'TimeoutError' || e?.name === 'AbortError' ? 'health check timed out' : String(e?.message ?? e);
    }
    const elapsed = o.clock().getTime() - start;
    if (elapsed + o.intervalMs >= o.budgetMs) {
      return { ok: false, attempts, elapsed, status: lastStatus, error: lastError };
    }
    await o.sleep(o.intervalMs);
  }
}
