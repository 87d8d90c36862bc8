import { Hono, type Context } from 'hono';
import type { AppContext } from '../context.js';
import type { AppEnv } from '../http/env.js';
import { defineRoute } from '../http/contract.js';
import { instanceUrl } from '../http/instance-url.js';
import { credentialHeaders, mcpPrincipal, RESOURCE_METADATA_PATH, resourceMetadata } from './auth.js';
import { RestCaller, type ExecutionContextLike } from './dispatch.js';
import { ToolEnv } from './tool.js';

const API_PREFIX = '/api/mycelium';
const MCP_PATHS = [`${API_PREFIX}/mcp`, '/mcp'];

/**
 * The MCP SDK (with its JSON-schema validator) and the tool definitions load with the first MCP
 * request, not at start: most agents speak REST, and on Node these modules were a large share of
 * the memory held after start (issue 11). Not cached in a module-level promise: workerd refuses a
 * promise created in one request and awaited in another; the module loader evaluates each once.
 */
const loadMcp = () =>
  Promise.all([import('./server.js'), import('@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js')]);

/**
 * The remote MCP endpoint (streamable HTTP transport, MCP 2025-06-18 and later) at
 * /api/mycelium/mcp and /mcp, plus its RFC 9728 metadata. `root` is the whole app: tools call its
 * router in process (see dispatch.ts), after every area has been mounted.
 */
export function mcpRoutes(app: AppContext, root: Hono<AppEnv>) {
  const r = new Hono<AppEnv>();

  // Parameter names differ between areas (`:id`, `:jobId`): routes are compared by shape.
  const shape = (route: string) => route.replace(/\/:[^/]+/g, '/:');
  let mounted: Set<string> | undefined;
  const isMounted = (route: string) => {
    mounted ??= new Set(
      root.routes
        .filter((x) => x.path.startsWith(`${API_PREFIX}/`))
        .map((x) => shape(`${x.method} ${x.path.slice(API_PREFIX.length)}`)),
    );
    return mounted.has(shape(route));
  };

  const tags = ['MCP'];
  const metadata = (c: Context<AppEnv>) => c.json(resourceMetadata(instanceUrl(app.config, c.req.raw)));
  // RFC 9728 §3.1: clients first ask at the well-known path suffixed with the resource's path.
  for (const path of [RESOURCE_METADATA_PATH, ...MCP_PATHS.map((p) => `${RESOURCE_METADATA_PATH}${p}`)])
    defineRoute(
      r,
      {
        method: 'get',
        path,
        tags,
        summary: 'OAuth protected-resource metadata of the MCP endpoint (RFC 9728)',
        access: 'public',
        response: { contentType: 'application/json', description: 'RFC 9728 resource metadata' },
      },
      metadata,
    );

  const handle = async (c: Context<AppEnv>) => {
    const baseUrl = instanceUrl(app.config, c.req.raw);
    const headers = credentialHeaders(c.req.raw.headers);
    const principal = await mcpPrincipal(app, headers, c.get('clientIp'), baseUrl);
    // Stateless: no session to resume and no standalone server-to-client stream to open.
    if (c.req.method !== 'POST') {
      return c.json(
        {
          jsonrpc: '2.0',
          error: { code: -32000, message: 'Method not allowed: this endpoint is stateless; send JSON-RPC with POST' },
          id: null,
        },
        405,
        { Allow: 'POST' },
      );
    }
    let exec: ExecutionContextLike | undefined;
    try {
      exec = c.executionCtx as ExecutionContextLike;
    } catch {
      exec = undefined; // Node: Hono has no execution context
    }
    const env = new ToolEnv(principal, new RestCaller(root, c.req.raw, headers, c.env, exec, API_PREFIX));
    const [{ buildServer }, { WebStandardStreamableHTTPServerTransport }] = await loadMcp();
    const server = buildServer(env, isMounted, (msg, err) =>
      app.log.error(msg, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    await server.connect(transport);
    try {
      // The pipeline has already read the body (bounded to 1 MB); hand the transport the same bytes.
      const req = new Request(c.req.raw.url, {
        method: 'POST',
        headers: c.req.raw.headers,
        body: (c.get('rawBody') ?? new Uint8Array(0)) as BodyInit,
      });
      return await transport.handleRequest(req);
    } finally {
      await server.close().catch(() => undefined);
    }
  };
  // Credentials are resolved inside (agent key, admin key or OAuth bearer), so the contract is public.
  for (const path of MCP_PATHS)
    for (const method of ['post', 'get', 'delete'] as const)
      defineRoute(
        r,
        {
          method,
          path,
          tags,
          summary:
            method === 'post'
              ? 'MCP over streamable HTTP (stateless JSON-RPC)'
              : 'Not allowed: the endpoint is stateless (405 with Allow: POST)',
          access: 'public',
          alias: path !== MCP_PATHS[0] ? true : undefined,
          rawBody:
            method === 'post' ? { contentType: 'application/json', description: 'A JSON-RPC message' } : undefined,
          response: { contentType: 'application/json', description: 'JSON-RPC answer' },
          errors: [401, 405],
        },
        handle,
      );

  return r;
}
