import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseWith, idString } from '../../http/validate.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { agentsRepo, agentWrites, toPublicAgent } from '../agents/repo.js';
import { DEFAULT_CAPABILITIES } from '../agents/service.js';
import { templatesRepo, toWireTemplate, type TemplateColumn } from './repo.js';

const text = (max = 500) => z.string().max(max);
const fieldsSchema = z.object({
  name: z.string().trim().min(1).max(200),
  description: text(5000),
  runtime: text(200),
  llm_backend: text(200),
  llm_model: text(200),
  agent_type: text(50),
  project_id: text(200),
  capabilities: z.array(z.string().max(100)).max(100),
  team_ids: z.array(z.string().max(128)).max(100),
  profile_rules: z.record(z.string(), z.unknown()),
});
const createSchema = fieldsSchema.partial().extend({ id: idString(128), name: z.string().trim().min(1).max(200) });
const updateSchema = fieldsSchema.partial();

function toColumns(v: z.infer<typeof updateSchema>): Partial<Record<TemplateColumn, string>> {
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

  r.get('/agent-templates', requireAny, async (c) => c.json((await templatesRepo.list(app.db)).map(toWireTemplate)));

  r.get('/agent-templates/:id', requireAny, async (c) => {
    const t = await templatesRepo.get(app.db, c.req.param('id'));
    if (!t) throw notFound('Template not found');
    return c.json(toWireTemplate(t));
  });

  r.post('/agent-templates', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (!body.id || !body.name) throw badRequest('id and name are required');
    const v = parseWith(createSchema, body);
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
    return c.json(toWireTemplate(row), 201);
  });

  r.put('/agent-templates/:id', requireAdmin, async (c) => {
    const id = c.req.param('id');
    const v = parseWith(updateSchema, bodyOf(c));
    const cols = toColumns(v);
    const row = Object.keys(cols).length
      ? await templatesRepo.update(app.db, id, cols)
      : await templatesRepo.get(app.db, id);
    if (!row) throw notFound('Template not found');
    return c.json(toWireTemplate(row));
  });

  r.delete('/agent-templates/:id', requireAdmin, async (c) => {
    const id = c.req.param('id');
    const { changes } = await templatesRepo.delete(app.db, id);
    if (!changes) throw notFound('Template not found');
    return c.json({ ok: true, deleted: id });
  });

  r.post('/agent-templates/:id/apply/:agentId', requireAdmin, async (c) => {
    const t = await templatesRepo.get(app.db, c.req.param('id'));
    if (!t) throw notFound('Template not found');
    const agentId = c.req.param('agentId');
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
    // The hash is stripped by the row mapper (spec 02 W16).
    return c.json({ ok: true, agent: agent ? toPublicAgent(agent) : null, template: t.id });
  });

  return r;
}
