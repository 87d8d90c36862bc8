import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';

/**
 * Read-mostly SQL across areas for the admin dashboards, the patrol and cleanup. Tables that
 * another area has not created on this instance yet are skipped (`tables()`), never queried.
 */
const stale = (col: string) => `(${col} IS NULL OR datetime(${col}) < datetime('now', ?))`;
const minutes = (n: number) => `-${n} minutes`;
const AGENT_LIVE = "status IN ('online', 'idle', 'busy')";
const IS_DRONE = "(role = 'drone' OR project_id = 'drone')";

export const CLEANUP_KEYS = ['messages_archived', 'events_archived', 'webhooks_archived', 'savepoints_pruned'] as const;
export type CleanupKey = (typeof CLEANUP_KEYS)[number];
/** One cleanup delete, and the SQL expression counting what it will delete (for the event row). */
export interface CleanupPart {
  key: CleanupKey;
  stmt: Statement;
  count: { sql: string; args: SqlArgs };
}

export const opsRepo = {
  async tables(db: Queryable): Promise<Set<string>> {
    const rows = await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
    return new Set(rows.map((r) => r.name));
  },

  // ── health patrol ───────────────────────────────────────────────────────
  staleAgents(db: Queryable, mins: number, drones: boolean) {
    return db.all<{ id: string; last_heartbeat: string | null }>(
      `SELECT id, last_heartbeat FROM agents WHERE ${AGENT_LIVE} AND ${drones ? '' : 'NOT '}${IS_DRONE} AND ${stale('last_heartbeat')} ORDER BY id`,
      [minutes(mins)],
    );
  },

  /** Offline only if still live and still stale (a heartbeat in between wins); never stamps last_heartbeat (weak spot 19). */
  markOffline(db: Queryable, id: string, mins: number) {
    return db.get<{ id: string }>(
      `UPDATE agents SET status = 'offline', working_on = '' WHERE id = ? AND ${AGENT_LIVE} AND ${stale('last_heartbeat')} RETURNING id`,
      [id, minutes(mins)],
    );
  },

  staleTasks(db: Queryable, mins: number) {
    return db.all<{ id: number; assignee: string | null }>(
      `SELECT t.id, t.assignee FROM tasks t LEFT JOIN agents a ON a.id = t.assignee
       WHERE t.status = 'in_progress' AND ${stale('a.last_heartbeat')} ORDER BY t.id`,
      [minutes(mins)],
    );
  },

  staleRequests(db: Queryable, mins: number) {
    return db.all<{ id: number; from_agent: string; to_agent: string | null }>(
      `SELECT id, from_agent, to_agent FROM messages WHERE msg_type = 'request' AND status IN ('pending', 'sent')
       AND datetime(created_at) < datetime('now', ?) ORDER BY id`,
      [minutes(mins)],
    );
  },

  staleSteps(db: Queryable, mins: number) {
    return db.all<{ id: number; plan_id: number; assignee: string | null }>(
      `SELECT s.id, s.plan_id, s.assignee FROM plan_steps s JOIN plans p ON p.id = s.plan_id
       WHERE s.status = 'in_progress' AND p.status = 'active' AND datetime(s.updated_at) < datetime('now', ?) ORDER BY s.id`,
      [minutes(mins)],
    );
  },

  patrolHistory(db: Queryable, limit: number) {
    return db.all(
      "SELECT id, type, agent, project_id, summary, data, created_at FROM events WHERE type = 'health_patrol' ORDER BY id DESC LIMIT ?",
      [limit],
    );
  },

  // ── cleanup ─────────────────────────────────────────────────────────────
  cleanupStatements(t: Set<string>, messageDays: number, eventDays: number, keepSavepoints: number): CleanupPart[] {
    const out: CleanupPart[] = [];
    const part = (key: CleanupKey, table: string, where: string, args: SqlArgs) =>
      out.push({
        key,
        stmt: { sql: `DELETE FROM ${table} WHERE ${where}`, args },
        count: { sql: `(SELECT COUNT(*) FROM ${table} WHERE ${where})`, args },
      });
    if (t.has('messages'))
      part(
        'messages_archived',
        'messages',
        "datetime(created_at) < datetime('now', ?) AND (status = 'resolved' OR msg_type = 'info')",
        [`-${messageDays} days`],
      );
    part('events_archived', 'events', "datetime(created_at) < datetime('now', ?)", [`-${eventDays} days`]);
    if (t.has('webhook_deliveries'))
      part('webhooks_archived', 'webhook_deliveries', "datetime(created_at) < datetime('now', ?)", [
        `-${eventDays} days`,
      ]);
    if (t.has('agent_savepoints'))
      part(
        'savepoints_pruned',
        'agent_savepoints',
        `id IN (SELECT id FROM (
                  SELECT id, ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY id DESC) AS rn FROM agent_savepoints) WHERE rn > ?)`,
        [keepSavepoints],
      );
    return out;
  },

  // ── dashboards ──────────────────────────────────────────────────────────
  async count(db: Queryable, sql: string, args: (string | number)[] = []): Promise<number> {
    return Number((await db.get<{ n: number }>(sql, args))?.n ?? 0);
  },

  all(db: Queryable, sql: string, args: (string | number)[] = []) {
    return db.all<Record<string, unknown>>(sql, args);
  },

  agentsBrief(db: Queryable) {
    return db.all<{ id: string; status: string; working_on: string; last_heartbeat: string | null }>(
      "SELECT id, status, working_on, last_heartbeat FROM agents WHERE project_id != 'drone' AND role != 'drone' ORDER BY id",
    );
  },

  recentEvents(db: Queryable, limit: number) {
    return db.all<{
      id: number;
      type: string;
      agent: string;
      project_id: string | null;
      summary: string;
      data: string;
      created_at: string;
    }>('SELECT id, type, agent, project_id, summary, data, created_at FROM events ORDER BY id DESC LIMIT ?', [limit]);
  },

  stuck(db: Queryable, table: 'bugs' | 'tasks', mins: number) {
    return db.all(
      `SELECT id, project_id, title, status, assignee, updated_at FROM ${table}
       WHERE status = 'in_progress' AND datetime(updated_at) < datetime('now', ?) ORDER BY datetime(updated_at), id`,
      [minutes(mins)],
    );
  },

  stuckSteps(db: Queryable, mins: number) {
    return db.all(
      `SELECT id, plan_id, title, status, assignee, updated_at FROM plan_steps
       WHERE status = 'in_progress' AND datetime(updated_at) < datetime('now', ?) ORDER BY datetime(updated_at), id`,
      [minutes(mins)],
    );
  },

  async sqliteNow(db: Queryable): Promise<string> {
    return String((await db.get<{ now: string }>("SELECT datetime('now') AS now"))?.now);
  },
};
