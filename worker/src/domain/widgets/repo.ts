import type { Queryable } from '../../db/db.js';
import { assignments, whereAll } from '../../db/sql.js';
import type { Statement } from '../../db/types.js';

/** SQL for agent-pushed dashboard widgets (spec 05 §13). `data` stays a JSON string. */

export interface WidgetRow {
  id: number;
  agent_id: string;
  project_id: string;
  title: string;
  widget_type: string;
  data: string;
  position: number;
  status: string;
  created_at: string;
  updated_at: string;
}

export type NewWidget = Pick<WidgetRow, 'agent_id' | 'project_id' | 'title' | 'widget_type' | 'data' | 'position'>;
export type WidgetChanges = Partial<Pick<WidgetRow, 'title' | 'widget_type' | 'data' | 'position' | 'status'>>;

export const widgetsRepo = {
  byId(db: Queryable, id: number) {
    return db.get<WidgetRow>('SELECT * FROM widgets WHERE id = ?', [id]);
  },
  listActive(db: Queryable, q: { agent_id?: string; project_id?: string }) {
    const w = whereAll([
      ["status = 'active'"],
      ...(q.agent_id ? [['agent_id = ?', q.agent_id] as [string, string]] : []),
      ...(q.project_id ? [['project_id = ?', q.project_id] as [string, string]] : []),
    ]);
    return db.all<WidgetRow>(
      `SELECT * FROM widgets ${w.sql} ORDER BY position ASC, updated_at DESC, id DESC LIMIT 500`,
      w.args,
    );
  },
  insert(w: NewWidget): Statement {
    return {
      sql: 'INSERT INTO widgets (agent_id, project_id, title, widget_type, data, position) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
      args: [w.agent_id, w.project_id, w.title, w.widget_type, w.data, w.position],
    };
  },
  update(db: Queryable, id: number, changes: WidgetChanges) {
    const { sets, args } = assignments(changes);
    return db.get<WidgetRow>(
      `UPDATE widgets SET ${[...sets, "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      [...args, id],
    );
  },
};
