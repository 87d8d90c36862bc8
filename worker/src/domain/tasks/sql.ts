import type { Statement } from '../../db/types.js';
import type { Principal } from '../../auth/principal.js';

/**
 * Small SQL building blocks shared by the work-item areas (tasks, plans, bugs).
 *
 * Batch guards: `db.batch` is atomic, but its statements cannot branch on each other's results.
 * A guard is a statement that *fails* (and so rolls the whole batch back) when a condition holds:
 * it inserts a NULL title into `tasks`, which the NOT NULL constraint refuses. With a false
 * condition it inserts nothing. This turns "update A, and only if that really happened, do B"
 * into one atomic round trip on both runtimes, with no interactive transaction.
 */
const GUARD_SQL = "INSERT INTO tasks (title, requester) SELECT NULL, 'batch-guard' WHERE ";

/** Aborts the batch when the statement just before it changed no row (a lost compare-and-set). */
export function abortUnlessChanged(): Statement {
  return { sql: `${GUARD_SQL}changes() = 0`, args: [] };
}

/** Aborts the batch when `conditionSql` is true at that point of the batch. */
export function abortIf(conditionSql: string, args: Statement['args'] = []): Statement {
  return { sql: `${GUARD_SQL}(${conditionSql})`, args };
}

/** True when an error is one of the guards above firing (as opposed to a real failure). */
export function isGuardAbort(err: unknown): boolean {
  return /NOT NULL constraint failed: tasks\.title/i.test(String((err as Error)?.message ?? err));
}

/** The SQLite `datetime('now')` wire format for timestamps computed in JS. */
export function sqlNow(d: Date): string {
  return d.toISOString().slice(0, 19).replace('T', ' ');
}

/** `displayName(id)` used in event summaries (spec 03 §0.4). */
export function displayName(id: string): string {
  if (id === '__system__') return 'System';
  if (id === '__admin__') return 'Admin';
  if (id.startsWith('__user:')) return id.slice('__user:'.length);
  return id;
}

/** The caller's attribution string (the wire `who`). */
export function callerId(p: Principal): string {
  return p.kind === 'agent' ? p.id : p.who;
}

/** A WHERE fragment: the kill switch is off (kept inside claim statements so a freeze is atomic with them). */
export const NOT_FROZEN_SQL = "NOT EXISTS (SELECT 1 FROM instance_config WHERE key = 'admin_status' AND value = 'frozen')";

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
