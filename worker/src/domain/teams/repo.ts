import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { assignments } from '../../db/sql.js';

/** SQL for teams and team_members (spec 01 §2.9, §2.10). */

export interface TeamRow {
  id: string;
  org_id: string;
  name: string;
  description: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface TeamMemberRow {
  id: number;
  team_id: string;
  user_id: string;
  user_type: string;
  role: string;
  is_primary: number;
  joined_at: string;
}

const teamChannelSlug = (teamId: string) => `team-${teamId}`;

/** The user's own row (agents or operators) that carries primary_team_id. */
const userTable = (userType: string) => (userType === 'agent' ? 'agents' : 'operators');

export const teamsRepo = {
  list(db: Queryable, orgId?: string) {
    const where = orgId ? 'WHERE t.org_id = ?' : '';
    const args: SqlArgs = orgId ? [orgId] : [];
    return db.all<TeamRow & { member_count: number }>(
      `SELECT t.*, (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS member_count FROM teams t ${where} ORDER BY t.name ASC, t.id ASC`,
      args,
    );
  },
  get(db: Queryable, id: string) {
    return db.get<TeamRow>('SELECT * FROM teams WHERE id = ?', [id]);
  },
  members(db: Queryable, teamId: string) {
    return db.all<TeamMemberRow>(
      'SELECT * FROM team_members WHERE team_id = ? ORDER BY role ASC, joined_at ASC, id ASC',
      [teamId],
    );
  },
  member(db: Queryable, teamId: string, userId: string) {
    return db.get<TeamMemberRow>('SELECT * FROM team_members WHERE team_id = ? AND user_id = ?', [teamId, userId]);
  },
  projects(db: Queryable, teamId: string) {
    return db.all('SELECT * FROM projects WHERE team_id = ? ORDER BY created_at ASC, id ASC', [teamId]);
  },
  userExists(db: Queryable, userId: string, userType: string) {
    return db.get<{ ok: number }>(`SELECT 1 AS ok FROM ${userTable(userType)} WHERE id = ?`, [userId]).then((r) => !!r);
  },

  /** Team row plus its channel `#team-<id>` (spec 03 §9.2), atomically. */
  createStatements(t: {
    id: string;
    org_id: string;
    name: string;
    description: string;
    created_by: string;
  }): Statement[] {
    return [
      {
        sql: 'INSERT INTO teams (id, org_id, name, description, created_by) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING *',
        args: [t.id, t.org_id, t.name, t.description, t.created_by],
      },
      {
        sql: `INSERT INTO channels (name, slug, type, linked_type, linked_id, description, created_by)
              SELECT ?, ?, 'team', 'team', ?, ?, ? WHERE changes() > 0
              ON CONFLICT(slug) DO UPDATE SET status = 'active'`,
        args: [`#team-${t.id}`, teamChannelSlug(t.id), t.id, `Team channel for ${t.name}`, t.created_by],
      },
    ];
  },
  update(id: string, f: { name?: string; description?: string; org_id?: string }): Statement {
    const { sets, args } = assignments(f);
    return {
      sql: `UPDATE teams SET ${[...sets, "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      args: [...args, id],
    };
  },
  /** Deletes only an empty team with no projects; the team channel is archived, not lost. */
  deleteStatements(id: string): Statement[] {
    return [
      {
        sql: `DELETE FROM teams WHERE id = ? AND NOT EXISTS (SELECT 1 FROM team_members WHERE team_id = ?)
              AND NOT EXISTS (SELECT 1 FROM projects WHERE team_id = ?)`,
        args: [id, id, id],
      },
      {
        sql: "UPDATE channels SET status = 'archived' WHERE slug = ? AND NOT EXISTS (SELECT 1 FROM teams WHERE id = ?)",
        args: [teamChannelSlug(id), id],
      },
    ];
  },
  countProjects(db: Queryable, id: string) {
    return db
      .get<{ n: number }>('SELECT COUNT(*) AS n FROM projects WHERE team_id = ?', [id])
      .then((r) => Number(r?.n ?? 0));
  },

  /** Membership, primary flag and team-channel seat in one batch (spec 01 §2.9). */
  addMemberStatements(
    teamId: string,
    m: { user_id: string; user_type: string; role: string; is_primary: boolean },
  ): Statement[] {
    const stmts: Statement[] = [
      {
        sql: `INSERT INTO team_members (team_id, user_id, user_type, role, is_primary) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT(team_id, user_id) DO NOTHING RETURNING *`,
        args: [teamId, m.user_id, m.user_type, m.role, m.is_primary ? 1 : 0],
      },
      {
        sql: `INSERT OR IGNORE INTO channel_members (channel_id, user_id, user_type, role) SELECT id, ?, ?, 'member' FROM channels WHERE slug = ?`,
        args: [m.user_id, m.user_type, teamChannelSlug(teamId)],
      },
    ];
    if (m.is_primary) stmts.push(...teamsRepo.primaryStatements(teamId, m.user_id, m.user_type));
    return stmts;
  },
  /** One primary team per user: clear the others, set this one, mirror it on the user's row. */
  primaryStatements(teamId: string, userId: string, userType: string): Statement[] {
    return [
      {
        sql: 'UPDATE team_members SET is_primary = CASE WHEN team_id = ? THEN 1 ELSE 0 END WHERE user_id = ?',
        args: [teamId, userId],
      },
      { sql: `UPDATE ${userTable(userType)} SET primary_team_id = ? WHERE id = ?`, args: [teamId, userId] },
    ];
  },
  clearPrimaryStatements(teamId: string, userId: string, userType: string): Statement[] {
    return [
      { sql: 'UPDATE team_members SET is_primary = 0 WHERE team_id = ? AND user_id = ?', args: [teamId, userId] },
      {
        sql: `UPDATE ${userTable(userType)} SET primary_team_id = NULL WHERE id = ? AND primary_team_id = ?`,
        args: [userId, teamId],
      },
    ];
  },
  setRole(teamId: string, userId: string, role: string): Statement {
    return { sql: 'UPDATE team_members SET role = ? WHERE team_id = ? AND user_id = ?', args: [role, teamId, userId] };
  },
  removeMemberStatements(teamId: string, m: TeamMemberRow): Statement[] {
    return [
      ...teamsRepo.clearPrimaryStatements(teamId, m.user_id, m.user_type),
      { sql: 'DELETE FROM team_members WHERE team_id = ? AND user_id = ?', args: [teamId, m.user_id] },
      {
        sql: 'DELETE FROM channel_members WHERE user_id = ? AND channel_id IN (SELECT id FROM channels WHERE slug = ?)',
        args: [m.user_id, teamChannelSlug(teamId)],
      },
    ];
  },
};
