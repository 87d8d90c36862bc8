import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseWith, parseIntId } from '../../http/validate.js';
import { AppError, badRequest, notFound, unauthorized } from '../../http/errors.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import { principalOf, requireAdmin, resolveAny, requireHuman } from '../../auth/principal.js';
import { instanceUrl } from '../../http/instance-url.js';
import { StudioService, STUDIO_ROLES } from './service.js';

const role = z.enum(STUDIO_ROLES);
const createSchema = z.object({
  username: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._@-]+$/, 'may contain only letters, digits, ".", "_", "@" and "-"'),
  password: z.string(),
  display_name: z.string().trim().min(1).max(200),
  role: role.default('operator'),
});
const updateSchema = z.object({ role: role.optional(), display_name: z.string().trim().min(1).max(200).optional() });

/** Runs a credential check; a rejection counts against the caller's limiter window. */
async function countFailure<T>(limiter: RateLimiter, key: string, attempt: Promise<T>): Promise<T> {
  try {
    return await attempt;
  } catch (err) {
    if (err instanceof AppError && (err.status === 401 || err.status === 400)) limiter.fail(key);
    throw err;
  }
}

/** Operator accounts (spec 01 §2.6). */
export function studioRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const studio = new StudioService(app);
  const userId = (raw: string) => {
    const id = parseIntId(raw);
    if (id === null) throw notFound('User not found');
    return id;
  };

  r.post('/studio/login', async (c) => {
    // Credential limiters count failures only (weak spot 16): a team behind one NAT logging in
    // successfully never locks itself out; more than 10 failures in 15 minutes does.
    const ip = c.get('clientIp');
    app.limiters.login.check(ip);
    const { username, password } = bodyOf(c);
    if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
      throw badRequest('username and password are required');
    }
    return c.json(await countFailure(app.limiters.login, ip, studio.login(username, password)));
  });

  r.get('/studio/me', async (c) => {
    const creds = c.get('credentials');
    if (!creds.hasAuthorizationHeader && !creds.hasAdminKeyHeader) throw unauthorized('Not authenticated');
    const j = await creds.jwt();
    if (j.state === 'valid') return c.json(await studio.me(j.principal));
    if (j.state === 'invalid') throw unauthorized('Not authenticated');
    return c.json(await studio.me(await resolveAny(creds)));
  });

  r.post('/studio/me/password', requireHuman, async (c) => {
    const b = bodyOf(c);
    if (typeof b.current_password !== 'string' || typeof b.new_password !== 'string') {
      throw badRequest('current_password and new_password are required');
    }
    return c.json(await studio.changeOwnPassword(principalOf(c), b.current_password, b.new_password));
  });

  r.post('/studio/users', requireAdmin, async (c) => {
    const b = bodyOf(c);
    if (!b.username || !b.password || !b.display_name)
      throw badRequest('username, password, and display_name are required');
    const input = parseWith(createSchema, b);
    return c.json(await studio.create(input, principalOf(c)));
  });

  r.get('/studio/users', requireAdmin, async (c) => c.json(await studio.list()));

  r.put('/studio/users/:id', requireAdmin, async (c) => {
    const fields = parseWith(updateSchema, bodyOf(c));
    return c.json(await studio.update(userId(c.req.param('id')), fields));
  });

  r.put('/studio/users/:id/password', requireAdmin, async (c) => {
    const id = userId(c.req.param('id'));
    const { password } = bodyOf(c);
    return c.json(await studio.setPassword(id, typeof password === 'string' ? password : ''));
  });

  r.delete('/studio/users/:id', requireAdmin, async (c) => c.json(await studio.remove(userId(c.req.param('id')))));

  r.post('/studio/forgot-password', async (c) => {
    const { email } = bodyOf(c);
    if (typeof email !== 'string' || !email.trim()) throw badRequest('email is required');
    const normalised = email.trim().toLowerCase();
    app.limiters.forgotPasswordIp.hit(c.get('clientIp'));
    app.limiters.forgotPassword.hit(normalised);
    const baseUrl = app.config.publicBaseUrl ?? instanceUrl(app.config, c.req.raw);
    return c.json(await studio.forgotPassword(normalised, baseUrl));
  });

  r.post('/studio/reset-password', async (c) => {
    const ip = c.get('clientIp');
    app.limiters.resetPassword.check(ip);
    const { token, password } = bodyOf(c);
    if (typeof token !== 'string' || !token) throw badRequest('token is required');
    return c.json(
      await countFailure(
        app.limiters.resetPassword,
        ip,
        studio.resetPassword(token, typeof password === 'string' ? password : ''),
      ),
    );
  });

  return r;
}
