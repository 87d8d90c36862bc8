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
const BY_SEVERITY =
  "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";

const rows = (db: Queryable, sql: string, args: (string | number)[] = []) => db.all<Record<string, unknown>>(sql, args);
async function count(db: Queryable, sql: string, args: (string | number)[] = []): Promise<number> {
  return Number((await db.get<{ n: number }>(sql, args))?.n ?? 0);
}

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

  // ── dashboards: GET /admin/ops and GET /admin/overview ─────────────────
  pendingRequests(db: Queryable, limit: number) {
    return rows(
      db,
      "SELECT * FROM messages WHERE msg_type = 'request' AND status IN ('pending', 'sent') ORDER BY id DESC LIMIT ?",
      [limit],
    );
  },

  /** Requests unanswered for over a day, oldest first. */
  staleRequestRows(db: Queryable) {
    return rows(
      db,
      "SELECT * FROM messages WHERE msg_type = 'request' AND status IN ('pending', 'sent') AND datetime(created_at) < datetime('now', '-1 day') ORDER BY id LIMIT 50",
    );
  },

  unassignedTasks(db: Queryable) {
    return rows(
      db,
      "SELECT * FROM tasks WHERE assignee IS NULL AND status IN ('open', 'in_progress') ORDER BY updated_at DESC, id DESC LIMIT 50",
    );
  },

  unassignedBugs(db: Queryable) {
    return rows(db, "SELECT * FROM bugs WHERE assignee IS NULL AND status = 'open' ORDER BY id DESC LIMIT 50");
  },

  failedDroneJobs(db: Queryable) {
    return rows(db, "SELECT * FROM drone_jobs WHERE status = 'failed' ORDER BY completed_at DESC LIMIT 50");
  },

  pendingApprovals(db: Queryable, limit: number) {
    return rows(db, "SELECT * FROM approvals WHERE status = 'pending' ORDER BY id DESC LIMIT ?", [limit]);
  },

  /** The overview's counters, each by name (the service skips those whose table is absent). */
  counts: {
    tasksWithStatus: (db: Queryable, status: string) =>
      count(db, 'SELECT COUNT(*) AS n FROM tasks WHERE status = ?', [status]),
    openBugs: (db: Queryable) => count(db, "SELECT COUNT(*) AS n FROM bugs WHERE status = 'open'"),
    activePlans: (db: Queryable) => count(db, "SELECT COUNT(*) AS n FROM plans WHERE status = 'active'"),
    pendingRequests: (db: Queryable) =>
      count(db, "SELECT COUNT(*) AS n FROM messages WHERE msg_type = 'request' AND status IN ('pending', 'sent')"),
    pendingApprovals: (db: Queryable) => count(db, "SELECT COUNT(*) AS n FROM approvals WHERE status = 'pending'"),
    dronesOnline: (db: Queryable) => count(db, `SELECT COUNT(*) AS n FROM agents WHERE ${IS_DRONE} AND ${AGENT_LIVE}`),
    pendingDroneJobs: (db: Queryable) => count(db, "SELECT COUNT(*) AS n FROM drone_jobs WHERE status = 'pending'"),
  },

  /** The overview's "needs attention" lists, five each. */
  attention: {
    /** Requests unanswered for over an hour. */
    staleRequests: (db: Queryable) =>
      rows(
        db,
        "SELECT id, from_agent, content, created_at FROM messages WHERE msg_type = 'request' AND status IN ('pending', 'sent') AND datetime(created_at) < datetime('now', '-1 hour') ORDER BY id LIMIT 5",
      ),
    pendingApprovals: (db: Queryable) =>
      rows(db, "SELECT id, title, created_at FROM approvals WHERE status = 'pending' ORDER BY id LIMIT 5"),
    /** In progress with no update for six hours. */
    staleTasks: (db: Queryable) =>
      rows(
        db,
        "SELECT id, assignee, title, updated_at FROM tasks WHERE status = 'in_progress' AND datetime(updated_at) < datetime('now', '-6 hours') ORDER BY datetime(updated_at) LIMIT 5",
      ),
    /** Open and unassigned, most severe first. */
    unassignedBugs: (db: Queryable) =>
      rows(
        db,
        `SELECT id, title, severity, created_at FROM bugs WHERE status = 'open' AND assignee IS NULL ORDER BY ${BY_SEVERITY}, id LIMIT 5`,
      ),
  },

  /** The verbose overview's dump of each area, newest first where it is capped. */
  dump: {
    agents: (db: Queryable) => rows(db, 'SELECT * FROM agents ORDER BY created_at, id'),
    tasksWithStatus: (db: Queryable, status: string) =>
      rows(db, 'SELECT * FROM tasks WHERE status = ? ORDER BY updated_at DESC, id DESC LIMIT 100', [status]),
    directMessages: (db: Queryable) =>
      rows(db, 'SELECT * FROM messages WHERE channel_id IS NULL ORDER BY id DESC LIMIT 50'),
    context: (db: Queryable) => rows(db, 'SELECT * FROM context ORDER BY updated_at DESC LIMIT 100'),
    contextNamespaces: (db: Queryable) =>
      rows(db, 'SELECT namespace, COUNT(*) AS keys FROM context_keys GROUP BY namespace ORDER BY namespace'),
    projects: (db: Queryable) => rows(db, 'SELECT * FROM projects ORDER BY created_at, id'),
    bugs: (db: Queryable) => rows(db, 'SELECT * FROM bugs ORDER BY id DESC LIMIT 100'),
    plans: (db: Queryable) => rows(db, 'SELECT * FROM plans ORDER BY id DESC LIMIT 100'),
    concepts: (db: Queryable) => rows(db, 'SELECT * FROM concepts ORDER BY updated_at DESC LIMIT 100'),
    organizations: (db: Queryable) => rows(db, 'SELECT * FROM organizations ORDER BY created_at, id'),
    operators: (db: Queryable) => rows(db, 'SELECT * FROM operators ORDER BY created_at, id'),
    instanceConfig: (db: Queryable) =>
      rows(db, 'SELECT key, value, updated_at, updated_by FROM instance_config ORDER BY key'),
    drones: (db: Queryable) =>
      rows(
        db,
        "SELECT id, name, status, last_heartbeat FROM agents WHERE role = 'drone' OR project_id = 'drone' ORDER BY id",
      ),
    droneJobs: (db: Queryable) => rows(db, 'SELECT * FROM drone_jobs ORDER BY id DESC LIMIT 100'),
    /** Operators seen in the last five minutes. */
    activeOperators: (db: Queryable) =>
      rows(
        db,
        "SELECT id, username, display_name, role, last_seen FROM studio_users WHERE datetime(last_seen) >= datetime('now', '-5 minutes') ORDER BY id",
      ),
    assets: (db: Queryable) => rows(db, 'SELECT * FROM assets ORDER BY updated_at DESC, id DESC LIMIT 100'),
    bugCountsByStatus: (db: Queryable) => rows(db, 'SELECT status, COUNT(*) AS n FROM bugs GROUP BY status'),
    /** Every channel except DMs the member is not in (spec 01 §5.7). */
    channelsVisibleTo: (db: Queryable, member: string) =>
      rows(
        db,
        "SELECT * FROM channels WHERE type != 'dm' OR id IN (SELECT channel_id FROM channel_members WHERE user_id = ?) ORDER BY id",
        [member],
      ),
    /** One query, not three: the verbose dump stays under the Workers subrequest budget. */
    channelCounts: (db: Queryable) =>
      rows(
        db,
        "SELECT COUNT(*) AS total, COALESCE(SUM(status = 'active'), 0) AS active, COALESCE(SUM(status = 'archived'), 0) AS archived FROM channels",
      ),
    plugins: (db: Queryable) => rows(db, 'SELECT * FROM plugins ORDER BY name'),
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
