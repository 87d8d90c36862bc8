import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { ConfigService } from './service.js';

/** Instance configuration (spec 01 §5.1, weak spot 26, SEC-56). */
export function configRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const config = new ConfigService(app);

  r.get('/admin/config', requireAny, async (c) => c.json(await config.list(principalOf(c))));
  r.get('/admin/config/:key', requireAny, async (c) => c.json(await config.get(principalOf(c), c.req.param('key'))));
  r.put('/admin/config/:key', requireAdmin, async (c) => {
    app.limiters.adminWrite.hit(c.get('clientIp'));
    return c.json(await config.put(principalOf(c), c.req.param('key'), bodyOf(c).value));
  });

  return r;
}
