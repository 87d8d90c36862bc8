import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId, parseWith } from '../../http/validate.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { fields, page } from '../work-items/fields.js';
import { PLAN_STATUSES, STEP_STATUSES } from './repo.js';
import {
  addStep,
  addStepComment,
  createPlan,
  deletePlan,
  deleteStep,
  getPlan,
  listPlans,
  listStepComments,
  reorderSteps,
  requirePlan,
  requirePlanStep,
  updatePlan,
  updateStep,
} from './service.js';

const label = z.string().max(200);
const inlineStep = z.object({
  title: z.string().max(500),
  description: fields.description.optional(),
  assignee: fields.who.nullable().optional(),
  phase: label.optional(),
});
const createSchema = z.object({
  title: fields.title,
  description: fields.description.optional(),
  project_id: fields.projectId.optional(),
  owner: fields.who.optional(),
  priority: label.optional(),
  tags: fields.tags.nullable().optional(),
  steps: z.array(inlineStep).max(200).optional(),
  approval_id: z.union([z.number(), z.string()]).optional(),
});
const updateSchema = z.object({
  title: fields.title.optional(),
  description: fields.description.optional(),
  status: z.enum(PLAN_STATUSES).optional(),
  owner: fields.who.optional(),
  priority: label.optional(),
  tags: z
    .union([z.string().max(5000), fields.tags])
    .nullable()
    .optional(),
  project_id: fields.projectId.optional(),
});
const linkedId = z.number().int().positive().nullable();
const addStepSchema = z.object({
  title: fields.title,
  description: fields.description.optional(),
  assignee: fields.who.nullable().optional(),
  phase: label.optional(),
  linked_task_id: linkedId.optional(),
  linked_branch: fields.url.nullable().optional(),
  linked_pr_url: fields.url.nullable().optional(),
});
const updateStepSchema = z.object({
  title: fields.title.optional(),
  description: fields.description.optional(),
  status: z.enum(STEP_STATUSES).optional(),
  assignee: fields.who.nullable().optional(),
  phase: label.optional(),
  linked_task_id: linkedId.optional(),
  linked_branch: fields.url.nullable().optional(),
  linked_pr_url: fields.url.nullable().optional(),
  critique: z.string().max(50_000).optional(),
  lease_token: fields.leaseToken.optional(),
});
const commentSchema = z.object({ content: fields.content, author: z.unknown().optional() });

/** Plans and steps (spec 03 §5). Thin: parse → guard → service → respond. */
export function planRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const id = (raw: string | undefined) => parseIntId(raw);

  r.get('/plans', requireAny, async (c) => {
    const q = queryOf(c);
    const { limit, offset } = page(q);
    return c.json(await listPlans(app, { project_id: q.project_id, status: q.status, owner: q.owner }, limit, offset));
  });

  r.post('/plans', requireAny, async (c) => {
    await app.guards.check('plan.create', bodyOf(c), principalOf(c));
    const input = parseWith(createSchema, bodyOf(c));
    // Inline steps with an empty title are skipped, as in the original.
    const steps = (input.steps ?? [])
      .filter((s) => s.title.trim() !== '')
      .map((s) => ({ ...s, title: s.title.trim() }));
    return c.json(await createPlan(app, principalOf(c), { ...input, steps }));
  });

  r.get('/plans/:id', requireAny, async (c) => c.json(await getPlan(app, id(c.req.param('id')))));

  r.put('/plans/:id', requireAny, async (c) => {
    const planId = id(c.req.param('id'));
    await requirePlan(app, planId);
    const input = parseWith(updateSchema, bodyOf(c));
    return c.json(await updatePlan(app, principalOf(c), planId, input));
  });

  r.delete('/plans/:id', requireAny, async (c) => {
    const body = bodyOf(c);
    const approvalId = body.approval_id ?? c.req.query('approval_id');
    return c.json(await deletePlan(app, principalOf(c), id(c.req.param('id')), approvalId));
  });

  r.post('/plans/:id/steps', requireAny, async (c) => {
    const planId = id(c.req.param('id'));
    await requirePlan(app, planId);
    const input = parseWith(addStepSchema, bodyOf(c));
    return c.json(await addStep(app, principalOf(c), planId, input));
  });

  r.put('/plans/:id/reorder', requireAny, async (c) => {
    const planId = id(c.req.param('id'));
    await requirePlan(app, planId);
    const order = bodyOf(c).order;
    if (!Array.isArray(order)) throw badRequest('order must be an array of step IDs');
    if (!order.every((x) => Number.isInteger(x) && (x as number) > 0))
      throw badRequest('order must be an array of step IDs');
    return c.json(await reorderSteps(app, principalOf(c), planId, order as number[]));
  });

  r.put('/plans/:id/steps/:stepId', requireAny, async (c) => {
    await requirePlanStep(app, id(c.req.param('id')), id(c.req.param('stepId')));
    const input = parseWith(updateStepSchema, bodyOf(c));
    return c.json(await updateStep(app, principalOf(c), id(c.req.param('id')), id(c.req.param('stepId')), input));
  });

  r.delete('/plans/:id/steps/:stepId', requireAny, async (c) =>
    c.json(await deleteStep(app, principalOf(c), id(c.req.param('id')), id(c.req.param('stepId')))),
  );

  r.get('/plans/:id/steps/:stepId/comments', requireAny, async (c) =>
    c.json(await listStepComments(app, id(c.req.param('id')), id(c.req.param('stepId')))),
  );

  r.post('/plans/:id/steps/:stepId/comments', requireAny, async (c) => {
    const planId = id(c.req.param('id'));
    await requirePlan(app, planId);
    const input = parseWith(commentSchema, bodyOf(c));
    return c.json(
      await addStepComment(app, principalOf(c), planId, id(c.req.param('stepId')), input.content, input.author),
    );
  });

  return r;
}
