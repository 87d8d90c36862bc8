import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { assignments } from '../../db/sql.js';
import { SqlTextsByParts } from '../../db/sql-texts.js';

/** SQL for webhooks and webhook_deliveries (spec 04 §1.11). */

export interface WebhookRow {
  id: number;
  agent_id: string;
  url: string;
  events: string;
  secret: string;
  active: number;
  created_at: string;
}

export type PublicWebhook = Omit<WebhookRow, 'secret'> & { secret_set: boolean };

/** The secret never leaves after creation (spec 07 SEC-39, weak spot H2): only whether one is set. */
export function toPublicWebhook(row: WebhookRow): PublicWebhook {
  const { secret, ...rest } = row;
  return { ...rest, secret_set: secret !== '' };
}

export interface DeliveryRow {
  id: number;
  webhook_id: number;
  event: string;
  agent_id: string;
  payload: string;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number | null;
  attempts: number;
  delivery_id: string;
  created_at: string;
  state: DeliveryState;
  /** Epoch ms of the next attempt while pending (0 = due now). */
  next_attempt_at: number;
}

/** Outbox states (migration 0022). */
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'dead';

/** Same filter as the outbox trigger in migration 0022: active, routed here or global, subscribed. */
const SUBSCRIBED = `w.active = 1 AND (w.agent_id = '__global__' OR w.agent_id = ?)
  AND json_valid(w.events) AND json_type(w.events) = 'array'
  AND EXISTS (SELECT 1 FROM json_each(w.events) AS e WHERE e.value = ? OR e.value = '*')`;

/** `enqueueWhen`'s text by its two SQL fragments. */
const enqueueWhenSql = new SqlTextsByParts(20);

