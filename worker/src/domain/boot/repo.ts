import type { Queryable } from '../../db/db.js';
import { rowsAfter } from '../../db/time-order.js';
import { SqlTexts } from '../../db/sql-texts.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { agentsRepo, type AgentRow } from '../agents/repo.js';
import { eventsRepo } from '../events/repo.js';

/** The columns of the agent's row slim and smart boot use (verbose shows the whole public row). */
const BOOT_AGENT_COLUMNS = [
  'id',
  'project_id',
  'status',
  'working_on',
  'last_heartbeat',
  'agent_type',
  'role',
  'capabilities',
  'llm_backend',
  'llm_model',
] as const satisfies readonly (keyof AgentRow)[];
export type BootAgentRow = Pick<AgentRow, (typeof BOOT_AGENT_COLUMNS)[number]>;

/** Boot's reads across areas (spec 02 §3.4). Every list is scoped to what the agent may see (W26). */

function scoped(col: string, scope: string[] | null): { sql: string; args: SqlArgs } {
  if (scope === null) return { sql: '1', args: [] };
  return { sql: `(${col} = '' OR ${col} IN (${scope.map(() => '?').join(',')}))`, args: scope };
}

/** `bootRepo.counts`'s text per scope size, built once (a text built per boot is hashed per boot). */
const countsSql = new SqlTexts(50);

