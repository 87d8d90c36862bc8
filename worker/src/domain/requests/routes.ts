import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, notFound } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { messagesRepo } from '../messages/repo.js';
import { Message } from '../messages/schema.js';
import { MessageService } from '../messages/service.js';
import { RequestService, resolveStaleRequests } from './service.js';
import {
  CreateRequest,
  PendingQuery,
  RequestCreated,
  RequestIdParams,
  RequestUpdated,
  UpdateRequest,
} from './schema.js';

const DAY = 86_400_000;
const tags = ['Requests'];

/** Blocking requests (spec 03 §8). */
export function requestRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const requests = new RequestService(app);
  const messages = new MessageService(app);

  app.jobs.push({ name: 'stale_requests', everyMs: DAY, run: (a) => resolveStaleRequests(a) });

  defineRoute(
    r,
    {
      method: 'post',
      path: '/requests',
      tags,
      summary: 'Ask an agent for something (optionally with an auto-task)',
      access: 'any',
      body: CreateRequest,
      response: RequestCreated,
      errors: [403],
    },
    async (c) => {
      const p = principalOf(c);
      const body = bodyOf(c);
      await app.guards.check(
        'request.create',
        {
          agent: p.who,
          project_id: body.project_id ?? null,
          to_agent: body.to_agent ?? null,
          content: typeof body.content === 'string' ? body.content.slice(0, 200) : '',
        },
        p,
      );
      return requests.create(p, body);
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/requests/pending',
      tags,
      summary: 'Requests waiting for an agent (default: the caller)',
      access: 'any',
      query: PendingQuery,
      response: z.array(Message),
    },
    (c, { query }) => requests.pending(principalOf(c), query.agent_id),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/requests/:id',
      tags,
      summary: 'Acknowledge or resolve a request',
      access: 'any',
      params: RequestIdParams,
      body: UpdateRequest,
      lazyBody: true,
      response: RequestUpdated,
      errors: [403, 404],
    },
    async (c, { params }) => {
      const id = parseIntId(params.id);
      if (id === null) throw notFound('Request not found');
      const msg = await messagesRepo.get(app.db, id);
      if (!msg) throw notFound('Request not found');
      if (msg.msg_type !== 'request') throw badRequest(`Message #${id} is not a request`);
      const body = bodyOf(c);
      const status = body.status;
      if (status === undefined || status === null || status === '')
        throw badRequest('status is required (acknowledged, resolved, completed)');
      const p = principalOf(c);
      if (status === 'acknowledged' || status === 'ack') return messages.ack(p, id);
      if (status === 'resolved' || status === 'completed' || status === 'done')
        return messages.resolve(p, id, body.response, false);
      throw badRequest('Invalid status. Use: acknowledged, resolved, completed');
    },
  );

  return r;
}
