import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { notFound } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf, type Principal } from '../../auth/principal.js';
import { actingIdentity, assertProjectScope } from '../../auth/scope.js';
import { createWidget } from './service.js';
import { widgetsRepo, type WidgetChanges } from './repo.js';
import {
  CreateWidget,
  UpdateWidget,
  Widget,
  WidgetArchived,
  WidgetCreated,
  WidgetIdParams,
  WidgetListQuery,
} from './schema.js';

const tags = ['Widgets'];

/** Dashboard widgets pushed by agents (spec 05 §13); writes are project-scoped (SEC-15). */
export function widgetRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();

  /** Existence (404) before scope (403) before any write, as SEC-15 requires. */
  const loadScoped = async (p: Principal, rawId: string) => {
    const id = parseIntId(rawId);
    const w = id === null ? undefined : await widgetsRepo.byId(app.db, id);
    if (!w) throw notFound('widget not found');
    await assertProjectScope(app.db, p, w.project_id, { write: true });
    return w;
  };

  defineRoute(
    r,
    {
      method: 'get',
      path: '/widgets',
      tags,
      summary: 'Active widgets, by position',
      access: 'any',
      query: WidgetListQuery,
      response: z.array(Widget),
    },
    (_c, { query }) =>
      widgetsRepo.listActive(app.db, {
        agent_id: query.agent_id || undefined,
        project_id: query.project_id || undefined,
      }),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/widgets',
      tags,
      summary: 'Push a widget',
      access: 'any',
      body: CreateWidget,
      response: WidgetCreated,
      status: 201,
    },
    async (c, { body: { agent_id, ...input } }) => {
      const p = principalOf(c);
      // Agents own their widgets; admins may push one on an agent's behalf.
      const owner = actingIdentity(p, agent_id);
      await assertProjectScope(app.db, p, input.project_id, { write: true });
      const w = await createWidget(app, { ...input, agent_id: owner });
      return { id: w.id };
    },
  );

  /** A PUT with nothing to change returns the row (the original's 404 was a quirk). */
  defineRoute(
    r,
    {
      method: 'put',
      path: '/widgets/:id',
      tags,
      summary: 'Update a widget',
      access: 'any',
      params: WidgetIdParams,
      body: UpdateWidget,
      lazyBody: true,
      response: Widget,
    },
    async (c, input) => {
      const w = await loadScoped(principalOf(c), input.params.id);
      const changes: WidgetChanges = input.body;
      if (Object.values(changes).every((v) => v === undefined)) return w;
      return widgetsRepo.update(app.db, w.id, changes);
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/widgets/:id',
      tags,
      summary: 'Archive a widget',
      access: 'any',
      params: WidgetIdParams,
      response: WidgetArchived,
    },
    async (c, { params }) => {
      const w = await loadScoped(principalOf(c), params.id);
      await widgetsRepo.update(app.db, w.id, { status: 'archived' });
      return { ok: true as const };
    },
  );

  return r;
}
