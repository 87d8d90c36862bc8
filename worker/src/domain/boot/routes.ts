import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { BootService } from './service.js';
import { BootAnswer, BootParams, BootQuery } from './schema.js';

/** GET /boot/:agentId — agent key only, own id only (spec 02 §3.4). */
export function bootRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const boot = new BootService(app);
  defineRoute(
    r,
    {
      method: 'get',
      path: '/boot/:agentId',
      tags: ['Boot'],
      summary: "An agent's session start: role, queue, inbox, context (marks it online)",
      access: 'agent',
      params: BootParams,
      query: BootQuery,
      response: BootAnswer,
      errors: [404],
    },
    (c, { params, query }) =>
      boot.boot(
        principalOf(c),
        params.agentId,
        query.verbose === 'true' ? 'verbose' : query.smart === 'true' ? 'smart' : 'slim',
      ),
  );
  return r;
}
