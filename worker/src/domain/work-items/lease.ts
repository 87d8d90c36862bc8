import { displayName } from '../../auth/who.js';
import { toDbTime } from '../../db/time.js';
import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';
import { conflict } from '../../http/errors.js';
import { isFrozen } from '../admin/freeze.js';
import type { EventInput } from '../events/bus.js';
import { inboxRepo } from '../inbox/repo.js';
import type { MaintenanceJob } from '../../maintenance.js';
import { NOT_FROZEN_SQL } from './sql.js';

/**
 * Crash-proof claims (issue 17): what tasks, bugs and plan steps share, written so drone jobs can
 * adopt it (a table with `status`, `assignee`, `updated_at`, `lease_token`, `attempt`).
 *
 * - A claim is a lease. The claim's own compare-and-set hands out a fencing token
 *   (`lease_token`, random, kept by an idempotent re-claim, new for every new holder).
 * - Renewal costs nothing: liveness is derived, never written. A lease is alive while its holder's
 *   `agents.last_heartbeat` — or the item's `updated_at` (the claim itself, the holder's updates),
 *   whichever is later — is younger than `config.leaseTtlSeconds`. The heartbeat keeps its
 *   statements; no row per held item is touched.
 * - Expiry: maintenance finds in-progress items whose holder is an agent that went silent,
 *   and releases each with one conditional UPDATE that re-checks silence and the kill switch
 *   (a heartbeat landing in between wins; a frozen network releases nothing), batched with its
 *   `lease_expired` event and the operators' inbox items, and bumps `attempt`.
 * - Fencing: a write quoting a token that is no longer the item's (released, or re-claimed by
 *   anyone) is refused with 409, inside the write's own compare-and-set. Writes without a token
 *   keep the identity rule, so clients that never heard of leases work unchanged.
 * Holders that are not agents (operators, free-text names) never heartbeat, so their claims never lapse.
 */

export type LeasedKind = 'task' | 'bug' | 'plan_step';

interface LeasedTable {
  kind: LeasedKind;
  table: 'tasks' | 'bugs' | 'plan_steps';
  /** The status an item goes back to when its lease lapses. */
  requeueStatus: string;
  label: string;
  /** Extra columns the event needs (`project_id` for all; steps read theirs from the plan). */
  select: string;
  from: string;
}

const LEASED: readonly LeasedTable[] = [
  {
    kind: 'task',
    table: 'tasks',
    requeueStatus: 'open',
    label: 'task',
    select: 'x.project_id, NULL AS plan_id',
    from: 'tasks x',
  },
  {
    kind: 'bug',
    table: 'bugs',
    requeueStatus: 'open',
    label: 'bug',
    select: 'x.project_id, NULL AS plan_id',
    from: 'bugs x',
  },
  {
    kind: 'plan_step',
    table: 'plan_steps',
    requeueStatus: 'pending',
    label: 'plan step',
    select: 'p.project_id, x.plan_id',
    from: 'plan_steps x JOIN plans p ON p.id = x.plan_id',
  },
];

/**
 * Releases per maintenance pass (each is one batch); the rest wait for the next pass. Keeps a pass
 * within the Workers budget of subrequests per invocation (ARCHITECTURE: 50) next to other jobs.
 */
const RELEASES_PER_PASS = 20;

/**
 * The claim's SET fragment for the token (args: the claiming agent). SQLite evaluates every SET
 * expression against the row as it was, so "already mine and in progress" keeps the token and
 * anything else (a new holder, an admin takeover, a row never leased) gets a new one.
 */
export function leaseTokenSet(agentId: string): { sql: string; args: SqlValue[] } {
  return {
    sql: `lease_token = CASE WHEN status = 'in_progress' AND assignee = ? AND lease_token IS NOT NULL THEN lease_token ELSE lower(hex(randomblob(16))) END`,
    args: [agentId],
  };
}

/** Silent since before `?` (a naive-UTC cutoff): the later of the holder's heartbeat and the item's last write. */
function silentSinceSql(alias: string): string {
  return `MAX(COALESCE(datetime((SELECT last_heartbeat FROM agents WHERE id = ${alias}.assignee)), ''), COALESCE(datetime(${alias}.updated_at), '')) < datetime(?)`;
}

interface LapsedRow {
  id: number;
  title: string;
  assignee: string;
  attempt: number;
  project_id: string | null;
  plan_id: number | null;
}

