import type { AppContext } from '../../context.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { assertPublicUrl, guardedFetch, SsrfBlockedError, type GuardOptions } from '../../http/ssrf.js';
import { hmacSha256Base64, hmacSha256Hex } from '../../auth/crypto.js';
import type { Statement } from '../../db/types.js';
import type { EventInput, MyceliumEvent } from '../events/bus.js';
import { atomicWrite } from '../events/write.js';
import { toPublicWebhook, webhooksRepo, type DeliveryRow, type WebhookRow } from './repo.js';

const DEFAULT_WEBHOOK_EVENTS = ['task_created', 'request_created', 'message_sent'];
/** The value shown in place of a stored secret; a PUT carrying it leaves the secret unchanged. */
const SECRET_MASK = '••••••••';

const DELIVERY_TIMEOUT_MS = 5_000;
/** A claimed row is due again after this if its sender died mid-attempt (covers timeout and redirects). */
const LEASE_MS = 60_000;
/** Retries due this soon after a kick are awaited in the same background task. */
const INLINE_RETRY_WINDOW_MS = 15_000;
const MAX_BACKOFF_MS = 3_600_000;
const CLAIM_BATCH = 20;
const RESPONSE_BODY_MAX = 1000;

export interface WebhookInput {
  agent_id?: string;
  url?: string;
  events?: string[];
  secret?: string;
  active?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 5xx, 429 and network failures are worth another try (weak spot H4); other answers are final. */
const retryable = (status: number) => status >= 500 || status === 429;

export class WebhookService {
  constructor(private readonly app: AppContext) {}

  private guard(): GuardOptions {
    const rt = this.app.runtime;
    return {
      allow: this.app.config.webhookAllowLoopback,
      resolveHost: rt.resolveHost ? (h) => rt.resolveHost!(h) : undefined,
    };
  }

  /** The URL is checked at registration too, not only at delivery (weak spot H1). */
  private async checkUrl(url: string) {
    try {
      await assertPublicUrl(url, this.guard());
    } catch (err) {
      if (err instanceof SsrfBlockedError) throw badRequest(err.message);
      throw err;
    }
  }

  async create(by: string, input: Required<Pick<WebhookInput, 'agent_id' | 'url'>> & WebhookInput) {
    await this.checkUrl(input.url);
    const insert = webhooksRepo.insert({
      agent_id: input.agent_id,
      url: input.url,
      events: JSON.stringify(input.events ?? DEFAULT_WEBHOOK_EVENTS),
      secret: input.secret ?? '',
    });
    const ev = this.announcement('webhook_created', by, 0, input.agent_id);
    const res = await atomicWrite(this.app)
      .add('webhook', insert)
      .eventWithNewId(ev, 'webhook_id', ['Webhook #', ` created (routing ${input.agent_id})`])
      .commit();
    return { ok: true as const, id: res.row<WebhookRow>('webhook')!.id };
  }

  /** Audit trail without the URL or secret (either may embed credentials). */
  private announcement(type: string, by: string, id: number, agentId: string): EventInput {
    const verb = type.slice('webhook_'.length);
    return {
      type,
      agent: by,
      summary: `Webhook #${id} ${verb} (routing ${agentId})`,
      data: { webhook_id: id, agent_id: agentId },
    };
  }

  async list(agentId: string | undefined, includeInactive: boolean) {
    return (await webhooksRepo.list(this.app.db, agentId, includeInactive)).map(toPublicWebhook);
  }

  async update(by: string, id: number, input: WebhookInput) {
    const existing = await webhooksRepo.get(this.app.db, id);
    if (!existing) throw notFound('Webhook not found');
    if (input.url !== undefined) await this.checkUrl(input.url);
    const update = webhooksRepo.update(id, {
      agent_id: input.agent_id,
      url: input.url,
      events: input.events ? JSON.stringify(input.events) : undefined,
      secret: input.secret === undefined || input.secret === SECRET_MASK ? undefined : input.secret,
      active: input.active === undefined ? undefined : input.active ? 1 : 0,
    });
    // A webhook deleted meanwhile aborts the batch: no event for a change that did not happen.
    const res = await atomicWrite(this.app)
      .add('webhook', update)
      .abortIf(`NOT ${webhooksRepo.existsSql}`, [id], 'webhook gone')
      .event(this.announcement('webhook_updated', by, id, input.agent_id ?? existing.agent_id))
      .commitUnlessAborted();
    const row = res?.row<WebhookRow>('webhook');
    if (!row) throw notFound('Webhook not found');
    return toPublicWebhook(row);
  }

  async remove(by: string, id: number) {
    const existing = await webhooksRepo.get(this.app.db, id);
    if (!existing) throw notFound('Webhook not found');
    const res = await atomicWrite(this.app)
      .add(null, webhooksRepo.delete(id))
      .requireChanged('webhook gone')
      .event(this.announcement('webhook_deleted', by, id, existing.agent_id))
      .commitUnlessAborted();
    if (!res) throw notFound('Webhook not found');
    return { ok: true as const };
  }

