import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { assignments } from '../../db/sql.js';

/** SQL for channels, channel_members, channel_reads and channel posts in `messages` (spec 03 §2.8–2.12, §9). */

export interface ChannelRow {
  id: number;
  name: string;
  slug: string;
  type: string;
  linked_type: string | null;
  linked_id: string | null;
  description: string;
  created_by: string;
  status: string;
  created_at: string;
}

export interface MemberRow {
  id: number;
  channel_id: number;
  user_id: string;
  user_type: string;
  role: string;
  joined_at: string;
}

export interface NewMember {
  user_id: string;
  user_type: string;
  role: string;
}

export const PROTECTED_SLUGS = new Set(['general', 'admin']);

/**
 * Which channels a non-admin caller may read (spec README "Privacy of messages"): those
 * `memberId` belongs to, plus, for humans (`openChannels`), every channel that is not a DM.
 * Decided by ChannelService.readScope; admins have no scope (they read everything).
 */
export interface ChannelReadScope {
  memberId: string;
  openChannels: boolean;
}

export const channelsRepo = {
  /** The channel ids a scope may read, as a parenthesised subquery for `channel_id IN …`. */
  readableIds(s: ChannelReadScope): { sql: string; args: SqlArgs } {
    const member = 'SELECT channel_id FROM channel_members WHERE user_id = ?';
    return {
      sql: s.openChannels ? `(${member} UNION SELECT id FROM channels WHERE type != 'dm')` : `(${member})`,
      args: [s.memberId],
    };
  },
  get(db: Queryable, id: number) {
    return db.get<ChannelRow>('SELECT * FROM channels WHERE id = ?', [id]);
  },
  bySlug(db: Queryable, slug: string) {
    return db.get<ChannelRow>('SELECT * FROM channels WHERE slug = ?', [slug]);
  },
  /**
   * GET /channels. DMs appear only to their members unless `allDms` (admins) — a `member`
   * filter never reveals another user's DMs (weak spot W8).
   */
  list(
    db: Queryable,
    q: {
      type?: string;
      status: string;
      member?: string;
      viewer: string;
      allDms: boolean;
      limit: number;
      offset: number;
    },
  ) {
    const conds: string[] = [];
    const args: SqlArgs = [];
    if (q.status !== 'all') {
      conds.push('c.status = ?');
      args.push(q.status);
    }
    if (q.type) {
      conds.push('c.type = ?');
      args.push(q.type);
    }
    if (q.member) {
      conds.push('EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = ?)');
      args.push(q.member);
    }
    if (!q.allDms) {
      conds.push(
        "(c.type != 'dm' OR EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND m.user_id = ?))",
      );
      args.push(q.viewer);
    }
    const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';
    return db.all<ChannelRow>(
      `SELECT c.* FROM channels c ${where} ORDER BY c.created_at ASC, c.id ASC LIMIT ? OFFSET ?`,
      [...args, q.limit, q.offset],
    );
  },

  /** Channel insert and its members, in one batch (members find the row by slug): for DMs, whose slug names exactly their two members. */
  createStatements(
    c: {
      name: string;
      slug: string;
      type: string;
      description: string;
      linked_type: string | null;
      linked_id: string | null;
      created_by: string;
    },
    members: NewMember[],
  ): Statement[] {
    return [
      {
        sql: `INSERT INTO channels (name, slug, type, description, linked_type, linked_id, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)
              ON CONFLICT(slug) DO NOTHING RETURNING *`,
        args: [c.name, c.slug, c.type, c.description, c.linked_type, c.linked_id, c.created_by],
      },
      ...members.map((m) => channelsRepo.addMemberBySlug(c.slug, m)),
    ];
  },
  addMemberBySlug(slug: string, m: NewMember): Statement {
    return {
      sql: `INSERT OR IGNORE INTO channel_members (channel_id, user_id, user_type, role) SELECT id, ?, ?, ? FROM channels WHERE slug = ?`,
      args: [m.user_id, m.user_type, m.role, slug],
    };
  },
  /** The UPDATE for the given fields; null when there is nothing to write. */
  update(id: number, f: { name?: string; description?: string; status?: string }): Statement | null {
    const { sets, args } = assignments(f);
    if (!sets.length) return null;
    return { sql: `UPDATE channels SET ${sets.join(', ')} WHERE id = ? RETURNING *`, args: [...args, id] };
  },
  /** Members and read markers go with the channel; posts keep their (dangling) channel_id. */
  deleteStatements(id: number): Statement[] {
    return [
      { sql: 'DELETE FROM channel_reads WHERE channel_id = ?', args: [id] },
      { sql: 'DELETE FROM channel_members WHERE channel_id = ?', args: [id] },
      { sql: "DELETE FROM channels WHERE id = ? AND slug NOT IN ('general', 'admin')", args: [id] },
    ];
  },
  setStatusBySlug(slug: string, status: string): Statement {
    return { sql: 'UPDATE channels SET status = ? WHERE slug = ?', args: [status, slug] };
  },

  members(db: Queryable, channelId: number) {
    return db.all<MemberRow>('SELECT * FROM channel_members WHERE channel_id = ? ORDER BY joined_at ASC, id ASC', [
      channelId,
    ]);
  },
  member(db: Queryable, channelId: number, userId: string) {
    return db.get<MemberRow>('SELECT * FROM channel_members WHERE channel_id = ? AND user_id = ?', [channelId, userId]);
  },
  addMember(channelId: number, m: NewMember): Statement {
    return {
      sql: 'INSERT OR IGNORE INTO channel_members (channel_id, user_id, user_type, role) VALUES (?, ?, ?, ?)',
      args: [channelId, m.user_id, m.user_type, m.role],
    };
  },
  removeMember(channelId: number, userId: string): Statement {
    return { sql: 'DELETE FROM channel_members WHERE channel_id = ? AND user_id = ?', args: [channelId, userId] };
  },
  removeMemberBySlug(slug: string, userId: string): Statement {
    return {
      sql: 'DELETE FROM channel_members WHERE user_id = ? AND channel_id IN (SELECT id FROM channels WHERE slug = ?)',
      args: [userId, slug],
    };
  },

  /** The lowest-id active DM whose members are exactly these two users (spec 03 §9.4 step 1). */
  findDm(db: Queryable, a: string, b: string) {
    return db.get<ChannelRow>(
      `SELECT c.* FROM channels c
       WHERE c.type = 'dm' AND c.status = 'active'
         AND (SELECT COUNT(*) FROM channel_members m WHERE m.channel_id = c.id) = 2
         AND EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND lower(m.user_id) = lower(?))
         AND EXISTS (SELECT 1 FROM channel_members m WHERE m.channel_id = c.id AND lower(m.user_id) = lower(?))
       ORDER BY c.id ASC LIMIT 1`,
      [a, b],
    );
  },

  /** Unread per active channel the user belongs to: posts after the read marker (own posts count). */
  unread(db: Queryable, userId: string) {
    return db.all<{ id: number; name: string; slug: string; unread: number }>(
      `SELECT c.id, c.name, c.slug,
              (SELECT COUNT(*) FROM messages msg WHERE msg.channel_id = c.id
                 AND msg.id > COALESCE((SELECT r.last_read_message_id FROM channel_reads r WHERE r.channel_id = c.id AND r.user_id = ?), 0)) AS unread
       FROM channels c JOIN channel_members m ON m.channel_id = c.id AND m.user_id = ?
       WHERE c.status = 'active' ORDER BY c.id ASC`,
      [userId, userId],
    );
  },
  maxMessageId(db: Queryable, channelId: number) {
    return db
      .get<{ id: number | null }>('SELECT MAX(id) AS id FROM messages WHERE channel_id = ?', [channelId])
      .then((r) => Number(r?.id ?? 0));
  },
  markRead(db: Queryable, channelId: number, userId: string, messageId: number) {
    return db.run(
      `INSERT INTO channel_reads (channel_id, user_id, last_read_at, last_read_message_id) VALUES (?, ?, datetime('now'), ?)
       ON CONFLICT(channel_id, user_id) DO UPDATE SET last_read_at = excluded.last_read_at, last_read_message_id = excluded.last_read_message_id`,
      [channelId, userId, messageId],
    );
  },

  messages(db: Queryable, channelId: number, q: { before?: number; after?: number; limit: number }) {
    const conds = ['channel_id = ?'];
    const args: SqlArgs = [channelId];
    if (q.before !== undefined) {
      conds.push('id < ?');
      args.push(q.before);
    }
    if (q.after !== undefined) {
      conds.push('id > ?');
      args.push(q.after);
    }
    return db.all(`SELECT * FROM messages WHERE ${conds.join(' AND ')} ORDER BY id DESC LIMIT ?`, [...args, q.limit]);
  },
  insertPost(channelId: number, from: string, content: string, metadata: string): Statement {
    return {
      sql: `INSERT INTO messages (from_agent, to_agent, content, metadata, msg_type, status, channel_id, priority)
            VALUES (?, NULL, ?, ?, 'message', 'sent', ?, 'normal') RETURNING id`,
      args: [from, content, metadata, channelId],
    };
  },
};
