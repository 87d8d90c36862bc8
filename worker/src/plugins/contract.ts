import { z } from 'zod';
import type { ExtraOperation } from '../http/openapi.js';
import { openApiPath } from '../http/openapi.js';
import type { LoadedPlugin, PluginHost, RouteEntry } from './host.js';
import type { McpTool } from './manifest.js';

/**
 * Plugin routes as contracts (issue 15): a plugin may declare zod `query`/`body` schemas on a
 * route (`api.post(path, handler, { body })`). The host validates them (routes.ts `dispatch`),
 * documents them here as OpenAPI operations under one tag per plugin, and generates the
 * `inputSchema` of the plugin's MCP tools from them, so mcp-tools.json keeps only names,
 * descriptions and endpoints.
 */

type Json = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  const js = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  delete js.$schema;
  return js;
}

const placeholders = (path: string) => [...path.matchAll(/\{(\w+)\}|:(\w+)/g)].map((m) => (m[1] ?? m[2])!);

/** JSON Schema of each path placeholder of a route, from its `params` schema (a plain string when undeclared). */
function paramSchemas(route: RouteEntry): Json[] {
  const shape = (route.params?.shape ?? {}) as Record<string, z.ZodType>;
  return placeholders(route.path).map((name) => {
    const field = shape[name];
    return field ? jsonSchema(field) : { type: 'string' };
  });
}

/**
 * The tool's input schema from its route (issue 15): the path placeholders (typed by the route's
 * `params`, matched by position since a tool may name them differently), then the body's fields
 * for writes or the query's for reads, renamed through the tool's bodyMap/queryMap (tool argument →
 * field). With a map, only the mapped fields are arguments: the MCP server sends nothing else. A
 * tool that states its own `inputSchema` or legacy `schema` keeps it (none of the bundled ones does;
 * test/node/plugin-tool-schemas.test.ts holds them to that).
 */
export function generatedToolSchema(t: McpTool, route: RouteEntry | undefined): McpTool {
  if (t.inputSchema || t.schema || !route) return t;
  const properties: Json = {};
  const required: string[] = [];
  const typed = paramSchemas(route);
  for (const [i, p] of placeholders(t.endpoint.path).entries()) {
    const def = typed[i] ?? { type: 'string' };
    properties[p] = { ...def, description: (def.description as string | undefined) ?? 'Part of the path' };
    required.push(p);
  }
  const declared = t.endpoint.method === 'GET' ? route.query : route.body;
  const source = declared === 'raw' ? undefined : declared;
  if (source) {
    const js = jsonSchema(source);
    const map = t.endpoint.method === 'GET' ? t.endpoint.queryMap : t.endpoint.bodyMap;
    const argOf = new Map(Object.entries(map ?? {}).map(([arg, field]) => [field, arg]));
    for (const [field, def] of Object.entries((js.properties ?? {}) as Json)) {
      const arg = argOf.get(field) ?? (map ? undefined : field);
      if (arg === undefined || arg in properties) continue;
      properties[arg] = def;
      if (((js.required ?? []) as string[]).includes(field)) required.push(arg);
    }
  }
  return { ...t, inputSchema: { type: 'object', properties, ...(required.length ? { required } : {}) } };
}

const SECURITY: Record<string, Json[]> = {
  public: [],
  any: [{ AgentKey: [] }, { AdminKey: [] }, { BearerJWT: [] }],
  agent: [{ AgentKey: [] }],
  admin: [{ AdminKey: [] }, { BearerJWT: [] }],
  human: [{ AdminKey: [] }, { BearerJWT: [] }],
};

/** Tag of a plugin's operations in the document. */
const pluginTag = (name: string) => `Plugin: ${name}`;

