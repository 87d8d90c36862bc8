import { toDbTime } from '../../db/time.js';
import type { Queryable } from '../../db/db.js';
import type { MyceliumEvent } from './bus.js';
import { eventsRepo, type EventFilters, type EventRow, type EventScope } from './repo.js';
import { frame, matches, POLL_BATCH, RESUME_MAX, SSE_HEADERS, SSE_KEEPALIVE_MS, SSE_REPLAY_COUNT } from './stream.js';

/**
 * One place that feeds every open event stream of an instance: on Workers it lives in a Durable
 * Object (worker/src/event-hub.ts), on Node in the process (`inProcessEventHub`), so streams are
 * pushed to instead of each polling the database.
 *
 * - A write anywhere calls `wake()` (a fetch to the object, from the writing request's waitUntil);
 *   the hub then reads the rows after its cursor ONCE and fans them out to every matching stream.
 *   Liveness events that have no row (agent_heartbeat) travel in the wake itself.
 * - While at least one stream is open, a safety read every `pollMs` picks up rows written without a
 *   wake (a lost wake, another process on the same file): one read per hub, however many streams.
 * - No stream open: no timer, no reads. A stream whose client left is dropped at once.
 */
export const FALLBACK_POLL_MS = 1_000;
/** On Node the safety read is a cheap local one; 400 ms keeps cross-process delivery under a second. */
const NODE_POLL_MS = 400;

export interface HubStreamRequest {
  filters: EventFilters;
  scope: EventScope | null;
  /** Last-Event-ID: resume after this id instead of replaying the latest 20. */
  resumeAfter: number | null;
}

interface Client {
  req: HubStreamRequest;
  ctrl: ReadableStreamDefaultController<Uint8Array>;
  /** Frames that arrive while the client's replay is still being read, sent right after it. */
  backlog: Uint8Array[] | null;
}

const enc = new TextEncoder();
const PROBE = enc.encode(':\n\n');

export class EventHubCore {
  private readonly clients = new Set<Client>();
  /** Highest event id fanned out; rows after it are new. */
  private cursor: number | null = null;
  private reading: Promise<void> | null = null;
  private again = false;
  private poll: ReturnType<typeof setInterval> | undefined;
  private keepalive: ReturnType<typeof setInterval> | undefined;
  /** Database reads made by the hub (for the per-minute measurement in bench/README.md). */
  reads = 0;

  constructor(
    private readonly db: Queryable,
    private readonly pollMs = FALLBACK_POLL_MS,
  ) {}

  get streams(): number {
    return this.clients.size;
  }

  /** Opens one SSE stream: replay (or resume), then live frames until the client leaves. */
  async open(req: HubStreamRequest): Promise<Response> {
    if (this.cursor === null) {
      this.reads++;
      this.cursor = await eventsRepo.maxId(this.db);
    }
    const upTo = this.cursor;
    let client!: Client;
    const body = new ReadableStream<Uint8Array>({
      start: (ctrl) => {
        client = { req, ctrl, backlog: [] };
        this.clients.add(client);
        this.timers();
      },
      cancel: () => this.drop(client),
    });
    // Replay up to the cursor taken above; anything after it reaches the client through fan-out,
    // held in its backlog until the replay has been sent, so order is kept.
    this.reads++;
    const replay =
      req.resumeAfter !== null
        ? await eventsRepo.range(this.db, req.filters, req.scope, req.resumeAfter, upTo, RESUME_MAX)
        : await eventsRepo.recent(this.db, req.filters, req.scope, upTo, SSE_REPLAY_COUNT);
    for (const row of replay) this.send(client, frame(row));
    const backlog = client.backlog ?? [];
    client.backlog = null;
    for (const bytes of backlog) this.send(client, bytes);
    return new Response(body, { status: 200, headers: SSE_HEADERS });
  }

  /** A write happened: read what is new and fan it out; `live` are events without a row. */
  async wake(live: MyceliumEvent[] = []): Promise<void> {
    // No stream open: no frame to build (every heartbeat's liveness event lands here).
    if (this.clients.size)
      for (const e of live)
        this.fanOut({ ...e, data: JSON.stringify(e.data ?? {}), created_at: toDbTime(Date.parse(e.created_at)) });
    await this.readNew();
  }

  private async readNew(): Promise<void> {
    if (!this.clients.size) {
      this.cursor = null; // nobody listening: the next stream starts from the table's top again
      return;
    }
    // One reader at a time; a wake during a read asks for one more pass.
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        let from = this.cursor ?? 0;
        for (;;) {
          this.reads++;
          const rows: EventRow[] = await eventsRepo.range(this.db, {}, null, from, Number.MAX_SAFE_INTEGER, POLL_BATCH);
          for (const row of rows) this.fanOut(row);
          if (rows.length) from = rows[rows.length - 1].id;
          if (rows.length < POLL_BATCH) break;
        }
        this.cursor = from;
      } while (this.again && this.clients.size);
    })().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private fanOut(row: EventRow | (Omit<EventRow, 'id'> & { id: null })) {
    let bytes: Uint8Array | undefined;
    for (const c of this.clients) {
      if (!matches(c.req.filters, c.req.scope, row)) continue;
      bytes ??= frame(row);
      if (c.backlog) c.backlog.push(bytes);
      else this.send(c, bytes);
    }
  }

  private send(c: Client, bytes: Uint8Array) {
    try {
      c.ctrl.enqueue(bytes);
    } catch {
      this.drop(c); // a write error removes the stream (spec 04 §7.3)
    }
  }

  private drop(c: Client | undefined) {
    if (!c || !this.clients.delete(c)) return;
    try {
      c.ctrl.close();
    } catch {
      /* already closed or cancelled */
    }
    this.timers();
  }

  /** Timers run only while someone listens. */
  private timers() {
    if (this.clients.size && !this.poll) {
      this.poll = setInterval(() => {
        // An empty comment line: the only way a stream learns its client has gone is a write that
        // fails, so each tick writes three bytes to every stream and drops the dead ones at once.
        for (const c of this.clients) if (!c.backlog) this.send(c, PROBE);
        void this.readNew().catch(() => undefined);
      }, this.pollMs);
      this.keepalive = setInterval(() => {
        const ping = enc.encode(': keepalive\n\n');
        for (const c of this.clients) if (!c.backlog) this.send(c, ping);
      }, SSE_KEEPALIVE_MS);
      // On Node, open streams must not keep a stopping process alive (spec 07 REL-14).
      for (const t of [this.poll, this.keepalive] as unknown as { unref?: () => void }[]) t.unref?.();
    } else if (!this.clients.size && this.poll) {
      clearInterval(this.poll);
      clearInterval(this.keepalive);
      this.poll = undefined;
      this.keepalive = undefined;
      this.cursor = null;
    }
  }
}

/** The hub for a runtime without Durable Objects: one per process, woken by the in-process bus. */
export function inProcessEventHub(db: Queryable, pollMs = NODE_POLL_MS) {
  const core = new EventHubCore(db, pollMs);
  return { open: (r: HubStreamRequest) => core.open(r), wake: (live: MyceliumEvent[]) => core.wake(live), core };
}
