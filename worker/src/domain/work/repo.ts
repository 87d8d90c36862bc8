import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { taskPriorityRankSql, taskReadySql } from '../tasks/repo.js';
import { stepReadySql } from '../plans/repo.js';
import { NOT_FROZEN_SQL, freeOrHeldBySql } from '../work-items/sql.js';
import { bugSeverityRankSql } from '../bugs/repo.js';
import { leaseTokenSet } from '../work-items/lease.js';
import { messagesRepo } from '../messages/repo.js';

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
  step_order: number;
  ready: number;
}

export interface TaskItemRow {
  id: number;
  title: string;
  status: string;
  project_id: string;
  description: string;
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
 * SQL so the whole queue is one batch (one libSQL round trip on Workers) instead of a read of the
 * scope followed by the buckets that depend on it.
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

/** The queue's statements, in this order; run them in ONE batch (`buildQueue`). */
export const QUEUE_PARTS = ['requests', 'steps', 'tasks', 'bugs', 'freeSteps', 'deferToPlanner', 'freeBugs'] as const;

export const workRepo = {
  assignedSteps(agentId: string): Statement {
    return {
      sql: `SELECT s.id, s.plan_id, p.title AS plan_title, s.title, s.status, p.project_id, s.step_order, ${stepReadySql('s')} AS ready
       FROM plan_steps s JOIN plans p ON p.id = s.plan_id
       WHERE s.assignee = ? AND s.status IN ('pending','in_progress') AND p.status = 'active'
       ORDER BY p.updated_at DESC, p.id DESC, s.step_order ASC, s.id ASC LIMIT 100`,
      args: [agentId],
    };
  },

  assignedTasks(agentId: string): Statement {
    return {
      sql: `SELECT t.id, t.title, t.status, t.project_id, t.description, t.priority, ${taskReadySql('t')} AS ready
       FROM tasks t WHERE t.assignee = ? AND t.status IN ('open','in_progress')
       ORDER BY ${taskPriorityRankSql('t')} DESC, t.updated_at DESC, t.id DESC LIMIT 100`,
      args: [agentId],
    };
  },

  /** Queried directly, open and in progress (spec 02 W9). */
  assignedBugs(agentId: string): Statement {
    return {
      sql: `SELECT b.id, b.title, b.severity, b.status, b.project_id FROM bugs b
       WHERE b.assignee = ? AND b.status IN ('open','in_progress')
       ORDER BY ${BUG_SEVERITY_RANK} DESC, b.id DESC LIMIT 100`,
      args: [agentId],
    };
  },

  /** Ready, unassigned, pending steps of active plans in the agent's scope (spec 02 §3.5 bucket 7, W8). */
  unassignedStepsFor(agentId: string, limit = 20): Statement {
    return {
      sql: `WITH ${SCOPE_CTE}
       SELECT s.id, s.plan_id, p.title AS plan_title, s.title, s.status, p.project_id, s.step_order, 1 AS ready
       FROM plans p JOIN plan_steps s ON s.plan_id = p.id
       WHERE p.status = 'active' AND s.status = 'pending' AND COALESCE(s.assignee, '') = ''
         AND ${inScopeCte('p.project_id')} AND ${stepReadySql('s')}
       ORDER BY p.updated_at DESC, p.id DESC, s.step_order ASC, s.id ASC LIMIT ?`,
      args: [agentId, agentId, limit],
    };
  },

  /**
   * One row when unassigned-bug triage should wait: another planner alive since `since` whose
   * project is unset or within the agent's scope (spec 02 §3.5). The caller's own capability is
   * checked by the service.
   */
  plannerInScope(agentId: string, since: string): Statement {
    return {
      sql: `WITH ${SCOPE_CTE}
       SELECT 1 AS defer FROM agents a
       WHERE ${PLANNER_SQL} AND a.id != ?
         AND (COALESCE(a.project_id, '') = '' OR NOT EXISTS (SELECT 1 FROM scope) OR a.project_id IN (SELECT pid FROM scope))
       LIMIT 1`,
      args: [agentId, agentId, since, agentId],
    };
  },

  unassignedBugsFor(agentId: string, limit = 20): Statement {
    return {
      sql: `WITH ${SCOPE_CTE}
       SELECT b.id, b.title, b.severity, b.status, b.project_id FROM bugs b
       WHERE b.status = 'open' AND COALESCE(b.assignee, '') = '' AND ${inScopeCte('b.project_id')}
       ORDER BY ${BUG_SEVERITY_RANK} DESC, b.id DESC LIMIT ?`,
      args: [agentId, agentId, limit],
    };
  },

  /** Every read of one queue, in `QUEUE_PARTS` order. */
  queueStatements(agentId: string, plannerSince: string): Statement[] {
    return [
      messagesRepo.pendingRequestsStatement(agentId),
      workRepo.assignedSteps(agentId),
      workRepo.assignedTasks(agentId),
      workRepo.assignedBugs(agentId),
      workRepo.unassignedStepsFor(agentId),
      workRepo.plannerInScope(agentId, plannerSince),
      workRepo.unassignedBugsFor(agentId),
    ];
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
