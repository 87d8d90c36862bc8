import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { principalOf, requireAgent, requireAny } from '../../auth/principal.js';
import { WorkService } from './service.js';
import { autoDispatch } from '../dispatch/service.js';
import { setAutoDispatcher } from '../tasks/service.js';

/** The work queue and work requests (spec 02 §3.5). */
export function workRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const work = new WorkService(app);
  // Completing a task runs a dispatch pass (spec 02 §3.6 trigger b); the tasks area calls it.
  setAutoDispatcher(app, (trigger) => autoDispatch(app, trigger));

  r.post('/work/request', requireAgent, async (c) => c.json(await work.requestWork(principalOf(c), bodyOf(c))));

  r.get('/work/:agentId', requireAny, async (c) =>
    c.json(await work.getWork(principalOf(c), c.req.param('agentId'), c.req.query('auto_claim') === 'true')),
  );

  return r;
}
