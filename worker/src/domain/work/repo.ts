import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { taskPriorityRankSql, taskReadySql } from '../tasks/repo.js';
import { stepReadySql } from '../plans/repo.js';
import { NOT_FROZEN_SQL, freeOrHeldBySql } from '../work-items/sql.js';
import { FROZEN_VALUE_SQL } from '../admin/freeze.js';
import { bugSeverityRankSql } from '../bugs/repo.js';
import { leaseTokenSet } from '../work-items/lease.js';
import { messagesRepo } from '../messages/repo.js';
import { agentsRepo } from '../agents/repo.js';

/**
 * The work queue's read model over tasks, plan steps and bugs (spec 02 §3.5), and the claim
 * statements for steps (tasks and bugs claim through their own repos). Every claim is a
 * compare-and-set that also re-checks the kill switch inside the same statement.
 */

/** Bug severity by meaning (spec 02 W3): critical > high > normal > low. */
const BUG_SEVERITY_RANK = bugSeverityRankSql('b');

export interface StepItemRow {
  id: number;
  plan_id: number;
  plan_title: string;
  title: string;
  status: string;
  project_id: string;
  ready: number;
}

export interface TaskItemRow {
  id: number;
  title: string;
  status: string;
  project_id: string;
  priority: string;
  ready: number;
}

export interface BugItemRow {
  id: number;
  title: string;
  severity: string;
  status: string;
  project_id: string;
}

/** `(col IN (…) OR col = '')`, or TRUE when the scope is unrestricted (null). */
function inScope(col: string, scope: string[] | null): { sql: string; args: SqlArgs } {
  if (scope === null) return { sql: '1', args: [] };
  return { sql: `(${col} = '' OR ${col} IN (${scope.map(() => '?').join(',') || "''"}))`, args: scope };
}

/**
 * The agent's work scope as a CTE (same rule as `workScope` in ./service.ts): its own project
 * unless a drone's, plus its teams' projects; no row means unscoped. Args: agent id twice. Kept in
 * SQL so the whole queue is one statement (one libSQL round trip on Workers) instead of a read of
 * the scope followed by the buckets that depend on it.
 */
const SCOPE_CTE = `scope(pid) AS (
    SELECT project_id FROM agents WHERE id = ? AND COALESCE(project_id, '') NOT IN ('', 'drone')
    UNION SELECT pr.id FROM team_members tm JOIN projects pr ON pr.team_id = tm.team_id
    WHERE tm.user_id = ? AND tm.user_type = 'agent' AND pr.id != '')`;

/** `col` is within the CTE scope (or the scope is unrestricted). */
function inScopeCte(col: string): string {
  return `(NOT EXISTS (SELECT 1 FROM scope) OR ${col} = '' OR ${col} IN (SELECT pid FROM scope))`;
}

/**
 * A planner is an agent whose capabilities name `reasoning_planning`. The `instr` term lets the
 * partial index `idx_agents_planner_heartbeat` (migration 0015) serve the query, so it reads only
 * planners, never every registered agent; `json_each` then checks the exact capability.
 */
const PLANNER_SQL = `instr(a.capabilities, 'reasoning_planning') > 0 AND a.last_heartbeat >= ?
  AND EXISTS (SELECT 1 FROM json_each(a.capabilities) cap WHERE cap.value = 'reasoning_planning')`;

/**
 * One row when unassigned-bug triage should wait: another planner alive since `since` whose
 * project is unset or within the agent's scope (spec 02 §3.5). The caller's own capability is
 * checked by the service. Args: since, agent id (after the scope CTE's).
 */
const PLANNER_IN_SCOPE = `SELECT 1 AS defer FROM agents a
       WHERE ${PLANNER_SQL} AND a.id != ?
         AND (COALESCE(a.project_id, '') = '' OR NOT EXISTS (SELECT 1 FROM scope) OR a.project_id IN (SELECT pid FROM scope))
       LIMIT 1`;

/** The queue's parts, in this order (`queueStatements`, `PollRow`). */
export const QUEUE_PARTS = ['requests', 'steps', 'tasks', 'bugs', 'freeSteps', 'deferToPlanner', 'freeBugs'] as const;
export type QueuePartName = (typeof QUEUE_PARTS)[number];

