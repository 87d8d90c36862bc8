import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { loadConfig } from '../../worker/src/config.js';
import { prepareDatabase } from '../../worker/src/app.js';
import { createContext } from '../../worker/src/context.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { matchPath, startPluginHost, type PluginHost, type RouteEntry } from '../../worker/src/plugins/host.js';
import { PLUGIN_SOURCES } from '../../worker/src/plugins/registry.generated.js';
import type { McpTool } from '../../worker/src/plugins/manifest.js';

/**
 * Issue 15: the MCP tool input schemas a plugin publishes come from its routes' declared schemas,
 * never restated in mcp-tools.json, so they cannot drift from what the route validates. Every
 * bundled plugin is loaded (all enabled) in a real host, and each tool's published schema is
 * compared with its route's schemas, field by field.
 */

type Json = Record<string, any>;
const dir = mkdtempSync(join(tmpdir(), 'mycelium-tool-schemas-'));
let host: PluginHost;
let close: () => Promise<void>;

beforeAll(async () => {
  const config = loadConfig({
    ADMIN_KEY: `k_${randomBytes(16).toString('hex')}`,
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: dir,
  });
  const rt = createNodeRuntime({ config, log: consoleLogger('warn') });
  close = () => rt.close();
  await prepareDatabase(rt);
  // Every bundled plugin enabled (most ship disabled), so every tool is published.
  const sources = PLUGIN_SOURCES.map((s) => ({
    ...s,
    manifest: JSON.stringify({ ...JSON.parse(s.manifest), enabled: true }),
  }));
  host = startPluginHost(createContext(rt), sources);
  await host.ready;
});
afterAll(async () => {
  await close();
  rmSync(dir, { recursive: true, force: true });
});

const placeholders = (path: string) => [...path.matchAll(/\{(\w+)\}|:(\w+)/g)].map((m) => (m[1] ?? m[2])!);
const fieldSchemas = (schema: z.ZodType) => {
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return { properties: (js.properties ?? {}) as Json, required: (js.required ?? []) as string[] };
};

/** The plugin route a tool's endpoint names (under /plugins/<name> or the plugin's prefix). */
function routeOf(name: string, t: McpTool): RouteEntry {
  const p = host.loaded.get(name)!;
  const path = t.endpoint.path.replace(/\{(\w+)\}|:(\w+)/g, 'x');
  const prefix = [`/plugins/${name}`, p.manifest.routePrefix].find(
    (x) => x && (path === x || path.startsWith(`${x}/`)),
  )!;
  const inner = (path.slice(prefix.length) || '/').split('/').filter(Boolean);
  const route = p.routes.find((r) => r.method === t.endpoint.method && matchPath(r.segments, inner));
  expect(route, `${name}: ${t.name} names no route`).toBeDefined();
  return route!;
}

describe('plugin MCP tool schemas (issue 15)', () => {
  it('every bundled plugin with tools loads, and no mcp-tools.json restates an input schema', () => {
    const withTools = PLUGIN_SOURCES.filter((s) => s.mcpTools !== null);
    expect(withTools.length).toBeGreaterThanOrEqual(9);
    for (const s of withTools) {
      expect(host.loaded.has(s.dir), `${s.dir} failed: ${host.failed.get(s.dir)}`).toBe(true);
      for (const t of JSON.parse(s.mcpTools!) as Json[]) {
        expect(t.inputSchema, `${s.dir}: ${t.name} restates inputSchema`).toBeUndefined();
        expect(t.schema, `${s.dir}: ${t.name} restates a legacy schema`).toBeUndefined();
      }
      // Every declared tool is published (none refused at load).
      expect(host.loaded.get(s.dir)!.tools.map((t) => t.name)).toEqual(
        (JSON.parse(s.mcpTools!) as Json[]).map((t) => t.name),
      );
    }
  });

  it('every route of every plugin declares its input: path params, the query of reads, the body of writes', () => {
    const missing: string[] = [];
    for (const p of host.loaded.values())
      for (const r of p.routes) {
        const where = `${p.name}: ${r.method} ${r.path}`;
        if (placeholders(r.path).length && !r.params) missing.push(`${where} (params)`);
        for (const name of placeholders(r.path))
          if (r.params && !(name in r.params.shape)) missing.push(`${where} (param ${name})`);
        if ((r.method === 'GET' || r.method === 'DELETE') && !r.query) missing.push(`${where} (query)`);
        if ((r.method === 'POST' || r.method === 'PUT') && !r.body) missing.push(`${where} (body)`);
      }
    expect(missing).toEqual([]);
  });

  it("each published tool schema is its route's: path params typed, the query or body fields (mapped), the same required list", () => {
    let tools = 0;
    for (const p of host.loaded.values())
      for (const t of p.tools) {
        tools++;
        const route = routeOf(p.name, t);
        const published = t.inputSchema as Json;
        expect(published.type).toBe('object');
        const expected: Json = {};
        const required: string[] = [];
        // Path placeholders, typed by the route's params (matched by position).
        const params = route.params ? fieldSchemas(route.params).properties : {};
        const routeParams = placeholders(route.path);
        for (const [i, arg] of placeholders(t.endpoint.path).entries()) {
          const { description: _d, ...type } = (params[routeParams[i]] ?? { type: 'string' }) as Json;
          expect(published.properties[arg], `${t.name}: {${arg}}`).toMatchObject(type);
          expected[arg] = published.properties[arg];
          required.push(arg);
        }
        // Then the body of a write or the query of a read, through the tool's argument map.
        const source = t.endpoint.method === 'GET' ? route.query : route.body;
        if (source && source !== 'raw') {
          const map = t.endpoint.method === 'GET' ? t.endpoint.queryMap : t.endpoint.bodyMap;
          const fields = fieldSchemas(source);
          for (const [field, def] of Object.entries(fields.properties)) {
            const arg = map ? Object.keys(map).find((a) => map[a] === field) : field;
            if (arg === undefined) continue;
            expected[arg] = def;
            if (fields.required.includes(field)) required.push(arg);
          }
        }
        expect(published.properties, t.name).toEqual(expected);
        expect([...(published.required ?? [])].sort(), t.name).toEqual(required.sort());
      }
    expect(tools).toBeGreaterThanOrEqual(30);
  });

  it('the argument names and types agents relied on are still there (spot checks of the former hand-written schemas)', () => {
    const tool = (name: string) =>
      [...host.loaded.values()].flatMap((p) => p.tools).find((t) => t.name === name)!.inputSchema as Json;
    expect(tool('mycelium_github_link').required.sort()).toEqual(
      ['github_number', 'github_repo', 'github_type', 'mycelium_id', 'mycelium_type'].sort(),
    );
    expect(tool('mycelium_github_link').properties.github_type.enum).toEqual(['pr', 'issue', 'check']);
    expect(tool('mycelium_memory_search').required).toEqual(['query']);
    expect(tool('mycelium_memory_index').required.sort()).toEqual(['content_text', 'source_id', 'source_type']);
    expect(tool('mycelium_errors_mute').properties.id.type).toBe('integer');
    expect(tool('mycelium_errors_mute').properties.status.enum).toEqual(['open', 'muted', 'resolved']);
    expect(tool('mycelium_automation_trigger').properties.event_data.type).toBe('object');
    expect(tool('mycelium_list_workflows').properties.limit.type).toBe('integer');
    expect(tool('mycelium_digest_trends').properties).toHaveProperty('periods');
    expect(tool('mycelium_fire_workflow').required).toEqual(['name']);
  });
});
