import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import { canonicalWho } from '../operators/service.js';
import { atomicWrite } from '../events/write.js';
import { channelsRepo, PROTECTED_SLUGS, type ChannelReadScope, type ChannelRow, type NewMember } from './repo.js';

export const CHANNEL_TYPES = ['general', 'announcement', 'team', 'project', 'task', 'plan', 'bug'] as const;
export const CHANNEL_STATUSES = ['active', 'archived'] as const;
export const MEMBER_TYPES = ['agent', 'operator'] as const;
export const MEMBER_ROLES = ['member', 'admin'] as const;

/** The caller as the channel subsystem knows it. `sees all` = admins (incl. `__system__`). */
interface Caller {
  p: Principal;
  who: string;
  type: 'agent' | 'operator';
}

function readScopeOf(c: Caller): ChannelReadScope | null {
  return c.p.isAdmin ? null : { memberId: c.who, openChannels: c.p.kind !== 'agent' };
}

/**
 * Channels (spec 03 §9) with the privacy fixes of weak spot W8 and spec 07 SEC-20: DMs are
 * visible only to their two members and admins, and their membership is fixed except by admins;
 * agents read and post only in channels they belong to; member changes, renames and archiving
 * are for the channel's creator, its admin members and instance admins.
 */
export class ChannelService {
  constructor(private readonly app: AppContext) {}

  async caller(p: Principal): Promise<Caller> {
    return { p, who: await canonicalWho(this.app, p), type: p.kind === 'agent' ? 'agent' : 'operator' };
  }

  private async channel(id: number | null): Promise<ChannelRow> {
    const ch = id === null ? undefined : await channelsRepo.get(this.app.db, id);
    if (!ch) throw notFound('Channel not found');
    return ch;
  }

  private async isMember(ch: { id: number }, who: string) {
    return !!(await channelsRepo.member(this.app.db, ch.id, who));
  }

  private async canManage(ch: ChannelRow, c: Caller) {
    if (c.p.isAdmin) return true;
    if (ch.type === 'dm' || PROTECTED_SLUGS.has(ch.slug)) return false;
    if (ch.created_by === c.who) return true;
    return (await channelsRepo.member(this.app.db, ch.id, c.who))?.role === 'admin';
  }

  /**
   * The one read rule for channel content, used here and by GET /messages: admins read
   * everything (null); others read the channels they are members of, and humans also every
   * channel that is not a DM. DMs are thus readable only by their two members and admins.
   */
  async readScope(p: Principal): Promise<ChannelReadScope | null> {
    return readScopeOf(await this.caller(p));
  }

  /** The same rule for one channel; POST /messages uses it for posts into an explicit channel. */
  async mayRead(p: Principal, ch: { id: number; type: string }): Promise<boolean> {
    return this.canRead(ch, await this.caller(p));
  }

  private async canRead(ch: { id: number; type: string }, c: Caller): Promise<boolean> {
    const scope = readScopeOf(c);
    if (scope === null || (ch.type !== 'dm' && scope.openChannels)) return true;
    return this.isMember(ch, scope.memberId);
  }

  private async assertCanRead(ch: ChannelRow, c: Caller) {
    if (!(await this.canRead(ch, c))) throw forbidden('Access denied');
  }

  async list(p: Principal, q: { type?: string; status: string; member?: string; limit: number; offset: number }) {
    const c = await this.caller(p);
    return channelsRepo.list(this.app.db, { ...q, viewer: c.who, allDms: p.isAdmin });
  }

  async unread(p: Principal) {
    const c = await this.caller(p);
    const out: Record<string, { name: string; slug: string; unread: number }> = {};
    for (const r of await channelsRepo.unread(this.app.db, c.who))
      out[String(r.id)] = { name: r.name, slug: r.slug, unread: Number(r.unread) };
    return out;
  }