export const leaseRepo = {
  /** In-progress items held by an agent that has been silent since `cutoff`, oldest first. */
  lapsed(db: Queryable, t: LeasedTable, cutoff: string, limit: number) {
    return db.all<LapsedRow>(
      `SELECT x.id, x.title, x.assignee, x.attempt, ${t.select} FROM ${t.from}
       WHERE x.status = 'in_progress' AND EXISTS (SELECT 1 FROM agents a WHERE a.id = x.assignee) AND ${silentSinceSql('x')}
       ORDER BY x.updated_at ASC, x.id ASC LIMIT ?`,
      [cutoff, limit],
    );
  },

  /**
   * Back to the queue, if still held by the same silent agent and the network is not frozen
   * (all re-checked in this one statement, so a late heartbeat or a freeze always wins).
   */
  release(t: LeasedTable, id: number, holder: string, cutoff: string): Statement {
    return {
      sql: `UPDATE ${t.table} SET status = ?, assignee = NULL, lease_token = NULL, attempt = attempt + 1, updated_at = datetime('now')
            WHERE id = ? AND status = 'in_progress' AND assignee = ? AND ${silentSinceSql(t.table)} AND ${NOT_FROZEN_SQL}
            RETURNING attempt`,
      args: [t.requeueStatus, id, holder, cutoff],
    };
  },
};

/** What a claim answers about its lease (the token to quote on later writes, and how long silence may last). */
export function leaseAnswer(ctx: AppContext, token: unknown) {
  return { lease_token: typeof token === 'string' ? token : null, lease_ttl_seconds: ctx.config.leaseTtlSeconds };
}

/** The 409 for a write quoting a token the item no longer carries (drone jobs too: drones/jobs-service.ts). */
export function leaseLost(kind: LeasedKind | 'drone_job', now: { assignee: string | null; status: string }) {
  const label = LEASED.find((t) => t.kind === kind)?.label ?? 'drone job';
  return conflict(
    `Lease on this ${label} is no longer held (it was released or claimed again); claim it again before writing`,
    {
      assignee: now.assignee,
      status: now.status,
    },
  );
}

/** Refuses early (before any write) a write that quotes a stale token; the write's compare-and-set re-checks it. */
export function assertLeaseHeld(
  kind: LeasedKind,
  item: { assignee: string | null; status: string; lease_token?: string | null },
  token: string | undefined,
) {
  if (token !== undefined && item.lease_token !== token) throw leaseLost(kind, item);
}

export interface LeaseExpiryReport {
  released: { item_type: LeasedKind; id: number; agent: string; attempt: number }[];
  frozen?: true;
}

/** One maintenance pass: release every lapsed lease of tasks, bugs and plan steps. */
export async function expireLeases(ctx: AppContext): Promise<LeaseExpiryReport> {
  if (await isFrozen(ctx.db)) return { released: [], frozen: true };
  const ttl = ctx.config.leaseTtlSeconds;
  const cutoff = toDbTime(ctx.clock.now().getTime() - ttl * 1000);
  const report: LeaseExpiryReport = { released: [] };
  for (const t of LEASED) {
    const budget = RELEASES_PER_PASS - report.released.length;
    if (budget <= 0) break;
    for (const row of await leaseRepo.lapsed(ctx.db, t, cutoff, budget)) {
      const attempt = Number(row.attempt) + 1;
      const idKey = t.kind === 'plan_step' ? 'step_id' : `${t.kind}_id`;
      const data: Record<string, unknown> = {
        item_type: t.kind,
        item_id: row.id,
        [idKey]: row.id,
        agent: row.assignee,
        attempt,
        lease_ttl_seconds: ttl,
      };
      if (row.plan_id !== null) data.plan_id = Number(row.plan_id);
      const where = row.plan_id !== null ? ` of plan #${row.plan_id}` : '';
      const ev: EventInput = {
        type: 'lease_expired',
        agent: '__system__',
        projectId: row.project_id || null,
        summary: `Lease on ${t.label} #${row.id}${where} expired: ${displayName(row.assignee)} silent for over ${Math.round(ttl / 60)} min; back in the queue (attempt ${attempt})`,
        data,
      };
      const inbox = inboxRepo.insertForAllActive({
        type: 'alert',
        entity_type: t.kind,
        entity_id: String(row.id),
        title: `Claim released: ${row.title}`,
        summary: `${displayName(row.assignee)} went silent while holding ${t.label} #${row.id}${where}; it is back in the queue (attempt ${attempt}).`,
        data,
        priority: 'normal',
      });
      const released = await atomicWrite(ctx)
        .add(null, leaseRepo.release(t, row.id, row.assignee, cutoff))
        .requireChanged('lease renewed')
        .event(ev)
        .add(null, inbox)
        .commitUnlessAborted();
      // Renewed, completed, re-claimed or frozen since the read: nothing to release.
      if (!released) continue;
      report.released.push({ item_type: t.kind, id: row.id, agent: row.assignee, attempt });
    }
  }
  if (report.released.length) ctx.log.info('leases expired', { count: report.released.length });
  return report;
}

/** Runs on every maintenance pass (Node: every minute; Workers: every cron tick); cheap when nothing lapsed. */
export const leaseExpiryJob: MaintenanceJob = { name: 'lease_expiry', everyMs: 0, run: expireLeases };