export const webhooksRepo = {
  insert(w: { agent_id: string; url: string; events: string; secret: string }): Statement {
    return {
      sql: 'INSERT INTO webhooks (agent_id, url, events, secret) VALUES (?, ?, ?, ?) RETURNING *',
      args: [w.agent_id, w.url, w.events, w.secret],
    };
  },
  get(db: Queryable, id: number) {
    return db.get<WebhookRow>('SELECT * FROM webhooks WHERE id = ?', [id]);
  },
  /** Active webhooks (spec 04 §8.1); `includeInactive` also shows those disabled through PUT. */
  list(db: Queryable, agentId: string | undefined, includeInactive: boolean) {
    const conds = includeInactive ? [] : ['active = 1'];
    const args: SqlArgs = [];
    if (agentId) {
      conds.push('agent_id = ?');
      args.push(agentId);
    }
    return db.all<WebhookRow>(
      `SELECT * FROM webhooks ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY id ASC`,
      args,
    );
  },
  /** Targets of one dispatch: the routing agent's webhooks plus `__global__` (spec 04 §8.2). */
  targets(db: Queryable, routingAgentId: string | null) {
    return db.all<WebhookRow>(
      "SELECT * FROM webhooks WHERE active = 1 AND (agent_id = '__global__' OR agent_id = ?) ORDER BY id ASC",
      [routingAgentId ?? '__global__'],
    );
  },
  /** The row after the change (as it is, when nothing is to change); no row when the webhook is gone. */
  update(id: number, f: Partial<Pick<WebhookRow, 'agent_id' | 'url' | 'events' | 'secret' | 'active'>>): Statement {
    const { sets, args } = assignments(f);
    if (!sets.length) return { sql: 'SELECT * FROM webhooks WHERE id = ?', args: [id] };
    return { sql: `UPDATE webhooks SET ${sets.join(', ')} WHERE id = ? RETURNING *`, args: [...args, id] };
  },
  /** For a batch guard: true while the webhook exists. */
  existsSql: 'EXISTS (SELECT 1 FROM webhooks WHERE id = ?)',
  delete(id: number): Statement {
    return { sql: 'DELETE FROM webhooks WHERE id = ?', args: [id] };
  },

  /**
   * The outbox rows for one webhook event, one per subscribed webhook, as a statement to put in
   * the batch of the write that causes it. The id (`webhook-id`) is fixed here and never changes
   * across retries or a redelivery, so receivers can deduplicate.
   */
  enqueue(event: string, routingAgentId: string | null, payload: string): Statement {
    return {
      sql: `INSERT INTO webhook_deliveries (webhook_id, event, agent_id, payload, status_code, attempts, delivery_id, state, next_attempt_at)
            SELECT w.id, ?, ?, ?, NULL, 0, 'msg_' || lower(hex(randomblob(12))), 'pending', 0 FROM webhooks w WHERE ${SUBSCRIBED}`,
      args: [event, routingAgentId ?? '', payload, routingAgentId ?? '__global__', event],
    };
  },
  /**
   * `enqueue`, but only when `when` holds at its point of a batch, with JSON paths of the payload
   * filled from SQL — for facts known only inside the batch (the heartbeat's previous status).
   */
  enqueueWhen(
    event: string,
    routingAgentId: string | null,
    payload: string,
    when: Statement,
    patch: { path: string; value: Statement },
  ): Statement {
    return {
      // By the two fragments' texts (the callers' constants): one string per shape, not one per
      // heartbeat (issue 11).
      sql: enqueueWhenSql.get(
        [patch.value.sql, when.sql],
        () => `INSERT INTO webhook_deliveries (webhook_id, event, agent_id, payload, status_code, attempts, delivery_id, state, next_attempt_at)
            SELECT w.id, ?, ?, json_set(?, ?, (${patch.value.sql})), NULL, 0, 'msg_' || lower(hex(randomblob(12))), 'pending', 0
            FROM webhooks w WHERE ${SUBSCRIBED} AND (${when.sql})`,
      ),
      args: [
        event,
        routingAgentId ?? '',
        payload,
        patch.path,
        ...(patch.value.args ?? []),
        routingAgentId ?? '__global__',
        event,
        ...(when.args ?? []),
      ],
    };
  },
  /**
   * Claims due deliveries with a lease in one conditional statement: two senders (processes,
   * isolates, the timer and a post-write kick) never attempt the same row at once, and a sender
   * that dies mid-attempt leaves the row due again when the lease ends (at-least-once).
   */
  async claimDue(db: Queryable, now: number, leaseUntil: number, limit: number): Promise<DeliveryRow[]> {
    // A read first: most kicks find nothing due, and a read takes no write lock (concurrent
    // writers on libSQL would otherwise queue behind every event's kick).
    const due = await db.all<{ id: number }>(
      "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
      [now, limit],
    );
    if (!due.length) return [];
    return db.all<DeliveryRow>(
      `UPDATE webhook_deliveries SET next_attempt_at = ?, attempts = attempts + 1
       WHERE id IN (${due.map(() => '?').join(', ')}) AND state = 'pending' AND next_attempt_at <= ?
       RETURNING *`,
      [leaseUntil, ...due.map((d) => d.id), now],
    );
  },
  /** The outcome of one attempt on a claimed row. */
  recordAttempt(
    db: Queryable,
    id: number,
    f: {
      state: DeliveryState;
      next_attempt_at: number;
      status_code: number | null;
      response_body: string | null;
      error: string | null;
      duration_ms: number;
      attempts?: number;
    },
  ) {
    return db.run(
      `UPDATE webhook_deliveries SET state = ?, next_attempt_at = ?, status_code = ?, response_body = ?, error = ?, duration_ms = ?, attempts = coalesce(?, attempts)
       WHERE id = ?`,
      [f.state, f.next_attempt_at, f.status_code, f.response_body, f.error, f.duration_ms, f.attempts ?? null, id],
    );
  },
  getDelivery(db: Queryable, id: number) {
    return db.get<DeliveryRow>('SELECT * FROM webhook_deliveries WHERE id = ?', [id]);
  },
  /** Admin redelivery: a finished row (any final state) goes back to the queue, same id and body. */
  requeue(db: Queryable, id: number) {
    return db.get<DeliveryRow>(
      `UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = 0, attempts = 0, status_code = NULL, response_body = NULL, error = NULL, duration_ms = NULL
       WHERE id = ? AND state != 'pending' RETURNING *`,
      [id],
    );
  },

  deliveries(
    db: Queryable,
    q: { event?: string; webhookId?: number; errorOnly: boolean; limit: number; offset: number },
  ) {
    const conds: string[] = [];
    const args: SqlArgs = [];
    if (q.event) {
      conds.push('event = ?');
      args.push(q.event);
    }
    if (q.webhookId !== undefined) {
      conds.push('webhook_id = ?');
      args.push(q.webhookId);
    }
    if (q.errorOnly) conds.push('error IS NOT NULL');
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    return db.all<DeliveryRow>(
      `SELECT * FROM webhook_deliveries ${where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...args, q.limit, q.offset],
    );
  },
  /** Delivery log retention: 7 days (spec 04 §8.2); rows still waiting for an attempt stay. */
  pruneDeliveries(db: Queryable, days = 7) {
    return db.run("DELETE FROM webhook_deliveries WHERE created_at < datetime('now', ?) AND state != 'pending'", [
      `-${days} days`,
    ]);
  },
};
