import type { Hono } from 'hono';
import { z } from 'zod';
import { VERSION } from '../version.js';
import { type Access, contractOf, ErrorResponse, type RouteContract } from './contract.js';
import type { AppEnv } from './env.js';

/**
 * The OpenAPI 3.1 document, generated from the contracts of the routes the app actually mounted
 * (`app.routes`), so a route cannot be served without being described. Schemas come from zod's
 * JSON Schema converter (draft 2020-12, which OpenAPI 3.1 uses); named schemas (`.meta({ id })`)
 * become shared components.
 */

type Json = Record<string, unknown>;

export interface ExtraOperation {
  method: string;
  path: string;
  operation: Json;
}

const SECURITY: Record<Access, Json[]> = {
  public: [],
  any: [{ AgentKey: [] }, { AdminKey: [] }, { BearerJWT: [] }],
  agent: [{ AgentKey: [] }],
  admin: [{ AdminKey: [] }, { BearerJWT: [] }],
  human: [{ AdminKey: [] }, { BearerJWT: [] }],
};

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid input: the sentence names the field',
  401: 'Missing or invalid credentials',
  403: 'Authenticated but not allowed',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Body too large',
  429: 'Rate limited (see Retry-After)',
  503: 'Unavailable (network frozen or dependency down)',
};

/** `/tasks/:id{[0-9]+}` → `/tasks/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?\??/g, '{$1}');
}

/** Routes served by `app` that have no contract (the coverage test asserts there are none). */
export function undocumentedRoutes(app: Hono<AppEnv>): string[] {
  // Hono lists one entry per handler of a route (guard, then the contract's handler).
  const declared = new Set<string>();
  const all = new Set<string>();
  for (const r of app.routes) {
    if (r.method === 'ALL') continue; // middleware and catch-alls (plugin dispatch is documented per plugin)
    const key = `${r.method} ${r.path}`;
    all.add(key);
    if (contractOf(r.handler)) declared.add(key);
  }
  return [...all].filter((k) => !declared.has(k));
}

class Components {
  readonly schemas: Record<string, Json> = {};

  /** Converts a schema; its named sub-schemas (`.meta({ id })`) move to `components.schemas`. */
  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const js = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
    const defs = (js.$defs ?? {}) as Record<string, Json>;
    delete js.$defs;
    delete js.$schema;
    // Input and output forms of one named schema can differ (defaults, transforms): the second
    // form gets its own name instead of overwriting the first.
    const names: Record<string, string> = {};
    for (const [name, def] of Object.entries(defs)) {
      let key = name;
      const text = JSON.stringify(def);
      for (let n = 2; this.schemas[key] && JSON.stringify(this.raw[key]) !== text; n++)
        key = `${name}${io === 'input' ? 'Input' : 'Output'}${n > 2 ? n - 1 : ''}`;
      names[name] = key;
      this.raw[key] = def;
    }
    for (const [name, def] of Object.entries(defs)) this.schemas[names[name]] = relink(def, names) as Json;
    return relink(js, names) as Json;
  }

  private readonly raw: Record<string, Json> = {};
}

/** `#/$defs/X` → `#/components/schemas/<name of X>`. */
function relink(v: unknown, names: Record<string, string>): unknown {
  if (Array.isArray(v)) return v.map((x) => relink(x, names));
  if (v && typeof v === 'object') {
    const o: Json = {};
    for (const [k, x] of Object.entries(v as Json)) {
      if (k === '$ref' && typeof x === 'string' && x.startsWith('#/$defs/')) {
        const name = x.slice(8);
        o[k] = `#/components/schemas/${names[name] ?? name}`;
      } else o[k] = relink(x, names);
    }
    return o;
  }
  return v;
}

function parameters(c: RouteContract, comps: Components): Json[] {
  const out: Json[] = [];
  for (const [where, schema] of [
    ['path', c.params],
    ['query', c.query],
  ] as const) {
    if (!schema) continue;
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const js = comps.convert(field, 'input');
      const description = typeof js.description === 'string' ? js.description : undefined;
      out.push({
        name,
        in: where,
        required: where === 'path' || !field.safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema: js,
      });
    }
  }
  return out;
}

