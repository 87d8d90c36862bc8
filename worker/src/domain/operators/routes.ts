import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { idString, parseWith } from '../../http/validate.js';
import { badRequest } from '../../http/errors.js';
import { principalOf, requireAdmin, requireAny, requireHuman } from '../../auth/principal.js';
import { AVAILABILITY, OperatorService } from './service.js';

const text = (max: number) => z.string().max(max);
const createSchema = z.object({
  id: idString(128),
  display_name: z.string().trim().min(1).max(200),
  role: text(100).optional(),
  responsibilities: text(5000).optional(),
  email: z.union([z.literal(''), z.email().max(320)]).optional(),
  studio_user_id: z.number().int().positive().nullable().optional(),
});
const updateSchema = z.object({
  display_name: z.string().trim().min(1).max(200).optional(),
  role: text(100).optional(),
  responsibilities: text(5000).optional(),
  email: z.union([z.literal(''), z.email().max(320)]).optional(),
  studio_user_id: z.number().int().positive().nullable().optional(),
  status: z.enum(['active', 'inactive']).optional(),
  availability: z.enum(AVAILABILITY).optional(),
  away_message: text(1000).optional(),
});

/** The people roster (spec 01 §2.7). */
export function operatorRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const ops = new OperatorService(app);

  r.get('/operators', requireAny, async (c) => c.json(await ops.list(principalOf(c))));
  r.get('/operators/:id', requireAny, async (c) => c.json(await ops.get(principalOf(c), c.req.param('id'))));

  r.post('/operators', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (!body.id || !body.display_name) throw badRequest('id and display_name required');
    return c.json(await ops.create(principalOf(c), parseWith(createSchema, body)));
  });

  r.put('/operators/:id/availability', requireHuman, async (c) => {
    const body = bodyOf(c);
    if (typeof body.availability !== 'string' || !(AVAILABILITY as readonly string[]).includes(body.availability)) {
      throw badRequest('availability must be available, away, or sleeping');
    }
    const message =
      parseWith(z.object({ message: text(1000).nullable().optional() }), { message: body.message }).message ?? '';
    return c.json(await ops.setAvailability(principalOf(c), c.req.param('id'), body.availability, message));
  });

  r.put('/operators/:id', requireAdmin, async (c) =>
    c.json(await ops.update(principalOf(c), c.req.param('id'), parseWith(updateSchema, bodyOf(c)))),
  );
  r.delete('/operators/:id', requireAdmin, async (c) => c.json(await ops.remove(principalOf(c), c.req.param('id'))));

  return r;
}
