import { toDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { MyceliumEvent } from './bus.js';
import { eventsRepo, type EventFilters, type EventRow, type EventScope } from './repo.js';

/** Spec 04 §7.3 numbers. */
export const SSE_REPLAY_COUNT = 20;
export const SSE_MAX_PER_IP = 5;
/** Per process/isolate, whatever the addresses: each stream holds a poll loop (weak spot E9). */
export const SSE_MAX_TOTAL = 1000;
export const SSE_KEEPALIVE_MS = 30_000;
/** How often an open stream reads the events table for rows written by other processes/isolates. */
const SSE_POLL_MS = 400;
export const RESUME_MAX = 500;
export const POLL_BATCH = 200;

export const SSE_HEADERS: Record<string, string> = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

const enc = new TextEncoder();

/**
 * One frame. `data` is the event row with its payload as the stored JSON string, the same shape
 * for replay and live (spec 07 REL-21); key order as in the spec. Persisted events carry an
 * `id:` line so EventSource resumes with Last-Event-ID (weak spot E4).
 */
export function frame(e: {
  id: number | null;
  type: string;
  agent: string;
  project_id: string | null;
  summary: string;
  data: string;
  created_at: string;
}) {
  const json = JSON.stringify({
    id: e.id,
    type: e.type,
    agent: e.agent,
    project_id: e.project_id,
    summary: e.summary,
    data: e.data,
    created_at: e.created_at,
  });
  return enc.encode(`${e.id !== null ? `id: ${e.id}\n` : ''}data: ${json}\n\n`);
}

export function matches(
  f: EventFilters,
  scope: EventScope | null,
  e: { type: string; agent: string; project_id: string | null },
) {
  if (f.type && e.type !== f.type) return false;
  if (f.agent && e.agent !== f.agent) return false;
  if (f.projectId && e.project_id !== f.projectId) return false;
  if (scope && e.project_id && !scope.projectIds.includes(e.project_id) && e.agent !== scope.agentId) return false;
  return true;
}

export interface StreamOptions {
  filters: EventFilters;
  scope: EventScope | null;
  /** Last-Event-ID: resume after this id instead of replaying the latest 20. */
  resumeAfter: number | null;
  onClose: () => void;
}

/**
 * The event stream body. It reads the `events` table by cursor — every SSE_POLL_MS, and at
 * once when this process's bus publishes — so events written by any process or isolate reach
 * every stream (spec ARCHITECTURE: never only an in-memory bus). Unpersisted liveness events
 * (agent_heartbeat) have no row and arrive from the in-process bus only.
 */
export function eventStream(
  app: AppContext,
  opts: StreamOptions,
): { body: ReadableStream<Uint8Array>; close: () => void } {
  const { filters, scope } = opts;
  let closed = false;
  let wake: (() => void) | null = null;
  let unsubscribe: () => void = () => undefined;
  let keepalive: ReturnType<typeof setInterval> | undefined;
  const pendingLive: MyceliumEvent[] = [];
  let ctrl: ReadableStreamDefaultController<Uint8Array> | null = null;
  const crossRequestWake = app.runtime.crossRequestWake;

  const close = () => {
    if (closed) return;
    closed = true;
    unsubscribe();
    if (keepalive) clearInterval(keepalive);
    wake?.();
    opts.onClose();
    try {
      ctrl?.close();
    } catch {
      /* already closed or cancelled */
    }
  };

  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      ctrl = controller;
      const send = (bytes: Uint8Array) => {
        if (closed) return;
        try {
          controller.enqueue(bytes);
        } catch {
          close(); // a write error removes the stream (spec 04 §7.3)
        }
      };

      unsubscribe = app.events.subscribe((e) => {
        if (closed) return;
        if (e.id === null && matches(filters, scope, e)) pendingLive.push(e);
        // workerd forbids resolving one request's promise from another request's context, so
        // there the stream relies on its own poll timer; on Node the wake-up is immediate.
        if (crossRequestWake) wake?.();
      });
      keepalive = setInterval(() => send(enc.encode(': keepalive\n\n')), SSE_KEEPALIVE_MS);

      const pump = async () => {
        let cursor = await eventsRepo.maxId(app.db);
        const replay =
          opts.resumeAfter !== null
            ? await eventsRepo.range(app.db, filters, scope, opts.resumeAfter, cursor, RESUME_MAX)
            : await eventsRepo.recent(app.db, filters, scope, cursor, SSE_REPLAY_COUNT);
        for (const row of replay) send(frame(row));
        while (!closed) {
          for (const e of pendingLive.splice(0)) {
            send(frame({ ...e, data: JSON.stringify(e.data ?? {}), created_at: toDbTime(Date.parse(e.created_at)) }));
          }
          // Cursor = highest id seen, matching or not, so each poll reads only new rows.
          const top = await eventsRepo.maxId(app.db);
          let from = cursor;
          while (top > from && !closed) {
            const rows: EventRow[] = await eventsRepo.range(app.db, filters, scope, from, top, POLL_BATCH);
            for (const row of rows) send(frame(row));
            from = rows.length === POLL_BATCH ? rows[rows.length - 1].id : top;
          }
          cursor = Math.max(cursor, top);
          if (closed) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, SSE_POLL_MS);
            function done() {
              clearTimeout(timer);
              wake = null;
              resolve();
            }
            wake = done;
          });
        }
      };
      pump().catch((err) => {
        app.log.error('event stream failed', { error: (err as Error).message });
        close();
      });
    },
    cancel() {
      close();
    },
  });
  return { body, close };
}