  async create(
    p: Principal,
    input: {
      name: string;
      slug: string;
      type: string;
      description: string;
      linked_type: string | null;
      linked_id: string | null;
      members: NewMember[];
    },
  ) {
    const c = await this.caller(p);
    // DM and team channels are named by the server (§9.2, §9.4); a pre-created `dm-a-b` or
    // `team-x` would let its creator sit inside someone else's conversation.
    if (!p.isAdmin && /^(dm|team)-/.test(input.slug)) throw badRequest('slug: the prefixes dm- and team- are reserved');
    // Members are added only to a channel this request created — never to an existing one whose
    // slug was reused: a taken slug aborts the batch before them. The event names the new id.
    const [insert, ...members] = channelsRepo.createStatements({ ...input, created_by: c.who }, input.members);
    const res = await atomicWrite(this.app)
      .add('channel', insert)
      .requireChanged('slug taken')
      .eventWithNewId(
        {
          type: 'channel_created',
          agent: c.who,
          summary: `${c.who} created channel ${input.name}`,
          data: { channel_id: 0 },
        },
        'channel_id',
      )
      .addAll(members)
      .commitUnlessAborted();
    const row = res?.row<ChannelRow>('channel');
    if (!row) {
      const existing = await channelsRepo.bySlug(this.app.db, input.slug);
      throw conflict('Channel slug already exists', { channel_id: existing?.id });
    }
    return { ok: true as const, id: row.id, name: row.name, slug: row.slug };
  }

  /** getOrCreateDmChannel (spec 03 §9.4); the slug's uniqueness makes concurrent creation converge. */
  async dm(p: Principal, target: string, targetType: string) {
    const c = await this.caller(p);
    if (target.toLowerCase() === c.who.toLowerCase()) throw badRequest('Cannot open a DM with yourself');
    const found = await channelsRepo.findDm(this.app.db, c.who, target);
    if (found) return { ok: true as const, channel_id: found.id, channel: found };
    const [first, second] = [c.who, target].sort((x, y) => x.toLowerCase().localeCompare(y.toLowerCase()));
    const slug = `dm-${first.toLowerCase()}-${second.toLowerCase()}`.slice(0, 200);
    const members: NewMember[] = [
      { user_id: c.who, user_type: c.type, role: 'member' },
      { user_id: target, user_type: targetType, role: 'member' },
    ];
    await this.app.db.batch(
      channelsRepo.createStatements(
        {
          name: `DM: ${first} & ${second}`,
          slug,
          type: 'dm',
          description: '',
          linked_type: null,
          linked_id: null,
          created_by: c.who,
        },
        members,
      ),
    );
    const ch = (await channelsRepo.bySlug(this.app.db, slug))!;
    return { ok: true as const, channel_id: ch.id, channel: ch };
  }

  async get(p: Principal, id: number | null) {
    const ch = await this.channel(id);
    const c = await this.caller(p);
    if (ch.type === 'dm') await this.assertCanRead(ch, c);
    const members = await channelsRepo.members(this.app.db, ch.id);
    return { ...ch, members, member_count: members.length };
  }

  async update(p: Principal, id: number | null, f: { name?: string; description?: string; status?: string }) {
    const ch = await this.channel(id);
    if (!(await this.canManage(ch, await this.caller(p))))
      throw forbidden('Only channel admins can change this channel');
    const change = channelsRepo.update(ch.id, f);
    await atomicWrite(this.app)
      .addAll(change ? [change] : [])
      .event({
        type: 'channel_updated',
        agent: p.who,
        summary: `${p.who} updated channel ${f.name ?? ch.name}`,
        data: { channel_id: ch.id },
      })
      .commit();
    return { ok: true as const, id: ch.id };
  }

  async remove(p: Principal, id: number | null) {
    const ch = await this.channel(id);
    if (PROTECTED_SLUGS.has(ch.slug)) throw forbidden('Cannot delete protected channel');
    await atomicWrite(this.app)
      .addAll(channelsRepo.deleteStatements(ch.id))
      .event({
        type: 'channel_deleted',
        agent: p.who,
        summary: `${p.who} deleted channel ${ch.name}`,
        data: { channel_id: ch.id },
      })
      .commit();
    return { ok: true as const, deleted: ch.id };
  }

