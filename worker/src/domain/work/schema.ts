import { z } from 'zod';
import { nameParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';

/** The wire shapes of the work queue and work requests (spec 02 §3.5). */

export const WorkAgentParams = z.object({ agentId: nameParam });
export const WorkQuery = z.object({
  auto_claim: z
    .string()
    .optional()
    .transform((v) => v === 'true')
    .meta({ description: '`true` claims the first claimable item' }),
});

/** One queue entry; which optional fields it carries depends on `type`. */
export const QueueItem = z
  .object({
    priority: z.number().int().meta({ description: 'Rank in the queue (1 = first)' }),
    type: z.enum(['request', 'plan_step', 'task', 'bug', 'plan_step_unassigned', 'bug_unassigned']),
    id: z.number().int(),
    title: z.string(),
    status: z.string().optional(),
    project_id: z.string().nullable().optional(),
    summary: z.string().optional(),
    from_agent: z.string().optional(),
    content: z.string().optional(),
    plan_id: z.number().int().optional(),
    plan_title: z.string().optional(),
    priority_label: z.string().optional().meta({ description: "The task's own priority" }),
    severity: z.string().optional(),
    description: z.string().nullable().optional(),
    claimed: z.boolean().optional(),
    lease_token: z.string().nullable().optional().meta({ description: 'Fencing token of the claim' }),
    lease_ttl_seconds: z.number().optional(),
  })
  .meta({ id: 'QueueItem' });

export const WorkAnswer = z.object({
  ok: z.literal(true),
  queue: z.array(QueueItem),
  frozen: z.literal(true).optional(),
  claimed: QueueItem.nullable().optional(),
});

export const WorkRequestBody = z.looseObject({
  type: documented({ type: 'string', enum: ['task_request', 'asset_request', 'work_request'] }),
  target: documented({ type: 'string' }),
  description: documented({ type: 'string', maxLength: 50_000 }),
  priority: documented({ type: 'string', default: 'normal' }),
});

export const WorkRequested = z.object({
  ok: z.literal(true),
  message_id: z.number().int(),
  routed_to: z.string().meta({ description: 'The coordinator agent' }),
});
