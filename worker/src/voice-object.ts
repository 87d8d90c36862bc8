import {
  VOICE_KEEPALIVE_MS,
  VOICE_MAX_FRAME_BYTES,
  VoiceHub,
  type VoicePeer,
  type VoicePort,
} from './domain/voice/hub.js';
import { upgraded } from './file-drone-object.js';

/**
 * Workers half of `/voice` (spec 01 §1.10): isolates come and go and two peers may reach different
 * ones, so every peer's socket lives in one Durable Object (binding VOICE_HUB, one instance named
 * `voice`) running the same hub as Node. The Worker authenticates the upgrade and forwards it here;
 * REST reads the peer list over fetch. workerd cannot send protocol pings, so the keepalive is a
 * `{"type":"ping"}` message: a client answers with any message (`{"type":"pong"}`), else it is dropped
 * on the next tick. The timer runs only while sockets are open.
 */

interface WebSocketLike {
  accept(): void;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message' | 'close' | 'error', fn: (ev: { data?: unknown; code?: number }) => void): void;
}
type PairCtor = new () => { 0: WebSocketLike; 1: WebSocketLike };

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export class VoiceHubObject {
  private readonly hub = new VoiceHub();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly keepaliveMs: number;

  constructor(_state: unknown, env: { VOICE_KEEPALIVE_MS?: string } = {}) {
    // A binding only tests set (to watch a dead peer go within seconds); deployments keep the spec's 10 s.
    const ms = Number(env.VOICE_KEEPALIVE_MS);
    this.keepaliveMs = Number.isInteger(ms) && ms >= 50 ? ms : VOICE_KEEPALIVE_MS;
  }

  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    if (url.pathname === '/peers') {
      const channel = url.searchParams.get('channel');
      return json(await this.hub.peers(channel ?? undefined));
    }
    if (url.pathname !== '/connect') return json({ error: 'Not found' }, 404);
    const p = new (globalThis as unknown as { WebSocketPair: PairCtor }).WebSocketPair();
    const [client, server] = [p[0], p[1]];
    server.accept();
    const h = this.hub.attach({
      send: (d) => server.send(d),
      close: (code, reason) => server.close(code, reason),
    });
    server.addEventListener('message', (ev) => {
      if (typeof ev.data === 'string' && ev.data.length <= VOICE_MAX_FRAME_BYTES) h.message(ev.data);
      else h.alive();
    });
    const gone = () => {
      h.close();
      if (this.hub.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
    server.addEventListener('close', (ev) => {
      gone();
      // workerd (before web_socket_auto_reply_to_close) leaves the client's close unanswered.
      try {
        server.close(!ev.code || ev.code === 1005 ? 1000 : ev.code);
      } catch {
        // already closed
      }
    });
    server.addEventListener('error', gone);
    this.timer ??= setInterval(() => this.hub.tick(), this.keepaliveMs);
    return upgraded(client);
  }
}

interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(input: string | Request, init?: RequestInit): Promise<Response> };
}

/** The Worker's view of the object: the peer list for REST, and the upgrade hand-off. */
export function durableObjectVoice(
  ns: DurableObjectNamespaceLike,
): VoicePort & { connect(req: Request): Promise<Response> } {
  const stub = () => ns.get(ns.idFromName('voice'));
  return {
    async peers(channel) {
      const q = channel === undefined ? '' : `?channel=${encodeURIComponent(channel)}`;
      const res = await stub().fetch(`https://voice/peers${q}`);
      if (!res.ok) throw new Error(`voice hub answered ${res.status}`);
      return (await res.json()) as VoicePeer[];
    },
    connect(req) {
      return stub().fetch(
        new Request('https://voice/connect', { headers: { Upgrade: 'websocket' }, signal: req.signal }),
      );
    },
  };
}
