import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { connect } from 'node:net';
import { startLocalServer } from '../support/server-process.js';
import type { RunningServer } from '../../node-adapter/server.js';
import { serve } from '@hono/node-server';
import { incomingBodies } from '../../node-adapter/request-body.js';

/**
 * On Node the pipeline reads JSON bodies straight from the IncomingMessage the adapter received
 * (node-adapter/request-body.ts) instead of through a web stream. Over a real socket, the same
 * rules hold: chunked bodies arrive whole, 1 MB is the limit whether declared or not, bad and too
 * deep JSON are 400s, a client that goes away mid-body leaves the server serving, and in-process
 * requests that carry the outer request's adapter env (the MCP tools) read their own bodies.
 */
let server: RunningServer;
let adminKey: string;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ server, adminKey, stop } = await startLocalServer('reqbody'));
});
afterAll(async () => stop?.());

/** One request; `chunks` are written one by one (chunked encoding unless content-length is given). */
function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  chunks: (string | Buffer)[],
): Promise<{ status: number; body: any; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: server.port, method, path: `/api/mycelium${path}`, headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, headers: res.headers }),
        );
      },
    );
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

const admin = (extra: Record<string, string> = {}) => ({
  'x-admin-key': adminKey,
  'content-type': 'application/json',
  ...extra,
});

describe('JSON bodies read from the IncomingMessage (Node)', () => {
  it('a chunked body in several pieces arrives whole; an agent heartbeat with a body works', async () => {
    const body = JSON.stringify({ id: 'rb-agent', name: 'RB agent', project_id: 'rb' });
    const reg = await send('POST', '/admin/agents', admin(), [body.slice(0, 5), body.slice(5, 20), body.slice(20)]);
    expect(reg.status).toBe(200);
    expect(reg.body.id).toBe('rb-agent');
    const hb = await send(
      'POST',
      '/agents/heartbeat',
      { 'x-agent-key': reg.body.api_key, 'content-type': 'application/json' },
      [JSON.stringify({ status: 'busy', working_on: 'reading bodies' })],
    );
    expect(hb.status).toBe(200);
    const me = await send('GET', '/agents/rb-agent', { 'x-agent-key': reg.body.api_key }, []);
    expect(me.body.working_on).toBe('reading bodies');
  });

  it('past 1 MB without a declared length → 413; a declared length past 1 MB → 413; the server keeps serving', async () => {
    const piece = Buffer.alloc(256 * 1024, 'a');
    const big = await send('POST', '/tasks', admin(), ['{"title":"', piece, piece, piece, piece, piece, '"}']);
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'Request body too large' });
    const declared = await send('POST', '/tasks', admin({ 'content-length': String(2 * 1024 * 1024) }), ['{}']).catch(
      (e: Error) => e,
    );
    // The server answers before reading; the client may see the answer or a reset while still writing.
    if (!(declared instanceof Error)) expect(declared.status).toBe(413);
    const ok = await send('POST', '/tasks', admin(), [
      JSON.stringify({ title: 'after the big ones', project_id: 'rb' }),
    ]);
    expect(ok.status).toBe(200);
  });

  it('malformed and too deeply nested JSON → 400 naming the problem', async () => {
    const bad = await send('POST', '/tasks', admin(), ['{"title": ']);
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: 'Invalid JSON in request body' });
    const deep = await send('POST', '/tasks', admin(), [`${'['.repeat(65)}${']'.repeat(65)}`]);
    expect(deep.status).toBe(400);
    expect(deep.body.error).toMatch(/nested deeper than 64 levels/);
  });

  it('a client that goes away mid-body gets nothing and the server keeps serving', async () => {
    await new Promise<void>((resolve, reject) => {
      const s = connect(server.port, '127.0.0.1', () => {
        s.write(
          `POST /api/mycelium/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Admin-Key: ${adminKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"title":"half`,
        );
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 100);
      });
      s.on('error', reject);
    });
    const ok = await send('POST', '/tasks', admin(), [JSON.stringify({ title: 'still serving', project_id: 'rb' })]);
    expect(ok.status).toBe(200);
    expect(ok.body.title).toBe('still serving');
  });

  it('an MCP tool call (an in-process request carrying the outer env) reads its own body, not the outer one', async () => {
    const reg = await send('POST', '/admin/agents', admin(), [
      JSON.stringify({ id: 'rb-mcp', name: 'rb-mcp', project_id: 'rb' }),
    ]);
    const rpc = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'mycelium_create_task', arguments: { title: 'made over MCP', project_id: 'rb' } },
    };
    const r = await send(
      'POST',
      '/mcp',
      {
        'x-agent-key': reg.body.api_key,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      [JSON.stringify(rpc)],
    );
    expect(r.status).toBe(200);
    const text = r.body.result.content[0].text as string;
    expect(text).toMatch(/^Created task #\d+: made over MCP$/);
  });

  it('the adapter reads the body of a request it received, once, and never of another request', async () => {
    const bodies = incomingBodies();
    const s = serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: bodies.wrap(async (req: Request) => {
        const chunks: Uint8Array[] = [];
        const direct = bodies.read(req, (c) => chunks.push(c));
        const other = bodies.read(new Request(req.url, { method: 'POST', body: 'other' }), () => undefined);
        await direct;
        const again = bodies.read(req, () => undefined);
        const text = Buffer.concat(chunks).toString();
        return new Response(
          JSON.stringify({ direct: !!direct, other: other === undefined, again: again === undefined, text }),
        );
      }),
    });
    await new Promise((r) => s.once('listening', r));
    const port = (s.address() as { port: number }).port;
    try {
      const r = await fetch(`http://127.0.0.1:${port}/x`, { method: 'POST', body: 'hello body' });
      expect(await r.json()).toEqual({ direct: true, other: true, again: true, text: 'hello body' });
    } finally {
      s.close();
    }
  });
});
