import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { AppError, badRequest, forbidden } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { instanceUrl } from '../../http/instance-url.js';
import { parseIntId } from '../../http/validate.js';
import { Credentials, principalOf, resolveAny, type Principal } from '../../auth/principal.js';
import { credentialHeaders } from '../../mcp/auth.js';
import { VERSION } from '../../version.js';
import { A2A_VERSION, agentCard, RPC, RpcError } from './protocol.js';
import { A2AService } from './service.js';
import {
  AgentIdParams,
  AgentsQuery,
  CardResponse,
  Deleted,
  DiscoverBody,
  Discovered,
  ExternalAgent,
  OutboundQuery,
  OutboundTask,
  RpcBody,
  RpcResponse,
  SendBody,
  Sent,
  TaskIdParams,
} from './schema.js';

const tags = ['A2A'];
/**
 * Agent or admin: `agentOrAdmin` in the handler authenticates (its own sentences, the bearer agent
 * key, SEC-35 before any JSON-RPC processing), so the contract's guard only passes through.
 */
const inHandler: MiddlewareHandler<AppEnv> = (_c, next) => next();
const agentOrAdminAccess = { access: 'any' as const, guard: inHandler };

const API = '/api/mycelium';

/** v1.0 method names, then the legacy names of v0.3 and of the original's early draft (answered in their shapes). */
const V1 = new Set(['SendMessage', 'GetTask', 'ListTasks', 'CancelTask']);
const LEGACY: Record<string, string> = {
  'message/send': 'SendMessage',
  'tasks/send': 'SendMessage',
  'tasks/get': 'GetTask',
  'tasks/list': 'ListTasks',
  'tasks/cancel': 'CancelTask',
};
const STREAMING = new Set([
  'SendStreamingMessage',
  'SubscribeToTask',
  'message/stream',
  'tasks/resubscribe',
  'tasks/sendSubscribe',
]);

/** Agent or admin (key or admin operator), resolved from the same credentials as REST; an agent key may come as a bearer. */
async function agentOrAdmin(app: AppContext, c: Context<AppEnv>): Promise<Principal> {
  const headers = credentialHeaders(c.req.raw.headers);
  if (!headers.has('x-agent-key') && !headers.has('x-admin-key') && !headers.has('authorization'))
    throw new AppError(401, 'Authentication required');
  const p = await resolveAny(new Credentials(app, headers, c.get('clientIp')));
  if (p.kind === 'operator' && !p.isAdmin) throw forbidden('Agent or admin credential required');
  return p;
}

/**
 * A2A (spec 06 §5.6 done right, issue 12): the Agent Card, the JSON-RPC endpoint (v1.0 methods and
 * the original's legacy ones), and the management routes for remote agents. Mounted on the root app
 * because the card and `POST /a2a` live outside /api/mycelium.
 */
