import type { AppContext } from '../../context.js';
import { badRequest, notFound } from '../../http/errors.js';
import { assertPublicUrl, guardedFetch, SsrfBlockedError, type GuardOptions } from '../../http/ssrf.js';
import { hmacSha256Hex } from '../../auth/crypto.js';
import type { MyceliumEvent } from '../events/bus.js';
import { toPublicWebhook, webhooksRepo, type WebhookRow } from './repo.js';
import { tasksRepo } from '../tasks/repo.js';

export const DEFAULT_WEBHOOK_EVENTS = ['task_created', 'request_created', 'message_sent'];
/** The value shown in place of a stored secret; a PUT carrying it leaves the secret unchanged. */
export const SECRET_MASK = '••••••••';

export const DELIVERY_TIMEOUT_MS = 5_000;
/** Waits before the 2nd and 3rd attempt (spec 04 §8.2); bounded: 3 attempts at most. */
export const RETRY_DELAYS_MS = [2_000, 4_000];
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
    return { allow: this.app.config.webhookAllowLoopback, resolveHost: rt.resolveHost ? (h) => rt.resolveHost!(h) : undefined };
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
    const row = (await webhooksRepo.insert(this.app.db, {
      agent_id: input.agent_id,
      url: input.url,
      events: JSON.stringify(input.events ?? DEFAULT_WEBHOOK_EVENTS),
      secret: input.secret ?? '',
    }))!;
    await this.announce('webhook_created', by, row.id, row.agent_id);
    return { ok: true as const, id: row.id };
  }

  /** Audit trail without the URL or secret (either may embed credentials). */
  private announce(type: string, by: string, id: number, agentId: string) {
    const verb = type.slice('webhook_'.length);
    return this.app.events.emit({ type, agent: by, summary: `Webhook #${id} ${verb} (routing ${agentId})`, data: { webhook_id: id, agent_id: agentId } });
  }

  async list(agentId: string | undefined, includeInactive: boolean) {
    return (await webhooksRepo.list(this.app.db, agentId, includeInactive)).map(toPublicWebhook);
  }

  async update(by: string, id: number, input: WebhookInput) {
    const existing = await webhooksRepo.get(this.app.db, id);
    if (!existing) throw notFound('Webhook not found');
    if (input.url !== undefined) await this.checkUrl(input.url);
    const row = await webhooksRepo.update(this.app.db, id, {
      agent_id: input.agent_id,
      url: input.url,
      events: input.events ? JSON.stringify(input.events) : undefined,
      secret: input.secret === undefined || input.secret === SECRET_MASK ? undefined : input.secret,
      active: input.active === undefined ? undefined : input.active ? 1 : 0,
    });
    if (!row) throw notFound('Webhook not found');
    await this.announce('webhook_updated', by, row.id, row.agent_id);
    return toPublicWebhook(row);
  }

  async remove(by: string, id: number) {
    const existing = await webhooksRepo.get(this.app.db, id);
    const r = await webhooksRepo.delete(this.app.db, id);
    if (!r.changes || !existing) throw notFound('Webhook not found');
    await this.announce('webhook_deleted', by, id, existing.agent_id);
    return { ok: true as const };
  }

  /**
   * Fire-and-forget dispatch (spec 04 §8.2, spec 07 REL-20): every active webhook of the routing
   * agent and of `__global__` that subscribes to `event` (or `*`). Never throws; runs under
   * waitUntil so the triggering request neither waits nor fails.
   */
  dispatch(event: string, routingAgentId: string | null, data: unknown): void {
    this.app.runtime.waitUntil(
      this.dispatchNow(event, routingAgentId, data).catch((err) => {
        this.app.log.error('webhook dispatch failed', { event, error: (err as Error).message });
      }),
    );
  }

  async dispatchNow(event: string, routingAgentId: string | null, data: unknown): Promise<void> {
    const hooks = await webhooksRepo.targets(this.app.db, routingAgentId);
    await Promise.all(hooks.filter((h) => subscribes(h, event, this.app)).map((h) => this.deliver(h, event, routingAgentId, data)));
  }

  /** One delivery: guard, sign, POST with timeout, bounded retries, one log row with the outcome. */
  async deliver(hook: WebhookRow, event: string, routingAgentId: string | null, data: unknown): Promise<void> {
    const body = JSON.stringify({ event, agent_id: routingAgentId, data, timestamp: this.app.clock.now().toISOString() });
    const deliveryId = crypto.randomUUID();
    const log = (f: { status_code: number | null; response_body: string | null; error: string | null; duration_ms: number; attempts: number }) =>
      webhooksRepo.logDelivery(this.app.db, { webhook_id: hook.id, event, agent_id: routingAgentId ?? '', payload: body, delivery_id: deliveryId, ...f });

    const guard = this.guard();
    try {
      await assertPublicUrl(hook.url, guard);
    } catch (err) {
      if (err instanceof SsrfBlockedError) {
        await log({ status_code: null, response_body: null, error: `SSRF blocked: ${err.message}`, duration_ms: 0, attempts: 0 });
        return;
      }
      throw err;
    }

    const ts = String(Math.floor(this.app.clock.now().getTime() / 1000));
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': 'Mycelium-Webhooks/1',
      'X-Webhook-Event': event,
      'X-Webhook-Delivery': deliveryId,
      'X-Webhook-Timestamp': ts,
    };
    if (hook.secret) {
      // Kept as in the original for existing receivers; the second header binds the timestamp
      // so a captured delivery cannot be replayed later (weak spot H3).
      headers['X-Webhook-Signature'] = await hmacSha256Hex(hook.secret, body);
      headers['X-Webhook-Signature-V2'] = `t=${ts},v1=${await hmacSha256Hex(hook.secret, `${ts}.${body}`)}`;
    }

    let lastError = '';
    for (let attempt = 1; attempt <= RETRY_DELAYS_MS.length + 1; attempt++) {
      const started = Date.now();
      try {
        const res = await guardedFetch(
          hook.url,
          { method: 'POST', headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) },
          { ...guard, maxRedirects: 3, methodPreservingOnly: true },
        );
        const text = (await res.text().catch(() => '')).slice(0, RESPONSE_BODY_MAX);
        const duration = Date.now() - started;
        if (!retryable(res.status) || attempt > RETRY_DELAYS_MS.length) {
          await log({ status_code: res.status, response_body: text, error: null, duration_ms: duration, attempts: attempt });
          return;
        }
        lastError = `HTTP ${res.status}`;
      } catch (err) {
        if (err instanceof SsrfBlockedError) {
          // A block (e.g. a redirect inward) is never retried (spec 07 SEC-30).
          await log({ status_code: null, response_body: null, error: `SSRF blocked: ${err.message}`, duration_ms: Date.now() - started, attempts: attempt });
          return;
        }
        const e = err as Error;
        lastError = e.name === 'TimeoutError' || e.name === 'AbortError' ? `Timeout after ${DELIVERY_TIMEOUT_MS} ms` : e.message;
        if (attempt > RETRY_DELAYS_MS.length) {
          await log({ status_code: null, response_body: null, error: `${lastError} (after ${attempt} attempts)`, duration_ms: Date.now() - started, attempts: attempt });
          return;
        }
      }
      await sleep(RETRY_DELAYS_MS[attempt - 1]);
    }
  }

  /**
   * Bus → webhooks. Every persisted event reaches the webhooks of its `agent` (for recipient-
   * tagged events such as message_received that is the recipient) and `__global__`. Where spec
   * 04 §8.3 routes differently the owning service dispatches itself (message_sent and
   * request_created to the recipient, task_assigned, bug_assigned, agent_status_changed), so
   * those bus events are skipped here; task_created goes to the task's assignee.
   */
  async onEvent(ev: MyceliumEvent): Promise<void> {
    if (ev.type === 'agent_heartbeat' || DISPATCHED_BY_SERVICES.has(ev.type)) return;
    const data = (typeof ev.data === 'object' && ev.data !== null ? ev.data : {}) as Record<string, unknown>;
    if (ev.type === 'task_created') {
      // Routed to the task's assignee with its title (spec 03 §14); unassigned → __global__ only.
      const taskId = Number(data.task_id);
      const task = Number.isInteger(taskId) ? await tasksRepo.get(this.app.db, taskId).catch(() => undefined) : undefined;
      await this.dispatchNow('task_created', task?.assignee || null, { task_id: data.task_id, title: task?.title ?? '' });
      return;
    }
    await this.dispatchNow(ev.type, ev.agent || null, data);
  }
}

/** Webhook events their services send directly with the spec's routing and payload (no double delivery). */
const DISPATCHED_BY_SERVICES = new Set([
  'message_sent', 'request_created', 'task_assigned', 'bug_assigned', 'agent_status_changed',
  // Drone jobs: to the submitter / requester with the spec 05 §4 payloads (drones/jobs-service.ts).
  'drone_job_created', 'drone_job_failed', 'drone_job_exhausted',
]);

function subscribes(h: WebhookRow, event: string, app: AppContext): boolean {
  try {
    const list = JSON.parse(h.events) as unknown;
    if (!Array.isArray(list)) return false;
    return list.includes(event) || list.includes('*');
  } catch {
    app.log.warn('webhook has unparseable events', { webhook_id: h.id });
    return false;
  }
}
