import { Hono } from 'hono';
import type { Context } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseWith, idString } from '../../http/validate.js';
import { badRequest, forbidden } from '../../http/errors.js';
import { instanceUrl } from '../../http/instance-url.js';
import { principalOf, requireAdmin, requireAgent, requireAny } from '../../auth/principal.js';
import { AgentService, mcpConfig, RESERVED_AGENT_IDS } from './service.js';

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
      if (body[f] === undefined || body[f] === null || body[f] === '') throw badRequest('id, name, and project_id are required');
    }
    const input = parseWith(registerSchema, body);
    if (RESERVED_AGENT_IDS.has(input.id)) throw badRequest(`Agent id ${input.id} is reserved`);
    if (input.template_id) throw badRequest(`Template ${input.template_id} not found`);
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

  r.get('/agents', requireAny, async (c) => c.json(await agents.list()));

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

  return r;
}
