import { z } from 'zod';
import { idParam, queryInt, queryId } from '../../http/contract.js';

/**
 * The wire shapes of outgoing webhooks (spec 04 §8). A webhook's signing `secret` never leaves
 * after creation (SEC-39, H2): answers carry only `secret_set`.
 */

export const WebhookIdParams = z.object({ id: idParam });

const eventName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^(\*|[A-Za-z0-9][A-Za-z0-9_.:-]*)$/, 'must be an event name or "*"');

/**
 * `events`: an array of names, or (compatibility) a single name / "*" / a JSON-encoded array.
 * Anything else is a 400 naming the field (weak spot H7).
 */
const eventsField = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (s.startsWith('[')) {
    try {
      return JSON.parse(s);
    } catch {
      return v;
    }
  }
  return [s];
}, z.array(eventName).min(1).max(200));

const urlField = z.string().trim().min(1).max(2000);
export const CreateWebhook = z.object({
  agent_id: z.string().trim().min(1).max(128),
  url: urlField,
  events: eventsField.optional(),
  secret: z.string().max(500).optional(),
});
export const UpdateWebhook = z.object({
  agent_id: z.string().trim().min(1).max(128).optional(),
  url: urlField.optional(),
  events: eventsField.optional(),
  secret: z.string().max(500).optional(),
  active: z.boolean().optional(),
});

export const WebhookListQuery = z.object({
  agent_id: z
    .string()
    .optional()
    .transform((v) => v || undefined),
  include_inactive: z
    .string()
    .optional()
    .transform((v) => v === 'true'),
});

export const DeliveryListQuery = z.object({
  event: z
    .string()
    .optional()
    .transform((v) => v || undefined),
  webhook_id: queryId(),
  error_only: z
    .string()
    .optional()
    .transform((v) => v === 'true' || v === '1'),
  limit: queryInt(50, 1, 200),
  offset: queryInt(0, 0, 1_000_000),
});

export const Webhook = z
  .object({
    id: z.number().int(),
    agent_id: z.string(),
    url: z.string(),
    events: z.string().meta({ description: 'JSON array text of event names' }),
    active: z.number().int(),
    created_at: z.string(),
    secret_set: z.boolean().meta({ description: 'Whether deliveries are signed (the secret itself never leaves)' }),
  })
  .meta({ id: 'Webhook' });

export const Delivery = z
  .object({
    id: z.number().int(),
    webhook_id: z.number().int(),
    event: z.string(),
    agent_id: z.string(),
    payload: z.string(),
    status_code: z.number().int().nullable(),
    response_body: z.string().nullable(),
    error: z.string().nullable(),
    duration_ms: z.number().int().nullable(),
    attempts: z.number().int(),
    delivery_id: z.string(),
    created_at: z.string(),
    state: z.enum(['pending', 'delivered', 'failed', 'dead']),
    next_attempt_at: z.number().int().meta({ description: 'Epoch ms of the next attempt while pending' }),
  })
  .meta({ id: 'WebhookDelivery' });

export const WebhookCreated = z.object({ ok: z.literal(true), id: z.number().int() });
export const Redelivered = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  delivery_id: z.string(),
  state: z.string(),
});
