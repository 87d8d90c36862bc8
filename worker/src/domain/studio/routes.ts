import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { parseIntId } from '../../http/validate.js';
import { AppError, badRequest, notFound, unauthorized } from '../../http/errors.js';
import type { RateLimiter } from '../../http/rate-limit.js';
import { principalOf, resolveAny } from '../../auth/principal.js';
import { instanceUrl } from '../../http/instance-url.js';
import { StudioService } from './service.js';
import {
  ChangeOwnPassword,
  CreateUser,
  ForgotPassword,
  LoggedIn,
  LoginBody,
  Me,
  Message,
  PasswordChanged,
  PasswordSet,
  ResetPassword,
  SetPassword,
  StudioUser,
  UpdateUser,
  UserCreated,
  UserDeleted,
  UserIdParams,
  UserUpdated,
} from './schema.js';

const tags = ['Studio'];

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

  defineRoute(
    r,
    {
      method: 'post',
      path: '/studio/login',
      tags,
      summary: 'Log in: a JWT for the dashboard and the API',
      access: 'public',
      body: LoginBody,
      response: LoggedIn,
      errors: [401, 429],
    },
    (c) => {
      // Credential limiters count failures only (weak spot 16): a team behind one NAT logging in
      // successfully never locks itself out; more than 10 failures in 15 minutes does.
      const ip = c.get('clientIp');
      app.limiters.login.check(ip);
      const { username, password } = bodyOf(c);
      if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
        throw badRequest('username and password are required');
      }
      return countFailure(app.limiters.login, ip, studio.login(username, password));
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/studio/me',
      tags,
      summary: 'Who the caller is',
      access: 'any',
      // Its own check: no credentials at all is `Not authenticated`.
      guard: async (_c, next) => next(),
      response: Me,
    },
    async (c) => {
      const creds = c.get('credentials');
      if (!creds.hasAuthorizationHeader && !creds.hasAdminKeyHeader) throw unauthorized('Not authenticated');
      const j = await creds.jwt();
      if (j.state === 'valid') return studio.me(j.principal);
      if (j.state === 'invalid') throw unauthorized('Not authenticated');
      return studio.me(await resolveAny(creds));
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/studio/me/password',
      tags,
      summary: 'Change one’s own password (answers a fresh token)',
      access: 'human',
      body: ChangeOwnPassword,
      response: PasswordChanged,
    },
    (c) => {
      const b = bodyOf(c);
      if (typeof b.current_password !== 'string' || typeof b.new_password !== 'string') {
        throw badRequest('current_password and new_password are required');
      }
      return studio.changeOwnPassword(principalOf(c), b.current_password, b.new_password);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/studio/users',
      tags,
      summary: 'Create an operator account',
      access: 'admin',
      body: CreateUser,
      lazyBody: true,
      response: UserCreated,
      errors: [409],
    },
    (c, input) => {
      const b = bodyOf(c);
      if (!b.username || !b.password || !b.display_name)
        throw badRequest('username, password, and display_name are required');
      return studio.create(input.body, principalOf(c));
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/studio/users',
      tags,
      summary: 'Operator accounts',
      access: 'admin',
      response: z.array(StudioUser),
    },
    () => studio.list(),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/studio/users/:id',
      tags,
      summary: "Change an account's role or display name",
      access: 'admin',
      params: UserIdParams,
      body: UpdateUser,
      response: UserUpdated,
      errors: [404],
    },
    (_c, { params, body }) => studio.update(userId(params.id), body),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/studio/users/:id/password',
      tags,
      summary: "Set an account's password",
      access: 'admin',
      params: UserIdParams,
      body: SetPassword,
      lazyBody: true,
      response: PasswordSet,
      errors: [404],
    },
    (c, { params }) => {
      const id = userId(params.id);
      const { password } = bodyOf(c);
      return studio.setPassword(id, typeof password === 'string' ? password : '');
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/studio/users/:id',
      tags,
      summary: 'Delete an account',
      access: 'admin',
      params: UserIdParams,
      response: UserDeleted,
      errors: [404],
    },
    (_c, { params }) => studio.remove(userId(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/studio/forgot-password',
      tags,
      summary: 'Mail a reset link (same answer whether or not the address is known)',
      access: 'public',
      body: ForgotPassword,
      response: Message,
      errors: [429],
    },
    (c) => {
      const { email } = bodyOf(c);
      if (typeof email !== 'string' || !email.trim()) throw badRequest('email is required');
      const normalised = email.trim().toLowerCase();
      app.limiters.forgotPasswordIp.hit(c.get('clientIp'));
      app.limiters.forgotPassword.hit(normalised);
      const baseUrl = app.config.publicBaseUrl ?? instanceUrl(app.config, c.req.raw);
      return studio.forgotPassword(normalised, baseUrl);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/studio/reset-password',
      tags,
      summary: 'Set a new password with a reset token',
      access: 'public',
      body: ResetPassword,
      response: Message,
      errors: [429],
    },
    (c) => {
      const ip = c.get('clientIp');
      app.limiters.resetPassword.check(ip);
      const { token, password } = bodyOf(c);
      if (typeof token !== 'string' || !token) throw badRequest('token is required');
      return countFailure(
        app.limiters.resetPassword,
        ip,
        studio.resetPassword(token, typeof password === 'string' ? password : ''),
      );
    },
  );

  return r;
}
