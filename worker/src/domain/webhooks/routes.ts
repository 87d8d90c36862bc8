import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseIntId, parseWith, queryInt } from '../../http/validate.js';
import { badRequest, notFound } from '../../http/errors.js';
import { principalOf, requireAdmin } from '../../auth/principal.js';
import { WebhookService } from './service.js';
import { webhooksRepo } from './repo.js';

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
const createSchema = z.object({
  agent_id: z.string().trim().min(1).max(128),
  url: urlField,
  events: eventsField.optional(),
  secret: z.string().max(500).optional(),
});
const updateSchema = z.object({
  agent_id: z.string().trim().min(1).max(128).optional(),
  url: urlField.optional(),
  events: eventsField.optional(),
  secret: z.string().max(500).optional(),
  active: z.boolean().optional(),
});

/** Outgoing webhooks (spec 04 §8), all admin. */
export function webhookRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const hooks = new WebhookService(app);

  app.events.subscribe((ev) => hooks.onEvent(ev));
  app.jobs.push({
    name: 'webhook_deliveries_prune',
    everyMs: 24 * 3_600_000,
    run: (a) => webhooksRepo.pruneDeliveries(a.db, 7),
  });
  // The outbox on every maintenance tick (the Workers cron; Node also polls it every second).
  app.jobs.push({ name: 'webhook_outbox', everyMs: 0, run: () => hooks.deliverDue() });

  r.post('/webhooks', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (!body.agent_id || !body.url) throw badRequest('agent_id and url are required');
    return c.json(await hooks.create(principalOf(c).who, parseWith(createSchema, body)));
  });

  r.get('/webhooks', requireAdmin, async (c) => {
    const agentId = c.req.query('agent_id');
    return c.json(await hooks.list(agentId || undefined, c.req.query('include_inactive') === 'true'));
  });

  r.get('/webhooks/deliveries', requireAdmin, async (c) => {
    const q = c.req.query();
    let webhookId: number | undefined;
    if (q.webhook_id !== undefined && q.webhook_id !== '') {
      const id = parseIntId(q.webhook_id);
      if (id === null) throw badRequest('webhook_id must be an integer');
      webhookId = id;
    }
    return c.json(
      await webhooksRepo.deliveries(app.db, {
        event: q.event || undefined,
        webhookId,
        errorOnly: q.error_only === 'true' || q.error_only === '1',
        limit: queryInt(q.limit, 'limit', 50, 1, 200),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000),
      }),
    );
  });

  r.post('/webhooks/deliveries/:id/redeliver', requireAdmin, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Delivery not found');
    return c.json(await hooks.redeliver(id));
  });

  r.put('/webhooks/:id', requireAdmin, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Webhook not found');
    return c.json(await hooks.update(principalOf(c).who, id, parseWith(updateSchema, bodyOf(c))));
  });

  r.delete('/webhooks/:id', requireAdmin, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Webhook not found');
    return c.json(await hooks.remove(principalOf(c).who, id));
  });

  return r;
}
