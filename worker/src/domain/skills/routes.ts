import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, notFound } from '../../http/errors.js';
import { principalOf, type Principal } from '../../auth/principal.js';
import { agentsRepo } from '../agents/repo.js';
import { skillsRepo, type SkillChanges } from './repo.js';
import { createSkill, installSkill, uninstallSkill } from './service.js';
import {
  CreateSkill,
  InstallSkill,
  Skill,
  SkillCreated,
  SkillIdParams,
  SkillInstalled,
  SkillListQuery,
  SkillUninstalled,
  UninstallSkill,
  UpdateSkill,
} from './schema.js';

/**
 * Whose skill an install is: an agent installs for itself (body agent_id ignored); admins and
 * operators name the agent in `agent_id`, which must exist (spec 05 §17.5 B7).
 */
async function targetAgent(app: AppContext, p: Principal, body: Record<string, unknown>): Promise<string> {
  if (p.kind === 'agent') return p.id;
  if (typeof body.agent_id !== 'string' || !body.agent_id.trim()) throw badRequest('agent_id is required');
  const agent = await agentsRepo.get(app.db, body.agent_id.trim());
  if (!agent) throw notFound('Agent not found');
  return agent.id;
}

const tags = ['Skills'];

/** The skills registry (spec 05 §12). */
export function skillRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const load = async (id: string) => {
    const s = await skillsRepo.byId(app.db, id);
    if (!s) throw notFound('skill not found');
    return s;
  };

  defineRoute(
    r,
    {
      method: 'get',
      path: '/skills',
      tags,
      summary: 'Published skills, most installed first',
      access: 'any',
      query: SkillListQuery,
      response: z.array(Skill),
    },
    (_c, { query }) =>
      skillsRepo.listPublished(app.db, { category: query.category || undefined, search: query.search || undefined }),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/skills/:id',
      tags,
      summary: 'One skill',
      access: 'any',
      params: SkillIdParams,
      response: Skill,
    },
    (_c, { params }) => load(params.id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/skills',
      tags,
      summary: 'Publish a skill',
      access: 'admin',
      body: CreateSkill,
      lazyBody: true,
      response: SkillCreated,
      status: 201,
      errors: [409],
    },
    async (c, inputs) => {
      // This sentence names two fields, so it stays ahead of the schema's.
      const raw = bodyOf(c);
      if (typeof raw.id !== 'string' || !raw.id || typeof raw.name !== 'string' || !raw.name)
        throw badRequest('id and name required');
      const input = inputs.body;
      return createSkill(app, input);
    },
  );

  /** A PUT with nothing to change returns the row unchanged (the original's 404 was a quirk, B6). */
  defineRoute(
    r,
    {
      method: 'put',
      path: '/skills/:id',
      tags,
      summary: 'Update a skill',
      access: 'admin',
      params: SkillIdParams,
      body: UpdateSkill,
      lazyBody: true,
      response: Skill,
    },
    async (_c, input) => {
      const current = await load(input.params.id);
      const changes: SkillChanges = input.body;
      if (Object.values(changes).every((v) => v === undefined)) return current;
      return skillsRepo.update(app.db, current.id, changes);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/skills/:id/install',
      tags,
      summary: 'Install a skill for an agent',
      access: 'any',
      params: SkillIdParams,
      body: InstallSkill,
      lazyBody: true,
      response: SkillInstalled,
    },
    async (c, input) => {
      const p = principalOf(c);
      const skill = await load(input.params.id);
      const agentId = await targetAgent(app, p, bodyOf(c));
      const config = input.body.config ?? '{}';
      await installSkill(app, agentId, skill, config);
      return { ok: true as const, skill_id: skill.id, agent_id: agentId };
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/skills/:id/uninstall',
      tags,
      summary: 'Uninstall a skill from an agent',
      access: 'any',
      params: SkillIdParams,
      body: UninstallSkill,
      lazyBody: true,
      response: SkillUninstalled,
    },
    async (c, { params }) => {
      const p = principalOf(c);
      const skill = await load(params.id);
      await uninstallSkill(app, await targetAgent(app, p, bodyOf(c)), skill.id);
      return { ok: true as const };
    },
  );

  return r;
}
