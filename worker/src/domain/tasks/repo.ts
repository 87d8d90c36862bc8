import type { Queryable } from '../../db/db.js';
import type { Statement, SqlValue } from '../../db/types.js';
import { NOT_FROZEN_SQL, acquireGuardSql, freeOrHeldBySql, type AcquireGuard } from '../work-items/sql.js';
import { abortIf } from '../../db/batch-abort.js';
import { leaseTokenSet } from '../work-items/lease.js';
import { SqlTexts } from '../../db/sql-texts.js';

/** The SQL of tasks, task_comments and task_deliverables lives here and only here. */

export interface TaskRow {
  id: number;
  title: string;
  description: string;
  project_id: string;
  requester: string;
  assignee: string | null;
  status: string;
  priority: string;
  tags: string;
  created_at: string;
  updated_at: string;
  blocked_by: string;
  blocks: string;
  needs_approval: number;
  approved_by: string | null;
  approved_at: string | null;
  linked_asset_id: number | null;
  request_id: number | null;
  branch: string | null;
  pr_url: string | null;
  repo: string | null;
  review_metadata: string;
  /** The current claim's fencing token (../work-items/lease.ts); null when never claimed or released. */
  lease_token: string | null;
  /** Times a lapsed lease sent the task back to the queue. */
  attempt: number;
}

export interface TaskCommentRow {
  id: number;
  task_id: number;
  author: string;
  content: string;
  created_at: string;
}

export interface TaskDeliverableRow {
  id: number;
  task_id: number;
  author: string;
  kind: string;
  format: string;
  content: string;
  flags: string;
  created_at: string;
}

