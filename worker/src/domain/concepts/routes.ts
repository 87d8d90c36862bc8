import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId, parseWith } from '../../http/validate.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { CONCEPT_TYPES, ConceptService } from './service.js';

const typeError = () => badRequest(`type must be one of: ${CONCEPT_TYPES.join(', ')}`);
const fields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(10_000),
  data: z.unknown().optional(),
};

/** Shared concepts and their project links (spec 04 §5–6). */
export function conceptRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const concepts = new ConceptService(app);

  r.get('/concepts', requireAny, async (c) => c.json(await concepts.list(queryOf(c).type)));
  r.get('/concepts/:id', requireAny, async (c) => c.json(await concepts.get(parseIntId(c.req.param('id')))));

  r.post('/concepts', requireAny, async (c) => {
    const body = bodyOf(c);
    if (body.name === undefined || body.name === null || body.name === '') throw badRequest('name is required');
    if (body.type !== undefined && !(CONCEPT_TYPES as readonly unknown[]).includes(body.type)) throw typeError();
    const input = parseWith(
      z.object({ name: fields.name, description: fields.description.optional(), data: fields.data }),
      body,
    );
    return c.json(
      await concepts.create(principalOf(c), {
        name: input.name,
        type: (body.type as string | undefined) ?? 'custom',
        description: input.description ?? '',
        data: input.data,
      }),
    );
  });

  r.put('/concepts/:id', requireAny, async (c) => {
    const body = bodyOf(c);
    if (body.type !== undefined && !(CONCEPT_TYPES as readonly unknown[]).includes(body.type)) throw typeError();
    const input = parseWith(
      z.object({ name: fields.name.optional(), description: fields.description.optional(), data: fields.data }),
      body,
    );
    return c.json(
      await concepts.update(principalOf(c), parseIntId(c.req.param('id')), {
        name: input.name,
        description: input.description,
        type: body.type as string | undefined,
        data: body.data,
      }),
    );
  });

  r.delete('/concepts/:id', requireAny, async (c) => {
    const approvalId = bodyOf(c).approval_id ?? c.req.query('approval_id');
    return c.json(await concepts.remove(principalOf(c), parseIntId(c.req.param('id')), approvalId));
  });

  r.post('/concepts/:id/link', requireAny, async (c) => {
    const projectId = bodyOf(c).project_id;
    if (projectId === undefined || projectId === null || projectId === '') throw badRequest('project_id is required');
    if (typeof projectId !== 'string' || projectId.length > 200) throw badRequest('project_id must be a string');
    return c.json(await concepts.link(principalOf(c), parseIntId(c.req.param('id')), projectId));
  });

  r.delete('/concepts/:id/link/:projectId', requireAny, async (c) =>
    c.json(await concepts.unlink(principalOf(c), parseIntId(c.req.param('id')), c.req.param('projectId'))),
  );

  r.get('/projects/:projectId/concepts', requireAny, async (c) =>
    c.json(await concepts.forProject(c.req.param('projectId'))),
  );

  return r;
}
