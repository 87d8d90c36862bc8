import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { idString, parseWith } from '../../http/validate.js';
import { badRequest } from '../../http/errors.js';
import { principalOf, requireAdmin, requireAny, requireHuman } from '../../auth/principal.js';
import { TeamService } from './service.js';

const createSchema = z.object({
  id: idString(100),
  org_id: z.string().trim().min(1).max(128),
  name: z.string().trim().min(1).max(200),
  description: z.string().max(2000).default(''),
});
const updateSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2000).optional(),
  org_id: z.string().trim().min(1).max(128).optional(),
});
const ROLES = ['member', 'lead', 'admin'] as const;
const memberSchema = z.object({
  user_id: z.string().trim().min(1).max(128),
  user_type: z.enum(['operator', 'agent']).default('operator'),
  role: z.enum(ROLES).default('member'),
  is_primary: z.boolean().default(false),
});
const memberUpdateSchema = z.object({ role: z.enum(ROLES).optional(), is_primary: z.boolean().optional() });

/** Teams (spec 01 §2.9): admins manage teams, humans manage membership, everyone reads. */
export function teamRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const teams = new TeamService(app);

  r.get('/teams', requireAny, async (c) => c.json(await teams.list(c.req.query('org_id') || undefined)));
  r.get('/teams/:id', requireAny, async (c) => c.json(await teams.get(c.req.param('id'))));
  r.get('/teams/:id/projects', requireAny, async (c) => c.json(await teams.projects(c.req.param('id'))));

  r.post('/teams', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (!body.id || !body.org_id || !body.name) throw badRequest('id, org_id, and name required');
    return c.json(await teams.create(principalOf(c), parseWith(createSchema, body)));
  });
  r.put('/teams/:id', requireAdmin, async (c) =>
    c.json(await teams.update(principalOf(c), c.req.param('id'), parseWith(updateSchema, bodyOf(c)))),
  );
  r.delete('/teams/:id', requireAdmin, async (c) => c.json(await teams.remove(principalOf(c), c.req.param('id'))));

  r.post('/teams/:id/members', requireHuman, async (c) => {
    const body = bodyOf(c);
    if (!body.user_id) throw badRequest('user_id required');
    return c.json(await teams.addMember(principalOf(c), c.req.param('id'), parseWith(memberSchema, body)));
  });
  r.put('/teams/:id/members/:userId', requireHuman, async (c) =>
    c.json(
      await teams.updateMember(
        principalOf(c),
        c.req.param('id'),
        c.req.param('userId'),
        parseWith(memberUpdateSchema, bodyOf(c)),
      ),
    ),
  );
  r.delete('/teams/:id/members/:userId', requireHuman, async (c) =>
    c.json(await teams.removeMember(principalOf(c), c.req.param('id'), c.req.param('userId'))),
  );

  return r;
}
