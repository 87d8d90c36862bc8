import { parallelQueries } from '../../db/parallel.js';
import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';

/** SQL for feedback (spec 03 §2.14, §12). */

export interface FeedbackRow {
  id: number;
  entity_type: string;
  entity_id: string;
  subject: string;
  rating: number;
  comment: string;
  submitted_by: string;
  agent_id: string;
  created_at: string;
}

export const feedbackRepo = {
  insert(f: Omit<FeedbackRow, 'id' | 'created_at'>): Statement {
    return {
      sql: `INSERT INTO feedback (entity_type, entity_id, subject, rating, comment, submitted_by, agent_id) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      args: [f.entity_type, f.entity_id, f.subject, f.rating, f.comment, f.submitted_by, f.agent_id],
    };
  },
  list(
    db: Queryable,
    q: {
      entity_type?: string;
      agent_id?: string;
      submitted_by?: string;
      rating?: number;
      min_rating?: number;
      limit: number;
      offset: number;
    },
  ) {
    const conds: string[] = [];
    const args: SqlArgs = [];
    for (const k of ['entity_type', 'agent_id', 'submitted_by', 'rating'] as const) {
      if (q[k] !== undefined) {
        conds.push(`${k} = ?`);
        args.push(q[k]!);
      }
    }
    if (q.min_rating !== undefined) {
      conds.push('rating >= ?');
      args.push(q.min_rating);
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    return db.all<FeedbackRow>(`SELECT * FROM feedback ${where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [
      ...args,
      q.limit,
      q.offset,
    ]);
  },
  delete(db: Queryable, id: number) {
    return db.run('DELETE FROM feedback WHERE id = ?', [id]);
  },
  async summary(db: Queryable) {
    const [totals, byAgent, byType, dist, recent] = await parallelQueries([
      () => db.get<{ total: number; avg: number | null }>('SELECT COUNT(*) AS total, AVG(rating) AS avg FROM feedback'),
      () =>
        db.all<{ agent_id: string; count: number; avg_rating: number }>(
          "SELECT agent_id, COUNT(*) AS count, ROUND(AVG(rating), 2) AS avg_rating FROM feedback WHERE agent_id != '' GROUP BY agent_id ORDER BY count DESC, agent_id ASC LIMIT 20",
        ),
      () =>
        db.all<{ entity_type: string; count: number; avg_rating: number }>(
          'SELECT entity_type, COUNT(*) AS count, ROUND(AVG(rating), 2) AS avg_rating FROM feedback GROUP BY entity_type ORDER BY count DESC, entity_type ASC',
        ),
      () =>
        db.all<{ rating: number; count: number }>(
          'SELECT rating, COUNT(*) AS count FROM feedback GROUP BY rating ORDER BY rating ASC',
        ),
      () => db.all<FeedbackRow>('SELECT * FROM feedback ORDER BY created_at DESC, id DESC LIMIT 5'),
    ]);
    return {
      total: Number(totals?.total ?? 0),
      avg_rating: totals?.avg == null ? 0 : Math.round(Number(totals.avg) * 100) / 100,
      by_agent: byAgent,
      by_type: byType,
      rating_dist: dist,
      recent,
    };
  },
};
