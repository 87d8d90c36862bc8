import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { OkTrue } from '../../http/contract-fields.js';
import { badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { orgsRepo } from './repo.js';
import { createOrg, deleteOrg, requireOrg, updateOrg } from './service.js';
import { CreateOrg, Org, OrgIdParams, OrgWithProjects, UpdateOrg } from './schema.js';

const tags = ['Organizations'];

/** Organisations (spec 01 §2.9; teams live in their own area). */
export function orgRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    { method: 'get', path: '/orgs', tags, summary: 'Organisations', access: 'any', response: z.array(Org) },
    () => orgsRepo.list(app.db),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/orgs',
      tags,
      summary: 'Create an organisation',
      access: 'admin',
      body: CreateOrg,
      lazyBody: true,
      response: Org,
      errors: [409],
    },
    (c, input) => {
      const body = bodyOf(c);
      const blank = (v: unknown) => v === undefined || v === null || v === '';
      if (blank(body.id) || blank(body.name)) throw badRequest('id and name required');
      return createOrg(app, principalOf(c), input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/orgs/:id',
      tags,
      summary: 'One organisation with its projects',
      access: 'any',
      params: OrgIdParams,
      response: OrgWithProjects,
      errors: [404],
    },
    async (_c, { params }) => {
      const org = await requireOrg(app, params.id);
      return { ...org, projects: await orgsRepo.projects(app.db, org.id) };
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/orgs/:id',
      tags,
      summary: 'Update an organisation',
      access: 'admin',
      params: OrgIdParams,
      body: UpdateOrg,
      lazyBody: true,
      response: Org,
      errors: [404],
    },
    async (c, input) => {
      const id = input.params.id;
      await requireOrg(app, id);
      return updateOrg(app, principalOf(c), id, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/orgs/:id',
      tags,
      summary: 'Delete an organisation without projects or teams',
      access: 'admin',
      params: OrgIdParams,
      response: OkTrue,
      errors: [404, 409],
    },
    (c, { params }) => deleteOrg(app, principalOf(c), params.id),
  );

  return r;
}
