import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest, notFound } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { parseIntId, queryInt } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { messagesRepo } from './repo.js';
import { MessageService } from './service.js';
import { parseSince } from '../events/service.js';

/** Messages (spec 03 §7). Agents see only their own traffic, broadcasts and their channels (SEC-20). */
export function messageRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const messages = new MessageService(app);

  r.get('/messages/threads', requireAny, async (c) => {
    const limit = queryInt(c.req.query('limit') || undefined, 'limit', 20, 1, 500);
    return c.json(await messages.threads(principalOf(c), limit));
  });

  r.get('/messages', requireAny, async (c) => {
    const q = queryOf(c);
    let channel_id: number | undefined;
    if (q.channel_id !== undefined && q.channel_id !== '') {
      const n = parseIntId(q.channel_id);
      if (n === null) throw badRequest('channel_id must be an integer');
      channel_id = n;
    }
    const pick = (k: string) => (q[k] === undefined || q[k] === '' ? undefined : q[k]);
    const rows = await messages.list(principalOf(c), {
      from: pick('from'),
      to: pick('to'),
      thread: pick('thread'),
      project_id: pick('project_id'),
      // An instant in any ISO-8601 form, compared as one (the GET /events parser, weak spot S2).
      since: parseSince(q.since),
      msg_type: pick('msg_type'),
      status: pick('status'),
      channel_id,
      limit: queryInt(q.limit || undefined, 'limit', 50, 1, 500),
      offset: queryInt(q.offset || undefined, 'offset', 0, 0, 1_000_000),
    });
    return c.json(rows);
  });

  r.post('/messages', requireAny, async (c) => {
    const p = principalOf(c);
    hitAgentWrite(app.limiters, p, c.get('clientIp'));
    // MessageService.send runs the guardrails pre-check for every writer.
    return c.json(await messages.send(p, bodyOf(c)));
  });

  r.delete('/messages/bulk', requireAdmin, async (c) => {
    const q = c.req.query();
    const f: { from?: string; to?: string; content_like?: string } = {};
    if (q.from) f.from = q.from;
    if (q.to) f.to = q.to;
    if (q.content_like) f.content_like = q.content_like;
    if (!Object.keys(f).length) throw badRequest('Specify at least one filter: from, to, content_like');
    const res = await messagesRepo.bulkDelete(app.db, f);
    return c.json({ deleted: res[1].rowsAffected });
  });

  r.put('/messages/:id/ack', requireAny, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Message not found');
    return c.json(await messages.ack(principalOf(c), id));
  });

  r.put('/messages/:id/resolve', requireAny, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Message not found');
    return c.json(await messages.resolve(principalOf(c), id, bodyOf(c).response));
  });

  return r;
}
