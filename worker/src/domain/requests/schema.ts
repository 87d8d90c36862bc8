import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { TASK_PRIORITIES } from '../tasks/repo.js';

/** The wire shapes of blocking requests (spec 03 §8); the rows are messages. */

export const RequestIdParams = z.object({ id: idParam });

export const CreateRequest = z.looseObject({
  to_agent: documented({ type: 'string', maxLength: 128 }),
  content: documented({ type: 'string' }),
  thread_id: documented({ type: 'string', maxLength: 200 }),
  project_id: documented({ type: 'string', maxLength: 200 }),
  metadata: documented({ type: 'object' }),
  auto_task: documented({ type: 'boolean', description: 'Also create a task for the recipient' }),
  task_title: documented({ type: 'string', maxLength: 500 }),
  priority: documented({ type: 'string', enum: [...TASK_PRIORITIES] }),
});

export const PendingQuery = z.object({
  agent_id: z
    .string()
    .optional()
    .transform((v) => v || undefined),
});

export const UpdateRequest = z.looseObject({
  status: documented({ type: 'string', enum: ['acknowledged', 'ack', 'resolved', 'completed', 'done'] }),
  response: documented({ type: 'string' }),
});

export const RequestCreated = z.object({
  id: z.number().int(),
  task_id: z.number().int().optional().meta({ description: 'The auto-task, when asked for' }),
});

export const RequestUpdated = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  status: z.enum(['acknowledged', 'resolved']),
  response_id: z.number().int().optional(),
});
