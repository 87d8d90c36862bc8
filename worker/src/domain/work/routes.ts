import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { WorkService } from './service.js';
import { autoDispatch } from '../dispatch/service.js';
import { setAutoDispatcher } from '../tasks/service.js';
import { WorkAgentParams, WorkAnswer, WorkQuery, WorkRequestBody, WorkRequested } from './schema.js';

const tags = ['Work'];

/** The work queue and work requests (spec 02 §3.5). */
export function workRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const work = new WorkService(app);
  // Completing a task runs a dispatch pass (spec 02 §3.6 trigger b); the tasks area calls it.
  setAutoDispatcher(app, (trigger) => autoDispatch(app, trigger));

  defineRoute(
    r,
    {
      method: 'post',
      path: '/work/request',
      tags,
      summary: 'Ask the coordinator for work (a request message)',
      access: 'agent',
      body: WorkRequestBody,
      response: WorkRequested,
      errors: [503],
    },
    (c) => work.requestWork(principalOf(c), bodyOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/work/:agentId',
      tags,
      summary: "An agent's ranked work queue (optionally claiming the first item)",
      access: 'any',
      params: WorkAgentParams,
      query: WorkQuery,
      response: WorkAnswer,
      errors: [404],
    },
    (c, { params, query }) => work.getWork(principalOf(c), params.agentId, query.auto_claim),
  );

  return r;
}
