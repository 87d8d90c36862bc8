import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import type { AppContext } from '../worker/src/context.js';
import { AppError } from '../worker/src/http/errors.js';
import type { FileDroneHub } from '../worker/src/domain/file-server/hub.js';
import { authenticateFileDrone, FILE_DRONE_PATH, setDroneStatus } from '../worker/src/domain/file-server/service.js';

/**
 * The `/ws/file-drone` upgrade on Node (spec 05 §11.1): authenticate, then hand the socket to the
 * in-process hub. Refusals complete the handshake and close with the spec's codes (4401/4403),
 * so drone clients see a reason. Every 15 s the hub pings; a drone that missed a pong is dropped.
 */
export function fileDroneTunnel(app: AppContext, hub: FileDroneHub) {
  // `ws` is loaded with the first drone's upgrade, not at start (start-up memory, issue 11).
  let wss: WebSocketServer | undefined;
  let loading: Promise<WebSocketServer> | undefined;
  const webSocketServer = () => {
    loading ??= import('ws').then(
      (ws) => (wss = new ws.WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 })),
    );
    return loading;
  };
  hub.setListeners({
    onDisconnect: (id) => void setDroneStatus(app, id, 'offline').catch(() => undefined),
  });
  /** server.ts routes upgrades by exact path (spec 01 §1.10); this one is FILE_DRONE_PATH's. */
  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const ip = req.socket.remoteAddress ?? '';
    authenticateFileDrone(app, url, headers, ip)
      .catch((err) =>
        err instanceof AppError && err.status === 429
          ? { ok: false as const, code: 4429, reason: err.message }
          : { ok: false as const, code: 1011, reason: 'Server error' },
      )
      .then(async (auth) => {
        const server = await webSocketServer();
        server.handleUpgrade(req, socket, head, (ws: WebSocket) => {
          if (!auth.ok) {
            ws.close(auth.code, auth.reason);
            return;
          }
          const h = hub.attach(auth.droneId, ws);
          ws.on('message', (data, isBinary) => {
            if (!isBinary) h.message(data.toString());
          });
          ws.on('close', () => h.close());
          ws.on('error', () => ws.terminate());
        });
      });
  };
  const ping = setInterval(() => hub.ping(), 15_000);
  ping.unref();
  return {
    path: FILE_DRONE_PATH,
    handle,
    close() {
      clearInterval(ping);
      if (!wss) return;
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}
