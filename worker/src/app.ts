import { Hono } from 'hono';
import { RememberingRouter } from './http/router.js';
import type { Runtime } from './runtime.js';
import { createContext, type AppContext } from './context.js';
import { AppError } from './http/errors.js';
import type { AppEnv } from './http/env.js';
import { frame, identify, jsonBody } from './http/pipeline.js';
import { migrate } from './db/migrator.js';
import { coreMigrations } from './db/migrations.generated.js';
import { healthRoutes } from './domain/health/routes.js';
import { agentRoutes } from './domain/agents/routes.js';
import { studioRoutes } from './domain/studio/routes.js';
import { heartbeatRoutes } from './domain/heartbeat/routes.js';
import { bootRoutes } from './domain/boot/routes.js';
import { workRoutes } from './domain/work/routes.js';
import { messageRoutes } from './domain/messages/routes.js';
import { requestRoutes } from './domain/requests/routes.js';
import { savepointRoutes } from './domain/savepoints/routes.js';
import { templateRoutes } from './domain/templates/routes.js';
import { adminControlRoutes } from './domain/admin/routes.js';
import { eventRoutes } from './domain/events/routes.js';
import { webhookRoutes } from './domain/webhooks/routes.js';
import { channelRoutes } from './domain/channels/routes.js';
import { inboxRoutes } from './domain/inbox/routes.js';
import { teamChatRoutes } from './domain/teamchat/routes.js';
import { feedbackRoutes } from './domain/feedback/routes.js';
import { operatorRoutes } from './domain/operators/routes.js';
import { teamRoutes } from './domain/teams/routes.js';
import { teamSettingsRoutes } from './domain/team-settings/routes.js';
import { instanceRoutes } from './domain/instances/routes.js';
import { taskRoutes } from './domain/tasks/routes.js';
import { planRoutes } from './domain/plans/routes.js';
import { bugRoutes } from './domain/bugs/routes.js';
import { projectRoutes } from './domain/projects/routes.js';
import { orgRoutes } from './domain/orgs/routes.js';
import { approvalRoutes } from './domain/approvals/routes.js';
import { configRoutes } from './domain/config/routes.js';
import { contextRoutes } from './domain/context/routes.js';
import { spendRoutes } from './domain/spend/routes.js';
import { conceptRoutes } from './domain/concepts/routes.js';
import { adminOpsRoutes } from './domain/admin-ops/routes.js';
import { assetRoutes } from './domain/assets/routes.js';
import { fileRoutes } from './domain/files/routes.js';
import { skillRoutes } from './domain/skills/routes.js';
import { widgetRoutes } from './domain/widgets/routes.js';
import { reasoningRoutes } from './domain/reasoning/routes.js';
import { githubRoutes } from './domain/github/routes.js';
import { fileServerRoutes } from './domain/file-server/routes.js';
import { droneRoutes } from './domain/drones/routes.js';
import { pluginOpenApi, pluginRoutes, startPlugins } from './plugins/routes.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { mcpRoutes } from './mcp/routes.js';
import { a2aRoutes } from './domain/a2a/routes.js';
import { defineRoute } from './http/contract.js';
import { docsRoutes } from './docs/routes.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { voiceRoutes } from './domain/voice/routes.js';

const API_PREFIX = '/api/mycelium';

export interface MyceliumApp {
  app: Hono<AppEnv>;
  ctx: AppContext;
}

/** Applies the core schema. Both adapters call it before serving. */
export async function prepareDatabase(runtime: Runtime): Promise<string[]> {
  return migrate(runtime.db, coreMigrations);
}

/**
 * The only composition root: mounts the pipeline and every area's router, in the order of
 * spec 01 §1.4. Runs unchanged on Node and on Workers.
 */
