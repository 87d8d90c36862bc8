import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';

/** The SQL of projects lives here and only here. */

export interface ProjectRow {
  id: string;
  name: string;
  description: string;
  org_id: string;
  repo_url: string;
  repo_path: string;
  type: string;
  status: string;
  created_at: string;
  bug_categories: string;
  team_id: string | null;
}

const WRITABLE_PROJECT_COLUMNS = [
  'name',
  'description',
  'repo_url',
  'repo_path',
  'org_id',
  'type',
  'status',
  'bug_categories',
  'team_id',
] as const;
export type WritableProjectColumn = (typeof WRITABLE_PROJECT_COLUMNS)[number];

export const projectsRepo = {
  list(db: Queryable, orgId?: string) {
    return orgId === undefined
      ? db.all<ProjectRow>('SELECT * FROM projects ORDER BY created_at ASC, id ASC')
      : db.all<ProjectRow>('SELECT * FROM projects WHERE org_id = ? ORDER BY created_at ASC, id ASC', [orgId]);
  },

  get(db: Queryable, id: string) {
    return db.get<ProjectRow>('SELECT * FROM projects WHERE id = ?', [id]);
  },

  /** Inserts unless the id exists; zero rows back means a duplicate (→ 409). */
  insert(p: Pick<ProjectRow, 'id' | 'name' | 'description' | 'org_id' | 'repo_url' | 'repo_path' | 'type'>): Statement {
    return {
      sql: `INSERT INTO projects (id, name, description, org_id, repo_url, repo_path, type) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO NOTHING RETURNING *`,
      args: [p.id, p.name, p.description, p.org_id, p.repo_url, p.repo_path, p.type],
    };
  },

  update(id: string, fields: Partial<Record<WritableProjectColumn, SqlValue>>): Statement {
    const cols = Object.keys(fields).filter((k): k is WritableProjectColumn =>
      (WRITABLE_PROJECT_COLUMNS as readonly string[]).includes(k),
    );
    if (cols.length === 0) return { sql: 'SELECT * FROM projects WHERE id = ?', args: [id] };
    return {
      sql: `UPDATE projects SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ? RETURNING *`,
      args: [...cols.map((c) => fields[c] ?? null), id],
    };
  },

  /** What still points at a project (soft references everywhere, so counted, not enforced by FKs). */
  async dependants(db: Queryable, id: string) {
    const r = await db.get<{ agents: number; tasks: number; plans: number; bugs: number }>(
      `SELECT (SELECT COUNT(*) FROM agents WHERE project_id = ?) AS agents,
              (SELECT COUNT(*) FROM tasks WHERE project_id = ?) AS tasks,
              (SELECT COUNT(*) FROM plans WHERE project_id = ?) AS plans,
              (SELECT COUNT(*) FROM bugs WHERE project_id = ?) AS bugs`,
      [id, id, id, id],
    );
    return {
      agents: Number(r?.agents ?? 0),
      tasks: Number(r?.tasks ?? 0),
      plans: Number(r?.plans ?? 0),
      bugs: Number(r?.bugs ?? 0),
    };
  },

  /**
   * Deletes only while nothing references the project — the check is inside the statement, so
   * work filed between a check and the delete cannot be orphaned.
   */
  deleteIfUnused(id: string): Statement {
    return {
      sql: `DELETE FROM projects WHERE id = ?
              AND NOT EXISTS (SELECT 1 FROM agents WHERE project_id = projects.id)
              AND NOT EXISTS (SELECT 1 FROM tasks WHERE project_id = projects.id)
              AND NOT EXISTS (SELECT 1 FROM plans WHERE project_id = projects.id)
              AND NOT EXISTS (SELECT 1 FROM bugs WHERE project_id = projects.id)
            RETURNING id`,
      args: [id],
    };
  },
};
