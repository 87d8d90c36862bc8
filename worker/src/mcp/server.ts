import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { VERSION } from '../version.js';
import { loadPluginTools, type PluginTool } from './plugin-tools.js';
import { ToolArgError, ToolFailure, type ToolDef, type ToolEnv } from './tool.js';
import { gatedTools } from './tools-gated.js';
import { sharedTools } from './tools-shared.js';
import { workTools } from './tools-work.js';

/** Every built-in tool of spec 08, in its registration order where it matters little (areas together). */
export const BUILTIN_TOOLS: ToolDef[] = [...workTools, ...sharedTools, ...gatedTools];

/**
 * zod writes "anything" as `{}`, which clients' schema checkers flag as constraining nothing: a free-form
 * object is spelled `additionalProperties: true`, and an array of anything simply has no `items`.
 */
function spellOutAny(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(spellOutAny);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    const empty = !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;
    if (empty && k === 'items') continue;
    out[k] = empty && k === 'additionalProperties' ? true : spellOutAny(v);
  }
  return out;
}

const jsonSchemas = new Map<string, Record<string, unknown>>();
function inputSchemaOf(t: ToolDef): Record<string, unknown> {
  let s = jsonSchemas.get(t.name);
  if (!s) {
    const { $schema: _drop, ...rest } = z.toJSONSchema(t.args, { target: 'draft-7', io: 'input' }) as Record<
      string,
      unknown
    >;
    s = spellOutAny(rest) as Record<string, unknown>;
    jsonSchemas.set(t.name, s);
  }
  return s;
}

/** "Error in <tool>: <message> (HTTP <status>)" plus the answer's extra fields, e.g. the holder of a claim (D25). */
function failureText(name: string, err: unknown): string {
  if (err instanceof ToolFailure) {
    const body = err.body && typeof err.body === 'object' ? { ...(err.body as Record<string, unknown>) } : {};
    delete body.error;
    const extra = Object.keys(body).length ? `\n${JSON.stringify(body)}` : '';
    return `Error in ${name}: ${err.message} (HTTP ${err.status})${extra}`;
  }
  if (err instanceof ToolArgError) return `Error in ${name}: ${err.message}`;
  return `Error in ${name}: internal error`;
}

const errorResult = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });

/**
 * One MCP server per HTTP request (stateless: any isolate or process can answer any request, so
 * Workers need no sticky sessions). The tool list is the built-ins whose REST routes this build
 * mounts, then the enabled plugins' tools, read at request time.
 */
export function buildServer(
  env: ToolEnv,
  mounted: (route: string) => boolean,
  log: (msg: string, err: unknown) => void,
): Server {
  const server = new Server(
    { name: 'mycelium', version: VERSION },
    {
      capabilities: { tools: { listChanged: false } },
      instructions:
        'Mycelium coordination server. Tools act as the credential of this connection (agent key, admin key or operator token). ' +
        'Agents: call mycelium_boot first, then mycelium_get_work; resolve directives with mycelium_respond_to_request.',
    },
  );
  const builtins = BUILTIN_TOOLS.filter((t) => !t.requires || mounted(t.requires));
  let plugins: Promise<PluginTool[]> | undefined;
  const pluginTools = () =>
    (plugins ??= loadPluginTools(env, new Set(builtins.map((t) => t.name))).catch((err) => {
      log('mcp: plugin tools unavailable', err);
      return [];
    }));

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      ...builtins.map((t) => ({
        name: t.name,
        description: t.description,
        inputSchema: inputSchemaOf(t) as { type: 'object' },
      })),
      ...(await pluginTools()).map((t) => ({
        name: t.name,
        description: t.description,
        inputSchema: t.inputSchema as { type: 'object' },
      })),
    ],
  }));

  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const name = req.params.name;
    const args = req.params.arguments ?? {};
    const builtin = builtins.find((t) => t.name === name);
    const plugin = builtin ? undefined : (await pluginTools()).find((t) => t.name === name);
    if (!builtin && !plugin) return errorResult(`Error in ${name}: unknown tool ${name}`);
    try {
      if (plugin) return { content: [{ type: 'text', text: await plugin.run(env, args) }] };
      const parsed = builtin!.args.safeParse(args);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        const field =
          i.path.map(String).join('.') || (i.code === 'unrecognized_keys' ? i.keys.join(', ') : 'arguments');
        return errorResult(`Error in ${name}: invalid arguments: ${field}: ${i.message}`);
      }
      return { content: [{ type: 'text', text: await builtin!.run(env, parsed.data) }] };
    } catch (err) {
      if (!(err instanceof ToolFailure) && !(err instanceof ToolArgError)) log(`mcp: tool ${name} failed`, err);
      return errorResult(failureText(name, err));
    }
  });

  return server;
}
