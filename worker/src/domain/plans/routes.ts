import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
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
import {
  AddStep,
  AddStepComment,
  CreatePlan,
  DeletePlanBody,
  DeletePlanQuery,
  Plan,
  PlanCreated,
  PlanDeleted,
  PlanIdParams,
  PlanListItem,
  PlanListQuery,
  PlanOk,
  Reorder,
  Reordered,
  StepAdded,
  StepComment,
  StepDeleted,
  StepParams,
  StepUpdated,
  UpdatePlan,
  UpdateStep,
} from './schema.js';

const tags = ['Plans'];

/** Plans and steps (spec 03 §5). Thin: contract → guard → service → shaped answer. */
export function planRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const id = (raw: string | undefined) => parseIntId(raw);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/plans',
      tags,
      summary: 'Plans with step summaries and progress, newest change first',
      access: 'any',
      query: PlanListQuery,
      response: z.array(PlanListItem),
    },
    (_c, { query: { limit, offset, ...filters } }) => listPlans(app, filters, limit, offset),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/plans',
      tags,
      summary: 'Create a plan (optionally with steps)',
      access: 'any',
      body: CreatePlan,
      lazyBody: true,
      response: PlanCreated,
      errors: [403],
    },
    async (c, input) => {
      await app.guards.check('plan.create', bodyOf(c), principalOf(c));
      const body = input.body;
      // Inline steps with an empty title are skipped, as in the original.
      const steps = (body.steps ?? [])
        .filter((s) => s.title.trim() !== '')
        .map((s) => ({ ...s, title: s.title.trim() }));
      return createPlan(app, principalOf(c), { ...body, steps });
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/plans/:id',
      tags,
      summary: 'One plan with its steps and their comments',
      access: 'any',
      params: PlanIdParams,
      response: Plan,
    },
    (_c, { params }) => getPlan(app, id(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/plans/:id',
      tags,
      summary: 'Update a plan',
      access: 'any',
      params: PlanIdParams,
      body: UpdatePlan,
      lazyBody: true,
      response: PlanOk,
    },
    async (c, input) => {
      const planId = id(input.params.id);
      await requirePlan(app, planId);
      return updatePlan(app, principalOf(c), planId, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/plans/:id',
      tags,
      summary: 'Delete a plan (through the approval gate)',
      access: 'any',
      params: PlanIdParams,
      query: DeletePlanQuery,
      body: DeletePlanBody,
      response: PlanDeleted,
      errors: [403],
    },
    (c, { params, query }) =>
      deletePlan(app, principalOf(c), id(params.id), bodyOf(c).approval_id ?? query.approval_id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/plans/:id/steps',
      tags,
      summary: 'Add a step',
      access: 'any',
      params: PlanIdParams,
      body: AddStep,
      lazyBody: true,
      response: StepAdded,
    },
    async (c, input) => {
      const planId = id(input.params.id);
      await requirePlan(app, planId);
      return addStep(app, principalOf(c), planId, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/plans/:id/reorder',
      tags,
      summary: 'Reorder the steps',
      access: 'any',
      params: PlanIdParams,
      body: Reorder,
      lazyBody: true,
      response: Reordered,
    },
    async (c, input) => {
      const planId = id(input.params.id);
      await requirePlan(app, planId);
      const order = bodyOf(c).order;
      if (!Array.isArray(order) || !order.every((x) => Number.isInteger(x) && (x as number) > 0))
        throw badRequest('order must be an array of step IDs');
      return reorderSteps(app, principalOf(c), planId, input.body.order);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/plans/:id/steps/:stepId',
      tags,
      summary: 'Update a step (status `completed` may complete the plan)',
      access: 'any',
      params: StepParams,
      body: UpdateStep,
      lazyBody: true,
      response: StepUpdated,
      errors: [409, 503],
    },
    async (c, input) => {
      const planId = id(input.params.id);
      const stepId = id(input.params.stepId);
      await requirePlanStep(app, planId, stepId);
      return updateStep(app, principalOf(c), planId, stepId, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/plans/:id/steps/:stepId',
      tags,
      summary: 'Delete a step',
      access: 'any',
      params: StepParams,
      response: StepDeleted,
    },
    (c, { params }) => deleteStep(app, principalOf(c), id(params.id), id(params.stepId)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/plans/:id/steps/:stepId/comments',
      tags,
      summary: "A step's comments, oldest first",
      access: 'any',
      params: StepParams,
      response: z.array(StepComment),
    },
    (_c, { params }) => listStepComments(app, id(params.id), id(params.stepId)),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/plans/:id/steps/:stepId/comments',
      tags,
      summary: 'Comment on a step',
      access: 'any',
      params: StepParams,
      body: AddStepComment,
      lazyBody: true,
      response: StepComment,
    },
    async (c, input) => {
      const planId = id(input.params.id);
      await requirePlan(app, planId);
      const { content, author } = input.body;
      return addStepComment(app, principalOf(c), planId, id(input.params.stepId), content, author);
    },
  );

  return r;
}
