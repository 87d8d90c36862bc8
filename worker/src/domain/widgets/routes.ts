import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest, notFound } from '../../http/errors.js';
import { parseIntId, parseWith } from '../../http/validate.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { actingIdentity, assertProjectScope } from '../../auth/scope.js';
import { widgetsRepo, type WidgetChanges } from './repo.js';

const data = z
  .union([z.string().max(100_000), z.record(z.string(), z.unknown()), z.array(z.unknown())])
  .transform((v) => (typeof v === 'string' ? v : JSON.stringify(v)));

const createSchema = z.object({
  title: z.string().trim().min(1).max(500),
  project_id: z.string().max(128).default(''),
  widget_type: z.string().trim().min(1).max(50).default('status'),
  data: data.default('{}'),
  position: z.number().int().min(-1_000_000).max(1_000_000).default(0),
});

const updateSchema = z.object({
  title: z.string().trim().min(1).max(500).optional(),
  widget_type: z.string().trim().min(1).max(50).optional(),
  data: data.optional(),
  position: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  status: z.enum(['active', 'archived']).optional(),
});

/** Dashboard widgets pushed by agents (spec 05 §13); writes are project-scoped (SEC-15). */
export function widgetRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  /** Existence (404) before scope (403) before any write, as SEC-15 requires. */
  const loadScoped = async (c: Parameters<typeof principalOf>[0]) => {
    const id = parseIntId(c.req.param('id'));
    const w = id === null ? undefined : await widgetsRepo.byId(app.db, id);
    if (!w) throw notFound('widget not found');
    await assertProjectScope(app.db, principalOf(c), w.project_id, { write: true });
    return w;
  };

  r.get('/widgets', requireAny, async (c) => {
    const q = queryOf(c);
    return c.json(
      await widgetsRepo.listActive(app.db, {
        agent_id: q.agent_id || undefined,
        project_id: q.project_id || undefined,
      }),
    );
  });

  r.post('/widgets', requireAny, async (c) => {
    const p = principalOf(c);
    const body = bodyOf(c);
    if (typeof body.title !== 'string' || !body.title.trim()) throw badRequest('title required');
    const input = parseWith(createSchema, body);
    // Agents own their widgets; admins may push one on an agent's behalf.
    const owner = actingIdentity(p, body.agent_id);
    await assertProjectScope(app.db, p, input.project_id, { write: true });
    const w = (await widgetsRepo.insert(app.db, { ...input, agent_id: owner }))!;
    await app.events.emit({
      type: 'widget_created',
      agent: owner,
      projectId: w.project_id,
      summary: w.title,
      data: { widget_id: w.id, widget_type: w.widget_type },
    });
    return c.json({ id: w.id }, 201);
  });

  /** A PUT with nothing to change returns the row (the original's 404 was a quirk). */
  r.put('/widgets/:id', requireAny, async (c) => {
    const w = await loadScoped(c);
    const changes: WidgetChanges = parseWith(updateSchema, bodyOf(c));
    if (Object.values(changes).every((v) => v === undefined)) return c.json(w);
    return c.json(await widgetsRepo.update(app.db, w.id, changes));
  });

  r.delete('/widgets/:id', requireAny, async (c) => {
    const w = await loadScoped(c);
    await widgetsRepo.update(app.db, w.id, { status: 'archived' });
    return c.json({ ok: true });
  });

  return r;
}
