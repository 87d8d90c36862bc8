import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { idString, parseWith } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny, type Principal } from '../../auth/principal.js';
import { agentsRepo } from '../agents/repo.js';
import { skillsRepo, type SkillChanges } from './repo.js';

/** JSON-ish columns: objects and arrays are stored as JSON text, strings verbatim (spec 05 §0.2). */
const jsonText = z
  .union([z.string().max(100_000), z.record(z.string(), z.unknown()), z.array(z.unknown())])
  .transform((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
const text = (max: number) => z.string().max(max);

const createSchema = z.object({
  id: idString(128),
  name: z.string().trim().min(1).max(200),
  description: text(10_000).default(''),
  category: text(100).default('general'),
  version: text(50).default('1.0.0'),
  author: text(200).default(''),
  install_type: text(100).default('concept'),
  install_data: jsonText.default('{}'),
  required_capabilities: jsonText.default('[]'),
  tags: jsonText.default('[]'),
});

const updateSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: text(10_000).optional(),
  category: text(100).optional(),
  version: text(50).optional(),
  install_data: jsonText.optional(),
  required_capabilities: jsonText.optional(),
  tags: jsonText.optional(),
  status: text(50).optional(),
});

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

/** The skills registry (spec 05 §12). */
export function skillRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const load = async (id: string) => {
    const s = await skillsRepo.byId(app.db, id);
    if (!s) throw notFound('skill not found');
    return s;
  };

  r.get('/skills', requireAny, async (c) => {
    const q = c.req.query();
    return c.json(
      await skillsRepo.listPublished(app.db, { category: q.category || undefined, search: q.search || undefined }),
    );
  });

  r.get('/skills/:id', requireAny, async (c) => c.json(await load(c.req.param('id'))));

  r.post('/skills', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (typeof body.id !== 'string' || !body.id || typeof body.name !== 'string' || !body.name)
      throw badRequest('id and name required');
    const input = parseWith(createSchema, body);
    if (!(await skillsRepo.insert(app.db, input))) throw conflict('skill already exists');
    await app.events.emit({
      type: 'skill_created',
      agent: 'admin',
      projectId: '',
      summary: input.name,
      data: { skill_id: input.id },
    });
    return c.json({ id: input.id }, 201);
  });

  /** A PUT with nothing to change returns the row unchanged (the original's 404 was a quirk, B6). */
  r.put('/skills/:id', requireAdmin, async (c) => {
    const current = await load(c.req.param('id'));
    const changes: SkillChanges = parseWith(updateSchema, bodyOf(c));
    if (Object.values(changes).every((v) => v === undefined)) return c.json(current);
    return c.json(await skillsRepo.update(app.db, current.id, changes));
  });

  r.post('/skills/:id/install', requireAny, async (c) => {
    const p = principalOf(c);
    const body = bodyOf(c);
    const skill = await load(c.req.param('id'));
    const agentId = await targetAgent(app, p, body);
    const config =
      body.config === undefined || body.config === null
        ? '{}'
        : parseWith(z.object({ config: jsonText }), { config: body.config }).config;
    await skillsRepo.install(app.db, agentId, skill.id, config);
    await app.events.emit({
      type: 'skill_installed',
      agent: agentId,
      projectId: '',
      summary: skill.name,
      data: { skill_id: skill.id },
    });
    return c.json({ ok: true, skill_id: skill.id, agent_id: agentId });
  });

  r.post('/skills/:id/uninstall', requireAny, async (c) => {
    const p = principalOf(c);
    const skill = await load(c.req.param('id'));
    const agentId = await targetAgent(app, p, bodyOf(c));
    await skillsRepo.uninstall(app.db, agentId, skill.id);
    return c.json({ ok: true });
  });

  return r;
}
