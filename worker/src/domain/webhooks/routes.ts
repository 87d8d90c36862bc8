import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { parseIntId } from '../../http/validate.js';
import { badRequest, notFound } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { WebhookService } from './service.js';
import { webhooksRepo } from './repo.js';
import {
  CreateWebhook,
  Delivery,
  DeliveryListQuery,
  Redelivered,
  UpdateWebhook,
  Webhook,
  WebhookCreated,
  WebhookIdParams,
  WebhookListQuery,
} from './schema.js';

const tags = ['Webhooks'];

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

  const webhookId = (raw: string) => {
    const id = parseIntId(raw);
    if (id === null) throw notFound('Webhook not found');
    return id;
  };

  defineRoute(
    r,
    {
      method: 'post',
      path: '/webhooks',
      tags,
      summary: 'Register a webhook',
      access: 'admin',
      body: CreateWebhook,
      lazyBody: true,
      response: WebhookCreated,
    },
    (c, input) => {
      const body = bodyOf(c);
      if (!body.agent_id || !body.url) throw badRequest('agent_id and url are required');
      return hooks.create(principalOf(c).who, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/webhooks',
      tags,
      summary: 'Webhooks (active only unless asked)',
      access: 'admin',
      query: WebhookListQuery,
      response: z.array(Webhook),
    },
    (_c, { query }) => hooks.list(query.agent_id, query.include_inactive),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/webhooks/deliveries',
      tags,
      summary: 'Delivery log, newest first',
      access: 'admin',
      query: DeliveryListQuery,
      response: z.array(Delivery),
    },
    (_c, { query }) =>
      webhooksRepo.deliveries(app.db, {
        event: query.event,
        webhookId: query.webhook_id,
        errorOnly: query.error_only,
        limit: query.limit,
        offset: query.offset,
      }),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/webhooks/deliveries/:id/redeliver',
      tags,
      summary: 'Queue a delivery again',
      access: 'admin',
      params: WebhookIdParams,
      response: Redelivered,
      errors: [404],
    },
    (_c, { params }) => {
      const id = parseIntId(params.id);
      if (id === null) throw notFound('Delivery not found');
      return hooks.redeliver(id);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/webhooks/:id',
      tags,
      summary: 'Update a webhook',
      access: 'admin',
      params: WebhookIdParams,
      body: UpdateWebhook,
      lazyBody: true,
      response: Webhook,
      errors: [404],
    },
    (c, input) => {
      const id = webhookId(input.params.id);
      return hooks.update(principalOf(c).who, id, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/webhooks/:id',
      tags,
      summary: 'Delete a webhook',
      access: 'admin',
      params: WebhookIdParams,
      response: OkTrue,
      errors: [404],
    },
    (c, { params }) => hooks.remove(principalOf(c).who, webhookId(params.id)),
  );

  return r;
}
