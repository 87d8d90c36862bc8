import { escapeHtml } from '../../http/html.js';
import { toDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import { badRequest } from '../../http/errors.js';
import { agentProjectIds } from '../../auth/scope.js';
import type { Principal } from '../../auth/principal.js';
import { studioUsersRepo } from '../studio/repo.js';
import { agentsRepo } from '../agents/repo.js';
import { hmacSha256Hex, secretsEqual, base64Encode } from '../../auth/crypto.js';
import { isCoreEventType } from './catalogue.js';
import { eventsRepo, type EventQuery, type EventScope } from './repo.js';

/** `& < > " '` → entities: POST /events stores the summary escaped (spec 04 §7.2). */
/**
 * `since` as an instant (weak spot S2): ISO-8601 with or without zone, or the SQLite
 * `YYYY-MM-DD HH:MM:SS` form (UTC), or a date. Returned in the stored text format so the
 * comparison is between like strings. Anything else is a 400.
 */
export function parseSince(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  // An unencoded `+02:00` offset arrives as a space after query decoding.
  const v = raw.trim().replace(/(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/, '$1+$2');
  let ms = NaN;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) ms = Date.parse(`${v}T00:00:00Z`);
  else if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/.test(v))
    ms = Date.parse(`${v.replace(' ', 'T')}Z`);
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i.test(v)) ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw badRequest('since must be an ISO-8601 date-time');
  return toDbTime(ms);
}

/** The event visibility of a caller (weak spot E2): humans see all, agents shared + their projects + their own. */
export async function eventScopeOf(app: AppContext, p: Principal): Promise<EventScope | null> {
  if (p.kind !== 'agent') return null;
  return { agentId: p.id, projectIds: await agentProjectIds(app.db, p.id, p.projectId) };
}

export interface PostEventInput {
  type: string;
  projectId: string | null;
  summary: string;
  data: unknown;
}

export class EventService {
  constructor(private readonly app: AppContext) {}

  async list(p: Principal, q: EventQuery) {
    return eventsRepo.list(this.app.db, q, await eventScopeOf(this.app, p));
  }

  /**
   * A client event. Core types are the server's alone (spec README "Reserved events", weak spot
   * E1): non-admin callers get 400 so they cannot drive plugin hooks, webhooks or dashboards with
   * forged platform events. The actor is always the authenticated caller.
   */
  async post(p: Principal, input: PostEventInput) {
    if (!p.isAdmin && isCoreEventType(input.type)) throw badRequest(`Event type ${input.type} is reserved`);
    const agent = p.who;
    // Guardrails pre-check (kind `event_emitted`, spec 04 §0.1) before anything is written.
    await this.app.guards.check(
      'event.emit',
      { agent, project_id: input.projectId, type: input.type, summary: input.summary },
      p,
    );
    const ev = await this.app.events.emit({
      type: input.type,
      agent,
      projectId: input.projectId,
      summary: escapeHtml(input.summary),
      data: input.data ?? {},
    });
    return { id: ev.id };
  }
}

/**
 * Short-lived stream tickets (spec 01 weak spot 6.1.2, 04 E3): a browser trades its bearer
 * header for a 5-minute ticket and puts that — not the 7-day JWT — in the EventSource URL.
 * Stateless: `<payload b64url>.<hmac>` keyed by the JWT secret with a purpose prefix, so a
 * ticket is never accepted as anything else and works in every isolate and process.
 */
const STREAM_TICKET_TTL_MS = 5 * 60_000;

type TicketPayload =
  | { k: 'agent'; id: string; exp: number }
  | { k: 'operator'; uid: number; tv: number; exp: number }
  | { k: 'admin'; as: string | null; exp: number };

const b64url = (s: string) =>
  base64Encode(new TextEncoder().encode(s)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromB64url = (s: string) => {
  const b = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b + '='.repeat((4 - (b.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
};

export async function issueStreamTicket(app: AppContext, p: Principal) {
  const exp = app.clock.now().getTime() + STREAM_TICKET_TTL_MS;
  let payload: TicketPayload;
  if (p.kind === 'agent') payload = { k: 'agent', id: p.id, exp };
  else if (p.kind === 'operator') {
    const user = await studioUsersRepo.byId(app.db, p.userId);
    payload = { k: 'operator', uid: p.userId, tv: user?.token_version ?? 0, exp };
  } else payload = { k: 'admin', as: p.actingAs, exp };
  const body = b64url(JSON.stringify(payload));
  const sig = await hmacSha256Hex(`sse-ticket:${app.config.jwtSecret}`, body);
  return { ticket: `${body}.${sig}`, expires_at: new Date(exp).toISOString() };
}

/** The principal a ticket stands for, or null when it is forged, expired or its holder is gone. */
export async function principalFromTicket(app: AppContext, ticket: string): Promise<Principal | null> {
  const dot = ticket.lastIndexOf('.');
  if (dot <= 0) return null;
  const body = ticket.slice(0, dot);
  const expected = await hmacSha256Hex(`sse-ticket:${app.config.jwtSecret}`, body);
  if (!(await secretsEqual(ticket.slice(dot + 1), expected))) return null;
  let payload: TicketPayload;
  try {
    payload = JSON.parse(fromB64url(body)) as TicketPayload;
  } catch {
    return null;
  }
  if (typeof payload.exp !== 'number' || payload.exp < app.clock.now().getTime()) return null;
  if (payload.k === 'agent') {
    const a = await agentsRepo.get(app.db, payload.id);
    if (!a) return null;
    return { kind: 'agent', isAdmin: false, who: a.id, id: a.id, projectId: a.project_id, role: a.role };
  }
  if (payload.k === 'operator') {
    const u = await studioUsersRepo.byId(app.db, payload.uid);
    if (!u || u.token_version !== payload.tv) return null;
    const displayName = u.display_name || u.username;
    return {
      kind: 'operator',
      isAdmin: u.role === 'admin',
      who: displayName,
      userId: u.id,
      username: u.username,
      displayName,
      role: u.role,
    };
  }
  if (payload.k === 'admin')
    return { kind: 'admin', isAdmin: true, who: payload.as ?? '__system__', actingAs: payload.as ?? null };
  return null;
}
