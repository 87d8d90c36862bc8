import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Target } from './target.js';

/**
 * The official MCP client SDK, connected over the streamable HTTP transport to the app under test.
 * Its requests go through `t.fetch` (the Node app's fetch, or workerd via Miniflare): real HTTP
 * requests and responses, no shortcut around the endpoint.
 */
export async function mcpClient(
  t: Target,
  headers: Record<string, string>,
  path = '/api/mycelium/mcp',
): Promise<Client> {
  const client = new Client({ name: 'mycelium-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`http://localhost${path}`), {
    fetch: (url, init) => {
      const u = new URL(String(url));
      return t.fetch(u.pathname + u.search, init);
    },
    requestInit: { headers },
  });
  await client.connect(transport);
  return client;
}

/** Text of a tool result (every tool answers one text item). */
export function textOf(r: unknown): string {
  const c = (r as { content?: { type: string; text?: string }[] }).content ?? [];
  return c.map((x) => x.text ?? '').join('\n');
}

/** Calls one tool and returns its text and whether the tool answered an error. */
export async function callTool(c: Client, name: string, args: Record<string, unknown> = {}) {
  const r = (await c.callTool({ name, arguments: args })) as { isError?: boolean };
  return { text: textOf(r), isError: r.isError === true };
}
