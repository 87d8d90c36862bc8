import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import {
  CreatePull,
  MergePull,
  PullCreated,
  PullList,
  PullMerged,
  PullParams,
  PullsQuery,
  RepoParams,
} from './schema.js';
import { GithubService } from './service.js';

const tags = ['GitHub'];

/** GitHub PR proxy (spec 05 §14): auth first, then the token check, then GitHub. */
export function githubRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const gh = new GithubService(app);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/github/prs/:owner/:repo',
      tags,
      summary: "A repository's pull requests",
      access: 'any',
      params: RepoParams,
      query: PullsQuery,
      response: PullList,
      errors: [502, 503],
    },
    (_c, { params, query }) => gh.listPulls(params.owner, params.repo, query.state || 'open'),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/github/prs/:owner/:repo',
      tags,
      summary: 'Open a pull request',
      access: 'admin',
      params: RepoParams,
      body: CreatePull,
      lazyBody: true,
      response: PullCreated,
      errors: [502, 503],
    },
    (c, { params }) => gh.createPull(params.owner, params.repo, bodyOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/github/prs/:owner/:repo/:number/merge',
      tags,
      summary: 'Merge a pull request (enforcement rules apply)',
      access: 'admin',
      params: PullParams,
      body: MergePull,
      lazyBody: true,
      response: PullMerged,
      errors: [409, 502, 503],
    },
    (c, { params }) => gh.mergePull(principalOf(c), params.owner, params.repo, params.number, bodyOf(c)),
  );

  return r;
}
