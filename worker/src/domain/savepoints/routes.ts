import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { savepointsRepo } from './repo.js';
import { SavepointService } from './service.js';
import {
  AgentIdParams,
  NoSavepoint,
  NotesBody,
  Savepoint,
  SavepointDiff,
  SavepointListQuery,
  SavepointSummary,
  SavepointWritten,
} from './schema.js';

const DAY = 86_400_000;
const tags = ['Savepoints'];

/** Savepoints: session state for resumption (spec 02 §3.7). */
export function savepointRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const sp = new SavepointService(app);

  app.jobs.push({ name: 'savepoint_retention', everyMs: DAY, run: (a) => savepointsRepo.pruneAll(a.db) });

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id/savepoint/diff',
      tags,
      summary: 'What changed since the latest savepoint, within what the agent may read',
      access: 'any',
      params: AgentIdParams,
      response: SavepointDiff,
      errors: [403],
    },
    (c, { params }) => sp.diff(principalOf(c), params.id),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id/savepoint',
      tags,
      summary: 'The latest savepoint',
      access: 'any',
      params: AgentIdParams,
      response: z.union([Savepoint, NoSavepoint]),
      errors: [403],
    },
    (c, { params }) => sp.latest(principalOf(c), params.id),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/agents/:id/savepoints',
      tags,
      summary: 'Recent savepoints, newest first',
      access: 'any',
      params: AgentIdParams,
      query: SavepointListQuery,
      response: z.array(SavepointSummary),
      errors: [403],
    },
    (c, { params, query }) => sp.list(principalOf(c), params.id, query.limit),
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/agents/:id/savepoint/notes',
      tags,
      summary: 'Notes for the agent’s next boot, on its latest savepoint',
      access: 'admin',
      params: AgentIdParams,
      body: NotesBody,
      response: SavepointWritten,
      errors: [404],
    },
    (c, { params }) => sp.setNotes(params.id, bodyOf(c).notes),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/agents/:id/savepoint',
      tags,
      summary: 'Write a savepoint on the agent’s behalf',
      access: 'admin',
      params: AgentIdParams,
      body: NotesBody,
      response: SavepointWritten,
      errors: [404],
    },
    (c, { params }) => sp.create(params.id, bodyOf(c).notes),
  );

  return r;
}