export const bootRepo = {
  contextKey(db: Queryable, namespace: string, key: string) {
    return db.get<{ data: string }>('SELECT data FROM context_keys WHERE namespace = ? AND key = ?', [namespace, key]);
  },
  contextKeys(db: Queryable, namespaces: string[], nowIso: string) {
    return db.all<{
      namespace: string;
      key: string;
      data: string;
      access_count: number;
      updated_at: string;
      last_accessed_at: string | null;
    }>(
      `SELECT namespace, key, data, access_count, updated_at, last_accessed_at FROM context_keys
       WHERE namespace IN (${namespaces.map(() => '?').join(',')}) AND (expires_at IS NULL OR expires_at > ?)
       ORDER BY namespace, key LIMIT 500`,
      [...namespaces, nowIso],
    );
  },
  /** Whether `deleteExpiredEphemeral` would delete a key: a one-value read (`1`, or no row). */
  expiredEphemeral(db: Queryable, agentId: string, nowIso: string) {
    return db.get<{ n: number }>(
      "SELECT 1 AS n FROM context_keys WHERE namespace = ? AND category = 'ephemeral' AND expires_at IS NOT NULL AND expires_at <= ? LIMIT 1",
      [agentId, nowIso],
    );
  },
  deleteExpiredEphemeral(agentId: string, nowIso: string): Statement {
    return {
      sql: "DELETE FROM context_keys WHERE namespace = ? AND category = 'ephemeral' AND expires_at IS NOT NULL AND expires_at <= ?",
      args: [agentId, nowIso],
    };
  },
  counts(db: Queryable, agentId: string, projectId: string, scope: string[] | null) {
    const b = scoped('project_id', scope);
    const sql = countsSql.get(
      String(scope?.length ?? 'all'),
      () => `SELECT (SELECT COUNT(*) FROM tasks WHERE assignee = ? AND status IN ('open','in_progress')) AS tasks_mine,
              (SELECT COUNT(*) FROM bugs WHERE status = 'open' AND ${b.sql}) AS bugs_open,
              (SELECT COUNT(*) FROM plans WHERE status = 'active' AND (project_id = ? OR project_id = '')) AS plans_active`,
    );
    return db.get<{ tasks_mine: number; bugs_open: number; plans_active: number }>(sql, [
      agentId,
      ...b.args,
      projectId,
    ]);
  },
  otherAgents(db: Queryable, agentId: string, projectId: string, since: string) {
    return db.all<{
      id: string;
      name: string;
      status: string;
      working_on: string | null;
      last_heartbeat: string | null;
      project_id: string;
      llm_backend: string;
      runtime: string;
    }>(
      `SELECT id, name, status, working_on, last_heartbeat, project_id, llm_backend, runtime FROM agents
       WHERE id != ? AND (project_id = ? OR last_heartbeat >= ?) ORDER BY created_at ASC, rowid ASC LIMIT 200`,
      [agentId, projectId, since],
    );
  },
  /**
   * Slim boot's `other_agents` (spec 02 §3.4.1) as ONE value: SQLite walks `idx_agents_created`,
   * stops at the same 200 as `otherAgents`, and hands back the list already as JSON `[{id, status,
   * working_on}]` with the derived presence (spec 02 §2.3) — no row objects, no per-row JavaScript
   * (issue 11: at 10,000 agents the 200 rows, one JS object each, were most of boot's growth).
   * Presence is decided in SQL for heartbeats in the tables' own format `YYYY-MM-DD HH:MM:SS` (what
   * `toDbTime` and `datetime('now')` write), recognised as text `datetime()` gives back unchanged —
   * a valid instant in that spelling: a text comparison with `staleBefore` = now − 15 min, the same
   * answer as `derivePresence` at second precision. Any other spelling (ISO `T…Z`, fractions, an
   * hour 24–29 or a 30th of February that only look like the format, garbage) is passed on with
   * `last_heartbeat` for `derivePresence` (the reader finds those entries by that key). Cheaper
   * than the GLOB of the format it replaced (~20 % of the list at 200 agents), and exact where the
   * GLOB let `29:00:00` compare as text. The list's order is the subquery's (SQLite feeds an
   * aggregate in its FROM subquery's order). A one-column read: boot asks it as a column of its
   * first row.
   */
  otherAgentsList(agentId: string, projectId: string, since: string, staleBefore: string): Statement {
    return {
      sql: `SELECT json_group_array(CASE WHEN p IS NULL
                THEN json_object('id', id, 'status', status, 'working_on', w, 'last_heartbeat', last_heartbeat)
                ELSE json_object('id', id, 'status', p, 'working_on', w) END) AS list
       FROM (SELECT id, status, last_heartbeat, COALESCE(working_on, '') AS w,
               CASE WHEN status NOT IN ('online', 'idle', 'busy') THEN status
                    WHEN COALESCE(last_heartbeat, '') = '' THEN 'offline'
                    WHEN last_heartbeat = datetime(last_heartbeat)
                      THEN CASE WHEN last_heartbeat > ? THEN status ELSE 'offline' END
               END AS p
             FROM agents WHERE id != ? AND (project_id = ? OR last_heartbeat >= ?)
             ORDER BY created_at ASC, rowid ASC LIMIT 200)`,
      args: [staleBefore, agentId, projectId, since],
    };
  },
  /**
   * Slim and smart boot's first statement: the agent's row (`BOOT_AGENT_COLUMNS`) with one-value
   * reads as further columns — `extra` and the columns of `fold` (agentsRepo.rowWith). Issue 11:
   * reads that each were a statement of batch 1 (the fold, the other agents' list) ride in the row
   * read anyway. No row: no agent.
   */
  agentWith(agentId: string, extra: Record<string, Statement>, fold: Statement | undefined): Statement {
    return agentsRepo.rowWith(agentId, BOOT_AGENT_COLUMNS, extra, fold);
  },
  teams(db: Queryable, agentId: string) {
    return db.all<Record<string, unknown> & { id: string; is_primary: number }>(
      `SELECT t.*, tm.role, tm.is_primary FROM team_members tm JOIN teams t ON t.id = tm.team_id
       WHERE tm.user_id = ? AND tm.user_type = 'agent' ORDER BY tm.is_primary DESC, t.name`,
      [agentId],
    );
  },
  teamMembers(db: Queryable, teamId: string) {
    return db.all('SELECT user_id, user_type, role FROM team_members WHERE team_id = ? ORDER BY joined_at, id', [
      teamId,
    ]);
  },
  operatorsAvailable(db: Queryable) {
    return db
      .get<{ n: number }>("SELECT COUNT(*) AS n FROM operators WHERE status = 'active' AND availability = 'available'")
      .then((r) => Number(r?.n ?? 0));
  },
  project(db: Queryable, id: string) {
    return db.get('SELECT * FROM projects WHERE id = ?', [id]);
  },
  assignedTaskRows(db: Queryable, agentId: string) {
    return db.all(
      "SELECT * FROM tasks WHERE assignee = ? AND status IN ('open','in_progress') ORDER BY updated_at DESC LIMIT 100",
      [agentId],
    );
  },
  /**
   * Tasks awaiting approval, newest first: walked in the partial index of that pool (migration
   * 0016) and stopped at 50. Named, because the planner otherwise reads every task of the scope's
   * projects through the project_id OR and sorts them.
   */
  approvalQueue(db: Queryable, scope: string[] | null) {
    const s = scoped('project_id', scope);
    return db.all(
      `SELECT * FROM tasks INDEXED BY idx_tasks_awaiting_approval WHERE needs_approval = 1 AND approved_by IS NULL AND status != 'done' AND ${s.sql} ORDER BY updated_at DESC LIMIT 50`,
      s.args,
    );
  },
  myApprovals(db: Queryable, agentId: string) {
    return db.all(
      "SELECT * FROM approvals WHERE requested_by = ? AND requester_key = ? AND status IN ('pending','approved') ORDER BY id DESC LIMIT 20",
      [agentId, `agent:${agentId}`],
    );
  },
  /**
   * The 20 newest events by the agent or in its projects: one indexed half per branch (the agent;
   * each project), each at most 20 rows, merged (eventsRepo.newestOf) — an OR over them would
   * walk the whole table backwards, and one `project_id IN` half sorts every event of the projects.
   */
  recentEvents(db: Queryable, agentId: string, scope: string[] | null) {
    return eventsRepo.newestOf(db, agentId, scope, 20);
  },
  openBugs(db: Queryable, scope: string[] | null) {
    const s = scoped('project_id', scope);
    return db.all(`SELECT * FROM bugs WHERE status = 'open' AND ${s.sql} ORDER BY id DESC LIMIT 20`, s.args);
  },
  plans(db: Queryable, projectId: string) {
    return db.all("SELECT * FROM plans WHERE (project_id = ? OR ? = '') ORDER BY updated_at DESC, id DESC LIMIT 20", [
      projectId,
      projectId,
    ]);
  },
  channels(db: Queryable, agentId: string) {
    return db.all<{ id: number; unread: number }>(
      `SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.channel_id = c.id
                     AND m.id > COALESCE((SELECT last_read_message_id FROM channel_reads r WHERE r.channel_id = c.id AND r.user_id = ?), 0)) AS unread
       FROM channels c JOIN channel_members cm ON cm.channel_id = c.id
       WHERE cm.user_id = ? AND c.status = 'active' ORDER BY c.id`,
      [agentId, agentId],
    );
  },
  concepts(db: Queryable, projectId: string) {
    return db.all<{ data: string }>(
      'SELECT c.* FROM concepts c JOIN project_concepts pc ON pc.concept_id = c.id WHERE pc.project_id = ? ORDER BY c.name',
      [projectId],
    );
  },
  enabledPlugins(db: Queryable) {
    return db.all(
      'SELECT name, display_name, description, version, route_prefix, mcp_tool_count FROM plugins WHERE enabled = 1 ORDER BY name',
    );
  },
  sinceLastSession(db: Queryable, agentId: string, since: string) {
    // Messages by an id range (ids follow time): the direct and broadcast branches each read from
    // there on, not every message the agent ever received or every broadcast.
    const after = rowsAfter('messages', 'created_at', since, 'msg_after');
    return db.get<{ new_messages: number; task_changes: number; plan_step_changes: number; new_bugs: number }>(
      `WITH ${after.with.sql} SELECT (SELECT COUNT(*) FROM ${after.from}messages WHERE ${after.sql} AND (to_agent = ? OR to_agent IS NULL) AND msg_type IN ('message','info','request','directive')) AS new_messages,
              (SELECT COUNT(*) FROM tasks WHERE updated_at > ? AND (assignee = ? OR requester = ?)) AS task_changes,
              (SELECT COUNT(*) FROM plan_steps WHERE updated_at > ? AND assignee = ?) AS plan_step_changes,
              (SELECT COUNT(*) FROM bugs WHERE created_at > ?) AS new_bugs`,
      [...after.with.args, ...after.args, agentId, since, agentId, agentId, since, agentId, since],
    );
  },
};
