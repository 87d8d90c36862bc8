import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
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
    const [team, channel] = teamsRepo.createStatements({ ...input, created_by: p.who });
    const res = await atomicWrite(this.app)
      .add('team', team)
      // The channel insert runs only when the team insert changed a row; so "changed" here means both.
      .add(null, channel)
      .requireChanged('team exists')
      .event({
        type: 'team_created',
        agent: p.who,
        summary: `Team created: ${input.name}`,
        data: { team_id: input.id },
      })
      .commitUnlessAborted();
    if (!res) throw conflict('Team already exists');
    return { ...res.row<TeamRow>('team')!, members: [] };
  }

  async update(p: Principal, id: string, f: { name?: string; description?: string; org_id?: string }) {
    await this.team(id);
    await atomicWrite(this.app)
      .add(null, teamsRepo.update(id, f))
      .event({ type: 'team_updated', agent: p.who, summary: `Team updated: ${id}`, data: { team_id: id } })
      .commit();
    return this.get(id);
  }

  async remove(p: Principal, id: string) {
    await this.team(id);
    if ((await teamsRepo.members(this.app.db, id)).length) throw badRequest('Team has members — remove them first');
    if (await teamsRepo.countProjects(this.app.db, id))
      throw conflict('Team still owns projects — reassign them first');
    const [del, ...rest] = teamsRepo.deleteStatements(id);
    // A member or project added meanwhile makes the conditional delete a no-op: nothing is written.
    const res = await atomicWrite(this.app)
      .add(null, del)
      .requireChanged('team changed')
      .addAll(rest)
      .event({ type: 'team_deleted', agent: p.who, summary: `Team deleted: ${id}`, data: { team_id: id } })
      .commitUnlessAborted();
    if (!res) throw conflict('Team changed while deleting — try again');
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
    const res = await atomicWrite(this.app)
      .add('member', first)
      .requireChanged('already a member')
      .addAll(rest)
      .event({
        type: 'team_member_added',
        agent: p.who,
        summary: `${m.user_id} joined team ${teamId}`,
        data: { team_id: teamId, user_id: m.user_id, user_type: m.user_type },
      })
      .commitUnlessAborted();
    const row = res?.row<TeamMemberRow>('member');
    if (!row) throw conflict(`${m.user_id} is already a member of team ${teamId}`);
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
    await atomicWrite(this.app)
      .addAll(stmts)
      .event({
        type: 'team_member_updated',
        agent: p.who,
        summary: `${userId} updated in team ${teamId}`,
        data: { team_id: teamId, user_id: userId },
      })
      .commit();
    return { ok: true as const };
  }

  async removeMember(p: Principal, teamId: string, userId: string) {
    await this.team(teamId);
    const m = await teamsRepo.member(this.app.db, teamId, userId);
    if (!m) throw notFound('Team member not found');
    await atomicWrite(this.app)
      .addAll(teamsRepo.removeMemberStatements(teamId, m))
      .event({
        type: 'team_member_removed',
        agent: p.who,
        summary: `${userId} left team ${teamId}`,
        data: { team_id: teamId, user_id: userId },
      })
      .commit();
    return { ok: true as const };
  }

  async projects(id: string) {
    await this.team(id);
    return { projects: await teamsRepo.projects(this.app.db, id) };
  }
}
