import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { serviceChecked } from '../../http/documented.js';
import { TASK_PRIORITIES } from '../tasks/repo.js';

/** The wire shapes of blocking requests (spec 03 §8); the rows are messages. */

export const RequestIdParams = z.object({ id: idParam });

export const CreateRequest = z.looseObject({
  to_agent: serviceChecked({ type: 'string', maxLength: 128 }),
  content: serviceChecked({ type: 'string' }),
  thread_id: serviceChecked({ type: 'string', maxLength: 200 }),
  project_id: serviceChecked({ type: 'string', maxLength: 200 }),
  metadata: serviceChecked({ type: 'object' }),
  auto_task: serviceChecked({ type: 'boolean', description: 'Also create a task for the recipient' }),
  task_title: serviceChecked({ type: 'string', maxLength: 500 }),
  priority: serviceChecked({ type: 'string', enum: [...TASK_PRIORITIES] }),
});

export const PendingQuery = z.object({
  agent_id: z
    .string()
    .optional()
    .transform((v) => v || undefined),
});

export const UpdateRequest = z.looseObject({
  status: serviceChecked({ type: 'string', enum: ['acknowledged', 'ack', 'resolved', 'completed', 'done'] }),
  response: serviceChecked({ type: 'string' }),
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
