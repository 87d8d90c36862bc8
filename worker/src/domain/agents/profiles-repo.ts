import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import type { NodeProfileRow } from './calibration.js';

/** SQL for calibration ("node") profiles (spec 02 §3.10). Platform layers are never written here (W35). */
export const profilesRepo = {
  get(db: Queryable, id: string) {
    return db.get<NodeProfileRow>('SELECT * FROM node_profiles WHERE id = ?', [id]);
  },
  list(db: Queryable, q: { node_type?: string; layer?: string }) {
    const where: string[] = [];
    const args: SqlArgs = [];
    if (q.node_type) {
      where.push('node_type = ?');
      args.push(q.node_type);
    }
    if (q.layer) {
      where.push('layer = ?');
      args.push(q.layer);
    }
    return db.all<NodeProfileRow>(
      `SELECT * FROM node_profiles ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY layer, node_type, id`,
      args,
    );
  },
  /** Insert; RETURNING no row when the id is taken. `cols` are validated column names. */
  insert(id: string, cols: Record<string, string | null>): Statement {
    const names = Object.keys(cols);
    return {
      sql: `INSERT INTO node_profiles (id${names.map((n) => `, ${n}`).join('')}) VALUES (?${names.map(() => ', ?').join('')}) ON CONFLICT(id) DO NOTHING RETURNING *`,
      args: [id, ...names.map((n) => cols[n])],
    };
  },
  /** The layer guard is in the statement so a concurrent change to a platform layer cannot slip through. */
  update(id: string, cols: Record<string, string | null>): Statement {
    const names = Object.keys(cols);
    return {
      sql: `UPDATE node_profiles SET ${[...names.map((n) => `${n} = ?`), "updated_at = datetime('now')"].join(', ')} WHERE id = ? AND layer != 'platform' RETURNING *`,
      args: [...names.map((n) => cols[n]), id],
    };
  },
  delete(id: string): Statement {
    return { sql: "DELETE FROM node_profiles WHERE id = ? AND layer != 'platform' RETURNING *", args: [id] };
  },
};