export const TASK_STATUSES = ['open', 'in_progress', 'review', 'done', 'cancelled'] as const;
export const TASK_PRIORITIES = ['low', 'normal', 'high'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/**
 * Readiness fragments for queues and dispatch (spec 03 W2/W3), written against a `tasks` alias.
 * A blocker counts only while it exists and is not done/cancelled, so dangling or late edges
 * never wedge a task. A task that needs approval is not ready until approved.
 */
export function taskUnblockedSql(alias = 'tasks'): string {
  return `NOT EXISTS (SELECT 1 FROM json_each(${alias}.blocked_by) dep JOIN tasks blk ON blk.id = dep.value
          WHERE blk.status NOT IN ('done','cancelled'))`;
}
export function taskApprovedSql(alias = 'tasks'): string {
  return `(${alias}.needs_approval = 0 OR ${alias}.approved_by IS NOT NULL)`;
}
export function taskReadySql(alias = 'tasks'): string {
  return `(${taskUnblockedSql(alias)} AND ${taskApprovedSql(alias)})`;
}

/** Priority by meaning, for ORDER BY (spec 03 W4): high > normal > low. */
export function taskPriorityRankSql(alias = 'tasks'): string {
  return `CASE ${alias}.priority WHEN 'high' THEN 3 WHEN 'normal' THEN 2 WHEN 'low' THEN 1 ELSE 0 END`;
}

export interface TaskFilters {
  project_id?: string;
  status?: string;
  assignee?: string;
  requester?: string;
  priority?: string;
}

/** Columns a PUT may write; SET lists are built only from these names, never from client keys. */
export const WRITABLE_TASK_COLUMNS = [
  'title',
  'description',
  'status',
  'assignee',
  'priority',
  'tags',
  'needs_approval',
  'branch',
  'pr_url',
  'repo',
  'review_metadata',
] as const;
export type WritableTaskColumn = (typeof WRITABLE_TASK_COLUMNS)[number];

export interface NewTask {
  title: string;
  description: string;
  project_id: string;
  requester: string;
  assignee: string | null;
  priority: string;
  tags: string;
  needs_approval: number;
  blocked_by: number[];
  request_id?: number | null;
  linked_asset_id?: number | null;
}

/** JSON array of ids with `id` added (set semantics, ascending). `col` is a trusted column name. */
function addToJsonSet(col: 'blocked_by' | 'blocks', idSql: string): string {
  return `(SELECT json_group_array(v) FROM (SELECT CAST(value AS INTEGER) AS v FROM json_each(tasks.${col})
           UNION SELECT CAST(${idSql} AS INTEGER) ORDER BY 1))`;
}
function removeFromJsonSet(col: 'blocked_by' | 'blocks', idSql: string): string {
  return `(SELECT json_group_array(CAST(value AS INTEGER)) FROM json_each(tasks.${col}) WHERE value != CAST(${idSql} AS INTEGER))`;
}

/**
 * Args [blocker, task]: true when `task` is among everything `blocker` transitively waits for
 * (or is `blocker` itself), i.e. adding "task waits for blocker" would close a loop.
 */
const CYCLE_SQL = `EXISTS (WITH RECURSIVE up(id) AS (
    SELECT CAST(? AS INTEGER)
    UNION SELECT CAST(dep.value AS INTEGER) FROM up JOIN tasks t ON t.id = up.id, json_each(t.blocked_by) dep
  ) SELECT 1 FROM up WHERE id = CAST(? AS INTEGER))`;

/**
 * The claim's compare-and-set conditions over `tasks` (unaliased). Their text depends on the mode
 * only (the agent is an argument), so it is built once: the claim is a hot call and the driver
 * finds its prepared statements by SQL text.
 */
const CLAIM_WHERE = `id = ? AND ${freeOrHeldBySql('').sql} AND (status = 'open' OR (status = 'in_progress' AND assignee = ?))
            AND ${taskReadySql('tasks')} AND ${NOT_FROZEN_SQL}`;
const CLAIM_WHERE_FORCE = `id = ? AND status NOT IN ('done','cancelled') AND ${NOT_FROZEN_SQL}`;
const CLAIM_WHERE_ASSIGN = `id = ? AND status = 'open' AND COALESCE(assignee, '') = '' AND ${taskReadySql('tasks')} AND ${NOT_FROZEN_SQL}`;

/** SQL texts of the claim statements by shape (mode, scope SQL, RETURNING): a handful per process. */
const claimSql = new SqlTexts();

export const tasksRepo = {
  get(db: Queryable, id: number) {
    return db.get<TaskRow>('SELECT * FROM tasks WHERE id = ?', [id]);
  },

  existingIds(db: Queryable, ids: number[]) {
    if (ids.length === 0) return Promise.resolve([] as number[]);
    return db
      .all<{ id: number }>(`SELECT id FROM tasks WHERE id IN (${ids.map(() => '?').join(',')})`, ids)
      .then((rows) => rows.map((r) => Number(r.id)));
  },

  list(db: Queryable, f: TaskFilters, limit: number, offset: number) {
    const where: string[] = [];
    const args: SqlValue[] = [];
    for (const k of ['project_id', 'status', 'assignee', 'requester', 'priority'] as const) {
      if (f[k] !== undefined) {
        where.push(`${k} = ?`);
        args.push(f[k]!);
      }
    }
    return db.all<TaskRow>(
      `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
  },

  approvalQueue(db: Queryable) {
    return db.all<TaskRow>(
      "SELECT * FROM tasks WHERE needs_approval = 1 AND approved_by IS NULL AND status != 'done' ORDER BY updated_at DESC, id DESC",
    );
  },

  /** Would "task waits for blocker" close a loop? (read-only pre-check; the batch guard re-checks atomically) */
  async wouldCycle(db: Queryable, taskId: number, blockerId: number): Promise<boolean> {
    const r = await db.get<{ hit: number }>(`SELECT ${CYCLE_SQL} AS hit`, [blockerId, taskId]);
    return Number(r?.hit) === 1;
  },

  insert(t: NewTask): Statement {
    return {
      sql: `INSERT INTO tasks (title, description, project_id, requester, assignee, priority, tags, needs_approval, blocked_by, request_id, linked_asset_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      args: [
        t.title,
        t.description,
        t.project_id,
        t.requester,
        t.assignee,
        t.priority,
        t.tags,
        t.needs_approval,
        JSON.stringify([...new Set(t.blocked_by)].sort((a, b) => a - b)),
        t.request_id ?? null,
        t.linked_asset_id ?? null,
      ],
    };
  },

  /** After `insert` in the same batch: the new task joins each blocker's `blocks`. */
  addNewTaskToBlockers(blockerIds: number[]): Statement {
    return {
      sql: `UPDATE tasks SET blocks = ${addToJsonSet('blocks', 'last_insert_rowid()')} WHERE id IN (${blockerIds.map(() => '?').join(',')})`,
      args: blockerIds,
    };
  },

  /**
   * Conditional field update: applies only while the row still has the status and assignee the
   * service decided on (compare-and-set), so a concurrent claim is never silently overwritten,
   * and, for an acquisition, only while the claim rule and the kill switch allow it (`guard`).
   */
  update(
    id: number,
    fields: Partial<Record<WritableTaskColumn, SqlValue>>,
    expect: { status: string; assignee: string | null },
    guard?: AcquireGuard,
  ): Statement {
    const cols = Object.keys(fields).filter((k): k is WritableTaskColumn =>
      (WRITABLE_TASK_COLUMNS as readonly string[]).includes(k),
    );
    const sets = [...cols.map((c) => `${c} = ?`), "updated_at = datetime('now')"];
    const g = acquireGuardSql(guard);
    return {
      sql: `UPDATE tasks SET ${sets.join(', ')} WHERE id = ? AND status = ? AND COALESCE(assignee, '') = ?${g.sql} RETURNING *`,
      args: [...cols.map((c) => fields[c] ?? null), id, expect.status, expect.assignee ?? '', ...g.args],
    };
  },

  /**
   * The statements adding the edge "task waits for blocker": a guard that aborts the batch if the
   * edge would close a cycle (checked at write time, so two racing inserts cannot build one),
   * then both JSON sides (idempotent).
   */
  addDependency(taskId: number, blockerId: number): Statement[] {
    return [
      abortIf(CYCLE_SQL, [blockerId, taskId]),
      {
        sql: `UPDATE tasks SET blocked_by = ${addToJsonSet('blocked_by', '?')}, updated_at = datetime('now') WHERE id = ?`,
        args: [blockerId, taskId],
      },
      { sql: `UPDATE tasks SET blocks = ${addToJsonSet('blocks', '?')} WHERE id = ?`, args: [taskId, blockerId] },
    ];
  },

  /**
   * Claim/assign as one compare-and-set (spec 07 REL-03). Returns the row when it won. A claim
   * (not an assignment, which starts no work) also takes the lease: its fencing token is set in
   * this same statement, so a claim stays one round trip.
   */
  claim(
    taskId: number,
    agentId: string,
    mode: 'claim' | 'assign' | 'force',
    extra?: { sql: string; args: SqlValue[] },
    returning = '*',
  ): Statement {
    const where = tasksRepo.claimWhere(taskId, agentId, mode);
    const moreArgs = extra?.args ?? [];
    if (mode === 'assign') {
      // Auto-dispatch: assign an unassigned open ready task; status stays open (spec 02 §3.6 step 5).
      const sql = claimSql.get(`assign\n${returning}\n${extra?.sql ?? ''}`, () => {
        const more = extra ? ` AND ${extra.sql}` : '';
        return `UPDATE tasks SET assignee = ?, updated_at = datetime('now') WHERE ${where.sql}${more} RETURNING ${returning}`;
      });
      return { sql, args: [agentId, ...where.args, ...moreArgs], single: true };
    }
    const lease = leaseTokenSet(agentId);
    const sql = claimSql.get(`${mode}\n${returning}\n${extra?.sql ?? ''}`, () => {
      const more = extra ? ` AND ${extra.sql}` : '';
      return `UPDATE tasks SET assignee = ?, status = 'in_progress', ${lease.sql}, updated_at = datetime('now')
            WHERE ${where.sql}${more} RETURNING ${returning}`;
    });
    return { sql, args: [agentId, ...lease.args, ...where.args, ...moreArgs], single: true };
  },

  /** The claim's compare-and-set condition over `tasks` (unaliased), shared with its event statement. */
  claimWhere(taskId: number, agentId: string, mode: 'claim' | 'assign' | 'force'): { sql: string; args: SqlValue[] } {
    if (mode === 'force') return { sql: CLAIM_WHERE_FORCE, args: [taskId] };
    if (mode === 'assign') return { sql: CLAIM_WHERE_ASSIGN, args: [taskId] };
    return { sql: CLAIM_WHERE, args: [taskId, ...freeOrHeldBySql(agentId).args, agentId] };
  },

  /**
   * What a claim needs to answer without another read, taken in its batch before the claim:
   * the fields of the task as it was that a refusal names (`ClaimFacts`), whether the kill switch
   * is on, whether `scope` (the caller's project scope as SQL over `t`) admits it, and its open
   * blockers (JSON array of ids). Only those columns: a won claim reads none of them, and a whole
   * row costs a claim as much as the rest of this statement (issue 11).
   */
  claimFacts(taskId: number, scope: { sql: string; args: SqlValue[] }, onlyIfLost = false): Statement {
    // `onlyIfLost`: put right after the claim's compare-and-set; `changes()` is that statement's
    // count (a trigger's writes are not counted), so a won claim reads nothing here and a lost one,
    // which wrote nothing, reads the task as it was.
    const sql = claimSql.get(`facts\n${onlyIfLost}\n${scope.sql}`, () => {
      return `SELECT t.status, t.assignee, t.project_id, t.needs_approval, t.approved_by,
              NOT ${NOT_FROZEN_SQL} AS claim_frozen, ${scope.sql} AS claim_in_scope,
              (SELECT json_group_array(id) FROM (SELECT blk.id FROM json_each(t.blocked_by) dep
                 JOIN tasks blk ON blk.id = dep.value WHERE blk.status NOT IN ('done','cancelled') ORDER BY blk.id)) AS claim_blockers
            FROM tasks t WHERE t.id = ?${onlyIfLost ? ' AND changes() = 0' : ''}`;
    });
    return { sql, args: [...scope.args, taskId], single: true };
  },

  /** Ids among `blocked_by` of a task that still hold it back (exist and are not done/cancelled). */
  async openBlockers(db: Queryable, taskId: number): Promise<number[]> {
    const rows = await db.all<{ id: number }>(
      `SELECT blk.id FROM tasks t, json_each(t.blocked_by) dep JOIN tasks blk ON blk.id = dep.value
       WHERE t.id = ? AND blk.status NOT IN ('done','cancelled') ORDER BY blk.id`,
      [taskId],
    );
    return rows.map((r) => Number(r.id));
  },

  approve(id: number, approver: string): Statement {
    return {
      sql: `UPDATE tasks SET approved_by = ?, approved_at = datetime('now'), updated_at = datetime('now')
            WHERE id = ? AND needs_approval = 1 AND approved_by IS NULL RETURNING *`,
      args: [approver, id],
    };
  },

  /** Deleting a task also cleans the edges and step links that point at it (spec 03 W2). */
  deleteStatements(id: number): Statement[] {
    return [
      {
        sql: `UPDATE tasks SET blocked_by = ${removeFromJsonSet('blocked_by', '?')} WHERE id IN (SELECT value FROM json_each((SELECT blocks FROM tasks WHERE id = ?)))`,
        args: [id, id],
      },
      {
        sql: `UPDATE tasks SET blocks = ${removeFromJsonSet('blocks', '?')} WHERE id IN (SELECT value FROM json_each((SELECT blocked_by FROM tasks WHERE id = ?)))`,
        args: [id, id],
      },
      { sql: 'UPDATE plan_steps SET linked_task_id = NULL WHERE linked_task_id = ?', args: [id] },
      { sql: 'DELETE FROM task_comments WHERE task_id = ?', args: [id] },
      { sql: 'DELETE FROM task_deliverables WHERE task_id = ?', args: [id] },
      { sql: 'DELETE FROM tasks WHERE id = ? RETURNING id', args: [id] },
    ];
  },

  // --- the done-cascade (spec 03 §4.3), as statements for one batch with the status update ---
  cascade: {
    /** Dependents lose this blocker; RETURNING tells which of them are now free of open blockers. */
    unblockDependents(id: number): Statement {
      return {
        sql: `UPDATE tasks SET blocked_by = ${removeFromJsonSet('blocked_by', '?')}, updated_at = datetime('now')
              WHERE id IN (SELECT value FROM json_each((SELECT blocks FROM tasks WHERE id = ?)))
                AND EXISTS (SELECT 1 FROM json_each(tasks.blocked_by) WHERE value = CAST(? AS INTEGER))
              RETURNING id, project_id, ${taskUnblockedSql('tasks')} AS ready`,
        args: [id, id, id],
      };
    },
    /**
     * One `task_unblocked` row per dependent `unblockDependents` will free: it still lists the task
     * and has no other open blocker (the task itself is already done earlier in the batch). Put it
     * right before that statement (a SELECT for `EventBus.statementPerRow`).
     */
    unblockedEvents(id: number) {
      return {
        // Bound numbers may arrive as REAL (Node driver): cast before text or JSON sees them.
        summarySql: "'Task #' || d.id || ' unblocked by completion of #' || CAST(? AS INTEGER)",
        dataSql: "json_object('task_id', d.id, 'completed_task_id', CAST(? AS INTEGER))",
        rest: `FROM tasks d WHERE d.id IN (SELECT value FROM json_each((SELECT blocks FROM tasks WHERE id = ?)))
               AND EXISTS (SELECT 1 FROM json_each(d.blocked_by) WHERE value = CAST(? AS INTEGER)) AND ${taskUnblockedSql('d')} ORDER BY d.id`,
        args: [id, id, id, id],
      };
    },
    deliverAsset(id: number): Statement {
      return {
        sql: `UPDATE assets SET status = 'delivered' WHERE id = (SELECT linked_asset_id FROM tasks WHERE id = ?) AND status != 'delivered' RETURNING id`,
        args: [id],
      };
    },
    resolveRequest(id: number, resolver: string): Statement {
      return {
        sql: `UPDATE messages SET status = 'resolved', resolved_at = datetime('now'), resolved_by = ?
              WHERE id = (SELECT request_id FROM tasks WHERE id = ?) AND status != 'resolved' RETURNING id`,
        args: [resolver, id],
      };
    },
  },

  // --- comments ---
  comments(db: Queryable, taskId: number) {
    return db.all<TaskCommentRow>('SELECT * FROM task_comments WHERE task_id = ? ORDER BY created_at ASC, id ASC', [
      taskId,
    ]);
  },
  comment(db: Queryable, commentId: number) {
    return db.get<TaskCommentRow>('SELECT * FROM task_comments WHERE id = ?', [commentId]);
  },
  insertComment(taskId: number, author: string, content: string): Statement {
    return {
      sql: 'INSERT INTO task_comments (task_id, author, content) VALUES (?, ?, ?) RETURNING *',
      args: [taskId, author, content],
    };
  },
  deleteComment(taskId: number, commentId: number): Statement {
    return { sql: 'DELETE FROM task_comments WHERE id = ? AND task_id = ? RETURNING id', args: [commentId, taskId] };
  },

  // --- deliverables (append-only) ---
  deliverables(db: Queryable, taskId: number) {
    return db.all<TaskDeliverableRow>(
      'SELECT * FROM task_deliverables WHERE task_id = ? ORDER BY created_at ASC, id ASC',
      [taskId],
    );
  },
  insertDeliverable(d: Omit<TaskDeliverableRow, 'id' | 'created_at'>): Statement {
    return {
      sql: 'INSERT INTO task_deliverables (task_id, author, kind, format, content, flags) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      args: [d.task_id, d.author, d.kind, d.format, d.content, d.flags],
    };
  },
};
