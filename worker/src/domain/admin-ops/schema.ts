import { Event } from '../events/schema.js';
import { z } from 'zod';
import { queryInt } from '../../http/contract.js';
import { Task } from '../tasks/schema.js';

/**
 * Admin operations (spec 01 §5.4–5.8, §5.13). The dashboards dump rows of many tables; rows of
 * tables with a declared entity pass through it, the others through `rowWithout`, which drops the
 * columns that must never leave: `requester_key` (the identity key binding approvals and drone
 * jobs to their requester), `decision_id`, and `lease_token` (a claim's fencing token).
 */

const INTERNAL = ['requester_key', 'decision_id', 'lease_token'];

/** A table row as stored, minus internal columns (for tables whose entity lives in another area). */
const rowWithout = (table: string) =>
  z
    .record(z.string(), z.unknown())
    .transform((row) => {
      const out = { ...row };
      for (const k of INTERNAL) delete out[k];
      return out;
    })
    .meta({ description: `A ${table} row (internal columns removed)` });

export const Cleanup = z.object({
  message_days: z.number().int().min(1).max(36_500).optional(),
  event_days: z.number().int().min(1).max(36_500).optional(),
});

export const CleanupResult = z
  .object({
    ok: z.literal(true),
    messages_archived: z.number().int(),
    events_archived: z.number().int(),
    webhooks_archived: z.number().int(),
    savepoints_pruned: z.number().int(),
  })
  .catchall(z.number().int());

export const PatrolResult = z
  .object({
    stale_agents: z.number().int(),
    stale_tasks: z.number().int(),
    stale_requests: z.number().int(),
    stale_drones: z.number().int(),
    stale_plan_steps: z.number().int(),
    actions: z.array(z.record(z.string(), z.unknown())),
    run_at: z.string(),
    dry_run: z.literal(true).optional(),
  })
  .meta({ id: 'PatrolResult' });

export const HealthPreview = PatrolResult.extend({
  plugins_unavailable: z.array(z.unknown()).meta({ description: 'Enabled plugins whose code is not loaded' }),
});

/** Patrol lists events in their one wire shape. */
export const PatrolEvent = Event;

export const HistoryQuery = z.object({ limit: queryInt(50, 1, 500) });
export const OverviewQuery = z.object({
  verbose: z.string().optional().meta({ description: '`true` for the dashboard dump' }),
});

export const OpsDashboard = z.object({
  pending_requests: z.array(rowWithout('messages')),
  unassigned_tasks: z.array(Task),
  unassigned_bugs: z.array(rowWithout('bugs')),
  failed_drone_jobs: z.array(rowWithout('drone_jobs')),
  pending_approvals: z.array(rowWithout('approvals')),
  stale_requests: z.array(rowWithout('messages')),
  open_prs: z.array(z.unknown()),
});

const Verbose = {
  agents: z.array(z.record(z.string(), z.unknown())).meta({ description: 'Public agent rows (no key hashes)' }),
  events: z.array(PatrolEvent),
  tasks: z.object({
    open: z.array(Task),
    in_progress: z.array(Task),
    review: z.array(Task),
    done: z.array(Task),
  }),
  messages: z.array(rowWithout('messages')),
  context: z.array(rowWithout('context')),
  context_keys: z.array(z.object({ namespace: z.string(), keys: z.number().int() })),
  projects: z.array(rowWithout('projects')),
  pending_approvals: z.array(rowWithout('approvals')),
  pending_requests: z.array(rowWithout('messages')),
  bugs: z.array(rowWithout('bugs')),
  plans: z.array(rowWithout('plans')),
  concepts: z.array(rowWithout('concepts')),
  organizations: z.array(rowWithout('organizations')),
  operators: z.array(rowWithout('operators')),
  instance_config: z.array(
    z.object({ key: z.string(), value: z.string(), updated_at: z.string(), updated_by: z.string() }),
  ),
  drones: z.array(
    z.object({ id: z.string(), name: z.string(), status: z.string(), last_heartbeat: z.string().nullable() }),
  ),
  drone_jobs: z.array(rowWithout('drone_jobs')),
  active_operators: z.array(
    z.object({
      id: z.number().int(),
      username: z.string(),
      display_name: z.string(),
      role: z.string(),
      last_seen: z.string().nullable(),
    }),
  ),
  assets: z.array(rowWithout('assets')),
  approval_queue: z.array(rowWithout('approvals')),
  bug_counts: z.record(z.string(), z.number().int()),
  channels: z.array(rowWithout('channels')),
  channel_counts: z.object({ total: z.number().int(), active: z.number().int(), archived: z.number().int() }),
  plugins: z.array(rowWithout('plugins')),
};

const OverviewSlim = {
  agents: z.array(
    z.object({ id: z.string(), status: z.string(), working_on: z.string().nullable(), heartbeat: z.string() }),
  ),
  counts: z.record(z.string(), z.number().int()),
  attention: z.array(
    z.record(z.string(), z.unknown()).meta({ description: 'An item needing a human: type, id, title, action, age' }),
  ),
  recent_activity: z.array(z.string()),
};

/** Slim by default; `verbose=true` adds the dashboard dump (every key below `recent_activity`). */
export const Overview = z.object({
  ...OverviewSlim,
  ...Object.fromEntries(Object.entries(Verbose).map(([k, v]) => [k, v.optional()])),
}) as z.ZodObject<typeof OverviewSlim & { [K in keyof typeof Verbose]: z.ZodOptional<(typeof Verbose)[K]> }>;

export const BackupList = z.object({
  backups: z.array(z.object({ name: z.string(), size_mb: z.number(), created: z.string() })),
  count: z.number().int(),
});

export const BackupDone = z.object({
  ok: z.literal(true),
  name: z.string(),
  bytes: z.number().int(),
  size_mb: z.number(),
  verified: z.literal(true),
});

const Stuck = z.object({
  id: z.number().int(),
  title: z.string(),
  status: z.string(),
  assignee: z.string().nullable(),
  updated_at: z.string(),
});

export const ReconciliationQuery = z.object({
  threshold_minutes: z.string().optional().meta({ description: 'Minutes (≥ 1); wins over threshold_hours' }),
  threshold_hours: z.string().optional().meta({ description: 'Hours; missing or invalid → 1440 minutes' }),
});

export const Reconciliation = z.object({
  threshold_minutes: z.number().int(),
  generated_at: z.string(),
  counts: z.object({
    bugs: z.number().int(),
    tasks: z.number().int(),
    plan_steps: z.number().int(),
    total: z.number().int(),
  }),
  bugs: z.array(Stuck.extend({ project_id: z.string() })),
  tasks: z.array(Stuck.extend({ project_id: z.string() })),
  plan_steps: z.array(Stuck.extend({ plan_id: z.number().int() })),
});
