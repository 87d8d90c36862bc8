import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { savepointsRepo } from './repo.js';
import { SavepointService } from './service.js';

const DAY = 86_400_000;

/** Savepoints: session state for resumption (spec 02 §3.7). */
export function savepointRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const sp = new SavepointService(app);

  app.jobs.push({ name: 'savepoint_retention', everyMs: DAY, run: (a) => savepointsRepo.pruneAll(a.db) });

  r.get('/agents/:id/savepoint/diff', requireAny, async (c) =>
    c.json(await sp.diff(principalOf(c), c.req.param('id'))),
  );
  r.get('/agents/:id/savepoint', requireAny, async (c) => c.json(await sp.latest(principalOf(c), c.req.param('id'))));
  r.get('/agents/:id/savepoints', requireAny, async (c) =>
    c.json(await sp.list(principalOf(c), c.req.param('id'), c.req.query('limit'))),
  );
  r.put('/agents/:id/savepoint/notes', requireAdmin, async (c) =>
    c.json(await sp.setNotes(c.req.param('id'), bodyOf(c).notes)),
  );
  r.post('/agents/:id/savepoint', requireAdmin, async (c) =>
    c.json(await sp.create(c.req.param('id'), bodyOf(c).notes)),
  );

  return r;
}
