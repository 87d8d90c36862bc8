import { FileDroneHub, TunnelError } from './domain/file-server/hub.js';
import type { FileDroneTunnel } from './runtime.js';

/**
 * Workers half of the file-drone tunnel (spec 05 §11): isolates come and go, so the drones'
 * sockets live in one Durable Object (binding FILE_DRONES, one instance named `file-drones`).
 * It runs the same hub as Node; the Worker authenticates the upgrade and talks to the object
 * over fetch. Pings run while the object is awake (it stays awake while sockets are open).
 */

interface WebSocketLike {
  accept(): void;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message' | 'close' | 'error', fn: (ev: { data?: unknown }) => void): void;
}
type PairCtor = new () => { 0: WebSocketLike; 1: WebSocketLike };
const pair = () => {
  const p = new (globalThis as unknown as { WebSocketPair: PairCtor }).WebSocketPair();
  return { client: p[0], server: p[1] };
};
/** A 101 response handing the client end of a pair back to the caller (workerd extension). */
export const upgraded = (client: WebSocketLike) =>
  new Response(null, { status: 101, webSocket: client } as ResponseInit);

/** Completes an upgrade only to close it at once with a code, so a refused drone sees why. */
export function refuseUpgrade(code: number, reason: string): Response {
  const { client, server } = pair();
  server.accept();
  server.close(code, reason);
  return upgraded(client);
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const failure = (err: unknown) =>
  err instanceof TunnelError
    ? json({ error: err.message, kind: err.kind }, err.kind === 'no_drone' ? 503 : 504)
    : json({ error: 'Tunnel error', kind: 'failed' }, 504);

export class FileDroneHubObject {
  private readonly hub = new FileDroneHub();
  private pinger: ReturnType<typeof setInterval> | null = null;

  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const droneId = url.searchParams.get('drone_id') || undefined;
    try {
      switch (url.pathname) {
        case '/connect': {
          if (!droneId) return json({ error: 'drone_id required' }, 400);
          const { client, server } = pair();
          server.accept();
          const h = this.hub.attach(droneId, server);
          server.addEventListener('message', (ev) => typeof ev.data === 'string' && h.message(ev.data));
          server.addEventListener('close', () => h.close());
          server.addEventListener('error', () => h.close());
          this.pinger ??= setInterval(() => this.hub.ping(), 15_000);
          return upgraded(client);
        }
        case '/status':
          return json(await this.hub.status(droneId));
        case '/request': {
          const b = (await req.json()) as { type: string; params: Record<string, unknown> };
          return json({ data: await this.hub.request(droneId, b.type, b.params) });
        }
        case '/download': {
          const type = url.searchParams.get('type') === 'folder_download' ? 'folder_download' : 'file_download';
          return await this.hub.download(droneId, type, { path: url.searchParams.get('path') ?? '/' });
        }
        default:
          return json({ error: 'Not found' }, 404);
      }
    } catch (err) {
      return failure(err);
    }
  }
}

interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string | Request, init?: RequestInit): Promise<Response> };
}

/** The Worker's view of the object: the FileDroneTunnel port over fetch. */
export function durableObjectTunnel(
  ns: DurableObjectNamespaceLike,
): FileDroneTunnel & { connect(droneId: string, req: Request): Promise<Response> } {
  const stub = () => ns.get(ns.idFromName('file-drones'));
  const q = (droneId?: string, extra: Record<string, string> = {}) => {
    const p = new URLSearchParams(extra);
    if (droneId) p.set('drone_id', droneId);
    return p.toString();
  };
  const unwrap = async (res: Response) => {
    if (res.ok) return res;
    const b = (await res.json().catch(() => ({}))) as { error?: string; kind?: string };
    throw new TunnelError(b.kind === 'no_drone' ? 'no_drone' : 'failed', b.error ?? 'Tunnel error');
  };
  return {
    async status(droneId) {
      return (await (await stub().fetch(`https://file-drones/status?${q(droneId)}`)).json()) as Record<string, unknown>;
    },
    async request(droneId, type, params) {
      const res = await unwrap(
        await stub().fetch(`https://file-drones/request?${q(droneId)}`, {
          method: 'POST',
          body: JSON.stringify({ type, params }),
        }),
      );
      return ((await res.json()) as { data: unknown }).data;
    },
    async download(droneId, type, params) {
      const res = await unwrap(
        await stub().fetch(`https://file-drones/download?${q(droneId, { type, path: String(params.path ?? '/') })}`),
      );
      // A fetched response has immutable headers; the pipeline still adds its own.
      return new Response(res.body, { status: res.status, headers: new Headers(res.headers) });
    },
    connect(droneId, req) {
      return stub().fetch(
        new Request(`https://file-drones/connect?${q(droneId)}`, {
          headers: { Upgrade: 'websocket' },
          signal: req.signal,
        }),
      );
    },
  };
}
