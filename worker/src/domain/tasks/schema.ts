import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { fields, pageQuery } from '../work-items/fields.js';
import { TASK_PRIORITIES, TASK_STATUSES } from './repo.js';

/**
 * The wire shapes of tasks (spec 03 §3): what a request may send and what an answer carries.
 * Answers pass through these schemas, so a column not named here (the claim's fencing token in
 * `lease_token`, for one) never leaves in a task row.
 */

export const TaskIdParams = z.object({ id: idParam });

export const Task = z
  .object({
    id: z.number().int(),
    title: z.string(),
    description: z.string(),
    project_id: z.string(),
    requester: z.string(),
    assignee: z.string().nullable(),
    status: z.string(),
    priority: z.string(),
    tags: z.string().meta({ description: 'JSON array text, as the original stores it' }),
    created_at: z.string(),
    updated_at: z.string(),
    blocked_by: z.string().meta({ description: 'JSON array text of blocking task ids' }),
    blocks: z.string().meta({ description: 'JSON array text of task ids this one blocks' }),
    needs_approval: z.number().int(),
    approved_by: z.string().nullable(),
    approved_at: z.string().nullable(),
    linked_asset_id: z.number().int().nullable(),
    request_id: z.number().int().nullable(),
    branch: z.string().nullable(),
    pr_url: z.string().nullable(),
    repo: z.string().nullable(),
    review_metadata: z.string(),
    attempt: z.number().int().meta({ description: 'Times a lapsed lease sent the task back to the queue' }),
  })
  .meta({ id: 'Task' });

export const TaskComment = z
  .object({
    id: z.number().int(),
    task_id: z.number().int(),
    author: z.string(),
    content: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'TaskComment' });

export const TaskDeliverable = z
  .object({
    id: z.number().int(),
    task_id: z.number().int(),
    author: z.string(),
    kind: z.string(),
    format: z.string(),
    content: z.string(),
    flags: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'TaskDeliverable' });

export const TaskListQuery = z.object({
  project_id: z.string().optional(),
  status: z.string().optional(),
  assignee: z.string().optional(),
  requester: z.string().optional(),
  priority: z.string().optional(),
  ...pageQuery,
});

export const CreateTask = z.object({
  title: fields.title,
  description: fields.description.optional(),
  project_id: fields.projectId.optional(),
  priority: z.enum(TASK_PRIORITIES).optional(),
  tags: fields.tags.nullable().optional(),
  assignee: fields.who.nullable().optional(),
  needs_approval: fields.flag.optional(),
  blocked_by: z.array(z.number().int().positive()).max(100).optional(),
});

export const UpdateTask = z.object({
  title: fields.title.optional(),
  description: fields.description.optional(),
  status: z.enum(TASK_STATUSES).optional(),
  assignee: fields.who.nullable().optional(),
  priority: z.enum(TASK_PRIORITIES).optional(),
  tags: fields.tags.nullable().optional(),
  needs_approval: fields.flag.optional(),
  branch: fields.url.nullable().optional(),
  pr_url: fields.url.nullable().optional(),
  repo: fields.url.nullable().optional(),
  review_metadata: z.union([z.string().max(50_000), z.record(z.string(), z.unknown())]).optional(),
  blocked_by: z.union([z.number().int().positive(), z.array(z.number().int().positive()).max(100)]).optional(),
  lease_token: fields.leaseToken.optional(),
});

export const ClaimTask = z.object({ agent_id: fields.who.optional(), force: z.boolean().optional() });
export const AddComment = z.object({ content: fields.content, author: z.unknown().optional() });
export const AddDeliverable = z.object({
  content: z.string().min(1).max(1_000_000),
  kind: z.string().trim().min(1).max(100).optional(),
  format: z.string().trim().min(1).max(100).optional(),
  flags: z.string().max(1000).optional(),
  author: z.unknown().optional(),
});
export const AddDependency = z.object({
  blocked_by: z.union([z.number(), z.string()]).optional().meta({ description: 'The blocking task id' }),
});

export const Created = z.object({ id: z.number().int(), title: z.string() });

export const Claimed = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  assignee: z.string(),
  status: z.literal('in_progress'),
  lease_token: z.string().nullable().meta({ description: 'Fencing token: quote it on later writes' }),
  lease_ttl_seconds: z.number(),
});

const DispatchRecord = z
  .object({ agent: z.string(), type: z.enum(['plan_step', 'task']), id: z.number().int(), title: z.string() })
  .meta({ id: 'DispatchRecord' });

export const Updated = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  blocked_by: z.array(z.number().int()).optional(),
  unblocked: z.array(z.number().int()).optional(),
  plan_steps_completed: z.number().int().optional(),
  plans_completed: z.array(z.number().int()).optional(),
  auto_dispatched: z.array(DispatchRecord).optional(),
});

export const DependencyAdded = z.object({ ok: z.literal(true), task: z.number().int(), blocked_by: z.number().int() });
export const Approved = z.object({ ok: z.literal(true), id: z.number().int(), approved: z.literal(true) });
export const Deleted = z.object({ ok: z.literal(true), id: z.number().int() });
export const CommentDeleted = z.object({ ok: z.literal(true), deleted: z.number().int() });
