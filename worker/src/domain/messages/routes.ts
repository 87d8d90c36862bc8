import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, notFound } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { MessageService } from './service.js';
import { parseSince } from '../events/service.js';
import {
  Acked,
  BulkDeleted,
  BulkDeleteQuery,
  Message,
  MessageIdParams,
  MessageListQuery,
  ResolveBody,
  Resolved,
  SendMessage,
  Sent,
  Thread,
  ThreadsQuery,
} from './schema.js';

const tags = ['Messages'];

/** Messages (spec 03 §7). Agents see only their own traffic, broadcasts and their channels (SEC-20). */
export function messageRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const messages = new MessageService(app);
  const messageId = (raw: string) => {
    const id = parseIntId(raw);
    if (id === null) throw notFound('Message not found');
    return id;
  };

  defineRoute(
    r,
    {
      method: 'get',
      path: '/messages/threads',
      tags,
      summary: 'Threads the caller can see, latest first',
      access: 'any',
      query: ThreadsQuery,
      response: z.array(Thread),
    },
    (c, { query }) => messages.threads(principalOf(c), query.limit),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/messages',
      tags,
      summary: 'Messages the caller can see, newest first',
      access: 'any',
      query: MessageListQuery,
      response: z.array(Message),
    },
    (c, { query }) =>
      messages.list(principalOf(c), {
        ...query,
        // An instant in any ISO-8601 form, compared as one (the GET /events parser, weak spot S2).
        since: parseSince(query.since),
      }),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/messages',
      tags,
      summary: 'Send a message, request or directive (or broadcast)',
      access: 'any',
      body: SendMessage,
      response: Sent,
      errors: [403, 429],
    },
    (c) => {
      const p = principalOf(c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      // MessageService.send runs the guardrails pre-check for every writer.
      return messages.send(p, bodyOf(c));
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/messages/bulk',
      tags,
      summary: 'Delete messages matching at least one filter',
      access: 'admin',
      query: BulkDeleteQuery,
      response: BulkDeleted,
    },
    async (_c, { query }) => {
      const f: { from?: string; to?: string; content_like?: string } = {};
      if (query.from) f.from = query.from;
      if (query.to) f.to = query.to;
      if (query.content_like) f.content_like = query.content_like;
      if (!Object.keys(f).length) throw badRequest('Specify at least one filter: from, to, content_like');
      return messages.bulkDelete(f);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/messages/:id/ack',
      tags,
      summary: 'Acknowledge a message (its recipient or sender)',
      access: 'any',
      params: MessageIdParams,
      response: Acked,
      errors: [403, 404],
    },
    (c, { params }) => messages.ack(principalOf(c), messageId(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/messages/:id/resolve',
      tags,
      summary: 'Resolve a message, optionally replying',
      access: 'any',
      params: MessageIdParams,
      body: ResolveBody,
      response: Resolved,
      errors: [403, 404],
    },
    (c, { params }) => messages.resolve(principalOf(c), messageId(params.id), bodyOf(c).response),
  );

  return r;
}
