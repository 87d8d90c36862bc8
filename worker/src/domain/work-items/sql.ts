import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';
import type { Principal } from '../../auth/principal.js';
import { isFrozen } from '../admin/freeze.js';

/** Small SQL building blocks shared by the work-item areas (tasks, plans, bugs). */

/** A WHERE fragment: the kill switch is off (kept inside claim statements so a freeze is atomic with them). */
export const NOT_FROZEN_SQL =
  "NOT EXISTS (SELECT 1 FROM instance_config WHERE key = 'admin_status' AND value = 'frozen')";

/**
 * "Claims never steal" (spec README) as a WHERE fragment over an item's `assignee`: the item is
 * unassigned (or parked on one of `unheld`, a placeholder such as a step's operator_input) or
 * already held by `by`. Claims and every PUT that changes an assignee put it in their
 * compare-and-set, so the rule and its race safety live here once.
 */
export function freeOrHeldBySql(by: string, unheld: readonly string[] = []): { sql: string; args: SqlValue[] } {
  const free = ["''", ...unheld.map(() => '?')].join(', ');
  return { sql: `(COALESCE(assignee, '') IN (${free}) OR assignee = ?)`, args: [...unheld, by] };
}

/**
 * What a PUT on a task, bug or step must re-check in its compare-and-set so it cannot do what a
 * claim may not (spec README "Claims never steal" and "The kill switch"):
 *  - `by`: an agent changing the assignee must find the item free or its own (else 409 as a claim).
 *    The same holds for ANY write by an agent to an item another agent holds (claimed and being
 *    worked on: `HELD_STATUSES`): the identity rule of issue 17 — a write without a fencing token
 *    is accepted from the holder only, so a same-project agent cannot complete or edit work another
 *    agent holds. Humans (the admin key and every operator) assign, reassign and edit work: "claims
 *    never steal" is a rule for agents, not for a person handing work to someone else (spec 03 §3.5);
 *  - `notFrozen`: an agent assigning or starting work is work routing, refused while frozen (503);
 *  - `leaseToken`: the writer quoted a claim's fencing token; the item must still carry it (else
 *    409: its lease was released or someone claimed it again, see ./lease.ts).
 * Finishing or reporting work, unassigning oneself and every human/admin edit stay possible while
 * frozen, so agents can wind down.
 */
export interface AcquireGuard {
  by?: string;
  notFrozen?: boolean;
  unheld?: readonly string[];
  leaseToken?: string;
}

/** Statuses in which an assignee holds an item (a claim being worked on). */
export const HELD_STATUSES: readonly string[] = ['in_progress', 'review'];

export function acquireGuard(
  p: Principal,
  current: { assignee: string | null; status: string },
  change: { assignee?: SqlValue; startsWork: boolean; leaseToken?: string },
  unheld: readonly string[] = [],
): AcquireGuard {
  const reassigns = change.assignee !== undefined && String(change.assignee ?? '') !== (current.assignee ?? '');
  const holder = current.assignee ?? '';
  const heldByOther =
    p.kind === 'agent' &&
    HELD_STATUSES.includes(current.status) &&
    holder !== '' &&
    holder !== p.who &&
    !unheld.includes(holder);
  return {
    by: (reassigns || heldByOther) && p.kind === 'agent' ? p.who : undefined,
    notFrozen: p.kind === 'agent' && ((reassigns && !!change.assignee) || change.startsWork),
    unheld,
    leaseToken: change.leaseToken,
  };
}

/** The guard as extra WHERE conditions (`AND …`, or nothing) for an item's conditional update. */
export function acquireGuardSql(g: AcquireGuard | undefined): { sql: string; args: SqlValue[] } {
  const parts: string[] = [];
  const args: SqlValue[] = [];
  if (g?.by !== undefined) {
    const f = freeOrHeldBySql(g.by, g.unheld);
    parts.push(f.sql);
    args.push(...f.args);
  }
  if (g?.notFrozen) parts.push(NOT_FROZEN_SQL);
  if (g?.leaseToken !== undefined) {
    parts.push('lease_token = ?');
    args.push(g.leaseToken);
  }
  return { sql: parts.map((x) => ` AND ${x}`).join(''), args };
}

/**
 * Why a guarded PUT's compare-and-set matched nothing, when the guard is the reason: 'lease'
 * (the quoted fencing token is stale: 409), 'frozen' (answer 503 as a claim does) or 'held'
 * (answer 409 `{error, assignee}` as a claim does); null when the item simply changed under the
 * caller. Read after the fact, for the error only.
 */
export async function lostAcquisition(
  db: Queryable,
  g: AcquireGuard,
  now: { assignee: string | null; lease_token?: string | null },
): Promise<'lease' | 'frozen' | 'held' | null> {
  if (g.leaseToken !== undefined && now.lease_token !== g.leaseToken) return 'lease';
  if (g.notFrozen && (await isFrozen(db))) return 'frozen';
  const holder = now.assignee ?? '';
  if (g.by !== undefined && holder !== '' && holder !== g.by && !(g.unheld ?? []).includes(holder)) return 'held';
  return null;
}

/**
 * Leaderboard credit for finished work (spec 03 §3.5, §6; W25: the assignee, not whoever clicked).
 * Only agents have profiles; any other identity matches no agent row and nothing is written.
 * Put in the same batch as the transition it rewards, so a rolled-back completion credits nothing.
 */
export function creditCompletion(agentId: string, counter: 'total_tasks_completed' | 'total_bugs_fixed'): Statement {
  return {
    sql: `INSERT INTO agent_profiles (agent_id, display_name, ${counter})
          SELECT id, name, 1 FROM agents WHERE id = ?
          ON CONFLICT(agent_id) DO UPDATE SET ${counter} = ${counter} + 1, last_active_at = datetime('now')`,
    args: [agentId],
  };
}
