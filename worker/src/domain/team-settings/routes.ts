import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { principalOf, requireAdmin } from '../../auth/principal.js';
import { TeamSettingsService } from './service.js';

const keyOk = (k: string) => {
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(k))
    throw badRequest('key may contain only letters, digits, "_", "." and "-" (max 100)');
  return k;
};

/** Team settings (spec 01 §2.9), all admin. */
export function teamSettingsRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const settings = new TeamSettingsService(app);

  r.get('/team-settings', requireAdmin, async (c) => c.json(await settings.all()));
  r.post('/team-settings/sync', requireAdmin, async (c) => c.json(await settings.sync()));
  r.get('/team-settings/:section', requireAdmin, async (c) => c.json(await settings.section(c.req.param('section'))));
  r.put('/team-settings/:section/:key', requireAdmin, async (c) => {
    const body = bodyOf(c);
    if (body.value === undefined || body.value === null) throw badRequest('value is required');
    const raw = JSON.stringify(body.value);
    if (raw.length > 100_000) throw badRequest('value exceeds max length (100000 chars)');
    return c.json(await settings.put(principalOf(c), c.req.param('section'), keyOk(c.req.param('key')), body.value));
  });
  r.delete('/team-settings/:section/:key', requireAdmin, async (c) =>
    c.json(await settings.remove(principalOf(c), c.req.param('section'), c.req.param('key'))),
  );

  return r;
}
