import { Hono, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { parseIntId } from '../../http/validate.js';
import { badRequest, forbidden, unauthorized } from '../../http/errors.js';
import { principalOf, resolveHuman } from '../../auth/principal.js';
import { createInboxItem, createInboxItemForAllOperators, InboxService } from './service.js';
import {
  BulkDismiss,
  CreateInboxItem,
  Dismissed,
  InboxCount,
  InboxCountQuery,
  InboxCreated,
  InboxIdParams,
  InboxItem,
  InboxListQuery,
} from './schema.js';

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

const tags = ['Inbox'];

/** The operator inbox (spec 03 §11). */
export function inboxRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const inbox = new InboxService(app);
  const idOf = (raw: string) => parseIntId(raw);

  const user = { access: 'human' as const, guard: requireInboxUser };

  defineRoute(
    r,
    {
      method: 'get',
      path: '/inbox',
      tags,
      summary: "The caller's inbox (admins: anyone's), most urgent first",
      ...user,
      query: InboxListQuery,
      response: z.array(InboxItem),
    },
    (c, { query }) =>
      inbox.list(principalOf(c), {
        operatorId: query.operator_id,
        status: query.status,
        type: query.type,
        entityType: query.entity_type,
        limit: query.limit,
        offset: query.offset,
      }),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/inbox/count',
      tags,
      summary: 'Unread count',
      ...user,
      query: InboxCountQuery,
      response: InboxCount,
    },
    (c, { query }) => inbox.count(principalOf(c), query.operator_id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/inbox/bulk-dismiss',
      tags,
      summary: 'Dismiss items by id, or all',
      ...user,
      body: BulkDismiss,
      lazyBody: true,
      response: Dismissed,
    },
    (c, input) => {
      const body = bodyOf(c);
      if (!Array.isArray(body.ids) && body.all !== true) throw badRequest('ids array or all=true required');
      return inbox.bulkDismiss(principalOf(c), input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/inbox',
      tags,
      summary: "Put an item in an operator's (or every operator's) inbox",
      access: 'admin',
      body: CreateInboxItem,
      response: InboxCreated,
    },
    async (_c, { body: input }) => {
      const item = {
        type: input.type,
        entity_type: input.entity_type,
        entity_id: String(input.entity_id),
        title: input.title,
        summary: input.summary,
        data: input.data ?? {},
        priority: input.priority,
      };
      if (input.all_operators) return { ok: true, ids: await createInboxItemForAllOperators(app, item) };
      if (!input.operator_id) throw badRequest('operator_id or all_operators required');
      return { ok: true, id: await createInboxItem(app, input.operator_id, item) };
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/inbox/:id',
      tags,
      summary: 'One item',
      ...user,
      params: InboxIdParams,
      response: InboxItem,
    },
    (c, { params }) => inbox.get(principalOf(c), idOf(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/inbox/:id/read',
      tags,
      summary: 'Mark read',
      ...user,
      params: InboxIdParams,
      response: OkTrue,
    },
    (c, { params }) => inbox.read(principalOf(c), idOf(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/inbox/:id/action',
      tags,
      summary: 'Mark actioned',
      ...user,
      params: InboxIdParams,
      response: OkTrue,
    },
    (c, { params }) => inbox.action(principalOf(c), idOf(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/inbox/:id',
      tags,
      summary: 'Dismiss',
      ...user,
      params: InboxIdParams,
      response: OkTrue,
    },
    (c, { params }) => inbox.dismiss(principalOf(c), idOf(params.id)),
  );

  return r;
}
