import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { AppError } from '../../http/errors.js';
import { parseWith } from '../../http/validate.js';
import { principalOf, resolveAny, type Principal } from '../../auth/principal.js';
import { assertProjectScope } from '../../auth/scope.js';
import { EventService, eventScopeOf, issueStreamTicket, parseSince, principalFromTicket } from './service.js';
import { eventStream, SSE_HEADERS, SSE_MAX_PER_IP, SSE_MAX_TOTAL } from './stream.js';
import { eventsRepo, type EventFilters } from './repo.js';
import {
  Event,
  EventFilterQuery,
  EventListQuery,
  EventPosted,
  EventStreamQuery,
  PostEvent,
  StreamTicket,
} from './schema.js';

function filtersOf(q: { project_id?: string; type?: string; agent?: string }): EventFilters {
  return { projectId: q.project_id, type: q.type, agent: q.agent };
}

const tags = ['Events'];
/** The stream authenticates itself (ticket, token or headers), after its connection limits. */
const ownAuth = async (_c: unknown, next: () => Promise<void>) => next();

const EVENT_RETENTION_DAYS = 60;

/** Event log, client events and the SSE stream (spec 04 §7.2–7.3). */
export function eventRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const events = new EventService(app);
  /** Open streams per client IP, this process/isolate (spec 07 SEC-44). */
  const openByIp = new Map<string, number>();
  let openTotal = 0;

  // Where a hub feeds the streams (Workers), every committed event wakes it; liveness events that
  // have no row travel with the wake. Subscribers run after commit, under the request's waitUntil.
  const hub = app.runtime.eventHub;
  if (hub) app.events.subscribe((e) => hub.wake(e.id === null ? [e] : []));

  app.jobs.push({
    name: 'events_retention',
    everyMs: 24 * 3_600_000,
    run: (a) => eventsRepo.purgeOlderThan(a.db, EVENT_RETENTION_DAYS),
  });

  defineRoute(
    r,
    {
      method: 'get',
      path: '/events',
      tags,
      summary: 'The event log, newest first (agents: their projects and their own)',
      access: 'any',
      query: EventListQuery,
      response: z.array(Event),
    },
    (c, { query }) =>
      events.list(principalOf(c), {
        ...filtersOf(query),
        since: parseSince(query.since),
        search: query.search ? query.search.slice(0, 200) : undefined,
        limit: query.limit,
        offset: query.offset,
      }),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/events',
      tags,
      summary: 'Record a client event',
      access: 'any',
      body: PostEvent,
      response: EventPosted,
      errors: [403],
    },
    async (c, { body: input }) => {
      const p = principalOf(c);
      const projectId = input.project_id || null;
      // An agent posts activity only into projects it may write (weak spot E2).
      await assertProjectScope(app.db, p, projectId, { write: true });
      return events.post(p, { type: input.type, projectId, summary: input.summary ?? '', data: input.data });
    },
  );

  /** A 5-minute ticket for `GET /events/stream?ticket=` so browsers keep JWTs out of URLs. */
  defineRoute(
    r,
    {
      method: 'post',
      path: '/events/stream-ticket',
      tags,
      summary: 'A 5-minute ticket for the event stream',
      access: 'any',
      response: StreamTicket,
    },
    (c) => issueStreamTicket(app, principalOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/events/stream',
      tags,
      summary: 'Server-sent events of the log as it grows',
      description: 'Authenticated by `ticket`, `token` or the usual headers; resumes after `Last-Event-ID`.',
      access: 'any',
      guard: ownAuth,
      query: EventStreamQuery,
      response: { contentType: 'text/event-stream', description: 'One `data:` line of JSON per event' },
      errors: [429, 503],
    },
    async (c, { query }) => {
      const ip = c.get('clientIp');
      if ((openByIp.get(ip) ?? 0) >= SSE_MAX_PER_IP) throw new AppError(429, 'Too many SSE connections from this IP');
      if (openTotal >= SSE_MAX_TOTAL) throw new AppError(429, 'Too many SSE connections', {}, { 'Retry-After': '30' });

      // Authentication completes before any SSE header, so failures are plain JSON (SEC-44).
      let p: Principal | null = null;
      const ticket = query.ticket;
      if (ticket) {
        p = await principalFromTicket(app, ticket);
        if (!p) throw new AppError(401, 'Invalid or expired stream ticket');
      }
      const token = query.token;
      if (!p && token) {
        const j = await c.get('credentials').fromToken(token);
        if (j.state === 'valid') p = j.principal; // an invalid token falls through to the headers
      }
      p ??= await resolveAny(c.get('credentials'));

      const filters = filtersOf(parseWith(EventFilterQuery, query));
      const lastId = c.req.header('last-event-id') ?? query.last_event_id;
      const resumeAfter = lastId && /^\d{1,15}$/.test(lastId) ? Number(lastId) : null;
      const scope = await eventScopeOf(app, p);

      openByIp.set(ip, (openByIp.get(ip) ?? 0) + 1);
      openTotal++;
      const onClose = () => {
        openTotal--;
        const n = (openByIp.get(ip) ?? 1) - 1;
        if (n <= 0) openByIp.delete(ip);
        else openByIp.set(ip, n);
      };
      if (hub) {
        const res = await hub.open({ filters, scope, resumeAfter }).catch((err) => {
          onClose();
          app.log.error('event hub unavailable', { error: (err as Error).message });
          throw new AppError(503, 'Event stream unavailable, try again');
        });
        if (!res.body) {
          onClose();
          throw new AppError(503, 'Event stream unavailable, try again');
        }
        // The hub's stream passes through this request, which holds the per-IP count until the
        // stream ends either way (the client leaving cancels the pipe, and so the hub's stream).
        const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
        const left = new AbortController();
        c.req.raw.signal?.addEventListener('abort', () => left.abort());
        res.body
          .pipeTo(writable, { signal: left.signal })
          .catch(() => undefined)
          .finally(onClose);
        return new Response(readable, { status: 200, headers: SSE_HEADERS });
      }
      const { body, close } = eventStream(app, { filters, scope, resumeAfter, onClose });
      c.req.raw.signal?.addEventListener('abort', close);
      return new Response(body, { status: 200, headers: SSE_HEADERS });
    },
  );

  return r;
}
