import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseIntId, parseWith, queryInt } from '../../http/validate.js';
import { badRequest } from '../../http/errors.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { CHANNEL_STATUSES, CHANNEL_TYPES, ChannelService, MEMBER_ROLES, MEMBER_TYPES } from './service.js';

const memberSchema = z.object({
  user_id: z.string().trim().min(1).max(128),
  user_type: z.enum(MEMBER_TYPES).default('agent'),
  role: z.enum(MEMBER_ROLES).default('member'),
});
const createSchema = z.object({
  name: z.string().trim().min(1).max(200),
  slug: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'may contain only lower-case letters, digits, "_" and "-"'),
  type: z.enum(CHANNEL_TYPES).default('general'),
  description: z.string().max(2000).default(''),
  linked_type: z.string().max(50).nullable().default(null),
  linked_id: z
    .union([z.string().max(128), z.number().int()])
    .nullable()
    .default(null),
  members: z.array(memberSchema).max(500).default([]),
});
const updateSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  status: z.enum(CHANNEL_STATUSES).optional(),
});
const postSchema = z.object({
  content: z.string().max(100_000),
  metadata: z.record(z.string(), z.unknown()).nullable().optional(),
});
const readSchema = z.object({ message_id: z.number().int().min(0).optional() });

const optionalId = (raw: string | undefined, field: string) => {
  if (raw === undefined || raw === '') return undefined;
  const id = parseIntId(raw);
  if (id === null) throw badRequest(`${field} must be a positive integer`);
  return id;
};

/** Channels, members, posts and read markers (spec 03 §9). Non-numeric ids behave as not found. */
export function channelRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const channels = new ChannelService(app);
  const idOf = (raw: string) => parseIntId(raw);

  r.get('/channels/unread', requireAny, async (c) => c.json(await channels.unread(principalOf(c))));

  r.get('/channels', requireAny, async (c) => {
    const q = c.req.query();
    const status = q.status || 'active';
    if (status !== 'all' && !(CHANNEL_STATUSES as readonly string[]).includes(status))
      throw badRequest('status must be one of: active, archived, all');
    return c.json(
      await channels.list(principalOf(c), {
        type: q.type || undefined,
        status,
        member: q.member || undefined,
        limit: queryInt(q.limit, 'limit', 50, 1, 500),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000),
      }),
    );
  });

  r.post('/channels', requireAny, async (c) => {
    const body = bodyOf(c);
    if (!body.name || !body.slug) throw badRequest('name and slug are required');
    const input = parseWith(createSchema, body);
    return c.json(
      await channels.create(principalOf(c), {
        ...input,
        linked_id: input.linked_id === null ? null : String(input.linked_id),
      }),
    );
  });

  r.post('/channels/dm', requireAny, async (c) => {
    const body = bodyOf(c);
    const target = body.user_id ?? body.target;
    if (target === undefined || target === null || target === '') throw badRequest('user_id is required');
    const input = parseWith(
      z.object({ user_id: z.string().trim().min(1).max(128), user_type: z.enum(MEMBER_TYPES).default('operator') }),
      {
        user_id: target,
        user_type: body.user_type,
      },
    );
    return c.json(await channels.dm(principalOf(c), input.user_id, input.user_type));
  });

  r.get('/channels/:id', requireAny, async (c) => c.json(await channels.get(principalOf(c), idOf(c.req.param('id')))));
  r.put('/channels/:id', requireAny, async (c) =>
    c.json(await channels.update(principalOf(c), idOf(c.req.param('id')), parseWith(updateSchema, bodyOf(c)))),
  );
  r.delete('/channels/:id', requireAdmin, async (c) =>
    c.json(await channels.remove(principalOf(c), idOf(c.req.param('id')))),
  );

  r.get('/channels/:id/members', requireAny, async (c) =>
    c.json(await channels.members(principalOf(c), idOf(c.req.param('id')))),
  );
  r.post('/channels/:id/members', requireAny, async (c) => {
    const body = bodyOf(c);
    if (!body.user_id) throw badRequest('user_id is required');
    return c.json(await channels.addMember(principalOf(c), idOf(c.req.param('id')), parseWith(memberSchema, body)));
  });
  r.delete('/channels/:id/members/:userId', requireAny, async (c) =>
    c.json(await channels.removeMember(principalOf(c), idOf(c.req.param('id')), c.req.param('userId'))),
  );

  r.get('/channels/:id/messages', requireAny, async (c) => {
    const q = c.req.query();
    return c.json(
      await channels.messages(principalOf(c), idOf(c.req.param('id')), {
        before: optionalId(q.before, 'before'),
        after: optionalId(q.after, 'after'),
        limit: queryInt(q.limit, 'limit', 50, 1, 500),
      }),
    );
  });
  r.post('/channels/:id/messages', requireAny, async (c) => {
    const body = bodyOf(c);
    if (
      body.content === undefined ||
      body.content === null ||
      (typeof body.content === 'string' && !body.content.trim())
    )
      throw badRequest('content is required');
    const input = parseWith(postSchema, body);
    return c.json(await channels.post(principalOf(c), idOf(c.req.param('id')), input.content, input.metadata ?? {}));
  });
  r.put('/channels/:id/read', requireAny, async (c) => {
    const input = parseWith(readSchema, bodyOf(c));
    return c.json(await channels.markRead(principalOf(c), idOf(c.req.param('id')), input.message_id));
  });

  return r;
}
