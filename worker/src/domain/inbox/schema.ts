import { z } from 'zod';
import { idParam, queryInt } from '../../http/contract.js';

/** The wire shapes of the operator inbox (spec 03 §11). */

export const InboxIdParams = z.object({ id: idParam });

const optText = z
  .string()
  .optional()
  .transform((v) => v || undefined);

export const InboxListQuery = z.object({
  operator_id: optText,
  status: optText,
  type: optText,
  entity_type: optText,
  limit: queryInt(50, 1, 200),
  offset: queryInt(0, 0, 1_000_000),
});
export const InboxCountQuery = z.object({ operator_id: optText });

export const CreateInboxItem = z.object({
  operator_id: z.string().trim().min(1).max(128).optional(),
  all_operators: z.boolean().optional(),
  type: z.string().trim().min(1).max(100).default('message'),
  entity_type: z.string().max(100).default(''),
  entity_id: z.union([z.string().max(128), z.number()]).default(''),
  title: z.string().max(500).default(''),
  summary: z.string().max(5000).default(''),
  data: z.unknown().optional(),
  priority: z.enum(['urgent', 'high', 'normal', 'low']).default('normal'),
});
export const BulkDismiss = z.object({
  ids: z.array(z.number().int().positive()).max(1000).optional(),
  all: z.boolean().optional(),
  operator_id: z.string().trim().min(1).max(128).optional(),
});

export const InboxItem = z
  .object({
    id: z.number().int(),
    operator_id: z.string(),
    type: z.string(),
    entity_type: z.string(),
    entity_id: z.string(),
    title: z.string(),
    summary: z.string(),
    data: z.unknown().meta({ description: 'The JSON the writer attached, parsed' }),
    status: z.string(),
    priority: z.string(),
    created_at: z.string(),
    read_at: z.string().nullable(),
  })
  .meta({ id: 'OperatorInboxItem' });

export const InboxCount = z.union([
  z.object({ operator_id: z.string(), unread: z.number().int(), count: z.number().int() }),
  z.array(z.object({ operator_id: z.string(), count: z.number().int() })).meta({
    description: 'Admins without an operator: unread counts per operator',
  }),
]);

export const InboxCreated = z.object({
  ok: z.literal(true),
  id: z.number().int().optional(),
  ids: z.array(z.number().int()).optional().meta({ description: 'With all_operators: one item each' }),
});
export const Dismissed = z.object({ ok: z.literal(true), dismissed: z.number().int() });
