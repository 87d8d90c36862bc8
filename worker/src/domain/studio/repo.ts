import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** SQL for studio_users (operator login accounts) and password_resets. */

export interface StudioUserRow {
  id: number;
  username: string;
  display_name: string;
  password_hash: string;
  role: string;
  created_at: string;
  last_seen: string | null;
  token_version: number;
}

export type PublicStudioUser = Pick<
  StudioUserRow,
  'id' | 'username' | 'display_name' | 'role' | 'created_at' | 'last_seen'
>;

/** Hash and token version never leave the server. */
export function toPublicUser(u: StudioUserRow): PublicStudioUser {
  return {
    id: u.id,
    username: u.username,
    display_name: u.display_name,
    role: u.role,
    created_at: u.created_at,
    last_seen: u.last_seen,
  };
}

export const studioUsersRepo = {
  byId(db: Queryable, id: number) {
    return db.get<StudioUserRow>('SELECT * FROM studio_users WHERE id = ?', [id]);
  },
  byUsername(db: Queryable, username: string) {
    return db.get<StudioUserRow>('SELECT * FROM studio_users WHERE username = ?', [username]);
  },
  list(db: Queryable) {
    return db.all<StudioUserRow>('SELECT * FROM studio_users ORDER BY created_at ASC, id ASC');
  },
  /** Insert; RETURNING no row when the username is taken. */
  insert(u: { username: string; display_name: string; password_hash: string; role: string }): Statement {
    return {
      sql: 'INSERT INTO studio_users (username, display_name, password_hash, role) VALUES (?, ?, ?, ?) ON CONFLICT(username) DO NOTHING RETURNING *',
      args: [u.username, u.display_name, u.password_hash, u.role],
    };
  },
  /** The login linked to the operator with that email. */
  byOperatorEmail(db: Queryable, email: string) {
    return db.get<StudioUserRow>(
      `SELECT u.* FROM operators o JOIN studio_users u ON u.id = o.studio_user_id WHERE lower(o.email) = lower(?) LIMIT 1`,
      [email],
    );
  },
  touchLastSeen(db: Queryable, id: number) {
    return db.run("UPDATE studio_users SET last_seen = datetime('now') WHERE id = ?", [id]);
  },
  /**
   * A role change keeps the user's sessions: the role is read from this row on every request
   * (SEC-05), so a demoted admin's token already carries only the new role and is answered
   * `Admin role required` on admin routes rather than being treated as a bad credential.
   */
  update(id: number, fields: { role?: string; display_name?: string }): Statement {
    const sets: string[] = [];
    const args: (string | number)[] = [];
    if (fields.display_name !== undefined) {
      sets.push('display_name = ?');
      args.push(fields.display_name);
    }
    if (fields.role !== undefined) {
      sets.push('role = ?');
      args.push(fields.role);
    }
    return { sql: `UPDATE studio_users SET ${sets.join(', ')} WHERE id = ? RETURNING *`, args: [...args, id] };
  },
  /** New password: every session issued before it is revoked. */
  setPassword(id: number, hash: string): Statement {
    return {
      sql: 'UPDATE studio_users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?',
      args: [hash, id],
    };
  },
  unlinkOperators(id: number): Statement {
    return { sql: 'UPDATE operators SET studio_user_id = NULL WHERE studio_user_id = ?', args: [id] };
  },
  delete(id: number): Statement {
    return { sql: 'DELETE FROM studio_users WHERE id = ?', args: [id] };
  },
  countAdmins(db: Queryable) {
    return db.get<{ n: number }>("SELECT COUNT(*) AS n FROM studio_users WHERE role = 'admin'");
  },
};

export const passwordResetsRepo = {
  insert(email: string, tokenHash: string, expiresAtMs: number): Statement {
    return {
      sql: 'INSERT INTO password_resets (email, token_hash, expires_at) VALUES (?, ?, ?)',
      args: [email, tokenHash, expiresAtMs],
    };
  },
  /** The unused, unexpired token with that hash (read before the reset decides its writes). */
  pending(db: Queryable, tokenHash: string, nowMs: number) {
    return db.get<{ id: number; email: string }>(
      'SELECT id, email FROM password_resets WHERE token_hash = ? AND used = 0 AND expires_at > ?',
      [tokenHash, nowMs],
    );
  },
  /** Consumes a token in one conditional statement: two concurrent resets cannot both win (SEC-09). */
  consume(id: number, nowMs: number): Statement {
    return {
      sql: 'UPDATE password_resets SET used = 1 WHERE id = ? AND used = 0 AND expires_at > ?',
      args: [id, nowMs],
    };
  },
  invalidateForEmail(email: string): Statement {
    return { sql: 'UPDATE password_resets SET used = 1 WHERE lower(email) = lower(?) AND used = 0', args: [email] };
  },
  purgeExpired(db: Queryable, beforeMs: number) {
    return db.run('DELETE FROM password_resets WHERE expires_at < ?', [beforeMs]);
  },
};
