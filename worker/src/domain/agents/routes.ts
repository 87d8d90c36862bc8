import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, forbidden } from '../../http/errors.js';
import { instanceUrl } from '../../http/instance-url.js';
import { principalOf } from '../../auth/principal.js';
import { AgentService, mcpConfig, RESERVED_AGENT_IDS } from './service.js';
import {
  getIdentity,
  getProfile,
  presentProfile,
  removeAgent,
  updateAgent,
  updateIdentity,
  updateProfile,
} from './manage.js';
import { profilesRepo } from './repo.js';
import { parseArray } from './json.js';
import { installedSkills } from './skills.js';
import { calibrationRoutes } from './calibration-routes.js';
import {
  Agent,
  AgentDeleted,
  AgentIdParams,
  AgentListQuery,
  AgentProfile,
  AgentSkillsParams,
  AgentUpdated,
  Identity,
  IdentityUpdated,
  InstalledSkill,
  KeyRotated,
  LeaderboardEntry,
  LeaderboardQuery,
  McpConfigAnswer,
  RegisterAgent,
  Registered,
  UpdateAgentBody,
  UpdateIdentityBody,
  UpdateProfileBody,
} from './schema.js';

const tags = ['Agents'];

/** Agent registry: registration, key rotation, roster reads (spec 01 §2.8, 02 §3.1–3.2). */
export function agentRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const agents = new AgentService(app);

  // The SDK's `mycelium-agent init` registers through POST /agents with the admin key: the same route twice.
  for (const [path, alias] of [
    ['/admin/agents', false],
    ['/agents', true],
  ] as const) {
    defineRoute(
      r,
      {
        method: 'post',
        path,
        tags,
        summary: 'Register an agent (answers its key, once)',
        access: 'admin',
        body: RegisterAgent,
        lazyBody: true,
        response: Registered,
        errors: [409, 429],
        alias,
      },
      (c, input) => {
        app.limiters.adminWrite.hit(c.get('clientIp'));
        const body = bodyOf(c);
        for (const f of ['id', 'name', 'project_id'] as const) {
          if (body[f] === undefined || body[f] === null || body[f] === '')
            throw badRequest('id, name, and project_id are required');
        }
        const agent = input.body;
        if (RESERVED_AGENT_IDS.has(agent.id)) throw badRequest(`Agent id ${agent.id} is reserved`);
        // The URL is resolved before anything is written (a bad Host creates nothing).
        const baseUrl = instanceUrl(app.config, c.req.raw);
        return agents.register(agent, principalOf(c), baseUrl);
      },
    );
  }

  defineRoute(
    r,
    {
      method: 'put',
      path: '/admin/agents/:id/key',
      tags,
      summary: "Regenerate an agent's key (answers it, once)",
      access: 'admin',
      params: AgentIdParams,
      response: KeyRotated,
      errors: [404, 429],
    },
    (c, { params }) => {
      app.limiters.adminWrite.hit(c.get('clientIp'));
      return agents.rotateKey(params.id, 'admin');
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/agents/rekey',
      tags,
      summary: 'Rotate the calling agent’s own key',
      access: 'agent',
      response: KeyRotated,
    },
    (c) => {
      const p = principalOf(c);
      if (p.kind !== 'agent') throw forbidden('Agent key required');
      return agents.rotateKey(p.id, 'self');
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents',
      tags,
      summary: 'The roster (presence derived from heartbeat age)',
      access: 'any',
      query: AgentListQuery,
      response: z.array(Agent),
    },
    (_c, { query }) => agents.list(query),
  );

  // Literal routes first: they shadow /agents/:id (spec 02 §3 route-order facts).
  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/profiles',
      tags,
      summary: 'Every agent profile',
      access: 'any',
      response: z.array(AgentProfile),
    },
    async () => (await profilesRepo.list(app.db)).map(presentProfile),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/leaderboard',
      tags,
      summary: 'Agents ranked by completed work',
      access: 'any',
      query: LeaderboardQuery,
      response: z.array(LeaderboardEntry),
    },
    async (_c, { query }) =>
      (await profilesRepo.leaderboard(app.db, query.limit)).map((p) => ({
        ...p,
        specializations: parseArray(p.specializations),
      })),
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/admin/agents/:id',
      tags,
      summary: 'Remove an agent',
      access: 'admin',
      params: AgentIdParams,
      response: AgentDeleted,
      errors: [404, 429],
    },
    (c, { params }) => {
      app.limiters.adminWrite.hit(c.get('clientIp'));
      return removeAgent(app, params.id);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/agents/:id',
      tags,
      summary: 'Update an agent (itself or an admin)',
      access: 'any',
      params: AgentIdParams,
      body: UpdateAgentBody,
      response: AgentUpdated,
      errors: [403, 404, 409],
    },
    (c, { params }) => updateAgent(app, principalOf(c), params.id, bodyOf(c)),
  );

  // Skills live in the skills area (spec 05); until its tables exist the installed list is empty.
  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:agentId/skills',
      tags,
      summary: 'Skills installed on an agent',
      access: 'any',
      params: AgentSkillsParams,
      response: z.array(InstalledSkill),
    },
    (_c, { params }) => installedSkills(app, params.agentId),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id/profile',
      tags,
      summary: "An agent's profile",
      access: 'any',
      params: AgentIdParams,
      response: AgentProfile,
      errors: [404],
    },
    (_c, { params }) => getProfile(app, params.id),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/agents/:id/profile',
      tags,
      summary: "Update an agent's profile (itself or an admin)",
      access: 'any',
      params: AgentIdParams,
      body: UpdateProfileBody,
      response: AgentProfile,
      errors: [403, 404],
    },
    (c, { params }) => updateProfile(app, principalOf(c), params.id, bodyOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id/identity',
      tags,
      summary: "An agent's identity: capabilities, projects, teams, guardrails, calibration",
      access: 'any',
      params: AgentIdParams,
      response: Identity,
      errors: [404],
    },
    (_c, { params }) => getIdentity(app, params.id),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/agents/:id/identity',
      tags,
      summary: "Set an agent's capabilities, responsibilities and guardrails",
      access: 'admin',
      params: AgentIdParams,
      body: UpdateIdentityBody,
      response: IdentityUpdated,
      errors: [404],
    },
    (c, { params }) => updateIdentity(app, params.id, bodyOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id/mcp-config',
      tags,
      summary: 'The MCP client configuration for an agent (key left as a placeholder)',
      access: 'admin',
      params: AgentIdParams,
      response: McpConfigAnswer,
      errors: [404],
    },
    async (c, { params }) => {
      const baseUrl = instanceUrl(app.config, c.req.raw);
      const agent = await agents.get(params.id);
      return {
        agent_id: agent.id,
        mcp_config: mcpConfig(baseUrl, agent.id, '<YOUR_AGENT_API_KEY>'),
        note: "Replace <YOUR_AGENT_API_KEY> with the agent's actual API key",
      };
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id',
      tags,
      summary: 'One agent',
      access: 'any',
      params: AgentIdParams,
      response: Agent,
      errors: [404],
    },
    (_c, { params }) => agents.get(params.id),
  );

  r.route('/', calibrationRoutes(app));

  return r;
}
