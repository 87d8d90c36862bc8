import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseIntId, parseWith, queryInt } from '../../http/validate.js';
import { badRequest, forbidden, unauthorized } from '../../http/errors.js';
import { principalOf, requireAdmin, resolveHuman } from '../../auth/principal.js';
import { createInboxItem, createInboxItemForAllOperators, InboxService } from './service.js';

/**
 * Inbox guard (spec 03 §11): any operator JWT or the admin key. An agent key alone is
 * `401 Authentication required`, as in the original.
 */
const requireInboxUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const creds = c.get('credentials');
  if (!creds.hasAuthorizationHeader && !creds.hasAdminKeyHeader) throw unauthorized('Authentication required');
  c.set(
    'principal',
    await resolveHuman(creds).catch(() => {
      throw forbidden('Invalid admin key');
    }),
  );
  await next();
};

const createSchema = z.object({
  operator_id: z.string().trim().min(1).max(128).optional(),
  all_operators: z.boolean().optional(),
  type: z.string().trim().min(1).max(100).default('message'),
  entity_type: z.string().max(100).default(''),
  entity_id: z.union([z.string().max(128), z.number()]).default(''),
  title: z.string().max(500).default(''),
  summary: z.string().max(5000).default(''),
  data: z.unknown().optional(),
  priority: z.enum(['urgent', 'high', 'normal', 'low']).default('normal'),
});
const bulkSchema = z.object({
  ids: z.array(z.number().int().positive()).max(1000).optional(),
  all: z.boolean().optional(),
  operator_id: z.string().trim().min(1).max(128).optional(),
});

/** The operator inbox (spec 03 §11). */
export function inboxRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const inbox = new InboxService(app);
  const idOf = (raw: string) => parseIntId(raw);

  r.get('/inbox', requireInboxUser, async (c) => {
    const q = c.req.query();
    return c.json(
      await inbox.list(principalOf(c), {
        operatorId: q.operator_id || undefined,
        status: q.status || undefined,
        type: q.type || undefined,
        entityType: q.entity_type || undefined,
        limit: queryInt(q.limit, 'limit', 50, 1, 200),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000),
      }),
    );
  });

  r.get('/inbox/count', requireInboxUser, async (c) =>
    c.json(await inbox.count(principalOf(c), c.req.query('operator_id') || undefined)),
  );

  r.post('/inbox/bulk-dismiss', requireInboxUser, async (c) => {
    const body = bodyOf(c);
    if (!Array.isArray(body.ids) && body.all !== true) throw badRequest('ids array or all=true required');
    return c.json(await inbox.bulkDismiss(principalOf(c), parseWith(bulkSchema, body)));
  });

  r.post('/inbox', requireAdmin, async (c) => {
    const input = parseWith(createSchema, bodyOf(c));
    const item = {
      type: input.type,
      entity_type: input.entity_type,
      entity_id: String(input.entity_id),
      title: input.title,
      summary: input.summary,
      data: input.data ?? {},
      priority: input.priority,
    };
    if (input.all_operators) return c.json({ ok: true, ids: await createInboxItemForAllOperators(app, item) });
    if (!input.operator_id) throw badRequest('operator_id or all_operators required');
    return c.json({ ok: true, id: await createInboxItem(app, input.operator_id, item) });
  });

  r.get('/inbox/:id', requireInboxUser, async (c) => c.json(await inbox.get(principalOf(c), idOf(c.req.param('id')))));
  r.put('/inbox/:id/read', requireInboxUser, async (c) =>
    c.json(await inbox.read(principalOf(c), idOf(c.req.param('id')))),
  );
  r.put('/inbox/:id/action', requireInboxUser, async (c) =>
    c.json(await inbox.action(principalOf(c), idOf(c.req.param('id')))),
  );
  r.delete('/inbox/:id', requireInboxUser, async (c) =>
    c.json(await inbox.dismiss(principalOf(c), idOf(c.req.param('id')))),
  );

  return r;
}
