import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';
import type { AppContext } from '../worker/src/context.js';
import {
  VOICE_KEEPALIVE_MS,
  VOICE_MAX_FRAME_BYTES,
  VOICE_PATH,
  type VoiceHub,
} from '../worker/src/domain/voice/hub.js';
import { authenticateVoice } from '../worker/src/domain/voice/service.js';

/**
 * `/voice` on Node (spec 01 §1.10, spec 07 P-06): the upgrade is authenticated first, with the same
 * credentials as REST; a refused client gets a plain HTTP answer (401/403/429 JSON) on the raw
 * socket and the handshake never completes. Accepted sockets join the in-process hub, which relays
 * signalling; every `keepaliveMs` the hub pings (protocol ping frames, answered by every client) and
 * drops peers that stayed silent since the previous ping.
 */
export function voiceSignalling(app: AppContext, hub: VoiceHub, keepaliveMs = VOICE_KEEPALIVE_MS) {
  // `ws` is loaded with the first upgrade, not at start (start-up memory, issue 11).
  let wss: WebSocketServer | undefined;
  let loading: Promise<WebSocketServer> | undefined;
  const webSocketServer = () => {
    loading ??= import('ws').then(
      (ws) => (wss = new ws.WebSocketServer({ noServer: true, maxPayload: VOICE_MAX_FRAME_BYTES })),
    );
    return loading;
  };

  const refuse = (socket: Duplex, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(text)}\r\n` +
        'Connection: close\r\n\r\n' +
        text,
    );
  };

  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    socket.on('error', () => socket.destroy());
    authenticateVoice(app, url, headers, req.socket.remoteAddress)
      .catch((err) => {
        app.log.error('voice upgrade failed', { error: (err as Error).message });
        return { ok: false as const, status: 500, body: { error: 'Internal server error' } };
      })
      .then(async (auth) => {
        if (!auth.ok) return refuse(socket, auth.status, auth.body);
        const server = await webSocketServer();
        if (socket.destroyed) return;
        server.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          const h = hub.attach({
            send: (d) => ws.send(d),
            close: (code, reason) => ws.close(code, reason),
            ping: () => ws.ping(),
            terminate: () => ws.terminate(),
          });
          ws.on('pong', () => h.alive());
          ws.on('message', (data, isBinary) => {
            if (isBinary) h.alive();
            else h.message(data.toString());
          });
          ws.on('close', () => h.close());
          ws.on('error', () => {
            h.close();
            ws.terminate();
          });
        });
      });
  };

  const timer = setInterval(() => hub.tick(), keepaliveMs);
  timer.unref();
  return {
    path: VOICE_PATH,
    handle,
    close() {
      clearInterval(timer);
      hub.closeAll();
      if (!wss) return;
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
