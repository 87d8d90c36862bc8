import { Hono } from 'hono';
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { parseWith, idString, queryInt } from '../../http/validate.js';
import { badRequest, forbidden } from '../../http/errors.js';
import { instanceUrl } from '../../http/instance-url.js';
import { principalOf, requireAdmin, requireAgent, requireAny } from '../../auth/principal.js';
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

const shortText = z.string().max(200);
const registerSchema = z.object({
  id: idString(128),
  name: z.string().trim().min(1).max(200),
  project_id: z.string().trim().min(1).max(200),
  capabilities: z.array(z.string().max(100)).max(100).optional(),
  template_id: z.string().max(128).optional(),
  agent_type: shortText.optional(),
  llm_backend: shortText.optional(),
  llm_model: shortText.optional(),
  runtime: shortText.optional(),
});

/** Agent registry: registration, key rotation, roster reads (spec 01 §2.8, 02 §3.1–3.2). */
export function agentRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const agents = new AgentService(app);

  const register = async (c: Context<AppEnv>) => {
    app.limiters.adminWrite.hit(c.get('clientIp'));
    const body = bodyOf(c);
    for (const f of ['id', 'name', 'project_id'] as const) {
      if (body[f] === undefined || body[f] === null || body[f] === '')
        throw badRequest('id, name, and project_id are required');
    }
    const input = parseWith(registerSchema, body);
    if (RESERVED_AGENT_IDS.has(input.id)) throw badRequest(`Agent id ${input.id} is reserved`);
    // The URL is resolved before anything is written (a bad Host creates nothing).
    const baseUrl = instanceUrl(app.config, c.req.raw);
    return c.json(await agents.register(input, principalOf(c), baseUrl));
  };
  r.post('/admin/agents', requireAdmin, register);
  // The SDK's `mycelium-agent init` registers through POST /agents with the admin key.
  r.post('/agents', requireAdmin, register);

  r.put('/admin/agents/:id/key', requireAdmin, async (c) => {
    app.limiters.adminWrite.hit(c.get('clientIp'));
    return c.json(await agents.rotateKey(c.req.param('id'), 'admin'));
  });

  r.post('/agents/rekey', requireAgent, async (c) => {
    const p = principalOf(c);
    if (p.kind !== 'agent') throw forbidden('Agent key required');
    return c.json(await agents.rotateKey(p.id, 'self'));
  });

  r.get('/agents', requireAny, async (c) => {
    const q = queryOf(c);
    const pick = (k: string) => (q[k] ? q[k] : undefined);
    return c.json(
      await agents.list({
        status: pick('status'),
        project_id: pick('project_id'),
        agent_type: pick('agent_type'),
        role: pick('role'),
      }),
    );
  });

  // Literal routes first: they shadow /agents/:id (spec 02 §3 route-order facts).
  r.get('/agents/profiles', requireAny, async (c) => c.json((await profilesRepo.list(app.db)).map(presentProfile)));

  r.get('/agents/leaderboard', requireAny, async (c) => {
    const limit = queryInt(c.req.query('limit') || undefined, 'limit', 20, 1, 100);
    const rows = await profilesRepo.leaderboard(app.db, limit);
    return c.json(
      rows.map((p) => ({
        agent_id: p.agent_id,
        display_name: p.display_name,
        specializations: parseArray(p.specializations),
        total_tasks_completed: p.total_tasks_completed,
        total_bugs_fixed: p.total_bugs_fixed,
        total_prs_created: p.total_prs_created,
        session_count: p.session_count,
        first_seen_at: p.first_seen_at,
        last_active_at: p.last_active_at,
      })),
    );
  });

  r.delete('/admin/agents/:id', requireAdmin, async (c) => {
    app.limiters.adminWrite.hit(c.get('clientIp'));
    return c.json(await removeAgent(app, c.req.param('id')));
  });

  r.put('/agents/:id', requireAny, async (c) =>
    c.json(await updateAgent(app, principalOf(c), c.req.param('id'), bodyOf(c))),
  );

  // Skills live in the skills area (spec 05); until its tables exist the installed list is empty.
  r.get('/agents/:agentId/skills', requireAny, async (c) => c.json(await installedSkills(app, c.req.param('agentId'))));

  r.get('/agents/:id/profile', requireAny, async (c) => c.json(await getProfile(app, c.req.param('id'))));
  r.put('/agents/:id/profile', requireAny, async (c) =>
    c.json(await updateProfile(app, principalOf(c), c.req.param('id'), bodyOf(c))),
  );
  r.get('/agents/:id/identity', requireAny, async (c) => c.json(await getIdentity(app, c.req.param('id'))));
  r.put('/agents/:id/identity', requireAdmin, async (c) =>
    c.json(await updateIdentity(app, c.req.param('id'), bodyOf(c))),
  );

  r.get('/agents/:id/mcp-config', requireAdmin, async (c) => {
    const baseUrl = instanceUrl(app.config, c.req.raw);
    const agent = await agents.get(c.req.param('id'));
    return c.json({
      agent_id: agent.id,
      mcp_config: mcpConfig(baseUrl, agent.id, '<YOUR_AGENT_API_KEY>'),
      note: "Replace <YOUR_AGENT_API_KEY> with the agent's actual API key",
    });
  });

  r.get('/agents/:id', requireAny, async (c) => c.json(await agents.get(c.req.param('id'))));

  r.route('/', calibrationRoutes(app));

  return r;
}
