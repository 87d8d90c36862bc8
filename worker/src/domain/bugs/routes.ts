import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { bugsRepo } from './repo.js';
import { claimBug, createBug, deleteBug, requireBug, updateBug } from './service.js';
import {
  Bug,
  BugClaimed,
  BugIdParams,
  BugList,
  BugListQuery,
  BugOk,
  ClaimBug,
  CreateBug,
  UpdateBug,
} from './schema.js';

const tags = ['Bugs'];

/** Bugs (spec 03 §6). Thin: contract → guard → service → shaped answer. */
export function bugRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const id = (raw: string | undefined) => parseIntId(raw);

  defineRoute(
    r,
    {
      method: 'post',
      path: '/bugs',
      tags,
      summary: 'Report a bug',
      access: 'any',
      body: CreateBug,
      lazyBody: true,
      response: BugOk,
      errors: [429],
    },
    async (c, input) => {
      const p = principalOf(c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      const body = bodyOf(c);
      await app.guards.check('bug.create', body, p);
      const blank = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
      if (blank(body.title) || blank(body.description)) throw badRequest('title and description are required');
      return createBug(app, p, input.body);
    },
  );

  // An object, not an array: {bugs, counts} (spec 03 §6; counts are global).
  defineRoute(
    r,
    {
      method: 'get',
      path: '/bugs',
      tags,
      summary: 'Bugs, with global counts',
      access: 'any',
      query: BugListQuery,
      response: BugList,
    },
    async (_c, { query: { limit, offset, ...filters } }) => {
      const [bugs, counts] = await Promise.all([
        bugsRepo.list(app.db, filters, limit, offset),
        bugsRepo.counts(app.db),
      ]);
      return { bugs, counts };
    },
  );

  defineRoute(
    r,
    { method: 'get', path: '/bugs/:id', tags, summary: 'One bug', access: 'any', params: BugIdParams, response: Bug },
    (_c, { params }) => requireBug(app, id(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/bugs/:id/claim',
      tags,
      summary: 'Claim a bug (atomic; answers a fencing token)',
      access: 'any',
      params: BugIdParams,
      body: ClaimBug,
      response: BugClaimed,
      errors: [409, 503],
    },
    (c, { params, body }) => claimBug(app, principalOf(c), id(params.id), body),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/bugs/:id',
      tags,
      summary: 'Update a bug (status, severity, assignee, notes)',
      access: 'any',
      params: BugIdParams,
      body: UpdateBug,
      lazyBody: true,
      response: BugOk,
      errors: [409],
    },
    async (c, input) => {
      const bugId = id(input.params.id);
      await requireBug(app, bugId);
      return updateBug(app, principalOf(c), bugId, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/bugs/:id',
      tags,
      summary: 'Delete a bug',
      access: 'admin',
      params: BugIdParams,
      response: BugOk,
    },
    (c, { params }) => deleteBug(app, principalOf(c), id(params.id)),
  );

  return r;
}