  async members(p: Principal, id: number | null) {
    const ch = await this.channel(id);
    if (ch.type === 'dm') await this.assertCanRead(ch, await this.caller(p));
    return channelsRepo.members(this.app.db, ch.id);
  }

  /** Anyone may join an open channel themselves; adding others needs channel admin rights; DMs are fixed. */
  async addMember(p: Principal, id: number | null, m: NewMember) {
    const ch = await this.channel(id);
    const c = await this.caller(p);
    const selfJoin = m.user_id === c.who && m.role === 'member' && ch.type !== 'dm' && ch.type !== 'announcement';
    if (!selfJoin && !(await this.canManage(ch, c))) throw forbidden('Only channel admins can add members');
    // The event only when the membership is new (INSERT OR IGNORE changed a row).
    const r = await atomicWrite(this.app)
      .add(null, channelsRepo.addMember(ch.id, m))
      .eventIfChanged(
        {
          type: 'channel_member_added',
          agent: c.who,
          summary: `${m.user_id} joined ${ch.name}`,
          data: { channel_id: ch.id, user_id: m.user_id },
        },
        'event',
      )
      .commit();
    const added = r.eventsOf('event').length > 0;
    return { ok: true as const, added, channel_id: ch.id, user_id: m.user_id };
  }

  async removeMember(p: Principal, id: number | null, userId: string) {
    const ch = await this.channel(id);
    const c = await this.caller(p);
    const selfLeave = userId === c.who && ch.type !== 'dm';
    if (!selfLeave && !(await this.canManage(ch, c))) throw forbidden('Only channel admins can remove members');
    const r = await atomicWrite(this.app)
      .add(null, channelsRepo.removeMember(ch.id, userId))
      .eventIfChanged(
        {
          type: 'channel_member_removed',
          agent: c.who,
          summary: `${userId} left ${ch.name}`,
          data: { channel_id: ch.id, user_id: userId },
        },
        'event',
      )
      .commit();
    return { ok: true as const, removed: r.eventsOf('event').length > 0 };
  }

  async messages(p: Principal, id: number | null, q: { before?: number; after?: number; limit: number }) {
    const ch = await this.channel(id);
    await this.assertCanRead(ch, await this.caller(p));
    return channelsRepo.messages(this.app.db, ch.id, q);
  }

  /**
   * A post: members only for agents and for DMs; announcement channels only for their admins.
   * Archived channels still accept posts (spec 03 §9).
   */
  async post(p: Principal, id: number | null, content: string, metadata: unknown) {
    const ch = await this.channel(id);
    const c = await this.caller(p);
    if (!p.isAdmin) {
      const member = await channelsRepo.member(this.app.db, ch.id, c.who);
      if ((ch.type === 'dm' || p.kind === 'agent') && !member) throw forbidden('Access denied');
      if (ch.type === 'announcement' && member?.role !== 'admin')
        throw forbidden('Only channel admins can post in announcement channels');
    }
    const res = await atomicWrite(this.app)
      .add('post', channelsRepo.insertPost(ch.id, c.who, content, JSON.stringify(metadata ?? {})))
      .eventWithNewId(
        {
          type: 'channel_message',
          agent: c.who,
          summary: `${c.who} posted in ${ch.name}`,
          data: { channel_id: ch.id, message_id: 0 },
        },
        'message_id',
      )
      .commit();
    const messageId = Number(res.row('post')!.id);
    return { ok: true as const, id: messageId, channel_id: ch.id };
  }

  async markRead(p: Principal, id: number | null, messageId: number | undefined) {
    const ch = await this.channel(id);
    const c = await this.caller(p);
    if (ch.type === 'dm') await this.assertCanRead(ch, c);
    const last = messageId ?? (await channelsRepo.maxMessageId(this.app.db, ch.id));
    await channelsRepo.markRead(this.app.db, ch.id, c.who, last);
    return { ok: true as const, channel_id: ch.id, last_read_message_id: last };
  }
}
