import http from 'node:http';

export interface CapturedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeServer {
  url: string;
  port: number;
  requests: CapturedRequest[];
  close(): Promise<void>;
}

/** A small HTTP server on 127.0.0.1 that records requests and answers with `respond`. */
export async function startFakeServer(
  respond: (req: CapturedRequest) => { status?: number; body?: unknown; headers?: Record<string, string> } = () => ({ status: 200, body: {} }),
): Promise<FakeServer> {
  const requests: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const captured = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(captured);
      const out = respond(captured);
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...(out.headers ?? {}) });
      res.end(out.body === undefined ? '' : typeof out.body === 'string' ? out.body : JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A fake of Resend's `POST /emails` endpoint (its documented request and response shape). */
export async function startFakeResend() {
  let n = 0;
  return startFakeServer((req) => {
    if (req.method === 'POST' && req.url === '/emails') return { status: 200, body: { id: `email_${++n}` } };
    return { status: 404, body: { message: 'not found' } };
  });
}

/** A webhook receiver on 127.0.0.1 that answers 200 and keeps every JSON payload it gets. */
export async function startWebhookReceiver<T = any>() {
  const server = await startFakeServer(() => ({ status: 200, body: 'ok' }));
  const payloads = (): T[] =>
    server.requests.flatMap((r) => {
      try {
        return [JSON.parse(r.body) as T];
      } catch {
        return []; // not a webhook payload
      }
    });
  return { ...server, payloads };
}

/** Polls `fn` until it returns something truthy (background deliveries), failing after `ms`. */
export async function waitFor<T>(fn: () => T | undefined | null | false, ms = 8000, settle?: () => Promise<void>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    if (settle) await settle();
    await new Promise((r) => setTimeout(r, 25));
  }
}
