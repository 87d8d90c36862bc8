import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { principalOf } from '../../auth/principal.js';
import { bugCategories } from '../bugs/service.js';
import { projectsRepo } from './repo.js';
import { createProject, deleteProject, requireProject, updateProject } from './service.js';
import {
  BugCategories,
  CreateProject,
  Project,
  ProjectDeleted,
  ProjectIdParams,
  ProjectListQuery,
  UpdateProject,
} from './schema.js';

const tags = ['Projects'];

/** Projects (spec 04 §5) and their bug categories (spec 03 §6). */
export function projectRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  defineRoute(
    r,
    {
      method: 'get',
      path: '/projects',
      tags,
      summary: 'Projects (optionally of one organisation)',
      access: 'any',
      query: ProjectListQuery,
      response: z.array(Project),
    },
    (_c, { query }) => projectsRepo.list(app.db, query.org_id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/projects',
      tags,
      summary: 'Create a project',
      access: 'admin',
      body: CreateProject,
      lazyBody: true,
      response: Project,
      errors: [409],
    },
    (c, input) => {
      const body = bodyOf(c);
      const blank = (v: unknown) => v === undefined || v === null || v === '';
      if (blank(body.id) || blank(body.name)) throw badRequest('id and name required');
      return createProject(app, principalOf(c), input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/projects/:id/bug-categories',
      tags,
      summary: "A project's bug categories (the defaults when unset)",
      access: 'any',
      params: ProjectIdParams,
      response: BugCategories,
    },
    async (_c, { params }) => ({ project_id: params.id, categories: await bugCategories(app, params.id) }),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/projects/:id',
      tags,
      summary: 'One project',
      access: 'any',
      params: ProjectIdParams,
      response: Project,
      errors: [404],
    },
    (_c, { params }) => requireProject(app, params.id),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/projects/:id',
      tags,
      summary: 'Update a project',
      access: 'admin',
      params: ProjectIdParams,
      body: UpdateProject,
      lazyBody: true,
      response: Project,
      errors: [404],
    },
    async (c, input) => {
      const id = input.params.id;
      await requireProject(app, id);
      return updateProject(app, principalOf(c), id, input.body);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/projects/:id',
      tags,
      summary: 'Delete a project nothing refers to',
      access: 'admin',
      params: ProjectIdParams,
      response: ProjectDeleted,
      errors: [404, 409],
    },
    (c, { params }) => deleteProject(app, principalOf(c), params.id),
  );

  return r;
}
