/**
 * WebRTC signalling for `/voice` (spec 01 §1.10): peers in named channels (`""` is the lobby) swap
 * offers, answers and ICE candidates through the server; media never passes through it. This hub is
 * the one place the sockets live — in-process on Node, inside the VOICE_HUB Durable Object on
 * Workers — written against a minimal socket surface so both hosts run the same code.
 */

export interface VoicePeer {
  id: string;
  name: string;
  muted: boolean;
  channel: string;
}

export interface VoiceSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /**
   * A protocol-level ping (Node's `ws`), answered by every WebSocket client on its own; the host
   * reports the pong with `alive()`. Where the platform cannot send one (workerd), the hub sends
   * `{"type":"ping"}` instead and any message from the client (e.g. `{"type":"pong"}`) counts.
   */
  ping?(): void;
  /** Drops the connection without a closing handshake (a dead peer will not answer one). */
  terminate?(): void;
}

/** What the REST routes need: the live peer list, wherever the sockets are. */
export interface VoicePort {
  peers(channel?: string): Promise<VoicePeer[]>;
}

interface Entry {
  peer: VoicePeer;
  socket: VoiceSocket;
  /** Heard from (pong or any message) since the previous keepalive tick. */
  alive: boolean;
}

export const VOICE_PATH = '/voice';
/** Spec 01 §1.10: the server pings every 10 s. */
export const VOICE_KEEPALIVE_MS = 10_000;
/** Largest signalling frame accepted (an SDP with many candidates stays far below). */
export const VOICE_MAX_FRAME_BYTES = 256 * 1024;

const RELAYED = new Set(['offer', 'answer', 'ice']);

export class VoiceHub implements VoicePort {
  private readonly entries = new Map<string, Entry>();
  private counter = 0;

  /** Registers a connected socket as a new peer in the lobby; the host wires the returned handlers. */
  attach(socket: VoiceSocket) {
    const n = ++this.counter;
    const entry: Entry = {
      peer: { id: `peer_${n}`, name: `User ${n}`, muted: false, channel: '' },
      socket,
      alive: true,
    };
    this.entries.set(entry.peer.id, entry);
    this.send(entry, { type: 'welcome', id: entry.peer.id, peers: this.inChannel('', entry.peer.id) });
    this.broadcast('', { type: 'peer_joined', peer: { ...entry.peer } }, entry.peer.id);
    return {
      id: entry.peer.id,
      message: (text: string) => this.onMessage(entry, text),
      alive: () => {
        entry.alive = true;
      },
      close: () => this.remove(entry),
    };
  }

  async peers(channel?: string): Promise<VoicePeer[]> {
    return [...this.entries.values()]
      .filter((e) => channel === undefined || e.peer.channel === channel)
      .map((e) => ({ ...e.peer }));
  }

  get size() {
    return this.entries.size;
  }

  /**
   * Keepalive (every VOICE_KEEPALIVE_MS, driven by the host): a peer that neither answered the
   * previous ping nor sent anything since is terminated and announced as `peer_left`.
   */
  tick() {
    for (const e of [...this.entries.values()]) {
      if (!e.alive) {
        this.remove(e);
        try {
          if (e.socket.terminate) e.socket.terminate();
          else e.socket.close(4408, 'Keepalive timeout');
        } catch {
          // already gone
        }
        continue;
      }
      e.alive = false;
      try {
        if (e.socket.ping) e.socket.ping();
        else e.socket.send('{"type":"ping"}');
      } catch {
        // the close handler cleans up
      }
    }
  }

  /** Closes every socket (server shutdown). */
  closeAll(code = 1001, reason = 'Server shutting down') {
    for (const e of [...this.entries.values()]) {
      this.remove(e);
      try {
        e.socket.close(code, reason);
      } catch {
        // already gone
      }
    }
  }

  private remove(e: Entry) {
    if (this.entries.get(e.peer.id) !== e) return;
    this.entries.delete(e.peer.id);
    this.broadcast(e.peer.channel, { type: 'peer_left', id: e.peer.id });
  }

  private inChannel(channel: string, except?: string): VoicePeer[] {
    const out: VoicePeer[] = [];
    for (const e of this.entries.values())
      if (e.peer.channel === channel && e.peer.id !== except) out.push({ ...e.peer });
    return out;
  }

  private send(e: Entry, msg: unknown) {
    try {
      e.socket.send(JSON.stringify(msg));
    } catch {
      // a dead socket is removed by its close handler or the next keepalive tick
    }
  }

  private broadcast(channel: string, msg: unknown, except?: string) {
    const text = JSON.stringify(msg);
    for (const e of this.entries.values()) {
      if (e.peer.channel !== channel || e.peer.id === except) continue;
      try {
        e.socket.send(text);
      } catch {
        // as above
      }
    }
  }

  private onMessage(e: Entry, text: string) {
    e.alive = true;
    if (this.entries.get(e.peer.id) !== e || text.length > VOICE_MAX_FRAME_BYTES) return;
    let msg: Record<string, unknown>;
    try {
      const v = JSON.parse(text) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) return;
      msg = v as Record<string, unknown>;
    } catch {
      return; // unparseable frames are ignored (spec)
    }
    const type = msg.type;
    if (typeof type !== 'string') return;
    const p = e.peer;
    if (type === 'set_name') {
      if (typeof msg.name !== 'string') return;
      const name = msg.name.slice(0, 30);
      if (name) p.name = name;
      this.broadcast(p.channel, { type: 'peer_updated', peer: { ...p } });
    } else if (type === 'mute') {
      p.muted = !!msg.muted;
      this.broadcast(p.channel, { type: 'peer_updated', peer: { ...p } });
    } else if (type === 'join_channel') {
      if (typeof msg.channel !== 'string') return;
      const channel = msg.channel.slice(0, 50);
      if (channel === p.channel) return;
      this.broadcast(p.channel, { type: 'peer_left', id: p.id }, p.id);
      p.channel = channel;
      this.send(e, { type: 'welcome', id: p.id, channel, peers: this.inChannel(channel, p.id) });
      this.broadcast(channel, { type: 'peer_joined', peer: { ...p } }, p.id);
    } else if (RELAYED.has(type)) {
      // Signalling stays inside a channel: a target elsewhere (or gone) is dropped silently.
      const target = typeof msg.to === 'string' ? this.entries.get(msg.to) : undefined;
      if (!target || target === e || target.peer.channel !== p.channel) return;
      this.send(target, { type, from: p.id, sdp: msg.sdp, candidate: msg.candidate });
    }
  }
}
