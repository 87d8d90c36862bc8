import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { fields, pageQuery } from '../work-items/fields.js';
import { PLAN_STATUSES, STEP_STATUSES } from './repo.js';

/**
 * The wire shapes of plans and steps (spec 03 §5). A step row never carries the claim's fencing
 * token (`lease_token`).
 */

export const PlanIdParams = z.object({ id: idParam });
export const StepParams = z.object({ id: idParam, stepId: idParam });

const label = z.string().max(200);
const inlineStep = z.object({
  title: z.string().max(500),
  description: fields.description.optional(),
  assignee: fields.who.nullable().optional(),
  phase: label.optional(),
});
export const CreatePlan = z.object({
  title: fields.title,
  description: fields.description.optional(),
  project_id: fields.projectId.optional(),
  owner: fields.who.optional(),
  priority: label.optional(),
  tags: fields.tags.nullable().optional(),
  steps: z.array(inlineStep).max(200).optional(),
  approval_id: z.union([z.number(), z.string()]).optional(),
});
export const UpdatePlan = z.object({
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
export const AddStep = z.object({
  title: fields.title,
  description: fields.description.optional(),
  assignee: fields.who.nullable().optional(),
  phase: label.optional(),
  linked_task_id: linkedId.optional(),
  linked_branch: fields.url.nullable().optional(),
  linked_pr_url: fields.url.nullable().optional(),
});
export const UpdateStep = z.object({
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
export const AddStepComment = z.object({ content: fields.content, author: z.unknown().optional() });
export const Reorder = z.object({ order: z.array(z.number().int().positive()) });
export const DeletePlanBody = z.looseObject({
  approval_id: documented({ type: ['integer', 'string'], description: 'The approval that allows the delete' }),
});
export const DeletePlanQuery = z.object({ approval_id: z.string().optional() });

export const PlanListQuery = z.object({
  project_id: z.string().optional(),
  status: z.string().optional(),
  owner: z.string().optional(),
  ...pageQuery,
});

const planFields = {
  id: z.number().int(),
  title: z.string(),
  description: z.string(),
  project_id: z.string(),
  status: z.string(),
  owner: z.string(),
  priority: z.string(),
  tags: z.string().meta({ description: 'JSON array text' }),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
};

/** A plan row alone (in savepoint diffs). */
export const PlanRow = z.object(planFields).meta({ id: 'PlanRow' });

export const StepComment = z
  .object({
    id: z.number().int(),
    step_id: z.number().int(),
    plan_id: z.number().int(),
    author: z.string(),
    content: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'PlanStepComment' });

const PlanStep = z.object({
  id: z.number().int(),
  plan_id: z.number().int(),
  step_order: z.number().int(),
  title: z.string(),
  description: z.string(),
  phase: z.string(),
  status: z.string(),
  assignee: z.string().nullable(),
  linked_task_id: z.number().int().nullable(),
  linked_branch: z.string().nullable(),
  linked_pr_url: z.string().nullable(),
  completed_at: z.string().nullable(),
  attempt_count: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
  attempt: z.number().int().meta({ description: 'Times a lapsed lease sent the step back to the queue' }),
});

const Progress = z
  .object({ total: z.number().int(), completed: z.number().int(), percent: z.number().int() })
  .meta({ id: 'PlanProgress' });

const StepSummary = z.object({
  plan_id: z.number().int(),
  id: z.number().int(),
  status: z.string(),
  title: z.string(),
  assignee: z.string().nullable(),
  step_order: z.number().int(),
});

export const PlanListItem = z
  .object({
    ...planFields,
    steps: z.array(StepSummary),
    step_count: z.number().int(),
    progress: Progress,
    current_step: z.string().nullable(),
  })
  .meta({ id: 'PlanSummary' });

export const Plan = z
  .object({
    ...planFields,
    steps: z.array(PlanStep.extend({ comments: z.array(StepComment) }).meta({ id: 'PlanStep' })),
    progress: Progress,
  })
  .meta({ id: 'Plan' });

const approvalWarning = z.unknown().optional().meta({ description: 'Why the approval gate let it through anyway' });

export const PlanCreated = z.object({
  id: z.number().int(),
  title: z.string(),
  steps_created: z.number().int().optional(),
  approval_warning: approvalWarning,
});
export const PlanOk = z.object({ ok: z.literal(true), id: z.number().int() });
export const PlanDeleted = z.object({
  ok: z.literal(true),
  deleted: z.number().int(),
  approval_warning: approvalWarning,
});
export const StepAdded = z.object({ id: z.number().int(), plan_id: z.number().int() });
export const Reordered = z.object({ ok: z.literal(true), plan_id: z.number().int() });
export const StepUpdated = z.object({
  ok: z.literal(true),
  step_id: z.number().int(),
  retry: z.object({ attempt: z.number().int(), max: z.number().int() }).optional(),
});
export const StepDeleted = z.object({ ok: z.literal(true), deleted: z.number().int() });
