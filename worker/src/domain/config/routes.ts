import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { ConfigService } from './service.js';
import { ConfigEntry, ConfigKeyParams, ConfigValue, PutConfig } from './schema.js';

const tags = ['Config'];

/** Instance configuration (spec 01 §5.1, weak spot 26, SEC-56). */
export function configRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const config = new ConfigService(app);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/config',
      tags,
      summary: 'Configuration keys the caller may see (admins: all)',
      access: 'any',
      response: z.array(ConfigEntry),
    },
    (c) => config.list(principalOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/config/:key',
      tags,
      summary: 'One configuration value (hidden keys answer 404)',
      access: 'any',
      params: ConfigKeyParams,
      response: ConfigValue,
      errors: [404],
    },
    (c, { params }) => config.get(principalOf(c), params.key),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/admin/config/:key',
      tags,
      summary: 'Set a configuration value (admin_status is the kill switch too)',
      access: 'admin',
      params: ConfigKeyParams,
      body: PutConfig,
      response: ConfigValue,
      errors: [429],
    },
    (c, { params }) => {
      app.limiters.adminWrite.hit(c.get('clientIp'));
      return config.put(principalOf(c), params.key, bodyOf(c).value);
    },
  );

  return r;
}
