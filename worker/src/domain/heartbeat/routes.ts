import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { requireAdmin, resolveAgent } from '../../auth/principal.js';
import { HeartbeatService } from './service.js';

/** Heartbeats (spec 02 §3.3). */
export function heartbeatRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const hb = new HeartbeatService(app);

  r.post('/agents/heartbeat', async (c) => {
    const creds = c.get('credentials');
    const body = bodyOf(c);
    // The admin key (the key only, not a JWT) with body agent_id acts on that agent's behalf;
    // an admin key without agent_id falls through to agent-key auth (spec 02 §3.3).
    if (creds.hasAdminKeyHeader && body.agent_id !== undefined && (await creds.adminKey())) {
      if (typeof body.agent_id !== 'string' || !body.agent_id) throw badRequest('agent_id must be a string');
      return c.json(await hb.beat(body.agent_id, body, true));
    }
    const p = await resolveAgent(creds);
    if (p.kind !== 'agent') throw badRequest('Agent key required');
    c.set('principal', p);
    return c.json(await hb.beat(p.id, body, false));
  });

  r.put('/admin/agents/:id/heartbeat', requireAdmin, async (c) =>
    c.json(await hb.adminBeat(c.req.param('id'), bodyOf(c))),
  );

  return r;
}