export function a2aRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const a2a = new A2AService(app);

  // Completing the Mycelium task completes the A2A task (the original's hook never fired).
  // Not async: every other event passes by without a promise (issue 11, bus.ts publish).
  app.events.subscribe((ev) =>
    ev.type === 'task_done' || ev.type === 'task_cancelled' ? a2a.onTaskEvent(ev.type, ev.data, ev.summary) : undefined,
  );

  // ---- Agent Card (public) ----
  const card = (legacy: boolean) => (c: Context<AppEnv>) =>
    c.json(agentCard(instanceUrl(app.config, c.req.raw), VERSION, legacy));
  defineRoute(
    r,
    {
      method: 'get',
      path: '/.well-known/agent-card.json',
      tags,
      summary: 'A2A Agent Card (v1.0)',
      access: 'public',
      response: CardResponse,
    },
    card(false),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/.well-known/agent.json',
      tags,
      summary: 'A2A Agent Card (v0.3 shape)',
      access: 'public',
      response: CardResponse,
      alias: true,
    },
    card(true),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: `${API}/a2a/agent-card`,
      tags,
      summary: 'A2A Agent Card (v0.3 shape)',
      access: 'public',
      response: CardResponse,
    },
    card(true),
  );
  // ---- JSON-RPC ----
  const rpc = async (c: Context<AppEnv>) => {
    // SEC-35: credentials are checked before any JSON-RPC processing.
    const p = await agentOrAdmin(app, c);
    c.header('A2A-Version', A2A_VERSION);
    const body = c.get('body') as Record<string, unknown>;
    const id = body && (typeof body.id === 'string' || typeof body.id === 'number') ? body.id : null;
    const fail = (code: number, message: string) => c.json({ jsonrpc: '2.0', id, error: { code, message } });
    if (!body || Array.isArray(body) || body.jsonrpc !== '2.0' || typeof body.method !== 'string')
      return fail(RPC.invalidRequest, 'Invalid Request');
    const asked = c.req.header('a2a-version') ?? c.req.query('A2A-Version');
    if (asked && !/^(1(\.\d+)*|0\.3(\.\d+)*)$/.test(asked.trim()))
      return fail(RPC.versionNotSupported, `A2A version ${asked} is not supported (this server speaks ${A2A_VERSION})`);
    const method = body.method;
    if (STREAMING.has(method))
      return fail(
        RPC.unsupportedOperation,
        'Streaming is not supported by this agent (capabilities.streaming is false)',
      );
    const op = V1.has(method) ? method : LEGACY[method];
    if (!op) return fail(RPC.methodNotFound, `Method not found: ${method}`);
    const legacy = !V1.has(method);
    const params =
      body.params && typeof body.params === 'object' && !Array.isArray(body.params)
        ? (body.params as Record<string, unknown>)
        : {};
    try {
      let result: unknown;
      if (op === 'SendMessage') {
        hitAgentWrite(app.limiters, p, c.get('clientIp'));
        const callerUrl = (c.req.header('x-a2a-caller-url') ?? '').slice(0, 500);
        const task = await a2a.sendMessage(p, params, legacy, callerUrl);
        result = legacy ? task : { task };
      } else if (op === 'GetTask') result = await a2a.getTask(p, params, legacy);
      else if (op === 'ListTasks') result = await a2a.listTasks(p, params);
      else result = await a2a.cancelTask(p, params, legacy);
      return c.json({ jsonrpc: '2.0', id, result });
    } catch (err) {
      if (err instanceof RpcError) return fail(err.code, err.message);
      // Rate limits keep their HTTP status; other refusals from the services become invalid params.
      if (err instanceof AppError && err.status === 429) throw err;
      if (err instanceof AppError && err.status < 500) return fail(RPC.invalidParams, err.message);
      throw err;
    }
  };
  // The body stays the one the pipeline parsed (`c.get('body')`): JSON-RPC answers its own errors.
  const rpcContract = (path: string, alias: boolean) => ({
    method: 'post' as const,
    path,
    tags,
    summary: 'A2A JSON-RPC endpoint (SendMessage, GetTask, ListTasks, CancelTask)',
    ...agentOrAdminAccess,
    body: RpcBody,
    lazyBody: true,
    response: RpcResponse,
    alias,
  });
  defineRoute(r, rpcContract('/a2a', true), rpc);
  defineRoute(r, rpcContract(`${API}/a2a`, false), rpc);
  defineRoute(r, rpcContract(`${API}/a2a/rpc`, true), rpc);

  // ---- management (spec 06 §5.6) ----
  defineRoute(
    r,
    {
      method: 'post',
      path: `${API}/a2a/discover`,
      tags,
      summary: "Fetch a remote agent's card and register it",
      ...agentOrAdminAccess,
      body: DiscoverBody,
      lazyBody: true,
      response: Discovered,
    },
    async (c) => {
      const p = await agentOrAdmin(app, c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      return a2a.discover(p, bodyOf(c).url);
    },
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: `${API}/a2a/agents`,
      tags,
      summary: 'Registered remote agents',
      ...agentOrAdminAccess,
      query: AgentsQuery,
      response: z.array(ExternalAgent),
    },
    async (c) => {
      await agentOrAdmin(app, c);
      return a2a.listExternal(queryOf(c).status || undefined);
    },
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: `${API}/a2a/agents/:id`,
      tags,
      summary: 'Forget a remote agent (admin)',
      access: 'admin',
      params: AgentIdParams,
      response: Deleted,
    },
    async (c, { params }) => {
      const id = parseIntId(params.id);
      if (id === null) throw badRequest('id must be an integer');
      principalOf(c);
      return a2a.deleteExternal(id);
    },
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: `${API}/a2a/send`,
      tags,
      summary: 'Send a message to a remote agent',
      ...agentOrAdminAccess,
      body: SendBody,
      lazyBody: true,
      response: Sent,
      errors: [502],
    },
    async (c) => {
      const p = await agentOrAdmin(app, c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      return a2a.send(p, bodyOf(c));
    },
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: `${API}/a2a/tasks`,
      tags,
      summary: 'Outbound A2A tasks',
      ...agentOrAdminAccess,
      query: OutboundQuery,
      response: z.array(OutboundTask),
    },
    async (c) => a2a.listOutbound(await agentOrAdmin(app, c), queryOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: `${API}/a2a/tasks/:id`,
      tags,
      summary: 'One outbound A2A task',
      ...agentOrAdminAccess,
      params: TaskIdParams,
      response: OutboundTask,
      errors: [404],
    },
    async (c, { params }) => a2a.getOutbound(await agentOrAdmin(app, c), params.id),
  );

  return r;
}
