import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseWith } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { orgsRepo } from './repo.js';
import { createOrg, deleteOrg, requireOrg, updateOrg } from './service.js';

const orgId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^/?#\s]+$/, 'must not contain "/", "?", "#" or spaces');
const createSchema = z.object({
  id: orgId,
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).optional(),
});
const updateSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(5000).optional(),
  plan: z.string().max(100).optional(),
  status: z.string().max(100).optional(),
});

/** Organisations (spec 01 §2.9; teams live in their own area). */
export function orgRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  r.get('/orgs', requireAny, async (c) => c.json(await orgsRepo.list(app.db)));

  r.post('/orgs', requireAdmin, async (c) => {
    const body = bodyOf(c);
    const blank = (v: unknown) => v === undefined || v === null || v === '';
    if (blank(body.id) || blank(body.name)) throw badRequest('id and name required');
    return c.json(await createOrg(app, principalOf(c), parseWith(createSchema, body)));
  });

  r.get('/orgs/:id', requireAny, async (c) => {
    const org = await requireOrg(app, c.req.param('id'));
    return c.json({ ...org, projects: await orgsRepo.projects(app.db, org.id) });
  });

  r.put('/orgs/:id', requireAdmin, async (c) => {
    const id = c.req.param('id');
    await requireOrg(app, id);
    return c.json(await updateOrg(app, principalOf(c), id, parseWith(updateSchema, bodyOf(c))));
  });

  r.delete('/orgs/:id', requireAdmin, async (c) => c.json(await deleteOrg(app, principalOf(c), c.req.param('id'))));

  return r;
}
