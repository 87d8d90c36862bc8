import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseWith } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { bugCategories } from '../bugs/service.js';
import { projectsRepo } from './repo.js';
import { createProject, deleteProject, requireProject, updateProject } from './service.js';

// Project ids are stored verbatim (SEC-52); they only have to be a usable path segment.
const projectId = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^/?#\s]+$/, 'must not contain "/", "?", "#" or spaces');
const text = (max: number) => z.string().max(max);
const createSchema = z.object({
  id: projectId,
  name: z.string().trim().min(1).max(200),
  description: text(5000).optional(),
  org_id: text(200).optional(),
  repo_url: text(2000).optional(),
  repo_path: text(2000).optional(),
  type: text(100).optional(),
});
const updateSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: text(5000).optional(),
  repo_url: text(2000).optional(),
  repo_path: text(2000).optional(),
  org_id: text(200).optional(),
  type: text(100).optional(),
  status: text(100).optional(),
  bug_categories: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
  team_id: text(200).nullable().optional(),
});

/** Projects (spec 04 §5) and their bug categories (spec 03 §6). */
export function projectRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  r.get('/projects', requireAny, async (c) => c.json(await projectsRepo.list(app.db, queryOf(c).org_id)));

  r.post('/projects', requireAdmin, async (c) => {
    const body = bodyOf(c);
    const blank = (v: unknown) => v === undefined || v === null || v === '';
    if (blank(body.id) || blank(body.name)) throw badRequest('id and name required');
    return c.json(await createProject(app, principalOf(c), parseWith(createSchema, body)));
  });

  r.get('/projects/:id/bug-categories', requireAny, async (c) => {
    const id = c.req.param('id');
    return c.json({ project_id: id, categories: await bugCategories(app, id) });
  });

  r.get('/projects/:id', requireAny, async (c) => c.json(await requireProject(app, c.req.param('id'))));

  r.put('/projects/:id', requireAdmin, async (c) => {
    const id = c.req.param('id');
    await requireProject(app, id);
    const body = bodyOf(c);
    // The original accepted the categories as a JSON string too; a string that is a JSON array still works.
    if (typeof body.bug_categories === 'string') {
      try {
        body.bug_categories = JSON.parse(body.bug_categories);
      } catch {
        throw badRequest('bug_categories must be an array');
      }
    }
    return c.json(await updateProject(app, principalOf(c), id, parseWith(updateSchema, body)));
  });

  r.delete('/projects/:id', requireAdmin, async (c) =>
    c.json(await deleteProject(app, principalOf(c), c.req.param('id'))),
  );

  return r;
}
