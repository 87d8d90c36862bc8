import { z } from 'zod';
import { arr, json, ToolArgError, type ToolEnv } from './tool.js';

/** A plugin tool as `GET /plugins/mcp-tools` serves it (spec 06 §2.8), validated by the plugin host at load. */
interface PluginToolDecl {
  name: string;
  description: string;
  inputSchema?: { type: 'object'; properties?: Record<string, unknown>; required?: string[] };
  schema?: Record<
    string,
    { type?: string; description?: string; required?: boolean; enum?: unknown[]; items?: unknown }
  >;
  endpoint: {
    method: 'GET' | 'POST' | 'PUT' | 'DELETE';
    path: string;
    queryMap?: Record<string, string>;
    bodyMap?: Record<string, string>;
  };
  plugin?: string;
}

export interface PluginTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  run(env: ToolEnv, args: Record<string, unknown>): Promise<string>;
}

/** JSON Schema of a declaration: its inputSchema, or the legacy flat `schema` map converted. */
function schemaOf(d: PluginToolDecl): { type: 'object'; properties: Record<string, unknown>; required: string[] } {
  if (d.inputSchema)
    return {
      type: 'object',
      properties: d.inputSchema.properties ?? {},
      required: arr(d.inputSchema.required).filter((x) => typeof x === 'string'),
    };
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [k, f] of Object.entries(d.schema ?? {})) {
    const { required: req, ...rest } = f ?? {};
    properties[k] = rest;
    if (req) required.push(k);
  }
  return { type: 'object', properties, required };
}

const placeholders = (path: string) => [...path.matchAll(/\{(\w+)\}|:(\w+)/g)].map((m) => m[1] ?? m[2]);

/**
 * Plugin tools run through the same in-process REST call as the built-ins, so the plugin's route
 * (and its guard) decides. Fixes of spec 08 D26: 0 fills a path placeholder, GET sends every
 * argument (mapped names where a queryMap says so), DELETE keeps its body, and the list is read
 * per request, so enabling or disabling a plugin shows at the next `tools/list`.
 */
function pluginTool(d: PluginToolDecl): PluginTool | null {
  const ep = d.endpoint;
  if (!ep?.path?.startsWith('/') || /^\/mcp(\/|$)/.test(ep.path)) return null;
  const schema = schemaOf(d);
  const inPath = new Set(placeholders(ep.path));
  return {
    name: d.name,
    description: d.plugin ? `${d.description} (plugin ${d.plugin})` : d.description,
    inputSchema: schema,
    async run(env, args) {
      for (const r of schema.required)
        if (args[r] === undefined || args[r] === null) throw new ToolArgError(`${r} is required`);
      const path = ep.path.replace(/\{(\w+)\}|:(\w+)/g, (_m, a: string | undefined, b: string | undefined) => {
        const v = args[(a ?? b)!];
        if (v === undefined || v === null || v === '')
          throw new ToolArgError(`${a ?? b} is required (it is part of the path)`);
        return encodeURIComponent(String(v));
      });
      const rest = Object.entries(args).filter(([k]) => !inPath.has(k));
      const mapped = (map: Record<string, string> | undefined) =>
        Object.fromEntries(map ? rest.filter(([k]) => k in map).map(([k, v]) => [map[k], v]) : rest);
      const answer =
        ep.method === 'GET'
          ? await env.rest('GET', path, {
              query: Object.fromEntries(
                Object.entries(mapped(ep.queryMap)).map(([k, v]) => [
                  k,
                  typeof v === 'object' ? JSON.stringify(v) : (v as string),
                ]),
              ),
            })
          : await env.rest(ep.method, path, { body: mapped(ep.bodyMap) });
      return typeof answer === 'string' ? answer : json(answer);
    },
  };
}

const declSchema = z.looseObject({
  name: z.string(),
  description: z.string(),
  endpoint: z.looseObject({ method: z.string(), path: z.string() }),
});

/** The enabled plugins' tools as the caller sees `GET /plugins/mcp-tools`; a plugin-host failure lists none rather than failing the listing. */
export async function loadPluginTools(env: ToolEnv, taken: Set<string>): Promise<PluginTool[]> {
  const r = await env.raw('GET', '/plugins/mcp-tools');
  if (r.status !== 200) return [];
  const out: PluginTool[] = [];
  for (const raw of arr(r.body)) {
    if (!declSchema.safeParse(raw).success) continue;
    const d = raw as PluginToolDecl;
    if (taken.has(d.name)) continue; // a plugin never shadows a built-in or an earlier plugin tool
    const t = pluginTool(d);
    if (!t) continue;
    taken.add(t.name);
    out.push(t);
  }
  return out;
}
