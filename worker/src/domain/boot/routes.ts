import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { principalOf, requireAgent } from '../../auth/principal.js';
import { BootService } from './service.js';

/** GET /boot/:agentId — agent key only, own id only (spec 02 §3.4). */
export function bootRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const boot = new BootService(app);
  r.get('/boot/:agentId', requireAgent, async (c) => {
    const variant = c.req.query('verbose') === 'true' ? 'verbose' : c.req.query('smart') === 'true' ? 'smart' : 'slim';
    return c.json(await boot.boot(principalOf(c), c.req.param('agentId'), variant));
  });
  return r;
}
