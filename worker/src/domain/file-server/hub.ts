import type { FileDroneTunnel } from '../../runtime.js';

/**
 * The file-drone tunnel (spec 05 §11): file drones keep a WebSocket open and serve a directory
 * tree; HTTP callers browse and download through it. This hub is the one place the sockets
 * live — in-process on Node, inside a Durable Object on Workers — and is written against the
 * Web WebSocket surface only, so both hosts run the same code.
 */

export interface TunnelSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export class TunnelError extends Error {
  constructor(
    readonly kind: 'no_drone' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  /** Streaming requests get their chunks here once `file_start` arrived. */
  stream?: ReadableStreamDefaultController<Uint8Array>;
  timer: ReturnType<typeof setTimeout>;
}

interface DroneEntry {
  socket: TunnelSocket;
  info: unknown;
  pending: Map<string, Pending>;
  missedPong: boolean;
}

export interface HubOptions {
  requestTimeoutMs?: number;
  searchTimeoutMs?: number;
  downloadTimeoutMs?: number;
  onConnect?(droneId: string): void;
  onDisconnect?(droneId: string): void;
}

function b64decode(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class FileDroneHub implements FileDroneTunnel {
  private readonly drones = new Map<string, DroneEntry>();
  private seq = 0;

  constructor(private opts: HubOptions = {}) {}

  /** The host (which knows the database) subscribes to connects and disconnects. */
  setListeners(l: Pick<HubOptions, 'onConnect' | 'onDisconnect'>) {
    this.opts = { ...this.opts, ...l };
  }

  /**
   * Registers a connected drone. A newer connection replaces an older one, and the older socket
   * is closed; the old socket's close never removes the new entry (spec 05 §17.4).
   * Returns the handlers the host wires to the socket's message and close events.
   */
  attach(droneId: string, socket: TunnelSocket) {
    const old = this.drones.get(droneId);
    if (old) this.drop(droneId, old, 'Drone reconnected', true);
    const entry: DroneEntry = { socket, info: null, pending: new Map(), missedPong: false };
    this.drones.set(droneId, entry);
    this.opts.onConnect?.(droneId);
    return {
      message: (text: string) => this.onMessage(entry, text),
      close: () => {
        if (this.drones.get(droneId) === entry) {
          this.drop(droneId, entry, 'Drone disconnected', false);
          this.opts.onDisconnect?.(droneId);
        }
      },
    };
  }

  private drop(droneId: string, entry: DroneEntry, reason: string, closeSocket: boolean) {
    if (this.drones.get(droneId) === entry) this.drones.delete(droneId);
    for (const [id, p] of entry.pending) {
      clearTimeout(p.timer);
      if (p.stream) p.stream.error(new Error(reason));
      else p.reject(new TunnelError('failed', reason));
      entry.pending.delete(id);
    }
    if (closeSocket) {
      try {
        entry.socket.close(4000, reason);
      } catch {
        // already closed
      }
    }
  }

  private onMessage(entry: DroneEntry, text: string) {
    let msg: { id?: unknown; type?: unknown; data?: any };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === 'pong') {
      entry.missedPong = false;
      return;
    }
    if (msg.type === 'status') {
      entry.info = msg.data ?? null;
      return;
    }
    if (typeof msg.id !== 'string') return;
    const p = entry.pending.get(msg.id);
    if (!p) return;
    const done = () => {
      clearTimeout(p.timer);
      entry.pending.delete(msg.id as string);
    };
    switch (msg.type) {
      case 'result':
        done();
        p.resolve(msg.data);
        break;
      case 'error':
        done();
        if (p.stream) p.stream.error(new Error(String(msg.data?.error ?? 'Download error')));
        else p.reject(new TunnelError('failed', String(msg.data?.error ?? 'Drone error')));
        break;
      case 'file_start': {
        const d = msg.data ?? {};
        let ctrl!: ReadableStreamDefaultController<Uint8Array>;
        const body = new ReadableStream<Uint8Array>({
          start: (c) => {
            ctrl = c;
          },
        });
        p.stream = ctrl;
        const name = String(d.name ?? 'download').replace(/[^\x20-\x7e]|["\\]/g, '_');
        const headers: Record<string, string> = {
          'Content-Type':
            typeof d.mime === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(d.mime) ? d.mime : 'application/octet-stream',
          'Content-Disposition': `attachment; filename="${name}"`,
        };
        if (Number.isSafeInteger(d.size) && d.size >= 0) headers['Content-Length'] = String(d.size);
        p.resolve(new Response(body, { status: 200, headers }));
        break;
      }
      case 'file_chunk':
        if (p.stream && typeof msg.data === 'string') {
          try {
            p.stream.enqueue(b64decode(msg.data));
          } catch {
            done();
            p.stream.error(new Error('Bad chunk from drone'));
          }
        }
        break;
      case 'file_end':
        done();
        p.stream?.close();
        break;
    }
  }

  private pick(droneId?: string): [string, DroneEntry] {
    if (droneId) {
      const e = this.drones.get(droneId);
      if (e) return [droneId, e];
    } else {
      const first = this.drones.entries().next();
      if (!first.done) return first.value;
    }
    throw new TunnelError('no_drone', 'No file drone connected');
  }

  async status(droneId?: string): Promise<Record<string, unknown>> {
    try {
      const [id, e] = this.pick(droneId);
      return { online: true as const, drone_id: id, info: e.info };
    } catch {
      return { online: false as const, message: 'No file drone connected' };
    }
  }

  private send(droneId: string | undefined, type: string, params: unknown, timeoutMs: number, timeoutMsg: string) {
    const [, entry] = this.pick(droneId);
    const id = `freq_${++this.seq}`;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = entry.pending.get(id);
        entry.pending.delete(id);
        if (p?.stream) p.stream.error(new Error(timeoutMsg));
        else reject(new TunnelError('failed', timeoutMsg));
      }, timeoutMs);
      entry.pending.set(id, { resolve, reject, timer, stream: undefined });
      try {
        entry.socket.send(JSON.stringify({ id, type, params }));
      } catch {
        clearTimeout(timer);
        entry.pending.delete(id);
        reject(new TunnelError('failed', 'Drone disconnected'));
      }
    });
  }

  /** A request/response operation (`file_list`, `file_info`, `file_search`). */
  async request(droneId: string | undefined, type: string, params: Record<string, unknown>): Promise<unknown> {
    const ms = type === 'file_search' ? (this.opts.searchTimeoutMs ?? 30_000) : (this.opts.requestTimeoutMs ?? 15_000);
    return this.send(droneId, type, params, ms, 'Request timed out');
  }

  /**
   * A streamed download: resolves with the Response at `file_start`. A failure after that point
   * errors the body stream, which aborts the HTTP response instead of leaving it open (§17.4).
   */
  async download(
    droneId: string | undefined,
    type: 'file_download' | 'folder_download',
    params: Record<string, unknown>,
  ): Promise<Response> {
    const r = await this.send(droneId, type, params, this.opts.downloadTimeoutMs ?? 300_000, 'Download timed out');
    if (!(r instanceof Response)) throw new TunnelError('failed', 'Download error');
    return r;
  }

  /** Liveness: a drone that did not answer the previous ping is dropped (every 15 s by the host). */
  ping() {
    for (const [id, e] of [...this.drones]) {
      if (e.missedPong) {
        this.drop(id, e, 'Drone missed a ping', true);
        this.opts.onDisconnect?.(id);
        continue;
      }
      e.missedPong = true;
      try {
        e.socket.send(JSON.stringify({ type: 'ping' }));
      } catch {
        // close handler will clean up
      }
    }
  }

  get size() {
    return this.drones.size;
  }
}
