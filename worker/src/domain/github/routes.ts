import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { GithubService } from './service.js';

/** GitHub PR proxy (spec 05 §14): auth first, then the token check, then GitHub. */
export function githubRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const gh = new GithubService(app);

  r.get('/github/prs/:owner/:repo', requireAny, async (c) =>
    c.json(await gh.listPulls(c.req.param('owner'), c.req.param('repo'), c.req.query('state') || 'open')),
  );
  r.post('/github/prs/:owner/:repo', requireAdmin, async (c) =>
    c.json(await gh.createPull(c.req.param('owner'), c.req.param('repo'), bodyOf(c))),
  );
  r.post('/github/prs/:owner/:repo/:number/merge', requireAdmin, async (c) =>
    c.json(
      await gh.mergePull(principalOf(c), c.req.param('owner'), c.req.param('repo'), c.req.param('number'), bodyOf(c)),
    ),
  );

  return r;
}
