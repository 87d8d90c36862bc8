/**
 * A real HTTP port in front of a test target, for clients that need one (a browser). Neither
 * target listens on a port: the node one calls `app.fetch`, the worker one Miniflare's
 * `dispatchFetch`. This forwards each request to `t.fetch` and streams the answer back as it
 * comes (so SSE works), on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Target } from './target.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host', 'upgrade']);

export interface HttpBridge {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

export async function serveOverHttp(fetchFn: Target['fetch']): Promise<HttpBridge> {
  const server = createServer(async (req, res) => {
    const aborted = new AbortController();
    res.on('close', () => aborted.abort());
    try {
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      }
      const body = await readBody(req);
      const answer = await fetchFn(req.url ?? '/', { method: req.method, headers, body, signal: aborted.signal });
      const out: Record<string, string | string[]> = {};
      answer.headers.forEach((v, k) => {
        if (!HOP_BY_HOP.has(k) && k !== 'set-cookie') out[k] = v;
      });
      const cookies = answer.headers.getSetCookie();
      if (cookies.length) out['set-cookie'] = cookies;
      res.writeHead(answer.status, out);
      res.flushHeaders(); // a stream (SSE) may send nothing for a while; its client must see the headers now
      if (!answer.body) return void res.end();
      const reader = answer.body.getReader();
      res.on('close', () => void reader.cancel().catch(() => undefined));
      for (;;) {
        const chunk = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (chunk.done) break;
        res.write(chunk.value);
      }
      res.end();
    } catch (err) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bridge error: ${(err as Error).message}`);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
