import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { resolveAgent } from '../../auth/principal.js';
import { HeartbeatService } from './service.js';
import { AdminHeartbeatAnswer, AdminHeartbeatBody, AgentIdParams, HeartbeatAnswer, HeartbeatBody } from './schema.js';

const tags = ['Heartbeat'];

/** Heartbeats (spec 02 §3.3). */
export function heartbeatRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const hb = new HeartbeatService(app);

  defineRoute(
    r,
    {
      method: 'post',
      path: '/agents/heartbeat',
      tags,
      summary: "An agent's heartbeat: presence, savepoint, inbox, auto-dispatch",
      description: "An agent key beats for itself; `X-Admin-Key` with body `agent_id` beats on that agent's behalf.",
      access: 'agent',
      // Its own authentication below: the admin key with agent_id, else the agent key (spec 02 §3.3).
      guard: async (_c, next) => next(),
      body: HeartbeatBody,
      response: HeartbeatAnswer,
      errors: [404],
    },
    async (c) => {
      const creds = c.get('credentials');
      const body = bodyOf(c);
      // The admin key (the key only, not a JWT) with body agent_id acts on that agent's behalf;
      // an admin key without agent_id falls through to agent-key auth (spec 02 §3.3).
      if (creds.hasAdminKeyHeader && body.agent_id !== undefined && (await creds.adminKey())) {
        if (typeof body.agent_id !== 'string' || !body.agent_id) throw badRequest('agent_id must be a string');
        return hb.beat(body.agent_id, body, true);
      }
      const p = await resolveAgent(creds);
      if (p.kind !== 'agent') throw badRequest('Agent key required');
      c.set('principal', p);
      return hb.beat(p.id, body, false);
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/admin/agents/:id/heartbeat',
      tags,
      summary: "Liveness on an agent's behalf (no inbox, no dispatch)",
      access: 'admin',
      params: AgentIdParams,
      body: AdminHeartbeatBody,
      response: AdminHeartbeatAnswer,
      errors: [404],
    },
    (c, { params }) => hb.adminBeat(params.id, bodyOf(c)),
  );

  return r;
}
