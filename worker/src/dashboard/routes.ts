import { Hono, type Context } from 'hono';
import type { AppContext } from '../context.js';
import type { AppEnv } from '../http/env.js';
import { bodyOf } from '../http/body.js';
import { AppError, badRequest, forbidden } from '../http/errors.js';
import { defineRoute, queryInt } from '../http/contract.js';
import { documented } from '../http/contract-fields.js';
import { z } from 'zod';
import { Credentials, principalOf } from '../auth/principal.js';
import {
  clearedSessionCookie,
  cookieCredentialHeaders,
  isDashboardRequest,
  sessionCookie,
} from '../auth/session-cookie.js';
import { StudioService } from '../domain/studio/service.js';
import { DASHBOARD_ASSETS } from './assets.generated.js';
import { spendChart } from './service.js';

/** Cookies get `Secure` whenever the browser reached us over HTTPS (directly or via a proxy). */
function isHttps(c: Context<AppEnv>): boolean {
  const fwd = c.req.header('x-forwarded-proto')?.split(',')[0].trim();
  return fwd === 'https' || new URL(c.req.url).protocol === 'https:';
}

/** Session routes answer only the dashboard's own scripts: no login CSRF, no cross-site logout. */
function assertDashboardRequest(c: Context<AppEnv>) {
  if (!isDashboardRequest(c.req.raw.headers)) throw forbidden('Dashboard requests must come from the dashboard');
}

/**
 * The operator dashboard (issue 13): hand-written files under ui/, served at `/` and
 * `/dashboard/*` on both runtimes, plus the small session routes that keep the operator's JWT in
 * an HttpOnly cookie. The page talks to the ordinary API; the middleware below lets that API
 * accept the cookie for the dashboard's requests only (see auth/session-cookie.ts).
 */
export function dashboardRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const studio = new StudioService(app);

  // Runs for every path (mounted before the API): the session cookie becomes bearer credentials
  // when, and only when, the request is the dashboard's own.
  r.use('*', async (c, next) => {
    const headers = cookieCredentialHeaders(c.req.raw.headers);
    if (headers) c.set('credentials', new Credentials(app, headers, c.get('clientIp')));
    await next();
  });

  const tags = ['Dashboard'];
  const shell = (c: Context<AppEnv>) => serveAsset(c, 'index.html');
  const page = (path: string, summary: string, handler: (c: Context<AppEnv>) => Response, alias?: boolean) =>
    defineRoute(
      r,
      {
        method: 'get',
        path,
        tags,
        summary,
        access: 'public',
        alias,
        response: { contentType: 'text/html', description: 'The dashboard page or one of its files (ETag, 304)' },
      },
      handler,
    );
  page('/', 'The operator dashboard', shell);
  page('/dashboard', 'The operator dashboard', shell, true);
  page('/dashboard/assets/*', "The dashboard's scripts and styles", (c) =>
    serveAsset(c, c.req.path.slice('/dashboard/assets/'.length)),
  );

  const Login = z.object({ username: documented({ type: 'string' }), password: documented({ type: 'string' }) });
  const Session = z.object({
    ok: z.literal(true),
    user: z.record(z.string(), z.unknown()).meta({ description: 'The operator (no password hash)' }),
  });
  defineRoute(
    r,
    {
      method: 'post',
      path: '/dashboard/session',
      tags,
      summary: "Sign in: the operator's session goes into an HttpOnly cookie",
      description: "Only the dashboard's own scripts may call it (Sec-Fetch-Site / Origin check).",
      access: 'public',
      body: Login,
      lazyBody: true,
      response: Session,
      errors: [400, 401, 403, 429],
    },
    async (c) => {
      assertDashboardRequest(c);
      // The same limiter as POST /studio/login: failures count, successes never lock a team out.
      const ip = c.get('clientIp');
      app.limiters.login.check(ip);
      const { username, password } = bodyOf(c);
      if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
        app.limiters.login.fail(ip);
        throw badRequest('username and password are required');
      }
      let session: Awaited<ReturnType<StudioService['login']>>;
      try {
        session = await studio.login(username, password);
      } catch (err) {
        if (err instanceof AppError && err.status === 401) app.limiters.login.fail(ip);
        throw err;
      }
      // The token goes into the cookie only: the page's scripts never see it.
      c.header('Set-Cookie', sessionCookie(session.token, isHttps(c)));
      c.header('Cache-Control', 'no-store');
      return { ok: true as const, user: session.user as unknown as Record<string, unknown> };
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/dashboard/session',
      tags,
      summary: 'Sign out (clears the session cookie)',
      access: 'public',
      response: z.object({ ok: z.literal(true) }),
      errors: [403],
    },
    (c) => {
      assertDashboardRequest(c);
      c.header('Set-Cookie', clearedSessionCookie(isHttps(c)));
      return { ok: true as const };
    },
  );

  // Spend per UTC day and per agent for the chart (the ledger API has totals only).
  defineRoute(
    r,
    {
      method: 'get',
      path: '/dashboard/api/spend',
      tags,
      summary: 'Spend per UTC day and per agent, for the chart',
      access: 'human',
      query: z.object({ days: queryInt(14, 1, 90) }),
      response: z.record(z.string(), z.unknown()).meta({ description: 'days, per-day totals and per-agent series' }),
    },
    (c, { query }) => spendChart(app, principalOf(c), query.days),
  );

  // Unknown data routes stay JSON 404s; only page paths fall through to the page.
  r.all('/dashboard/api/*', (c) => c.json({ error: 'Not found' }, 404));
  // Deep links (/dashboard/approvals, …) load the same page; its router picks the view.
  page('/dashboard/*', 'Deep links of the dashboard (same page)', shell, true);

  return r;
}

function serveAsset(c: Context<AppEnv>, name: string) {
  const asset = Object.hasOwn(DASHBOARD_ASSETS, name) ? DASHBOARD_ASSETS[name] : undefined;
  if (!asset) return c.json({ error: 'Not found' }, 404);
  // Revalidated on every load (cheap 304s), so a new deploy is picked up at once.
  const headers = { 'Content-Type': asset.type, ETag: asset.etag, 'Cache-Control': 'no-cache' };
  if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
  return c.body(asset.body, 200, headers);
}
