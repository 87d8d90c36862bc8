import { displayName } from '../../auth/who.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { ResultSet, Statement } from '../../db/types.js';
import type { EventInput } from '../events/bus.js';
import { badRequest, forbidden, invalidEnum, notFound } from '../../http/errors.js';
import { agentsRepo } from '../agents/repo.js';
import { messagesRepo, type MessageFilters, type MessageRow, type MessageViewer, type NewMessage } from './repo.js';
import { ChannelService } from '../channels/service.js';
import { WebhookService } from '../webhooks/service.js';
import { enforceOnMessage } from '../context/enforcement.js';
import { sleepRepo } from '../admin/repo.js';
import { inboxRepo } from '../inbox/repo.js';
import { atomicWrite } from '../events/write.js';

export const MSG_TYPES = ['message', 'request', 'directive', 'info'] as const;
const MSG_PRIORITIES = ['urgent', 'normal', 'fyi'] as const;
const MAX_CONTENT = 100_000;

/** Directives only from admins and operators (spec 07 SEC-11); never from `body.from`. */
function maySendDirective(p: Principal): boolean {
  if (p.isAdmin) return true;
  if (p.kind === 'operator') return p.role === 'operator';
  return p.role === 'operator';
}

/** Emits events whose rows go in one batch with any other statements given. */
export async function commitWithEvents(app: AppContext, stmts: Statement[], events: EventInput[]) {
  const w = atomicWrite(app).addAll(stmts);
  for (const e of events) w.event(e);
  return w.commit();
}

/**
 * Inserts new rows and everything that names their id (inbox items, event rows) as one atomic
 * unit, then publishes the events after commit. This cannot be one db.batch: the follow-up rows
 * carry the new id inside JSON `data` built here (and the event rows come from the bus), so the
 * id read decides the later writes — the case an interactive transaction is for. `follow` must
 * not read the database; do reads before.
 */
export async function insertWithFollowUps<T>(
  app: AppContext,
  first: Statement[],
  follow: (inserted: ResultSet[]) => { stmts: Statement[]; events: EventInput[]; result: T },
): Promise<T> {
  const done = await app.db.transaction(async (tx) => {
    const inserted: ResultSet[] = [];
    for (const s of first) inserted.push(await tx.execute(s.sql, s.args));
    const f = follow(inserted);
    for (const s of f.stmts) await tx.execute(s.sql, s.args);
    const eventRows: { id: number | null; row: Record<string, unknown> | undefined }[] = [];
    for (const e of f.events) {
      const s = app.events.statement(e);
      const r = await tx.execute(s.sql, s.args);
      eventRows.push({ id: Number(r.rows[0]?.id ?? r.lastInsertRowid), row: r.rows[0] });
    }
    return { ...f, eventRows };
  });
  done.events.forEach((e, i) => {
    app.events.publishWritten(e, done.eventRows[i].id, done.eventRows[i].row);
  });
  return done.result;
}

export function contentOf(body: Record<string, unknown>): string {
  const c = body.content;
  // `content` is the only text field; a payload in `body`/`message`/`text` is refused (spec 03 §7.2).
  if (c === undefined || c === null || c === '') throw badRequest('content is required');
  if (typeof c !== 'string') throw badRequest('content must be a string');
  if (!c.trim()) throw badRequest('content is required');
  if (c.length > MAX_CONTENT) throw badRequest(`content exceeds max length (${MAX_CONTENT} chars)`);
  return c;
}

export function optString(body: Record<string, unknown>, field: string, max = 200): string | null {
  const v = body[field];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (v.length > max) throw badRequest(`${field} exceeds max length (${max} chars)`);
  return v;
}

