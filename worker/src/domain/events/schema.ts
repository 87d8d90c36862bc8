import { z } from 'zod';
import { queryInt } from '../../http/contract.js';

/** The wire shapes of the event log and its stream (spec 04 §7.2–7.3). */

export const PostEvent = z.object({
  type: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'may contain only letters, digits, "_", ".", ":" and "-"')
    .default('custom'),
  project_id: z.string().trim().max(200).nullable().optional(),
  summary: z.string().max(2000).nullable().optional(),
  data: z.unknown().optional(),
});

/** A filter value: empty means absent, at most 200 characters. */
const filter = z
  .string()
  .max(200)
  .optional()
  .transform((v) => v || undefined);

export const EventFilterQuery = z.object({ project_id: filter, type: filter, agent: filter });

export const EventListQuery = EventFilterQuery.extend({
  since: z.string().optional().meta({ description: 'An ISO-8601 instant: events strictly after it' }),
  search: z.string().optional().meta({ description: 'Text in the summary (first 200 characters used)' }),
  limit: queryInt(50, 1, 500),
  offset: queryInt(0, 0, 1_000_000),
});

/** Filters are checked after authentication (the stream's own order), so here they are plain text. */
export const EventStreamQuery = z.object({
  project_id: z.string().optional(),
  type: z.string().optional(),
  agent: z.string().optional(),
  ticket: z.string().optional().meta({ description: 'A stream ticket from POST /events/stream-ticket' }),
  token: z.string().optional().meta({ description: 'A JWT (prefer a ticket: URLs get logged)' }),
  last_event_id: z.string().optional().meta({ description: 'Resume after this id (or the Last-Event-ID header)' }),
});

export const Event = z
  .object({
    id: z.number().int(),
    type: z.string(),
    agent: z.string(),
    project_id: z.string().nullable(),
    summary: z.string(),
    data: z.string().meta({ description: 'JSON text of the event data' }),
    created_at: z.string(),
  })
  .meta({ id: 'Event' });

export const EventPosted = z.object({ id: z.number().int().nullable() });
export const StreamTicket = z.object({ ticket: z.string(), expires_at: z.string() });
