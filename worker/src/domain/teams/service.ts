import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { teamsRepo, type TeamMemberRow, type TeamRow } from './repo.js';

/**
 * Teams (spec 01 §2.9). Differences from the original (weak spot 27): unknown ids are 404,
 * duplicates 409, a team that still owns projects cannot be deleted, members must exist.
 * Membership widens an agent's write and dispatch scope (auth/scope.ts reads team_members).
 */
export class TeamService {
  constructor(private readonly app: AppContext) {}

  private async team(id: string): Promise<TeamRow> {
    const t = await teamsRepo.get(this.app.db, id);
    if (!t) throw notFound('Team not found');
    return t;
  }

  async list(orgId?: string) {
    const teams = await teamsRepo.list(this.app.db, orgId);
    return { teams: teams.map((t) => ({ ...t, member_count: Number(t.member_count) })) };
  }

  async get(id: string) {
    const t = await this.team(id);
    const [members, projects] = await Promise.all([
      teamsRepo.members(this.app.db, id),
      teamsRepo.projects(this.app.db, id),
    ]);
    return { ...t, members, projects };
  }

  async create(p: Principal, input: { id: string; org_id: string; name: string; description: string }) {
    const [ins] = await this.app.db.batch(teamsRepo.createStatements({ ...input, created_by: p.who }));
    const row = ins.rows[0] as unknown as TeamRow | undefined;
    if (!row) throw conflict('Team already exists');
    await this.app.events.emit({
      type: 'team_created',
      agent: p.who,
      summary: `Team created: ${row.name}`,
      data: { team_id: row.id },
    });
    return { ...row, members: [] };
  }

  async update(p: Principal, id: string, f: { name?: string; description?: string; org_id?: string }) {
    await this.team(id);
    await teamsRepo.update(this.app.db, id, f);
    await this.app.events.emit({
      type: 'team_updated',
      agent: p.who,
      summary: `Team updated: ${id}`,
      data: { team_id: id },
    });
    return this.get(id);
  }

  async remove(p: Principal, id: string) {
    await this.team(id);
    if ((await teamsRepo.members(this.app.db, id)).length) throw badRequest('Team has members — remove them first');
    if (await teamsRepo.countProjects(this.app.db, id))
      throw conflict('Team still owns projects — reassign them first');
    const [del] = await this.app.db.batch(teamsRepo.deleteStatements(id));
    // A member or project added meanwhile makes the conditional delete a no-op.
    if (!del.rowsAffected) throw conflict('Team changed while deleting — try again');
    await this.app.events.emit({
      type: 'team_deleted',
      agent: p.who,
      summary: `Team deleted: ${id}`,
      data: { team_id: id },
    });
    return { ok: true as const };
  }

  async addMember(
    p: Principal,
    teamId: string,
    m: { user_id: string; user_type: string; role: string; is_primary: boolean },
  ) {
    await this.team(teamId);
    if (!(await teamsRepo.userExists(this.app.db, m.user_id, m.user_type))) {
      throw notFound(`${m.user_type === 'agent' ? 'Agent' : 'Operator'} ${m.user_id} not found`);
    }
    // The channel seat and primary flag follow only a membership this request created, so a
    // duplicate add (409) changes nothing.
    const [first, ...rest] = teamsRepo.addMemberStatements(teamId, m);
    const row = await this.app.db.transaction(async (tx) => {
      const ins = await tx.get<TeamMemberRow>(first.sql, first.args);
      if (!ins) return undefined;
      for (const s of rest) await tx.execute(s.sql, s.args);
      return ins;
    });
    if (!row) throw conflict(`${m.user_id} is already a member of team ${teamId}`);
    await this.app.events.emit({
      type: 'team_member_added',
      agent: p.who,
      summary: `${m.user_id} joined team ${teamId}`,
      data: { team_id: teamId, user_id: m.user_id, user_type: m.user_type },
    });
    return (await teamsRepo.member(this.app.db, teamId, m.user_id)) ?? row;
  }

  async updateMember(p: Principal, teamId: string, userId: string, f: { role?: string; is_primary?: boolean }) {
    await this.team(teamId);
    const m = await teamsRepo.member(this.app.db, teamId, userId);
    if (!m) throw notFound('Team member not found');
    const stmts = [];
    if (f.role !== undefined) stmts.push(teamsRepo.setRole(teamId, userId, f.role));
    if (f.is_primary === true) stmts.push(...teamsRepo.primaryStatements(teamId, userId, m.user_type));
    if (f.is_primary === false) stmts.push(...teamsRepo.clearPrimaryStatements(teamId, userId, m.user_type));
    await this.app.db.batch(stmts);
    await this.app.events.emit({
      type: 'team_member_updated',
      agent: p.who,
      summary: `${userId} updated in team ${teamId}`,
      data: { team_id: teamId, user_id: userId },
    });
    return { ok: true as const };
  }

  async removeMember(p: Principal, teamId: string, userId: string) {
    await this.team(teamId);
    const m = await teamsRepo.member(this.app.db, teamId, userId);
    if (!m) throw notFound('Team member not found');
    await this.app.db.batch(teamsRepo.removeMemberStatements(teamId, m));
    await this.app.events.emit({
      type: 'team_member_removed',
      agent: p.who,
      summary: `${userId} left team ${teamId}`,
      data: { team_id: teamId, user_id: userId },
    });
    return { ok: true as const };
  }

  async projects(id: string) {
    await this.team(id);
    return { projects: await teamsRepo.projects(this.app.db, id) };
  }
}