/**
 * One list bucket of the queue (spec 02 §3.5), written once and read two ways: as rows (boot
 * batches the parts apart, `queueStatements`) or as one JSON array inside the work poll's single
 * statement (`pollStatement`). `order` sorts by output column names (columns there only to sort by
 * are left out of `json`; a column `order` names is aliased where a join makes it ambiguous).
 * Args: the agent id once, when `from` names it.
 */
interface ListPart {
  select: string;
  from: string;
  order: string;
  limit: number;
  /** The columns the queue shows (the JSON keys in the folded form). */
  json: readonly string[];
  /** Reads the `scope` CTE (which takes the agent id twice) instead of the agent id. */
  scoped: boolean;
  /** A second arm of rows (UNION ALL), the two sorted and limited together. */
  orFrom?: string;
}

const STEP_JSON = ['id', 'plan_id', 'plan_title', 'title', 'status', 'project_id', 'ready'] as const;
const STEP_ORDER = 'plan_updated DESC, plan_id DESC, step_order ASC, id ASC';
const BUG_JSON = ['id', 'title', 'severity', 'status', 'project_id'] as const;

const LIST_PARTS = {
  steps: {
    select: `s.id AS id, s.plan_id AS plan_id, p.title AS plan_title, s.title, s.status, p.project_id, ${stepReadySql('s')} AS ready,
       p.updated_at AS plan_updated, s.step_order AS step_order`,
    from: `plan_steps s JOIN plans p ON p.id = s.plan_id
       WHERE s.assignee = ? AND s.status IN ('pending','in_progress') AND p.status = 'active'`,
    order: STEP_ORDER,
    limit: 100,
    json: STEP_JSON,
    scoped: false,
  },
  tasks: {
    select: `t.id, t.title, t.status, t.project_id, t.priority, ${taskReadySql('t')} AS ready,
       ${taskPriorityRankSql('t')} AS rank, t.updated_at`,
    from: `tasks t WHERE t.assignee = ? AND t.status IN ('open','in_progress')`,
    order: 'rank DESC, updated_at DESC, id DESC',
    limit: 100,
    json: ['id', 'title', 'status', 'project_id', 'priority', 'ready'],
    scoped: false,
  },
  /** Queried directly, open and in progress (spec 02 W9). */
  bugs: {
    select: `b.id, b.title, b.severity, b.status, b.project_id, ${BUG_SEVERITY_RANK} AS rank`,
    from: `bugs b WHERE b.assignee = ? AND b.status IN ('open','in_progress')`,
    order: 'rank DESC, id DESC',
    limit: 100,
    json: BUG_JSON,
    scoped: false,
  },
  /**
   * Ready, unassigned, pending steps of active plans in the agent's scope (spec 02 §3.5 bucket 7,
   * W8). Plans first (CROSS JOIN keeps that order): the active plans are few, the pending steps of
   * every plan many.
   */
  freeSteps: {
    select: `s.id AS id, s.plan_id AS plan_id, p.title AS plan_title, s.title, s.status, p.project_id, 1 AS ready,
       p.updated_at AS plan_updated, s.step_order AS step_order`,
    from: `plans p CROSS JOIN plan_steps s ON s.plan_id = p.id
       WHERE p.status = 'active' AND s.status = 'pending' AND COALESCE(s.assignee, '') = ''
         AND ${inScopeCte('p.project_id')} AND ${stepReadySql('s')}`,
    order: STEP_ORDER,
    limit: 20,
    json: STEP_JSON,
    scoped: true,
  },
  /**
   * Open unassigned bugs in scope, in two arms so each reads an index: a scoped agent's projects
   * (and the project-less '') from the unassigned pool of migration 0028, project by project; an
   * unscoped agent's, all of it. The arm that does not apply stops at its first, constant term.
   */
  freeBugs: {
    select: `b.id AS id, b.title, b.severity, b.status, b.project_id, ${BUG_SEVERITY_RANK} AS rank`,
    from: `bugs b WHERE EXISTS (SELECT 1 FROM scope) AND b.project_id IN (SELECT pid FROM scope UNION ALL SELECT '')
       AND b.status = 'open' AND COALESCE(b.assignee, '') = ''`,
    orFrom: `bugs b WHERE NOT EXISTS (SELECT 1 FROM scope) AND b.status = 'open' AND COALESCE(b.assignee, '') = ''`,
    order: 'rank DESC, id DESC',
    limit: 20,
    json: BUG_JSON,
    scoped: true,
  },
} satisfies Record<string, ListPart>;

