import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** concepts and project_concepts: their SQL lives here (spec 04 §1.9). */
export interface ConceptRow {
  id: number;
  name: string;
  type: string;
  description: string;
  data: string;
  version: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const conceptsRepo = {
  get(db: Queryable, id: number) {
    return db.get<ConceptRow>('SELECT * FROM concepts WHERE id = ?', [id]);
  },

  list(db: Queryable, type?: string) {
    return type === undefined
      ? db.all<ConceptRow>('SELECT * FROM concepts ORDER BY updated_at DESC, id DESC')
      : db.all<ConceptRow>('SELECT * FROM concepts WHERE type = ? ORDER BY updated_at DESC, id DESC', [type]);
  },

  /** Linked projects (project columns when the project exists), by project name. */
  projectsOf(db: Queryable, conceptId: number) {
    return db.all<Record<string, unknown>>(
      `SELECT p.*, pc.project_id AS id, COALESCE(p.name, pc.project_id) AS name, pc.linked_at, pc.linked_by
       FROM project_concepts pc LEFT JOIN projects p ON p.id = pc.project_id
       WHERE pc.concept_id = ? ORDER BY COALESCE(p.name, pc.project_id)`,
      [conceptId],
    );
  },

  linkedProjectIds(db: Queryable, conceptId: number) {
    return db.all<{ project_id: string }>('SELECT project_id FROM project_concepts WHERE concept_id = ?', [conceptId]);
  },

  forProject(db: Queryable, projectId: string) {
    return db.all<ConceptRow & { linked_at: string; linked_by: string }>(
      `SELECT c.*, pc.linked_at, pc.linked_by FROM project_concepts pc JOIN concepts c ON c.id = pc.concept_id
       WHERE pc.project_id = ? ORDER BY c.name, c.id`,
      [projectId],
    );
  },

  insert(c: { name: string; type: string; description: string; data: string; by: string }): Statement {
    return {
      sql: 'INSERT INTO concepts (name, type, description, data, created_by) VALUES (?, ?, ?, ?, ?) RETURNING *',
      args: [c.name, c.type, c.description, c.data, c.by],
    };
  },

  update(id: number, fields: Partial<Pick<ConceptRow, 'name' | 'type' | 'description' | 'data'>>): Statement {
    const cols = Object.keys(fields) as (keyof typeof fields)[];
    return {
      sql: `UPDATE concepts SET ${cols.map((c) => `${c} = ?`).join(', ')}, version = version + 1, updated_at = datetime('now')
       WHERE id = ? RETURNING *`,
      args: [...cols.map((c) => fields[c] as string), id],
    };
  },

  /** Links go with the concept explicitly (not only by FK cascade, which a remote DB may not enforce). */
  deleteWithLinks(id: number): Statement[] {
    return [
      { sql: 'DELETE FROM project_concepts WHERE concept_id = ?', args: [id] },
      { sql: 'DELETE FROM concepts WHERE id = ?', args: [id] },
    ];
  },

  link(conceptId: number, projectId: string, by: string): Statement {
    return {
      sql: 'INSERT OR IGNORE INTO project_concepts (project_id, concept_id, linked_by) VALUES (?, ?, ?)',
      args: [projectId, conceptId, by],
    };
  },

  unlink(conceptId: number, projectId: string): Statement {
    return {
      sql: 'DELETE FROM project_concepts WHERE concept_id = ? AND project_id = ?',
      args: [conceptId, projectId],
    };
  },
};
