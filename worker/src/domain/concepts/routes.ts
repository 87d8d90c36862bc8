import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { ConceptService } from './service.js';
import {
  Concept,
  ConceptDeleted,
  ConceptIdParams,
  ConceptLinked,
  ConceptLinkParams,
  ConceptUnlinked,
  CreateConcept,
  DeleteConcept,
  DeleteConceptQuery,
  LinkConcept,
  ProjectConcept,
  ProjectParams,
  UpdateConcept,
} from './schema.js';

const tags = ['Concepts'];

/** Shared concepts and their project links (spec 04 §5–6). */
export function conceptRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const concepts = new ConceptService(app);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/concepts',
      tags,
      summary: 'List concepts with their linked projects',
      access: 'any',
      query: z.object({ type: z.string().optional() }),
      response: z.array(Concept),
    },
    (_c, { query }) => concepts.list(query.type),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/concepts/:id',
      tags,
      summary: 'One concept',
      access: 'any',
      params: ConceptIdParams,
      response: Concept,
    },
    (_c, { params }) => concepts.get(parseIntId(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/concepts',
      tags,
      summary: 'Create a concept',
      access: 'any',
      body: CreateConcept,
      response: Concept,
    },
    (c, { body }) =>
      concepts.create(principalOf(c), {
        name: body.name,
        type: (body.type as string | undefined) ?? 'custom',
        description: body.description ?? '',
        data: body.data,
      }),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/concepts/:id',
      tags,
      summary: 'Update a concept (its creator or an admin)',
      access: 'any',
      params: ConceptIdParams,
      body: UpdateConcept,
      response: Concept,
    },
    (c, { params, body }) =>
      concepts.update(principalOf(c), parseIntId(params.id), {
        name: body.name,
        description: body.description,
        type: body.type as string | undefined,
        data: body.data,
      }),
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/concepts/:id',
      tags,
      summary: 'Delete a concept (approval gate)',
      access: 'any',
      params: ConceptIdParams,
      query: DeleteConceptQuery,
      body: DeleteConcept,
      response: ConceptDeleted,
    },
    (c, { params, query, body }) =>
      concepts.remove(principalOf(c), parseIntId(params.id), body.approval_id ?? query.approval_id),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/concepts/:id/link',
      tags,
      summary: 'Link a concept to a project',
      access: 'any',
      params: ConceptIdParams,
      body: LinkConcept,
      response: ConceptLinked,
    },
    (c, { params, body }) => concepts.link(principalOf(c), parseIntId(params.id), body.project_id as string),
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/concepts/:id/link/:projectId',
      tags,
      summary: 'Unlink a concept from a project',
      access: 'any',
      params: ConceptLinkParams,
      response: ConceptUnlinked,
    },
    (c, { params }) => concepts.unlink(principalOf(c), parseIntId(params.id), params.projectId),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/projects/:projectId/concepts',
      tags,
      summary: "A project's linked concepts",
      access: 'any',
      params: ProjectParams,
      response: z.array(ProjectConcept),
    },
    (_c, { params }) => concepts.forProject(params.projectId),
  );

  return r;
}