export function metadataOf(body: Record<string, unknown>): string {
  const m = body.metadata;
  if (m === undefined || m === null) return '{}';
  if (typeof m !== 'object' || Array.isArray(m)) throw badRequest('metadata must be an object');
  return JSON.stringify(m);
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}...` : s);

export class MessageService {
  constructor(private readonly app: AppContext) {}

  /**
   * The caller as a reader of messages (spec README "Privacy of messages"): admins see all
   * (null); everyone else, agent or operator, what they sent or received under any of their
   * identities, plus broadcasts in the channels the channel rule lets them read — so a DM is
   * readable only by its two parties and admins.
   */
  private async viewer(p: Principal): Promise<MessageViewer | null> {
    const channels = await new ChannelService(this.app).readScope(p);
    if (channels === null) return null;
    return { selves: [...new Set([p.who, channels.memberId])], channels };
  }

  async list(p: Principal, f: MessageFilters) {
    return messagesRepo.list(this.app.db, f, await this.viewer(p));
  }

  async threads(p: Principal, limit: number) {
    return messagesRepo.threads(this.app.db, limit, await this.viewer(p));
  }

  async send(p: Principal, body: Record<string, unknown>) {
    const { db } = this.app;
    // The guardrails pre-check lives here, where every writer passes (POST /messages and plugins'
    // core.messages.send alike), and runs first, before validation (spec 06 §5.1, SEC-37).
    // Guardrails see the resolved recipient, whichever field carried it (spec 03 W21).
    const addressee =
      typeof body.to_agent === 'string' && body.to_agent ? body.to_agent : typeof body.to === 'string' ? body.to : null;
    await this.app.guards.check(
      'message.send',
      {
        agent: p.who,
        to_agent: addressee,
        msg_type: body.msg_type ?? 'message',
        content: typeof body.content === 'string' ? body.content.slice(0, 200) : '',
      },
      p,
    );
    const content = contentOf(body);
    const sender = p.who;
    const to = optString(body, 'to_agent', 128) ?? optString(body, 'to', 128);
    const msgType = body.msg_type === undefined || body.msg_type === null ? 'message' : body.msg_type;
    if (typeof msgType !== 'string' || !(MSG_TYPES as readonly string[]).includes(msgType))
      throw invalidEnum('msg_type', msgType, MSG_TYPES);
    const priority = body.priority === undefined || body.priority === null ? 'normal' : body.priority;
    if (typeof priority !== 'string' || !(MSG_PRIORITIES as readonly string[]).includes(priority))
      throw invalidEnum('priority', priority, MSG_PRIORITIES);
    if (msgType === 'directive' && !maySendDirective(p)) throw forbidden('Only admin or operators can send directives');
    const thread = optString(body, 'thread_id', 200);
    const project = optString(body, 'project_id', 200);
    const metadata = metadataOf(body);
    // Enforcement rules after the input checks (a hit writes an event) and before anything is
    // written (spec 03 §7.2).
    await enforceOnMessage(this.app, p, content);

    let channelId: number | null = null;
    if (body.channel_id !== undefined && body.channel_id !== null) {
      const cid =
        typeof body.channel_id === 'string' && /^\d+$/.test(body.channel_id)
          ? Number(body.channel_id)
          : body.channel_id;
      if (typeof cid !== 'number' || !Number.isInteger(cid) || cid < 1)
        throw badRequest('channel_id must be an integer');
      const ch = await messagesRepo.channel(db, cid);
      if (!ch) throw notFound('Channel not found');
      // Posting into a channel needs the right to read it (spec README privacy): members for
      // agents, and for everyone but admins in a DM.
      if (!(await new ChannelService(this.app).mayRead(p, ch))) throw forbidden('Not a member of this channel');
      channelId = cid;
    } else if (!to) {
      channelId = (await messagesRepo.generalChannelId(db))?.id ?? null;
    } else if (to !== sender) {
      // Directed messages are stamped with the pair's DM channel (spec 03 §9.3, §9.4); a DM that
      // cannot be opened never blocks the message itself.
      try {
        channelId = (await new ChannelService(this.app).dm(p, to, 'agent')).channel_id;
      } catch (err) {
        this.app.log.warn('dm channel unavailable', { to, error: (err as Error).message });
      }
    }

    const msg: NewMessage = {
      from_agent: sender,
      to_agent: to,
      thread_id: thread,
      project_id: project,
      content,
      metadata,
      msg_type: msgType,
      status: 'sent',
      channel_id: channelId,
      priority,
    };
    const notify = !(sender === '__system__' && to === '__system__');
    // Reads first: inside the write below only the new id is still unknown.
    const recipient = notify && to && msgType === 'request' ? await agentsRepo.get(db, to) : undefined;
    const mentioned = notify ? await this.mentionedOperators(content) : [];
    const hooks = new WebhookService(this.app);
    const id = await insertWithFollowUps(this.app, [messagesRepo.insert(msg)], ([ins]) => {
      const id = Number(ins.rows[0].id);
      const stmts: Statement[] = [];
      const events: EventInput[] = [];
      if (notify) {
        events.push({
          type: 'message_sent',
          agent: sender,
          projectId: project,
          summary: to
            ? `${displayName(sender)} sent message to ${displayName(to)}`
            : `${displayName(sender)} sent message (broadcast)`,
          data: { message_id: id },
        });
        if (to) {
          events.push({
            type: 'message_received',
            agent: to,
            projectId: project,
            summary: `${displayName(sender)} → ${displayName(to)}`,
            data: { message_id: id, from: sender, msg_type: msgType, priority },
          });
          // Both request flavours reach the recipient's operator (spec 03 W14).
          if (recipient?.operator_id)
            stmts.push(requestInboxItem(recipient.operator_id, id, sender, to, content, project));
        }
        if (msgType === 'directive') {
          stmts.push(
            inboxRepo.insertForAllActive({
              type: 'message',
              entity_type: 'message',
              entity_id: String(id),
              title: `Directive from ${displayName(sender)}`,
              summary: clip(content, 80),
              priority: 'urgent',
              data: { message_id: id, from: sender, msg_type: 'directive' },
            }),
          );
        }
        stmts.push(...mentioned.map((op) => mentionItem(op, content, id, sender, project)));
        stmts.push(sleepRepo.countMessage());
      }
      // The recipient's webhook (spec 04 §8.3) commits with the message.
      if (to && notify)
        stmts.push(
          hooks.enqueueStatement('message_sent', to, { message_id: id, from: sender, content: content.slice(0, 200) }),
        );
      return { stmts, events, result: id };
    });
    if (to && notify) hooks.kick();
    return { id };
  }

  /** @mentions reach only existing active operators, and not e-mail domains (spec 03 W13). */
  private async mentionedOperators(content: string): Promise<string[]> {
    const tokens = new Set<string>();
    for (const m of content.matchAll(/(?<![\w.])@([a-z0-9_-]+)/gi)) tokens.add(m[1].toLowerCase());
    if (!tokens.size) return [];
    const ops = await this.app.db.all<{ id: string }>(
      `SELECT id FROM operators WHERE status = 'active' AND lower(id) IN (${[...tokens].map(() => '?').join(',')})`,
      [...tokens],
    );
    return ops.map((o) => o.id);
  }

  /**
   * Who may change a message's state: its recipient, its sender, or an admin (spec 03 W9, SEC-20);
   * an agent in a broadcast's audience acks for itself only. A non-admin operator counts as a party
   * under any of the identities the read rule gives it, and is otherwise refused like an agent.
   */
  private async ownedMessage(
    p: Principal,
    id: number,
  ): Promise<{ msg: MessageRow; role: 'staff' | 'recipient' | 'sender' | 'audience' }> {
    const msg = await messagesRepo.get(this.app.db, id);
    if (!msg) throw notFound('Message not found');
    if (p.isAdmin) return { msg, role: 'staff' };
    if (p.kind !== 'agent') {
      const selves = (await this.viewer(p))?.selves ?? [];
      if (msg.to_agent !== null && selves.includes(msg.to_agent)) return { msg, role: 'recipient' };
      if (selves.includes(msg.from_agent)) return { msg, role: 'sender' };
      throw forbidden('Only the recipient or the sender can change this message');
    }
    if (msg.to_agent === p.id) return { msg, role: 'recipient' };
    if (msg.from_agent === p.id) return { msg, role: 'sender' };
    if (
      msg.to_agent === null &&
      (msg.channel_id === null || (await messagesRepo.isChannelMember(this.app.db, msg.channel_id, p.id)))
    )
      return { msg, role: 'audience' };
    throw forbidden('Only the recipient or the sender can change this message');
  }

  /** Hard delete of the matching messages and their read marks, in one batch. */
  async bulkDelete(f: { from?: string; to?: string; content_like?: string }) {
    const s = messagesRepo.bulkDelete(f);
    const res = await atomicWrite(this.app).add(null, s.reads).add('messages', s.messages).commit();
    return { deleted: res.changes('messages') };
  }

  async ack(p: Principal, id: number) {
    const { msg, role } = await this.ownedMessage(p, id);
    const who = p.who;
    const ev: EventInput = {
      type: 'request_acknowledged',
      agent: who,
      projectId: msg.project_id,
      summary: `${displayName(who)} acknowledged request #${id}`,
      data: { message_id: id },
    };
    // A broadcast acked by one agent is acked for that agent only (spec 03 W9).
    const write: Statement =
      role === 'audience' && p.kind === 'agent'
        ? messagesRepo.markRead(p.id, [id])[0]
        : { sql: "UPDATE messages SET status = 'acknowledged' WHERE id = ?", args: [id] };
    await commitWithEvents(this.app, [write], [ev]);
    return { ok: true, id, status: 'acknowledged' };
  }

  /** Resolve (spec 03 §7.4); `withEvents` false is the PUT /requests path (no reply events). */
  async resolve(p: Principal, id: number, response: unknown, withEvents = true) {
    const { msg, role } = await this.ownedMessage(p, id);
    if (role === 'audience') throw forbidden('Only the recipient or the sender can change this message');
    if (response !== undefined && response !== null && typeof response !== 'string')
      throw badRequest('response must be a string');
    if (typeof response === 'string' && response.length > MAX_CONTENT)
      throw badRequest(`response exceeds max length (${MAX_CONTENT} chars)`);
    let responder = p.who;
    if (p.kind === 'admin' && !p.actingAs && msg.to_agent) responder = msg.to_agent;
    const reply = typeof response === 'string' && response.trim() !== '';
    const w = atomicWrite(this.app)
      .add(null, messagesRepo.resolve(id, responder))
      .event({
        type: 'request_resolved',
        agent: responder,
        projectId: msg.project_id,
        summary: `${displayName(responder)} resolved request #${id}`,
        data: { message_id: id },
      });
    if (withEvents && msg.from_agent !== responder) {
      w.event({
        type: 'message_resolved_for_sender',
        agent: msg.from_agent,
        projectId: msg.project_id,
        summary: `${displayName(responder)} resolved your message #${id}`,
        data: { message_id: id, resolved_by: responder },
      });
    }
    if (reply) {
      w.add(
        'reply',
        messagesRepo.insert({
          from_agent: responder,
          to_agent: msg.from_agent,
          thread_id: msg.thread_id,
          project_id: msg.project_id,
          content: response as string,
          metadata: '{}',
          msg_type: 'message',
          status: 'sent',
          channel_id: null,
          priority: 'normal',
        }),
      );
      // Right after the reply's insert, so the event names the reply's new id.
      if (withEvents) {
        w.eventWithNewId(
          {
            type: 'message_received',
            agent: msg.from_agent,
            projectId: msg.project_id,
            summary: `${displayName(responder)} → ${displayName(msg.from_agent)}`,
            data: { message_id: 0, from: responder, msg_type: 'message', in_reply_to: id },
          },
          'message_id',
        );
      }
    }
    const res = await w.commit();
    const out: { ok: true; id: number; status: 'resolved'; response_id?: number } = {
      ok: true,
      id,
      status: 'resolved',
    };
    if (reply) out.response_id = Number(res.row<{ id: number }>('reply')!.id);
    return out;
  }
}

function mentionItem(
  operatorId: string,
  content: string,
  id: number,
  sender: string,
  project: string | null,
): Statement {
  return inboxRepo.insertFor(operatorId, {
    type: 'mention',
    entity_type: 'message',
    entity_id: String(id),
    title: `${displayName(sender)} mentioned you`,
    summary: clip(content, 120),
    priority: 'normal',
    data: { message_id: id, from: sender, project_id: project },
  });
}

export function requestInboxItem(
  operatorId: string,
  id: number,
  sender: string,
  to: string,
  content: string,
  project: string | null,
): Statement {
  return inboxRepo.insertFor(operatorId, {
    type: 'message',
    entity_type: 'message',
    entity_id: String(id),
    title: `Request from ${displayName(sender)}`,
    summary: clip(content, 120),
    priority: 'urgent',
    data: { message_id: id, from: sender, to, msg_type: 'request', project_id: project },
  });
}
