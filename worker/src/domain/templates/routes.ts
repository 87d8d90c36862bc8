import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { agentsRepo, agentWrites, toPublicAgent } from '../agents/repo.js';
import { DEFAULT_CAPABILITIES } from '../agents/service.js';
import { templatesRepo, toWireTemplate, type TemplateColumn } from './repo.js';
import {
  ApplyParams,
  CreateTemplate,
  Template,
  TemplateApplied,
  TemplateDeleted,
  TemplateIdParams,
  UpdateTemplate,
} from './schema.js';

const tags = ['Agent templates'];

function toColumns(v: z.infer<typeof UpdateTemplate>): Partial<Record<TemplateColumn, string>> {
  const out: Partial<Record<TemplateColumn, string>> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined) continue;
    out[k as TemplateColumn] = typeof val === 'string' ? val : JSON.stringify(val);
  }
  return out;
}

/** Agent templates (spec 02 §3.9): reads for anyone authenticated, writes for admins. No events. */
export function templateRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agent-templates',
      tags,
      summary: 'Agent templates',
      access: 'any',
      response: z.array(Template),
    },
    async () => (await templatesRepo.list(app.db)).map(toWireTemplate),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agent-templates/:id',
      tags,
      summary: 'One template',
      access: 'any',
      params: TemplateIdParams,
      response: Template,
      errors: [404],
    },
    async (_c, { params }) => {
      const t = await templatesRepo.get(app.db, params.id);
      if (!t) throw notFound('Template not found');
      return toWireTemplate(t);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/agent-templates',
      tags,
      summary: 'Create a template',
      access: 'admin',
      body: CreateTemplate,
      lazyBody: true,
      response: Template,
      status: 201,
      errors: [409],
    },
    async (c, input) => {
      const body = bodyOf(c);
      if (!body.id || !body.name) throw badRequest('id and name are required');
      const v = input.body;
      const cols = toColumns(v);
      const row = await templatesRepo.insert(app.db, {
        id: v.id,
        name: v.name,
        description: cols.description ?? '',
        runtime: cols.runtime ?? '',
        llm_backend: cols.llm_backend ?? '',
        llm_model: cols.llm_model ?? '',
        agent_type: cols.agent_type || 'agent',
        capabilities: cols.capabilities ?? JSON.stringify(DEFAULT_CAPABILITIES),
        project_id: cols.project_id ?? '',
        team_ids: cols.team_ids ?? '[]',
        profile_rules: cols.profile_rules ?? '{}',
        created_by: principalOf(c).who,
      });
      if (!row) throw conflict(`Template ${v.id} already exists`);
      return toWireTemplate(row);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/agent-templates/:id',
      tags,
      summary: 'Update a template',
      access: 'admin',
      params: TemplateIdParams,
      body: UpdateTemplate,
      response: Template,
      errors: [404],
    },
    async (_c, { params, body }) => {
      const cols = toColumns(body);
      const row = Object.keys(cols).length
        ? await templatesRepo.update(app.db, params.id, cols)
        : await templatesRepo.get(app.db, params.id);
      if (!row) throw notFound('Template not found');
      return toWireTemplate(row);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/agent-templates/:id',
      tags,
      summary: 'Delete a template',
      access: 'admin',
      params: TemplateIdParams,
      response: TemplateDeleted,
      errors: [404],
    },
    async (_c, { params }) => {
      const { changes } = await templatesRepo.delete(app.db, params.id);
      if (!changes) throw notFound('Template not found');
      return { ok: true, deleted: params.id };
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/agent-templates/:id/apply/:agentId',
      tags,
      summary: 'Apply a template to an agent (runtime, model, capabilities, teams)',
      access: 'admin',
      params: ApplyParams,
      response: TemplateApplied,
      errors: [404],
    },
    async (_c, { params }) => {
      const t = await templatesRepo.get(app.db, params.id);
      if (!t) throw notFound('Template not found');
      const agentId = params.agentId;
      if (!(await agentsRepo.get(app.db, agentId))) throw notFound('Agent not found');
      const w = toWireTemplate(t);
      const fields: Record<string, string> = {};
      for (const k of ['runtime', 'llm_backend', 'llm_model', 'agent_type'] as const) if (t[k]) fields[k] = t[k];
      if (w.capabilities.length) fields.capabilities = JSON.stringify(w.capabilities);
      const teams = w.team_ids.filter((x): x is string => typeof x === 'string');
      await app.db.batch([
        ...(Object.keys(fields).length ? [agentWrites.update(agentId, fields)] : []),
        ...templatesRepo.joinTeams(agentId, teams),
      ]);
      const agent = await agentsRepo.get(app.db, agentId);
      // The hash is stripped by the row mapper (spec 02 W16) and again by the Agent schema.
      return { ok: true, agent: agent ? toPublicAgent(agent) : null, template: t.id };
    },
  );

  return r;
}