  /**
   * Outbox rows for a webhook that a service routes itself (spec 04 §8.3), to put in the batch of
   * the write that causes it; call `kick()` after that batch commits.
   */
  enqueueStatement(event: string, routingAgentId: string | null, data: unknown): Statement {
    return webhooksRepo.enqueue(event, routingAgentId, this.payload(event, routingAgentId, data));
  }

  /** `enqueueStatement` that fires only when `when` holds inside the batch; `patch` fills one data field from SQL. */
  enqueueStatementWhen(
    event: string,
    routingAgentId: string | null,
    data: Record<string, unknown>,
    when: Statement,
    patch: { field: string; value: Statement },
  ): Statement {
    return webhooksRepo.enqueueWhen(event, routingAgentId, this.payload(event, routingAgentId, data), when, {
      path: `$.data.${patch.field}`,
      value: patch.value,
    });
  }

  private payload(event: string, routingAgentId: string | null, data: unknown): string {
    return JSON.stringify({ event, agent_id: routingAgentId, data, timestamp: this.app.clock.now().toISOString() });
  }

  /** Sends due deliveries in the background right after a write, so latency stays low. */
  kick(): void {
    this.app.runtime.waitUntil(
      this.deliverDue().catch((err) =>
        this.app.log.error('webhook delivery failed', { error: (err as Error).message }),
      ),
    );
  }

  /**
   * Sends every due delivery (the Node timer, the Workers cron and post-write kicks all land here).
   * Retries due within INLINE_RETRY_WINDOW_MS are awaited in place, so short outages heal at once
   * on Workers too; later ones wait in the table for the next tick. Returns how many attempts ran.
   */
  async deliverDue(): Promise<number> {
    const deadline = Date.now() + INLINE_RETRY_WINDOW_MS;
    let attempts = 0;
    for (;;) {
      const now = this.app.clock.now().getTime();
      const rows = await webhooksRepo.claimDue(this.app.db, now, now + LEASE_MS, CLAIM_BATCH);
      if (rows.length) {
        attempts += rows.length;
        const hooks = new Map<number, Promise<WebhookRow | undefined>>();
        const hookOf = (id: number) => {
          if (!hooks.has(id)) hooks.set(id, webhooksRepo.get(this.app.db, id));
          return hooks.get(id)!;
        };
        const retryAt = await Promise.all(rows.map(async (row) => this.attempt(row, await hookOf(row.webhook_id))));
        const soonest = Math.min(...retryAt.filter((t): t is number => t !== null));
        if (rows.length === CLAIM_BATCH) continue;
        if (!Number.isFinite(soonest)) return attempts;
        const wait = soonest - this.app.clock.now().getTime();
        if (Date.now() + wait > deadline) return attempts;
        await sleep(Math.max(wait, 0));
        continue;
      }
      return attempts;
    }
  }

  /**
   * One attempt on a claimed row: guard, sign, POST with timeout, then record the outcome on the
   * row. Returns when the row is due again (epoch ms), or null when it is final.
   */
  private async attempt(row: DeliveryRow, hook: WebhookRow | undefined): Promise<number | null> {
    const record = (f: Parameters<typeof webhooksRepo.recordAttempt>[2]) =>
      webhooksRepo.recordAttempt(this.app.db, row.id, f);
    if (!hook?.active) {
      await record({
        state: 'failed',
        next_attempt_at: 0,
        status_code: null,
        response_body: null,
        error: 'Webhook was deleted or disabled',
        duration_ms: 0,
        attempts: row.attempts - 1,
      });
      return null;
    }
    const guard = this.guard();
    try {
      await assertPublicUrl(hook.url, guard);
    } catch (err) {
      if (!(err instanceof SsrfBlockedError)) throw err;
      // Nothing was sent, so no attempt is counted.
      await record({
        state: 'failed',
        next_attempt_at: 0,
        status_code: null,
        response_body: null,
        error: `SSRF blocked: ${err.message}`,
        duration_ms: 0,
        attempts: 0,
      });
      return null;
    }

    const body = row.payload;
    const ts = String(Math.floor(this.app.clock.now().getTime() / 1000));
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'Mycelium-Webhooks/1',
      'X-Webhook-Event': row.event,
      'X-Webhook-Delivery': row.delivery_id,
      'X-Webhook-Timestamp': ts,
      // Standard Webhooks (standardwebhooks.com): a stable id for deduplication and the attempt's time.
      'webhook-id': row.delivery_id,
      'webhook-timestamp': ts,
    };
    if (hook.secret) {
      // Kept as in the original for existing receivers; the V2 header binds the timestamp so a
      // captured delivery cannot be replayed later (weak spot H3).
      headers['X-Webhook-Signature'] = await hmacSha256Hex(hook.secret, body);
      headers['X-Webhook-Signature-V2'] = `t=${ts},v1=${await hmacSha256Hex(hook.secret, `${ts}.${body}`)}`;
      headers['webhook-signature'] =
        `v1,${await hmacSha256Base64(standardWebhookKey(hook.secret), `${row.delivery_id}.${ts}.${body}`)}`;
    }

