import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { TeamService } from './service.js';
import {
  AddMember,
  CreateTeam,
  MemberParams,
  Team,
  TeamIdParams,
  TeamList,
  TeamListQuery,
  TeamMember,
  TeamProjects,
  UpdateMember,
  UpdateTeam,
} from './schema.js';

const tags = ['Teams'];

/** Teams (spec 01 §2.9): admins manage teams, humans manage membership, everyone reads. */
export function teamRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const teams = new TeamService(app);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/teams',
      tags,
      summary: 'Teams with their member counts',
      access: 'any',
      query: TeamListQuery,
      response: TeamList,
    },
    (_c, { query }) => teams.list(query.org_id),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/teams/:id',
      tags,
      summary: 'One team with members and projects',
      access: 'any',
      params: TeamIdParams,
      response: Team,
      errors: [404],
    },
    (_c, { params }) => teams.get(params.id),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/teams/:id/projects',
      tags,
      summary: "A team's projects",
      access: 'any',
      params: TeamIdParams,
      response: TeamProjects,
      errors: [404],
    },
    (_c, { params }) => teams.projects(params.id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/teams',
      tags,
      summary: 'Create a team (and its channel)',
      access: 'admin',
      body: CreateTeam,
      lazyBody: true,
      response: Team,
      errors: [409],
    },
    (c, input) => {
      const body = bodyOf(c);
      if (!body.id || !body.org_id || !body.name) throw badRequest('id, org_id, and name required');
      return teams.create(principalOf(c), input.body);
    },
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/teams/:id',
      tags,
      summary: 'Update a team',
      access: 'admin',
      params: TeamIdParams,
      body: UpdateTeam,
      response: Team,
      errors: [404],
    },
    (c, { params, body }) => teams.update(principalOf(c), params.id, body),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/teams/:id',
      tags,
      summary: 'Delete a team without members or projects',
      access: 'admin',
      params: TeamIdParams,
      response: OkTrue,
      errors: [404, 409],
    },
    (c, { params }) => teams.remove(principalOf(c), params.id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/teams/:id/members',
      tags,
      summary: 'Add a member (operator or agent)',
      access: 'human',
      params: TeamIdParams,
      body: AddMember,
      lazyBody: true,
      response: TeamMember,
      errors: [404, 409],
    },
    (c, input) => {
      if (!bodyOf(c).user_id) throw badRequest('user_id required');
      return teams.addMember(principalOf(c), input.params.id, input.body);
    },
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/teams/:id/members/:userId',
      tags,
      summary: "Change a member's role or primary flag",
      access: 'human',
      params: MemberParams,
      body: UpdateMember,
      response: OkTrue,
      errors: [404],
    },
    (c, { params, body }) => teams.updateMember(principalOf(c), params.id, params.userId, body),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/teams/:id/members/:userId',
      tags,
      summary: 'Remove a member',
      access: 'human',
      params: MemberParams,
      response: OkTrue,
      errors: [404],
    },
    (c, { params }) => teams.removeMember(principalOf(c), params.id, params.userId),
  );

  return r;
}
