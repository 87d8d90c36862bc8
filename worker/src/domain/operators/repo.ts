import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';
import { assignments } from '../../db/sql.js';

/** SQL for the operators roster (spec 01 §2.7, §2.10). */

export interface OperatorRow {
  id: string;
  display_name: string;
  role: string;
  responsibilities: string;
  email: string;
  studio_user_id: number | null;
  status: string;
  availability: string;
  last_seen_at: string | null;
  away_message: string;
  created_at: string;
  updated_at: string;
  primary_team_id: string | null;
}

/** What agents see (spec 07 SEC-56): no e-mail, no link to a login account. */
export function toAgentView(row: OperatorRow) {
  const { email: _e, studio_user_id: _s, ...rest } = row;
  return rest;
}

export type OperatorUpdate = Partial<
  Pick<
    OperatorRow,
    | 'display_name'
    | 'role'
    | 'responsibilities'
    | 'email'
    | 'studio_user_id'
    | 'status'
    | 'availability'
    | 'away_message'
  >
>;

/** Some active operator is available and was seen in the last 30 minutes: the network is not autonomous. */
export const HUMANS_AVAILABLE_SQL = `EXISTS (SELECT 1 FROM operators o JOIN studio_users u ON u.id = o.studio_user_id
  WHERE o.status = 'active' AND o.availability = 'available' AND u.last_seen >= datetime('now', '-30 minutes'))`;

export const operatorsRepo = {
  list(db: Queryable) {
    return db.all<OperatorRow>('SELECT * FROM operators ORDER BY created_at ASC, rowid ASC');
  },
  get(db: Queryable, id: string) {
    return db.get<OperatorRow>('SELECT * FROM operators WHERE id = ?', [id]);
  },
  /** The operator a studio login is linked to ("the caller's operator", spec 03 §11). */
  byStudioUser(db: Queryable, userId: number) {
    return db.get<OperatorRow>('SELECT * FROM operators WHERE studio_user_id = ? ORDER BY created_at ASC LIMIT 1', [
      userId,
    ]);
  },
  studioUserExists(db: Queryable, userId: number) {
    return db.get<{ ok: number }>('SELECT 1 AS ok FROM studio_users WHERE id = ?', [userId]).then((r) => !!r);
  },
  insert(o: {
    id: string;
    display_name: string;
    role: string;
    responsibilities: string;
    email: string;
    studio_user_id: number | null;
  }): Statement {
    return {
      sql: `INSERT INTO operators (id, display_name, role, responsibilities, email, studio_user_id) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO NOTHING RETURNING *`,
      args: [o.id, o.display_name, o.role, o.responsibilities, o.email, o.studio_user_id],
    };
  },
  /** Operators join #general and #admin as channel admins (spec 03 §9.1). */
  joinDefaultChannels(id: string): Statement {
    return {
      sql: `INSERT OR IGNORE INTO channel_members (channel_id, user_id, user_type, role)
            SELECT id, ?, 'operator', 'admin' FROM channels WHERE slug IN ('general', 'admin')`,
      args: [id],
    };
  },
  /**
   * updated_at moves only when a value really changed (spec 01 §2.7). With nothing to change, a read
   * of the row; RETURNING the row either way.
   */
  update(id: string, f: OperatorUpdate): Statement {
    const { columns, sets, args } = assignments(f);
    const changed = columns.map((c) => `${c} IS NOT ?`);
    if (!sets.length) return { sql: 'SELECT * FROM operators WHERE id = ?', args: [id] };
    return {
      sql: `UPDATE operators SET ${sets.join(', ')}, updated_at = CASE WHEN ${changed.join(' OR ')} THEN datetime('now') ELSE updated_at END
       WHERE id = ? RETURNING *`,
      args: [...args, ...args, id],
    };
  },
  setAvailability(id: string, availability: string, message: string): Statement {
    return {
      sql: `UPDATE operators SET availability = ?, away_message = ?, last_seen_at = datetime('now'), updated_at = datetime('now')
       WHERE id = ? RETURNING *`,
      args: [availability, message, id],
    };
  },
  deleteStatements(id: string): Statement[] {
    return [
      { sql: "DELETE FROM channel_members WHERE user_id = ? AND user_type = 'operator'", args: [id] },
      { sql: "DELETE FROM team_members WHERE user_id = ? AND user_type = 'operator'", args: [id] },
      { sql: 'DELETE FROM operators WHERE id = ?', args: [id] },
    ];
  },
  /**
   * Network autonomous ⇔ no active, available operator whose login was seen in the last 30
   * minutes (spec 01 §2.7). last_seen is stored as datetime('now') text, compared in kind.
   */
  async isAutonomous(db: Queryable) {
    return !(await db.get<{ ok: number }>(`SELECT 1 AS ok WHERE ${HUMANS_AVAILABLE_SQL}`));
  },
  /**
   * "Operator X is back" notices to every online or idle agent (spec 01 §2.7), written only if a
   * human is available at that point of the batch.
   */
  notifyActiveAgents(content: string): Statement {
    return {
      sql: `INSERT INTO messages (from_agent, to_agent, content, msg_type, status, priority)
            SELECT '__system__', id, ?, 'info', 'sent', 'normal' FROM agents WHERE status IN ('online', 'idle') AND ${HUMANS_AVAILABLE_SQL}`,
      args: [content],
    };
  },
};
