import { z } from 'zod';
import { nameParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { Message } from '../messages/schema.js';
import { Task } from '../tasks/schema.js';
import { Bug } from '../bugs/schema.js';
import { PlanRow } from '../plans/schema.js';

/**
 * The wire shapes of savepoints (spec 02 §3.7). `notes_delivered` is internal bookkeeping (whether
 * the notes reached a boot) and never leaves.
 */

export const AgentIdParams = z.object({ id: nameParam });

export const SavepointListQuery = z.object({
  limit: z.string().optional().meta({ description: 'Integer (default 10, at most 500; anything else: the default)' }),
});

export const NotesBody = z.looseObject({ notes: documented({ type: 'string', maxLength: 20_000 }) });

const savepointFields = {
  id: z.number().int(),
  agent_id: z.string(),
  session_id: z.string().nullable(),
  heartbeat_at: z.string(),
  working_on: z.string(),
  notes: z.string().nullable(),
  created_at: z.string(),
};

/** A list entry: the savepoint without its (large) state. */
export const SavepointSummary = z.object(savepointFields).meta({ id: 'SavepointSummary' });

export const Savepoint = z
  .object({
    ...savepointFields,
    state_snapshot: z.string().meta({ description: 'JSON object text the agent saved' }),
    messages_acked: z.string().meta({ description: 'JSON array text of message ids' }),
    context_versions: z.string().meta({ description: 'JSON object text' }),
  })
  .meta({ id: 'Savepoint' });

export const NoSavepoint = z.object({ has_savepoint: z.literal(false) });

const rows = z.array(z.record(z.string(), z.unknown()));

export const SavepointDiff = z
  .object({
    has_savepoint: z.boolean(),
    savepoint_id: z.number().int().optional(),
    savepoint_at: z.string().optional(),
    session_id: z.string().nullable().optional(),
    was_working_on: z.string().optional(),
    notes: z.string().nullable().optional(),
    previous_state: z.record(z.string(), z.unknown()).optional(),
    changes: z
      .object({
        new_messages: z.array(Message),
        tasks_changed: z.array(Task),
        context_changed: rows,
        plans_changed: z.array(PlanRow),
        bugs_changed: z.array(Bug),
        drone_jobs_changed: rows,
        events_since: z.number().int(),
      })
      .optional(),
    summary: z
      .object({
        messages: z.number().int(),
        tasks: z.number().int(),
        context: z.number().int(),
        plans: z.number().int(),
        bugs: z.number().int(),
        drone_jobs: z.number().int(),
        events: z.number().int(),
        time_since: z.string(),
      })
      .optional(),
  })
  .meta({ id: 'SavepointDiff' });

export const SavepointWritten = z.object({ ok: z.literal(true), savepoint_id: z.number().int() });