const partRows = (p: ListPart) =>
  `SELECT ${p.select} FROM ${p.from}${p.orFrom ? ` UNION ALL SELECT ${p.select} FROM ${p.orFrom}` : ''}
     ORDER BY ${p.order} LIMIT ${p.limit}`;
/**
 * A part as one JSON array, in the order of its rows. The rows come from a subquery with ORDER BY
 * and LIMIT, which SQLite runs as a co-routine handing the aggregate its rows in that order (the
 * LIMIT makes the order part of the result: it is never dropped), so the array needs no ORDER BY
 * of its own — which would sort every list a second time (issue 11: ~15 % of the poll's statement).
 * test/api/work.test.ts checks the order of every list with several items.
 */
const partJson = (p: ListPart) =>
  `SELECT json_group_array(json_object(${p.json.map((c) => `'${c}', ${c}`).join(', ')})) FROM (${partRows(p)})`;

/** The args of a list part after the scope CTE's: the agent id, unless it reads the scope. */
const partArgs = (p: ListPart, agentId: string): SqlArgs => (p.scoped ? [] : [agentId]);

/** A column of the work poll's one statement, with its args (after the scope CTE's). */
interface PollColumn {
  name: keyof PollRow;
  sql: string;
  args: (agentId: string, plannerSince: string) => SqlArgs;
}

const listColumn = (name: keyof typeof LIST_PARTS): PollColumn => ({
  name,
  sql: partJson(LIST_PARTS[name]),
  args: (agentId) => partArgs(LIST_PARTS[name], agentId),
});

/**
 * The whole work poll in one statement: the agent, the kill switch and every part, lists as JSON
 * arrays. One value per part instead of a row object per item, and the scope worked out once
 * instead of per part: the poll's reads cost about a third less (bench/README.md, issue 11).
 */
const POLL_COLUMNS: PollColumn[] = [
  { name: 'agent', sql: agentsRepo.queueFactsSql(), args: (agentId) => [agentId] },
  { name: 'admin_status', sql: FROZEN_VALUE_SQL, args: () => [] },
  { name: 'requests', sql: messagesRepo.pendingRequestsJsonSql(), args: (agentId) => [agentId] },
  listColumn('steps'),
  listColumn('tasks'),
  listColumn('bugs'),
  listColumn('freeSteps'),
  { name: 'deferToPlanner', sql: `SELECT EXISTS (${PLANNER_IN_SCOPE})`, args: (agentId, since) => [since, agentId] },
  listColumn('freeBugs'),
];
/**
 * Each part's statement as rows (boot's batch), built once: a text built per call is hashed per
 * call by the driver (issue 11).
 */
const ROW_SQL = Object.fromEntries(
  Object.entries(LIST_PARTS).map(([name, p]) => [name, p.scoped ? `WITH ${SCOPE_CTE} ${partRows(p)}` : partRows(p)]),
) as Record<keyof typeof LIST_PARTS, string>;
const PLANNER_ROWS_SQL = `WITH ${SCOPE_CTE} ${PLANNER_IN_SCOPE}`;

const POLL_SQL = `WITH ${SCOPE_CTE}
  SELECT ${POLL_COLUMNS.map((c) => `(${c.sql}) AS ${c.name}`).join(',\n    ')}`;

/** The row of `pollStatement`: `agent` is NULL when there is none; lists are JSON array text. */
export type PollRow = { agent: string | null; admin_status: string | null } & Record<QueuePartName, unknown>;

