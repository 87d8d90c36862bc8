import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';

/** The SQL of organizations lives here and only here. */

export interface OrgRow {
  id: string;
  name: string;
  description: string;
  owner_id: string;
  plan: string;
  status: string;
  created_at: string;
}

const WRITABLE_ORG_COLUMNS = ['name', 'description', 'plan', 'status'] as const;
export type WritableOrgColumn = (typeof WRITABLE_ORG_COLUMNS)[number];

export const orgsRepo = {
  list(db: Queryable) {
    return db.all<OrgRow>('SELECT * FROM organizations ORDER BY created_at ASC, id ASC');
  },

  get(db: Queryable, id: string) {
    return db.get<OrgRow>('SELECT * FROM organizations WHERE id = ?', [id]);
  },

  projects(db: Queryable, id: string) {
    return db.all('SELECT * FROM projects WHERE org_id = ? ORDER BY created_at ASC, id ASC', [id]);
  },

  /** Zero rows back means the id is taken (→ 409). */
  insert(o: Pick<OrgRow, 'id' | 'name' | 'description' | 'owner_id'>): Statement {
    return {
      sql: 'INSERT INTO organizations (id, name, description, owner_id) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING *',
      args: [o.id, o.name, o.description, o.owner_id],
    };
  },

  update(id: string, fields: Partial<Record<WritableOrgColumn, SqlValue>>): Statement {
    const cols = Object.keys(fields).filter((k): k is WritableOrgColumn =>
      (WRITABLE_ORG_COLUMNS as readonly string[]).includes(k),
    );
    if (cols.length === 0) return { sql: 'SELECT * FROM organizations WHERE id = ?', args: [id] };
    return {
      sql: `UPDATE organizations SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ? RETURNING *`,
      args: [...cols.map((c) => fields[c] ?? null), id],
    };
  },

  async references(db: Queryable, id: string) {
    const r = await db.get<{ projects: number; teams: number }>(
      'SELECT (SELECT COUNT(*) FROM projects WHERE org_id = ?) AS projects, (SELECT COUNT(*) FROM teams WHERE org_id = ?) AS teams',
      [id, id],
    );
    return { projects: Number(r?.projects ?? 0), teams: Number(r?.teams ?? 0) };
  },

  /** Deletes only while no project or team references the org, checked inside the statement. */
  deleteIfUnused(id: string): Statement {
    return {
      sql: `DELETE FROM organizations WHERE id = ?
              AND NOT EXISTS (SELECT 1 FROM projects WHERE org_id = organizations.id)
              AND NOT EXISTS (SELECT 1 FROM teams WHERE org_id = organizations.id)
            RETURNING id`,
      args: [id],
    };
  },
};
