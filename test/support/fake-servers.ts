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

/** A small HTTP server on 127.0.0.1 that records requests and answers with `respond` (null: resets the connection). */
export async function startFakeServer(
  respond: (
    req: CapturedRequest,
  ) => { status?: number; body?: unknown; headers?: Record<string, string> } | null = () => ({
    status: 200,
    body: {},
  }),
): Promise<FakeServer> {
  const requests: CapturedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const captured = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(captured);
      const out = respond(captured);
      // null: no answer at all, the connection is reset (a receiver that is down).
      if (out === null) return void req.socket.destroy();
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

/**
 * A receiver that is "down" until `up()`: it holds its port from the start and resets every
 * connection (the sender sees a network error), then answers 200. `received` holds only what it
 * answered. Not a port probed free and closed, to be listened on later: with test files running
 * side by side, another process may take that port in between.
 */
export async function startLateReceiver(): Promise<FakeServer & { up(): void; received: CapturedRequest[] }> {
  let isUp = false;
  const received: CapturedRequest[] = [];
  const server = await startFakeServer((req) => {
    if (!isUp) return null;
    received.push(req);
    return { status: 200, body: 'ok' };
  });
  return {
    ...server,
    received,
    up: () => {
      isUp = true;
    },
  };
}

/** Polls `fn` until it returns something truthy (background deliveries), failing after `ms`. */
export async function waitFor<T>(
  fn: () => T | undefined | null | false,
  ms = 8000,
  settle?: () => Promise<void>,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    if (settle) await settle();
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A fake of GitHub's REST pulls API (list, create, merge) in its documented shapes. Answers 401
 * without the expected Bearer token, 404 for unknown repos, 405 for a PR that cannot be merged.
 */
export async function startFakeGithub(token: string) {
  const pulls = [
    {
      number: 12,
      title: 'Add sprites',
      user: { login: 'octo' },
      head: { ref: 'feat/sprites' },
      base: { ref: 'main' },
      state: 'open',
      draft: false,
      html_url: 'https://github.example/acme/game/pull/12',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-02T00:00:00Z',
    },
    {
      number: 13,
      title: 'Ghost PR',
      user: null,
      head: { ref: 'x' },
      base: { ref: 'main' },
      state: 'open',
      draft: true,
      html_url: 'https://github.example/acme/game/pull/13',
      created_at: '2026-01-03T00:00:00Z',
      updated_at: '2026-01-03T00:00:00Z',
    },
  ];
  return startFakeServer((req) => {
    if (req.headers.authorization !== `Bearer ${token}`) return { status: 401, body: { message: 'Bad credentials' } };
    const url = new URL(req.url, 'http://x');
    const m = url.pathname.match(/^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+)\/merge)?$/);
    if (m?.[1] !== 'acme' || m[2] !== 'game') return { status: 404, body: { message: 'Not Found' } };
    if (req.method === 'GET' && !m[3]) {
      const state = url.searchParams.get('state');
      return { status: 200, body: state === 'closed' ? [] : pulls };
    }
    if (req.method === 'POST' && !m[3]) {
      const b = JSON.parse(req.body || '{}');
      if (b.head === 'missing') return { status: 422, body: { message: 'Validation Failed' } };
      return {
        status: 201,
        body: { ...pulls[0], number: 99, title: b.title, html_url: 'https://github.example/acme/game/pull/99' },
      };
    }
    if (req.method === 'PUT' && m[3]) {
      if (m[3] === '13') return { status: 405, body: { message: 'Pull Request is not mergeable' } };
      return { status: 200, body: { sha: 'abc123', merged: true, message: 'Pull Request successfully merged' } };
    }
    return { status: 404, body: { message: 'Not Found' } };
  });
}