export const workRepo = {
  /** Every read of one queue as rows, in `QUEUE_PARTS` order (boot batches them with its own reads). */
  queueStatements(agentId: string, plannerSince: string): Statement[] {
    const list = (name: keyof typeof LIST_PARTS): Statement => {
      const p: ListPart = LIST_PARTS[name];
      const args = partArgs(p, agentId);
      return { sql: ROW_SQL[name], args: p.scoped ? [agentId, agentId, ...args] : args };
    };
    return [
      messagesRepo.pendingRequestsStatement(agentId),
      list('steps'),
      list('tasks'),
      list('bugs'),
      list('freeSteps'),
      { sql: PLANNER_ROWS_SQL, args: [agentId, agentId, plannerSince, agentId] },
      list('freeBugs'),
    ];
  },

  /** The work poll's one statement (`POLL_SQL`), always one row: the scope CTE's args, then each column's. */
  pollStatement(agentId: string, plannerSince: string): Statement {
    return { sql: POLL_SQL, args: [agentId, agentId, ...POLL_COLUMNS.flatMap((c) => c.args(agentId, plannerSince))] };
  },

  /** A step claim takes the lease: its fencing token is set in the same compare-and-set. */
  claimStep(stepId: number, agentId: string): Statement {
    const mine = freeOrHeldBySql(agentId);
    const lease = leaseTokenSet(agentId);
    return {
      sql: `UPDATE plan_steps SET assignee = ?, status = 'in_progress', ${lease.sql}, updated_at = datetime('now')
            WHERE id = ? AND ${mine.sql}
              AND (status = 'in_progress' OR (status = 'pending' AND ${stepReadySql('plan_steps')}))
              AND ${NOT_FROZEN_SQL} RETURNING id, description, lease_token`,
      args: [agentId, ...lease.args, stepId, ...mine.args],
    };
  },

  /** Dispatch of a step: assigned, left pending for the agent to pull-claim (spec 02 §3.6 step 4). */
  assignStep(stepId: number, agentId: string): Statement {
    return {
      sql: `UPDATE plan_steps SET assignee = ?, updated_at = datetime('now')
            WHERE id = ? AND COALESCE(assignee, '') = '' AND status = 'pending' AND ${stepReadySql('plan_steps')}
              AND ${NOT_FROZEN_SQL} RETURNING id`,
      args: [agentId, stepId],
    };
  },

  /** Ready open unassigned tasks in scope, by priority meaning then age (dispatch). */
  /**
   * The first open, unassigned, ready tasks in scope, best first. Each project's part is read in
   * that order from the partial index of the open pool (migration 0016) and stops at the limit;
   * one IN over the projects read every open task of them and sorted it, per candidate of a
   * dispatch pass (issue 11 growth).
   */
  dispatchableTasks(db: Queryable, scope: string[] | null, limit: number) {
    const rank = taskPriorityRankSql('t');
    const best = `ORDER BY ${rank} DESC, t.created_at ASC, t.id ASC LIMIT ?`;
    const part = (where: string) =>
      `SELECT * FROM (SELECT t.id, t.title, t.project_id, t.tags, ${rank} AS rank, t.created_at FROM tasks t
       WHERE ${where}t.status = 'open' AND COALESCE(t.assignee, '') = '' AND ${taskReadySql('t')} ${best})`;
    const projects = scope === null ? null : ['', ...new Set(scope.filter((p) => p !== ''))];
    return db.all<{ id: number; title: string; project_id: string; tags: string }>(
      `SELECT id, title, project_id, tags FROM (${
        projects ? projects.map(() => part('t.project_id = ? AND ')).join(' UNION ALL ') : part('')
      }) ORDER BY rank DESC, created_at ASC, id ASC LIMIT ?`,
      [...(projects ? projects.flatMap((p) => [p, limit]) : [limit]), limit],
    );
  },

  dispatchableSteps(db: Queryable, scope: string[] | null, limit: number) {
    const s = inScope('p.project_id', scope);
    return db.all<{ id: number; title: string; plan_title: string; project_id: string }>(
      `SELECT s.id, s.title, p.title AS plan_title, p.project_id FROM plan_steps s JOIN plans p ON p.id = s.plan_id
       WHERE s.status = 'pending' AND COALESCE(s.assignee, '') = '' AND p.status = 'active' AND ${s.sql} AND ${stepReadySql('s')}
       ORDER BY s.step_order ASC, p.id ASC, s.id ASC LIMIT ?`,
      [...s.args, limit],
    );
  },
};
