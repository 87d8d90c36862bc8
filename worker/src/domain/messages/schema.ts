import { z } from 'zod';
import { idParam, queryInt, queryId } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { MSG_TYPES } from './service.js';

/** The wire shapes of messages (spec 03 §7). */

export const MessageIdParams = z.object({ id: idParam });

/** An optional query filter; empty means absent, as the original read it. */
const optText = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

export const Message = z
  .object({
    id: z.number().int(),
    from_agent: z.string(),
    to_agent: z.string().nullable(),
    thread_id: z.string().nullable(),
    project_id: z.string().nullable(),
    content: z.string(),
    metadata: z.string().meta({ description: 'JSON object text the sender attached' }),
    msg_type: z.string(),
    status: z.string(),
    channel_id: z.number().int().nullable(),
    priority: z.string(),
    created_at: z.string(),
    resolved_at: z.string().nullable(),
    resolved_by: z.string().nullable(),
  })
  .meta({ id: 'Message' });

export const Thread = z
  .object({
    thread_id: z.string(),
    message_count: z.number().int(),
    last_message_at: z.string(),
    last_sender: z.string().nullable(),
  })
  .meta({ id: 'MessageThread' });

export const ThreadsQuery = z.object({ limit: queryInt(20, 1, 500) });

export const MessageListQuery = z.object({
  from: optText,
  to: optText,
  thread: optText,
  project_id: optText,
  since: z.string().optional().meta({ description: 'An ISO-8601 instant' }),
  msg_type: optText,
  status: optText,
  channel_id: queryId(),
  limit: queryInt(50, 1, 500),
  offset: queryInt(0, 0, 1_000_000),
});

export const SendMessage = z.looseObject({
  to_agent: documented({ type: 'string', description: 'Recipient (absent: a broadcast); `to` is an alias' }),
  content: documented({ type: 'string' }),
  msg_type: documented({ type: 'string', enum: [...MSG_TYPES], default: 'message' }),
  priority: documented({ type: 'string', default: 'normal' }),
  thread_id: documented({ type: 'string' }),
  project_id: documented({ type: 'string' }),
  channel_id: documented({ type: 'integer' }),
  metadata: documented({ type: 'object' }),
});

export const BulkDeleteQuery = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  content_like: z.string().optional(),
});

export const ResolveBody = z.looseObject({
  response: documented({ type: 'string', description: 'A reply sent back to the sender' }),
});

export const Sent = z.object({ id: z.number().int() });
export const Acked = z.object({ ok: z.literal(true), id: z.number().int(), status: z.literal('acknowledged') });
export const Resolved = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  status: z.literal('resolved'),
  response_id: z.number().int().optional().meta({ description: 'The reply message' }),
});
export const BulkDeleted = z.object({ deleted: z.number().int() });