function operation(c: RouteContract, comps: Components, id: string): Json {
  const responses: Json = {};
  const status = String(c.status ?? 200);
  if (c.response instanceof z.ZodType) {
    responses[status] = {
      description: 'Success',
      content: { 'application/json': { schema: comps.convert(c.response, 'output') } },
    };
  } else {
    responses[status] = {
      description: c.response.description,
      content: { [c.response.contentType]: { schema: {} } },
    };
  }
  const errors = new Set<number>(c.errors ?? []);
  if (c.params || c.query || c.body) errors.add(400);
  if (c.access !== 'public') {
    errors.add(401);
    errors.add(403);
  }
  if (c.params) errors.add(404);
  const errRef = { $ref: '#/components/schemas/Error' };
  for (const e of [...errors].sort()) {
    responses[String(e)] = {
      description: ERROR_TEXT[e] ?? 'Error',
      content: { 'application/json': { schema: errRef } },
    };
  }
  const op: Json = {
    operationId: id,
    tags: c.tags,
    summary: c.summary,
    ...(c.description ? { description: c.description } : {}),
    security: SECURITY[c.access],
    responses,
  };
  const params = parameters(c, comps);
  if (params.length) op.parameters = params;
  if (c.body) {
    op.requestBody = {
      required: !c.body.safeParse(undefined).success,
      content: { 'application/json': { schema: comps.convert(c.body, 'input') } },
    };
  } else if (c.rawBody) {
    op.requestBody = {
      description: c.rawBody.description,
      content: { [c.rawBody.contentType]: { schema: {} } },
    };
  }
  return op;
}

function operationId(method: string, path: string, taken: Set<string>): string {
  const base = `${method.toLowerCase()}_${path
    .replace(/^\/api\/mycelium/, '')
    .replace(/[{}]/g, '')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '')}`;
  let id = base || method.toLowerCase();
  for (let n = 2; taken.has(id); n++) id = `${base}_${n}`;
  taken.add(id);
  return id;
}

/** Builds the document for every contract-declared route of `app`, plus extra operations (plugins). */
export function buildOpenApiDocument(app: Hono<AppEnv>, extra: ExtraOperation[] = []): Json {
  const comps = new Components();
  comps.convert(ErrorResponse, 'output');
  const paths: Record<string, Json> = {};
  const ids = new Set<string>();
  const seen = new Set<string>();
  for (const r of app.routes) {
    const c = contractOf(r.handler);
    if (!c || c.alias) continue;
    const path = openApiPath(r.path);
    const method = r.method.toLowerCase();
    const key = `${method} ${path}`;
    if (seen.has(key)) continue; // the same handler mounted twice (e.g. HEAD via GET)
    seen.add(key);
    paths[path] ??= {};
    paths[path][method] = operation(c, comps, operationId(method, path, ids));
  }
  for (const x of extra) {
    const path = openApiPath(x.path);
    paths[path] ??= {};
    paths[path][x.method.toLowerCase()] = { operationId: operationId(x.method, path, ids), ...x.operation };
  }
  const tags = [
    ...new Set(
      Object.values(paths).flatMap((p) => Object.values(p).flatMap((o) => ((o as Json).tags as string[]) ?? [])),
    ),
  ]
    .sort()
    .map((name) => ({ name }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Mycelium API',
      version: VERSION,
      description:
        'Coordination server for AI agents, drones and human operators. Wire-compatible with the original Mycelium REST API under /api/mycelium.',
    },
    servers: [{ url: '/' }],
    tags,
    paths,
    components: {
      schemas: comps.schemas,
      securitySchemes: {
        AdminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key', description: 'The instance admin key' },
        AgentKey: { type: 'apiKey', in: 'header', name: 'X-Agent-Key', description: "An agent's API key" },
        BearerJWT: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An operator session token' },
      },
    },
  };
}
