import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';
import { NOT_FROZEN_SQL, acquireGuardSql, freeOrHeldBySql, type AcquireGuard } from '../work-items/sql.js';
import { leaseTokenSet } from '../work-items/lease.js';

/** The SQL of bugs lives here and only here. */

export interface BugRow {
  id: number;
  project_id: string;
  title: string;
  description: string;
  category: string;
  severity: string;
  status: string;
  reporter: string;
  assignee: string | null;
  admin_notes: string;
  diagnostic_data: string | null;
  linked_ticket_id: number | null;
  created_at: string;
  updated_at: string;
  /** The current claim's fencing token (../work-items/lease.ts). */
  lease_token: string | null;
  /** Times a lapsed lease sent the bug back to the queue. */
  attempt: number;
}

export const BUG_STATUSES = ['open', 'in_progress', 'fixed', 'closed'] as const;
export const BUG_SEVERITIES = ['low', 'normal', 'high', 'critical'] as const;
export const DEFAULT_BUG_CATEGORIES = ['bug', 'feature', 'ui', 'crash', 'api', 'infrastructure', 'other'] as const;

/** Severity by meaning, for ORDER BY: critical > high > normal > low. */
export function bugSeverityRankSql(alias = 'bugs'): string {
  return `CASE ${alias}.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'normal' THEN 2 WHEN 'low' THEN 1 ELSE 0 END`;
}

export interface BugFilters {
  project_id?: string;
  status?: string;
  assignee?: string;
  reporter?: string;
  severity?: string;
  category?: string;
}

const WRITABLE_BUG_COLUMNS = ['status', 'assignee', 'admin_notes', 'severity'] as const;
export type WritableBugColumn = (typeof WRITABLE_BUG_COLUMNS)[number];

export const bugsRepo = {
  get(db: Queryable, id: number) {
    return db.get<BugRow>('SELECT * FROM bugs WHERE id = ?', [id]);
  },

  list(db: Queryable, f: BugFilters, limit: number, offset: number) {
    const where: string[] = [];
    const args: SqlValue[] = [];
    for (const k of ['project_id', 'status', 'assignee', 'reporter', 'severity', 'category'] as const) {
      if (f[k] !== undefined) {
        where.push(`${k} = ?`);
        args.push(f[k]!);
      }
    }
    return db.all<BugRow>(
      `SELECT * FROM bugs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...args, limit, offset],
    );
  },

  /** Global counts as integers, 0 on an empty table (spec 03 W24). */
  async counts(db: Queryable) {
    const r = await db.get<{ open: number; in_progress: number; fixed: number; total: number }>(
      `SELECT COALESCE(SUM(status = 'open'), 0) AS open, COALESCE(SUM(status = 'in_progress'), 0) AS in_progress,
              COALESCE(SUM(status = 'fixed'), 0) AS fixed, COUNT(*) AS total FROM bugs`,
    );
    return {
      open: Number(r?.open ?? 0),
      in_progress: Number(r?.in_progress ?? 0),
      fixed: Number(r?.fixed ?? 0),
      total: Number(r?.total ?? 0),
    };
  },

  /** The project's bug_categories JSON text, if the project exists. */
  async projectCategories(db: Queryable, projectId: string) {
    const r = await db.get<{ bug_categories: string }>('SELECT bug_categories FROM projects WHERE id = ?', [projectId]);
    return r?.bug_categories;
  },

  insert(
    b: Omit<
      BugRow,
      'id' | 'created_at' | 'updated_at' | 'status' | 'admin_notes' | 'linked_ticket_id' | 'lease_token' | 'attempt'
    >,
  ): Statement {
    return {
      sql: `INSERT INTO bugs (project_id, title, description, category, severity, reporter, assignee, diagnostic_data)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      args: [b.project_id, b.title, b.description, b.category, b.severity, b.reporter, b.assignee, b.diagnostic_data],
    };
  },

  /**
   * Conditional on the status and assignee the service decided on (compare-and-set) and, for an
   * acquisition, on the claim rule and the kill switch (`guard`).
   */
  update(
    id: number,
    fields: Partial<Record<WritableBugColumn, SqlValue>>,
    expect: { status: string; assignee: string | null },
    guard?: AcquireGuard,
  ): Statement {
    const cols = Object.keys(fields).filter((k): k is WritableBugColumn =>
      (WRITABLE_BUG_COLUMNS as readonly string[]).includes(k),
    );
    const g = acquireGuardSql(guard);
    return {
      sql: `UPDATE bugs SET ${[...cols.map((c) => `${c} = ?`), "updated_at = datetime('now')"].join(', ')}
            WHERE id = ? AND status = ? AND COALESCE(assignee, '') = ?${g.sql} RETURNING *`,
      args: [...cols.map((c) => fields[c] ?? null), id, expect.status, expect.assignee ?? '', ...g.args],
    };
  },

  /**
   * Claim as one compare-and-set (spec 07 REL-03): open and unassigned (or already the agent's),
   * or in progress by the agent (idempotent). `force` (admin) takes over any non-terminal bug.
   * Never while the kill switch is on. The lease's fencing token is set in the same statement.
   */
  claim(id: number, agentId: string, force: boolean): Statement {
    const mine = freeOrHeldBySql(agentId);
    const lease = leaseTokenSet(agentId);
    const cond = force
      ? "status NOT IN ('fixed','closed')"
      : `${mine.sql} AND (status = 'open' OR (status = 'in_progress' AND assignee = ?))`;
    return {
      sql: `UPDATE bugs SET assignee = ?, status = 'in_progress', ${lease.sql}, updated_at = datetime('now')
            WHERE id = ? AND ${cond} AND ${NOT_FROZEN_SQL} RETURNING *`,
      args: force ? [agentId, ...lease.args, id] : [agentId, ...lease.args, id, ...mine.args, agentId],
    };
  },

  delete(id: number): Statement {
    return { sql: 'DELETE FROM bugs WHERE id = ? RETURNING id', args: [id] };
  },
};
