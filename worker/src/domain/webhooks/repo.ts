import type { Queryable } from '../../db/db.js';
import type { SqlArgs } from '../../db/types.js';
import { assignments } from '../../db/sql.js';

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
}

export interface NewDelivery {
  webhook_id: number;
  event: string;
  agent_id: string;
  payload: string;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number;
  attempts: number;
  delivery_id: string;
}

export const webhooksRepo = {
  insert(db: Queryable, w: { agent_id: string; url: string; events: string; secret: string }) {
    return db.get<WebhookRow>('INSERT INTO webhooks (agent_id, url, events, secret) VALUES (?, ?, ?, ?) RETURNING *', [w.agent_id, w.url, w.events, w.secret]);
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
    return db.all<WebhookRow>(`SELECT * FROM webhooks ${conds.length ? `WHERE ${conds.join(' AND ')}` : ''} ORDER BY id ASC`, args);
  },
  /** Targets of one dispatch: the routing agent's webhooks plus `__global__` (spec 04 §8.2). */
  targets(db: Queryable, routingAgentId: string | null) {
    return db.all<WebhookRow>("SELECT * FROM webhooks WHERE active = 1 AND (agent_id = '__global__' OR agent_id = ?) ORDER BY id ASC", [routingAgentId ?? '__global__']);
  },
  update(db: Queryable, id: number, f: Partial<Pick<WebhookRow, 'agent_id' | 'url' | 'events' | 'secret' | 'active'>>) {
    const { sets, args } = assignments(f);
    if (!sets.length) return webhooksRepo.get(db, id);
    return db.get<WebhookRow>(`UPDATE webhooks SET ${sets.join(', ')} WHERE id = ? RETURNING *`, [...args, id]);
  },
  delete(db: Queryable, id: number) {
    return db.run('DELETE FROM webhooks WHERE id = ?', [id]);
  },

  logDelivery(db: Queryable, d: NewDelivery) {
    return db.run(
      `INSERT INTO webhook_deliveries (webhook_id, event, agent_id, payload, status_code, response_body, error, duration_ms, attempts, delivery_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [d.webhook_id, d.event, d.agent_id, d.payload, d.status_code, d.response_body, d.error, d.duration_ms, d.attempts, d.delivery_id],
    );
  },
  deliveries(db: Queryable, q: { event?: string; webhookId?: number; errorOnly: boolean; limit: number; offset: number }) {
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
    return db.all<DeliveryRow>(`SELECT * FROM webhook_deliveries ${where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [...args, q.limit, q.offset]);
  },
  /** Delivery log retention: 7 days (spec 04 §8.2). */
  pruneDeliveries(db: Queryable, days = 7) {
    return db.run("DELETE FROM webhook_deliveries WHERE created_at < datetime('now', ?)", [`-${days} days`]);
  },
};
