import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId, parseWith } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { fields, page } from '../work-items/fields.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { BUG_SEVERITIES, BUG_STATUSES, bugsRepo } from './repo.js';
import { claimBug, createBug, deleteBug, requireBug, updateBug } from './service.js';

const createSchema = z.object({
  title: z.string().trim().max(500),
  description: fields.description,
  project_id: fields.projectId.optional(),
  category: z.string().max(100).optional(),
  severity: z.enum(BUG_SEVERITIES).optional(),
  assignee: fields.who.nullable().optional(),
  diagnostic_data: z
    .union([z.string().max(200_000), z.record(z.string(), z.unknown()), z.array(z.unknown())])
    .nullable()
    .optional(),
});
const updateSchema = z.object({
  status: z.enum(BUG_STATUSES).optional(),
  severity: z.enum(BUG_SEVERITIES).optional(),
  assignee: fields.who.nullable().optional(),
  admin_notes: z.string().max(50_000).optional(),
  lease_token: fields.leaseToken.optional(),
});
const claimSchema = z.object({ agent_id: fields.who.optional(), force: z.boolean().optional() });

/** Bugs (spec 03 §6). Thin: parse → guard → service → respond. */
export function bugRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const id = (raw: string | undefined) => parseIntId(raw);

  r.post('/bugs', requireAny, async (c) => {
    const p = principalOf(c);
    hitAgentWrite(app.limiters, p, c.get('clientIp'));
    const body = bodyOf(c);
    await app.guards.check('bug.create', body, p);
    const blank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
    if (blank(body.title) || blank(body.description)) throw badRequest('title and description are required');
    const input = parseWith(createSchema, body);
    return c.json(await createBug(app, p, input));
  });

  // An object, not an array: {bugs, counts} (spec 03 §6; counts are global).
  r.get('/bugs', requireAny, async (c) => {
    const q = queryOf(c);
    const { limit, offset } = page(q);
    const filters = {
      project_id: q.project_id,
      status: q.status,
      assignee: q.assignee,
      reporter: q.reporter,
      severity: q.severity,
      category: q.category,
    };
    const [bugs, counts] = await Promise.all([bugsRepo.list(app.db, filters, limit, offset), bugsRepo.counts(app.db)]);
    return c.json({ bugs, counts });
  });

  r.get('/bugs/:id', requireAny, async (c) => c.json(await requireBug(app, id(c.req.param('id')))));

  r.post('/bugs/:id/claim', requireAny, async (c) => {
    const input = parseWith(claimSchema, bodyOf(c));
    return c.json(await claimBug(app, principalOf(c), id(c.req.param('id')), input));
  });

  r.put('/bugs/:id', requireAny, async (c) => {
    const bugId = id(c.req.param('id'));
    await requireBug(app, bugId);
    const input = parseWith(updateSchema, bodyOf(c));
    return c.json(await updateBug(app, principalOf(c), bugId, input));
  });

  r.delete('/bugs/:id', requireAdmin, async (c) => c.json(await deleteBug(app, principalOf(c), id(c.req.param('id')))));

  return r;
}
