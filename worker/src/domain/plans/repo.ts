import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';
import { acquireGuardSql, type AcquireGuard } from '../work-items/sql.js';
import { inboxRepo } from '../inbox/repo.js';

/** The SQL of plans, plan_steps and plan_step_comments lives here and only here. */

export interface PlanRow {
  id: number;
  title: string;
  description: string;
  project_id: string;
  status: string;
  owner: string;
  priority: string;
  tags: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface StepRow {
  id: number;
  plan_id: number;
  step_order: number;
  title: string;
  description: string;
  phase: string;
  status: string;
  assignee: string | null;
  linked_task_id: number | null;
  linked_branch: string | null;
  linked_pr_url: string | null;
  completed_at: string | null;
  attempt_count: number;
  created_at: string;
  updated_at: string;
  /** The current claim's fencing token (../work-items/lease.ts). */
  lease_token: string | null;
  /** Times a lapsed lease sent the step back to the queue (not attempt_count: failed verifications). */
  attempt: number;
}

export interface StepCommentRow {
  id: number;
  step_id: number;
  plan_id: number;
  author: string;
  content: string;
  created_at: string;
}

/** `blocked` is set by the server and accepted from clients too (spec 03 W16). */
export const PLAN_STATUSES = ['draft', 'active', 'completed', 'cancelled', 'blocked'] as const;
export const STEP_STATUSES = ['pending', 'in_progress', 'completed', 'blocked', 'failed'] as const;
/** Auto-retries of a failed step before its plan is blocked (spec 03 §5.11). */
export const RETRY_MAX = 2;
export const OPERATOR_INPUT = 'operator_input';

/** Steps that count as finished for sequencing and plan completion (`skipped` cannot be set but counts). */
const DONE_STEP = "('completed','skipped')";

/**
 * Sequential readiness (spec 03 §5.11) for queues and dispatch, against a plan_steps alias:
 * every earlier step of the same plan is finished, and the plan is active (W17).
 */
export function stepReadySql(alias = 'plan_steps'): string {
  return `(NOT EXISTS (SELECT 1 FROM plan_steps prev WHERE prev.plan_id = ${alias}.plan_id
             AND prev.step_order < ${alias}.step_order AND prev.status NOT IN ${DONE_STEP})
           AND EXISTS (SELECT 1 FROM plans pl WHERE pl.id = ${alias}.plan_id AND pl.status = 'active'))`;
}

/** An active plan linked to the task (arg: task id) whose steps are all finished. */
function linkedPlanFinishedSql(alias: string): string {
  return `${alias}.status = 'active' AND ${alias}.id IN (SELECT plan_id FROM plan_steps WHERE linked_task_id = ?)
    AND NOT EXISTS (SELECT 1 FROM plan_steps s WHERE s.plan_id = ${alias}.id AND s.status NOT IN ${DONE_STEP})`;
}

const WRITABLE_PLAN_COLUMNS = ['title', 'description', 'status', 'owner', 'priority', 'tags', 'project_id'] as const;
export type WritablePlanColumn = (typeof WRITABLE_PLAN_COLUMNS)[number];
const WRITABLE_STEP_COLUMNS = [
  'title',
  'description',
  'status',
  'assignee',
  'linked_task_id',
  'linked_branch',
  'linked_pr_url',
  'phase',
] as const;
export type WritableStepColumn = (typeof WRITABLE_STEP_COLUMNS)[number];

export interface NewStep {
  title: string;
  description: string;
  phase: string;
  assignee: string | null;
  linked_task_id?: number | null;
  linked_branch?: string | null;
  linked_pr_url?: string | null;
}

function setList<C extends string>(allowed: readonly C[], fields: Partial<Record<C, SqlValue>>) {
  const cols = Object.keys(fields).filter((k): k is C => (allowed as readonly string[]).includes(k));
  return { sets: cols.map((c) => `${c} = ?`), args: cols.map((c) => fields[c] ?? null) };
}

export interface PlanFilters {
  project_id?: string;
  status?: string;
  owner?: string;
}

export const plansRepo = {
  get(db: Queryable, id: number) {
    return db.get<PlanRow>('SELECT * FROM plans WHERE id = ?', [id]);
  },

  list(db: Queryable, f: PlanFilters, limit: number, offset: number) {
    const where: string[] = [];
    const args: SqlValue[] = [];
    for (const k of ['project_id', 'status', 'owner'] as const) {
      if (f[k] !== undefined) {
        where.push(`${k} = ?`);
        args.push(f[k]!);
      }
    }
    return db.all<PlanRow>(
      `SELECT * FROM plans ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
  },

  /** Step summaries of several plans at once (list view), ordered by step_order. */
  stepSummaries(db: Queryable, planIds: number[]) {
    if (planIds.length === 0)
      return Promise.resolve([] as Pick<StepRow, 'plan_id' | 'id' | 'status' | 'title' | 'assignee' | 'step_order'>[]);
    return db.all<Pick<StepRow, 'plan_id' | 'id' | 'status' | 'title' | 'assignee' | 'step_order'>>(
      `SELECT plan_id, id, status, title, assignee, step_order FROM plan_steps
       WHERE plan_id IN (${planIds.map(() => '?').join(',')}) ORDER BY step_order ASC, id ASC`,
      planIds,
    );
  },

  steps(db: Queryable, planId: number) {
    return db.all<StepRow>('SELECT * FROM plan_steps WHERE plan_id = ? ORDER BY step_order ASC, id ASC', [planId]);
  },

  /** A step only through its own plan (spec 07 SEC-18). */
  step(db: Queryable, planId: number, stepId: number) {
    return db.get<StepRow>('SELECT * FROM plan_steps WHERE id = ? AND plan_id = ?', [stepId, planId]);
  },

  commentsOfPlan(db: Queryable, planId: number) {
    return db.all<StepCommentRow>(
      'SELECT * FROM plan_step_comments WHERE plan_id = ? ORDER BY created_at ASC, id ASC',
      [planId],
    );
  },
  commentsOfStep(db: Queryable, planId: number, stepId: number) {
    return db.all<StepCommentRow>(
      'SELECT * FROM plan_step_comments WHERE step_id = ? AND plan_id = ? ORDER BY created_at ASC, id ASC',
      [stepId, planId],
    );
  },

  insertPlan(p: Omit<PlanRow, 'id' | 'created_at' | 'updated_at' | 'status'>): Statement {
    return {
      sql: `INSERT INTO plans (title, description, project_id, owner, priority, tags, created_by)
            VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      args: [p.title, p.description, p.project_id, p.owner, p.priority, p.tags, p.created_by],
    };
  },

  /**
   * A step of the plan inserted just before it in the same batch. Writes are serialised inside a
   * batch, so the newest plan id is that plan's.
   */
  insertStepOfNewPlan(s: NewStep, order: number): Statement {
    return {
      sql: `INSERT INTO plan_steps (plan_id, step_order, title, description, phase, assignee)
            VALUES ((SELECT MAX(id) FROM plans), ?, ?, ?, ?, ?) RETURNING id`,
      args: [order, s.title, s.description, s.phase, s.assignee],
    };
  },

  /** Appends a step (order = max + 1, 0 for the first) in one statement, so concurrent adds never share an order. */
  insertStep(planId: number, s: NewStep): Statement {
    return {
      sql: `INSERT INTO plan_steps (plan_id, step_order, title, description, phase, assignee, linked_task_id, linked_branch, linked_pr_url)
            VALUES (?, (SELECT COALESCE(MAX(step_order) + 1, 0) FROM plan_steps WHERE plan_id = ?), ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      args: [
        planId,
        planId,
        s.title,
        s.description,
        s.phase,
        s.assignee,
        s.linked_task_id ?? null,
        s.linked_branch ?? null,
        s.linked_pr_url ?? null,
      ],
    };
  },

  updatePlan(id: number, fields: Partial<Record<WritablePlanColumn, SqlValue>>): Statement {
    const { sets, args } = setList(WRITABLE_PLAN_COLUMNS, fields);
    return {
      sql: `UPDATE plans SET ${[...sets, "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      args: [...args, id],
    };
  },

  touchPlan(id: number): Statement {
    return { sql: "UPDATE plans SET updated_at = datetime('now') WHERE id = ?", args: [id] };
  },

  deletePlan(id: number): Statement[] {
    return [
      { sql: 'DELETE FROM plan_step_comments WHERE plan_id = ?', args: [id] },
      { sql: 'DELETE FROM plan_steps WHERE plan_id = ?', args: [id] },
      { sql: 'DELETE FROM plans WHERE id = ? RETURNING id', args: [id] },
    ];
  },

  /**
   * Conditional on the step still being in this plan with the attempt count the service read.
   * `stampCompleted` sets completed_at from the database clock, like every other timestamp.
   */
  updateStep(
    planId: number,
    stepId: number,
    fields: Partial<Record<WritableStepColumn, SqlValue>>,
    expect: { attempts: number; status: string; assignee: string | null },
    stampCompleted: boolean,
    guard?: AcquireGuard,
  ): Statement {
    const { sets, args } = setList(WRITABLE_STEP_COLUMNS, fields);
    if (stampCompleted) sets.push("completed_at = datetime('now')");
    // An acquisition also obeys the claim rule and the kill switch in the same statement.
    const g = acquireGuardSql(guard);
    return {
      sql: `UPDATE plan_steps SET ${[...sets, "updated_at = datetime('now')"].join(', ')}
            WHERE id = ? AND plan_id = ? AND attempt_count = ? AND status = ? AND COALESCE(assignee, '') = ?${g.sql} RETURNING *`,
      args: [...args, stepId, planId, expect.attempts, expect.status, expect.assignee ?? '', ...g.args],
    };
  },

  deleteStep(planId: number, stepId: number): Statement {
    return { sql: 'DELETE FROM plan_steps WHERE id = ? AND plan_id = ? RETURNING id', args: [stepId, planId] };
  },

  insertStepComment(planId: number, stepId: number, author: string, content: string): Statement {
    return {
      sql: 'INSERT INTO plan_step_comments (step_id, plan_id, author, content) VALUES (?, ?, ?, ?) RETURNING *',
      args: [stepId, planId, author, content],
    };
  },

  reorder(planId: number, order: number[]): Statement[] {
    return order.map((stepId, i) => ({
      sql: "UPDATE plan_steps SET step_order = ?, updated_at = datetime('now') WHERE id = ? AND plan_id = ?",
      args: [i, stepId, planId],
    }));
  },

  /** Completes the plan only if it is active and no step is unfinished (one rule for both paths, W15). */
  completeIfFinished(planId: number): Statement {
    return {
      sql: `UPDATE plans SET status = 'completed', updated_at = datetime('now')
            WHERE id = ? AND status = 'active'
              AND NOT EXISTS (SELECT 1 FROM plan_steps s WHERE s.plan_id = plans.id AND s.status NOT IN ${DONE_STEP})
            RETURNING id`,
      args: [planId],
    };
  },

  // --- self-heal after a failed step (spec 03 §5.11) ---
  retry: {
    /** Comments on the completed steps of the phase just before the failed step (written before they reopen). */
    critiqueComments(planId: number, stepOrder: number, content: string): Statement {
      return {
        sql: `INSERT INTO plan_step_comments (step_id, plan_id, author, content)
              SELECT id, plan_id, '__system__', ? FROM plan_steps
              WHERE plan_id = ? AND status = 'completed'
                AND step_order = (SELECT MAX(step_order) FROM plan_steps WHERE plan_id = ? AND step_order < ?)`,
        args: [content, planId, planId, stepOrder],
      };
    },
    reopenPriorPhase(planId: number, stepOrder: number): Statement {
      return {
        sql: `UPDATE plan_steps SET status = 'pending', completed_at = NULL, updated_at = datetime('now')
              WHERE plan_id = ? AND status = 'completed'
                AND step_order = (SELECT MAX(step_order) FROM plan_steps WHERE plan_id = ? AND step_order < ?)
              RETURNING id`,
        args: [planId, planId, stepOrder],
      };
    },
    reopenFailed(stepId: number): Statement {
      return {
        sql: `UPDATE plan_steps SET status = 'pending', completed_at = NULL, attempt_count = attempt_count + 1, updated_at = datetime('now')
              WHERE id = ? RETURNING attempt_count`,
        args: [stepId],
      };
    },
    blockPlan(planId: number): Statement {
      return { sql: "UPDATE plans SET status = 'blocked', updated_at = datetime('now') WHERE id = ?", args: [planId] };
    },
  },

  /**
   * Operator-input inbox items for the step just appended to this plan in the same batch (the
   * newest step of the plan inside that write transaction), so the step and its notices commit together.
   */
  inboxForNewestStep(planId: number, planTitle: string): Statement {
    return inboxRepo.insertSelected(
      `SELECT o.id, 'approval', 'plan_step', CAST(s.id AS TEXT), 'Operator input needed: ' || s.title, ?,
              json_object('plan_id', s.plan_id, 'step_id', s.id, 'step_title', s.title), 'high'
       FROM operators o, (SELECT id, plan_id, title FROM plan_steps WHERE plan_id = ? ORDER BY id DESC LIMIT 1) s
       WHERE o.status = 'active'`,
      [`Plan #${planId} — ${planTitle}. Step requires your review/approval.`, planId],
    );
  },

  // --- the task done-cascade's plan part (spec 03 §4.3 step 3) ---
  cascade: {
    completeLinkedSteps(taskId: number): Statement {
      return {
        sql: `UPDATE plan_steps SET status = 'completed', completed_at = datetime('now'), updated_at = datetime('now')
              WHERE linked_task_id = ? AND status != 'completed' RETURNING id, plan_id`,
        args: [taskId],
      };
    },
    touchLinkedPlans(taskId: number): Statement {
      return {
        sql: "UPDATE plans SET updated_at = datetime('now') WHERE id IN (SELECT plan_id FROM plan_steps WHERE linked_task_id = ?)",
        args: [taskId],
      };
    },
    completeLinkedPlans(taskId: number): Statement {
      return {
        sql: `UPDATE plans SET status = 'completed', updated_at = datetime('now') WHERE ${linkedPlanFinishedSql('plans')} RETURNING id, project_id`,
        args: [taskId],
      };
    },
    /**
     * One `plan_completed` row per plan `completeLinkedPlans` is about to complete: the same WHERE,
     * so put it right before that statement in the batch (a SELECT for `EventBus.statementPerRow`).
     */
    completedPlanEvents(taskId: number) {
      return {
        summarySql: "'Plan #' || pl.id || ' auto-completed (all steps done)'",
        dataSql: "json_object('plan_id', pl.id, 'task_id', CAST(? AS INTEGER))",
        rest: `FROM plans pl WHERE ${linkedPlanFinishedSql('pl')} ORDER BY pl.id`,
        args: [taskId, taskId],
      };
    },
  },
};