    const started = Date.now();
    let failure: string;
    try {
      const res = await guardedFetch(
        hook.url,
        { method: 'POST', headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) },
        { ...guard, maxRedirects: 3, methodPreservingOnly: true, fetchFn: this.app.runtime.pinnedFetch },
      );
      const text = (await res.text().catch(() => '')).slice(0, RESPONSE_BODY_MAX);
      const duration = Date.now() - started;
      const outcome = { status_code: res.status, response_body: text, duration_ms: duration };
      if (!retryable(res.status)) {
        await record({ ...outcome, state: res.status < 300 ? 'delivered' : 'failed', next_attempt_at: 0, error: null });
        return null;
      }
      if (row.attempts >= this.app.config.webhookMaxAttempts) {
        await record({
          ...outcome,
          state: 'dead',
          next_attempt_at: 0,
          error: `HTTP ${res.status} (after ${row.attempts} attempts)`,
        });
        return null;
      }
      return this.reschedule(row, { ...outcome, error: `HTTP ${res.status}` });
    } catch (err) {
      if (err instanceof SsrfBlockedError) {
        // A block (e.g. a redirect inward) is never retried (spec 07 SEC-30).
        await record({
          state: 'failed',
          next_attempt_at: 0,
          status_code: null,
          response_body: null,
          error: `SSRF blocked: ${err.message}`,
          duration_ms: Date.now() - started,
        });
        return null;
      }
      const e = err as Error;
      failure =
        e.name === 'TimeoutError' || e.name === 'AbortError' ? `Timeout after ${DELIVERY_TIMEOUT_MS} ms` : e.message;
    }
    const outcome = { status_code: null, response_body: null, duration_ms: Date.now() - started };
    if (row.attempts >= this.app.config.webhookMaxAttempts) {
      await record({
        ...outcome,
        state: 'dead',
        next_attempt_at: 0,
        error: `${failure} (after ${row.attempts} attempts)`,
      });
      return null;
    }
    return this.reschedule(row, { ...outcome, error: failure });
  }

  /** Exponential backoff with ±25 % jitter (so receivers coming back are not hit in lockstep). */
  private async reschedule(
    row: DeliveryRow,
    outcome: { status_code: number | null; response_body: string | null; duration_ms: number; error: string },
  ) {
    const base = Math.min(this.app.config.webhookRetryBaseMs * 2 ** (row.attempts - 1), MAX_BACKOFF_MS);
    const at = this.app.clock.now().getTime() + Math.round(base * (0.75 + Math.random() * 0.5));
    await webhooksRepo.recordAttempt(this.app.db, row.id, { ...outcome, state: 'pending', next_attempt_at: at });
    return at;
  }

  /** Admin redelivery of one logged delivery: same webhook-id and body, attempts start over. */
  async redeliver(id: number) {
    const existing = await webhooksRepo.getDelivery(this.app.db, id);
    if (!existing) throw notFound('Delivery not found');
    const row = await webhooksRepo.requeue(this.app.db, id);
    if (!row) throw conflict('Delivery is still pending; it will be attempted at next_attempt_at');
    this.kick();
    return { ok: true as const, id: row.id, delivery_id: row.delivery_id, state: row.state };
  }

  /**
   * Bus → webhooks. The outbox rows of a persisted event were written with it by the trigger of
   * migration 0022 (routing: the event's `agent` and `__global__`; task_created to the task's
   * assignee; types services route themselves are skipped there). Here we only send them; nothing
   * at all (no read, no promise) when the event's row says no webhook was active.
   */
  onEvent(ev: MyceliumEvent): Promise<number> | undefined {
    if (ev.type === 'agent_heartbeat' || ev.id === null) return undefined;
    // No webhook was active when the row was written: the trigger queued nothing (issue 11). Rows
    // due for other reasons (retries, a restart) are the poller's and the cron's, as before.
    if (!this.app.events.mayHaveQueuedWebhooks(ev)) return undefined;
    return this.deliverDue();
  }
}

/**
 * The Standard Webhooks key: a `whsec_<base64>` secret is used as its decoded bytes (what the
 * standard's libraries expect by default); any other secret as its UTF-8 bytes (libraries'
 * "raw" format). Both are documented in docs/API.md.
 */
function standardWebhookKey(secret: string): Uint8Array {
  if (secret.startsWith('whsec_')) {
    try {
      return Uint8Array.from(atob(secret.slice(6)), (c) => c.charCodeAt(0));
    } catch {
      // not base64 after all: fall through to the raw bytes
    }
  }
  return new TextEncoder().encode(secret);
}