export function createApp(runtime: Runtime, overrides: Partial<AppContext> = {}): MyceliumApp {
  const ctx = createContext(runtime, overrides);
  // Plugins first: their hooks and pre-mutation guards exist before any route serves (REL-13).
  startPlugins(ctx);
  const app = new Hono<AppEnv>({ router: new RememberingRouter() });

  app.use('*', frame(ctx));
  app.use('*', identify(ctx));
  app.use('*', jsonBody(ctx));

  app.route('/', healthRoutes(ctx));
  app.route('/', dashboardRoutes(ctx)); // before the API: its cookie middleware serves the API too
  app.route('/', mcpRoutes(ctx, app)); // remote MCP at /api/mycelium/mcp and /mcp; its tools call `app` in process
  app.route('/', a2aRoutes(ctx)); // A2A: agent card, JSON-RPC (also at /a2a) and /api/mycelium/a2a/* management
  app.route('/', voiceRoutes(ctx)); // ROOT: /api/voice/* (spec 01 §1.4 step 11); the /voice socket is the adapters'
  app.route('/', docsRoutes(ctx)); // /docs: the API reference, from /api/mycelium/openapi.json

  const api = new Hono<AppEnv>();
  api.route('/', agentRoutes(ctx));
  api.route('/', studioRoutes(ctx));
  api.route('/', heartbeatRoutes(ctx));
  api.route('/', bootRoutes(ctx));
  api.route('/', workRoutes(ctx));
  api.route('/', messageRoutes(ctx));
  api.route('/', requestRoutes(ctx));
  api.route('/', savepointRoutes(ctx));
  api.route('/', templateRoutes(ctx));
  api.route('/', adminControlRoutes(ctx));
  api.route('/', eventRoutes(ctx));
  api.route('/', webhookRoutes(ctx));
  api.route('/', channelRoutes(ctx));
  api.route('/', inboxRoutes(ctx));
  api.route('/', teamChatRoutes(ctx));
  api.route('/', feedbackRoutes(ctx));
  api.route('/', operatorRoutes(ctx));
  api.route('/', teamRoutes(ctx));
  api.route('/', teamSettingsRoutes(ctx));
  api.route('/', instanceRoutes(ctx));
  api.route('/', taskRoutes(ctx));
  api.route('/', planRoutes(ctx));
  api.route('/', bugRoutes(ctx));
  api.route('/', projectRoutes(ctx));
  api.route('/', orgRoutes(ctx));
  api.route('/', approvalRoutes(ctx));
  api.route('/', configRoutes(ctx));
  api.route('/', contextRoutes(ctx));
  api.route('/', spendRoutes(ctx));
  api.route('/', conceptRoutes(ctx));
  api.route('/', adminOpsRoutes(ctx));
  api.route('/', assetRoutes(ctx));
  api.route('/', fileRoutes(ctx));
  api.route('/', skillRoutes(ctx));
  api.route('/', widgetRoutes(ctx));
  api.route('/', reasoningRoutes(ctx));
  api.route('/', githubRoutes(ctx));
  api.route('/', fileServerRoutes(ctx));
  api.route('/', droneRoutes(ctx));
  api.route('/', pluginRoutes(ctx, api)); // last: plugin prefixes that collide with core routes are refused
  // The document of every route above, built on first request from the routes actually mounted.
  let openApiDoc: { key: string; doc: object } | undefined;
  defineRoute(
    api,
    {
      method: 'get',
      path: '/openapi.json',
      tags: ['Meta'],
      summary: 'This API as an OpenAPI 3.1 document',
      access: 'public',
      response: { contentType: 'application/json', description: 'OpenAPI 3.1 document' },
    },
    async (c) => {
      // Plugin routes join under one tag per enabled plugin; rebuilt when that set changes.
      const plugins = await pluginOpenApi(ctx);
      if (openApiDoc?.key !== plugins.key)
        openApiDoc = { key: plugins.key, doc: buildOpenApiDocument(app, plugins.operations) };
      return c.json(openApiDoc.doc);
    },
  );
  app.route(API_PREFIX, api);

  app.notFound((c) => c.json({ error: 'Not found' }, 404));

  app.onError((err, c) => {
    if (err instanceof AppError) {
      for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return c.json({ error: err.message, ...err.extra }, err.status);
    }
    // Stacks stay in the log; the client gets a fixed sentence (spec 07 SEC-54).
    ctx.log.error('unhandled error', {
      request_id: c.get('requestId'),
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    return c.json({ error: 'Internal server error' }, 500);
  });

  return { app, ctx };
}
