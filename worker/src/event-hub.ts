import { Db } from './db/db.js';
import { LibsqlHttpDriver } from './db/libsql-http-driver.js';
import { EventHubCore, type HubStreamRequest } from './domain/events/hub.js';
import type { MyceliumEvent } from './domain/events/bus.js';

/**
 * The Durable Object behind `EVENT_HUB` (wrangler.toml): one per instance, the single live place
 * where event streams are held on Workers, so a committed write is pushed to every open stream
 * instead of each stream polling libSQL (issue 16). Isolates talk to it over three internal paths:
 *   POST /stream  {filters, scope, resumeAfter} → the SSE body (auth and limits already checked)
 *   POST /wake    [liveness events without a row] → 204 once the new rows are fanned out
 *   GET  /stats   → {streams, reads}
 */
export class EventHub {
  private readonly core: EventHubCore;

  constructor(_state: unknown, env: { LIBSQL_URL?: string; LIBSQL_AUTH_TOKEN?: string }) {
    this.core = new EventHubCore(
      new Db(new LibsqlHttpDriver(env.LIBSQL_URL ?? '', env.LIBSQL_AUTH_TOKEN || undefined)),
    );
  }

  async fetch(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    if (req.method === 'POST' && path === '/stream') return this.core.open((await req.json()) as HubStreamRequest);
    if (req.method === 'POST' && path === '/wake') {
      await this.core.wake((await req.json()) as MyceliumEvent[]);
      return new Response(null, { status: 204 });
    }
    if (req.method === 'GET' && path === '/stats')
      return Response.json({ streams: this.core.streams, reads: this.core.reads });
    return new Response('Not found', { status: 404 });
  }
}

/** The few members of a Durable Object namespace binding the runtime uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(url: string, init?: RequestInit): Promise<Response> };
}

/** The Runtime's `eventHub` on Workers: every isolate reaches the same object by name. */
export function eventHubClient(ns: DurableObjectNamespaceLike) {
  const stub = () => ns.get(ns.idFromName('events'));
  return {
    open: (r: HubStreamRequest) =>
      stub().fetch('https://event-hub/stream', { method: 'POST', body: JSON.stringify(r) }),
    async wake(live: MyceliumEvent[]) {
      const res = await stub().fetch('https://event-hub/wake', { method: 'POST', body: JSON.stringify(live) });
      await res.body?.cancel();
    },
    async stats(): Promise<{ streams: number; reads: number }> {
      return (await stub().fetch('https://event-hub/stats')).json();
    },
  };
}
