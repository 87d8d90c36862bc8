import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest, notFound } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { messagesRepo } from '../messages/repo.js';
import { MessageService, callerId } from '../messages/service.js';
import { RequestService, resolveStaleRequests } from './service.js';

const DAY = 86_400_000;

/** Blocking requests (spec 03 §8). */
export function requestRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const requests = new RequestService(app);
  const messages = new MessageService(app);

  app.jobs.push({ name: 'stale_requests', everyMs: DAY, run: (a) => resolveStaleRequests(a) });

  r.post('/requests', requireAny, async (c) => {
    const p = principalOf(c);
    const body = bodyOf(c);
    await app.guards.check(
      'request.create',
      {
        agent: callerId(p),
        project_id: body.project_id ?? null,
        to_agent: body.to_agent ?? null,
        content: typeof body.content === 'string' ? body.content.slice(0, 200) : '',
      },
      p,
    );
    return c.json(await requests.create(p, body));
  });

  r.get('/requests/pending', requireAny, async (c) =>
    c.json(await requests.pending(principalOf(c), c.req.query('agent_id') || undefined)),
  );

  r.put('/requests/:id', requireAny, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Request not found');
    const msg = await messagesRepo.get(app.db, id);
    if (!msg) throw notFound('Request not found');
    if (msg.msg_type !== 'request') throw badRequest(`Message #${id} is not a request`);
    const body = bodyOf(c);
    const status = body.status;
    if (status === undefined || status === null || status === '')
      throw badRequest('status is required (acknowledged, resolved, completed)');
    const p = principalOf(c);
    if (status === 'acknowledged' || status === 'ack') return c.json(await messages.ack(p, id));
    if (status === 'resolved' || status === 'completed' || status === 'done')
      return c.json(await messages.resolve(p, id, body.response, false));
    throw badRequest('Invalid status. Use: acknowledged, resolved, completed');
  });

  return r;
}