function operation(p: LoadedPlugin, r: RouteEntry): Json {
  const parameters: Json[] = [];
  const typed = paramSchemas(r);
  for (const [i, name] of placeholders(r.path).entries())
    parameters.push({ name, in: 'path', required: true, schema: typed[i] });
  if (r.query) {
    for (const [name, field] of Object.entries(r.query.shape as Record<string, z.ZodType>)) {
      const js = jsonSchema(field);
      parameters.push({ name, in: 'query', required: !field.safeParse(undefined).success, schema: js });
    }
  }
  const err = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  // A declared response schema is the answer's shape (the host parses the answer through it);
  // without one the route is documented as answering any JSON, as before issue 15.
  const responses: Json = {
    [String(r.status ?? 200)]: r.response
      ? { description: 'Success', content: { 'application/json': { schema: jsonSchema(r.response, 'output') } } }
      : { description: 'Success (the plugin answers JSON)', content: { 'application/json': { schema: {} } } },
    '404': { description: 'Not found, or the plugin is disabled', ...err },
  };
  if (r.params || r.query || r.body)
    responses['400'] = { description: 'Invalid input: the sentence names the field', ...err };
  if (r.auth !== 'public') {
    responses['401'] = { description: 'Missing or invalid credentials', ...err };
    responses['403'] = { description: 'Authenticated but not allowed', ...err };
  }
  const op: Json = {
    tags: [pluginTag(p.name)],
    summary: r.summary ?? `${r.method} ${r.path}`,
    ...(r.description ? { description: r.description } : {}),
    security: SECURITY[r.auth] ?? SECURITY.any,
    responses,
  };
  if (parameters.length) op.parameters = parameters;
  if (r.body === 'raw')
    op.requestBody = {
      required: true,
      description: 'Read as the exact bytes sent (its signature covers them); the plugin parses it',
      content: { 'application/json': { schema: { type: 'object' } } },
    };
  else if (r.body && r.method !== 'GET')
    op.requestBody = {
      required: !r.body.safeParse(undefined).success,
      content: { 'application/json': { schema: jsonSchema(r.body) } },
    };
  return op;
}

/**
 * The loaded plugins' routes as operations, each under `/api/mycelium/plugins/<name>` (and under
 * its original prefix when the host mounted one there), tagged with the plugin's name. Enabled
 * plugins are loaded first, so their routes are known even before their first request.
 */
export async function pluginOperations(
  host: PluginHost,
  aliases: Map<string, string> = new Map(),
): Promise<ExtraOperation[]> {
  await host.ready;
  const flags = await host.enabledFlags();
  for (const [name, on] of flags) if (on) await host.ensureLoaded(name).catch(() => false);
  const out: ExtraOperation[] = [];
  for (const p of [...host.loaded.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!flags.get(p.name)) continue; // a disabled plugin answers 404: not part of the API now
    const mounts = [`/plugins/${p.name}`];
    const alias = aliases.get(p.name);
    if (alias) mounts.push(alias);
    for (const [i, mount] of mounts.entries())
      for (const r of p.routes) {
        // GET /plugins/<name> is the core's plugin detail (core routes win on overlap): a plugin's
        // own GET / is served only under its original prefix, so it is documented only there.
        if (i === 0 && r.method === 'GET' && r.path === '/') continue;
        const path = openApiPath(`/api/mycelium${mount}${r.path === '/' ? '' : r.path}`);
        const op = operation(p, r);
        if (i > 0 && !(r.method === 'GET' && r.path === '/'))
          op.description = `Alias of /api/mycelium/plugins/${p.name}${r.path === '/' ? '' : r.path} (the original prefix).`;
        out.push({ method: r.method.toLowerCase(), path, operation: op });
      }
  }
  return out;
}

/** A signature of what the plugin part of the document depends on (cache key). */
export async function pluginDocKey(host: PluginHost): Promise<string> {
  await host.ready;
  const flags = await host.enabledFlags();
  return [...flags]
    .map(([n, on]) => `${n}:${on ? 1 : 0}:${host.loaded.has(n) ? 1 : 0}`)
    .sort()
    .join(',');
}
