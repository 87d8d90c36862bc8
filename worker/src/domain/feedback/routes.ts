import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseIntId, parseWith, queryInt } from '../../http/validate.js';
import { badRequest, notFound } from '../../http/errors.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { feedbackRepo } from './repo.js';

const createSchema = z.object({
  entity_type: z.string().trim().min(1).max(50).default('general'),
  entity_id: z.union([z.string().max(128), z.number()]).default(''),
  subject: z.string().max(500).default(''),
  comment: z.string().max(10_000).default(''),
  agent_id: z.string().max(128).default(''),
});

const ratingFilter = (raw: string | undefined, field: string) => {
  if (raw === undefined || raw === '') return undefined;
  if (!/^[1-5]$/.test(raw)) throw badRequest(`${field} must be an integer from 1 to 5`);
  return Number(raw);
};

/** Ratings of work and agents (spec 03 §12). */
export function feedbackRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  r.get('/feedback/summary', requireAdmin, async (c) => c.json(await feedbackRepo.summary(app.db)));

  r.get('/feedback', requireAdmin, async (c) => {
    const q = c.req.query();
    return c.json(
      await feedbackRepo.list(app.db, {
        entity_type: q.entity_type || undefined,
        agent_id: q.agent_id || undefined,
        submitted_by: q.submitted_by || undefined,
        rating: ratingFilter(q.rating, 'rating'),
        min_rating: ratingFilter(q.min_rating, 'min_rating'),
        limit: queryInt(q.limit, 'limit', 50, 1, 500),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000),
      }),
    );
  });

  /** Ratings are integers 1–5; a string or fraction is refused rather than coerced (weak spot W22). */
  r.post('/feedback', requireAny, async (c) => {
    const p = principalOf(c);
    const body = bodyOf(c);
    if (typeof body.rating !== 'number' || !Number.isInteger(body.rating) || body.rating < 1 || body.rating > 5)
      throw badRequest('rating must be 1-5');
    const input = parseWith(createSchema, body);
    const submittedBy = p.kind === 'agent' ? p.id : p.who;
    // Guardrails pre-check (kind `feedback_submitted`, spec 03 §12 [HEAD]) before the write.
    await app.guards.check(
      'feedback.submit',
      { agent: submittedBy, rating: body.rating, entity_type: input.entity_type, agent_id: input.agent_id },
      p,
    );
    const row = (await feedbackRepo.insert(app.db, {
      ...input,
      entity_id: String(input.entity_id),
      rating: body.rating,
      submitted_by: submittedBy,
    }))!;
    await app.events.emit({
      type: 'feedback_submitted',
      agent: row.submitted_by,
      summary: JSON.stringify({ id: row.id, rating: row.rating, entity_type: row.entity_type, agent_id: row.agent_id }),
    });
    return c.json(row, 201);
  });

  r.delete('/feedback/:id', requireAdmin, async (c) => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw badRequest('Invalid feedback id');
    const r2 = await feedbackRepo.delete(app.db, id);
    if (!r2.changes) throw notFound('Feedback not found');
    return c.json({ ok: true });
  });

  return r;
}
