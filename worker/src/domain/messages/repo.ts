import type { Queryable } from '../../db/db.js';
import { type NewestBranch, newestPerBranch } from '../../db/newest-per-branch.js';
import type { SqlArgs, SqlPart, Statement } from '../../db/types.js';
import { channelsRepo, type ChannelReadScope } from '../channels/repo.js';

/** The messages and message_reads tables' SQL (spec 03 §2.8–2.9, §7, §8). */

export interface MessageRow {
  id: number;
  from_agent: string;
  to_agent: string | null;
  thread_id: string | null;
  project_id: string | null;
  content: string;
  metadata: string;
  msg_type: string;
  status: string;
  channel_id: number | null;
  priority: string;
  created_at: string;
  resolved_at: string | null;
  resolved_by: string | null;
}

export interface InboxItem {
  id: number;
  from_agent: string;
  to_agent?: string | null;
  content: string;
  msg_type: string;
  priority: string;
  project_id: string | null;
  created_at: string;
}

const INBOX_COLS = 'id, from_agent, content, msg_type, priority, project_id, created_at';
/** The same columns as `json_object` arguments, for reads that return a list in one value. */
const INBOX_JSON = INBOX_COLS.split(', ')
  .map((c) => `'${c}', ${c}`)
  .join(', ');

/** The two lists of `messagesRepo.pendingInboxLists`, in their order, from the row that read them (columns `directives`, `requests`). */
export function inboxListsFrom(row: Record<string, unknown> | undefined): {
  directives: InboxItem[];
  requests: InboxItem[];
} {
  const directives = JSON.parse(String(row?.directives ?? '[]')) as InboxItem[];
  const requests = JSON.parse(String(row?.requests ?? '[]')) as InboxItem[];
  // Oldest directive first, newest request first (spec 02 §3.3 step 10).
  if (directives.length > 1) directives.sort((a, b) => a.id - b.id);
  if (requests.length > 1) requests.sort((a, b) => b.id - a.id);
  return { directives, requests };
}

/** The messages `messagesRepo.deliverUnreadStatement` marked, newest first (RETURNING has no order). */
export function deliveredFrom(rows: Record<string, unknown>[]): InboxItem[] {
  const out = rows.map((r) => JSON.parse(String(r.message)) as InboxItem);
  return out.length > 1 ? out.sort((a, b) => b.id - a.id) : out;
}

/**
 * Who is reading (spec README "Privacy of messages", SEC-20): `selves` are the identities the
 * caller sends and receives as (an agent id; an operator's display name and operator row id),
 * `channels` the channel rule of ChannelService.readScope. Null viewer = admins, who see all.
 */
export interface MessageViewer {
  selves: string[];
  channels: ChannelReadScope;
}

/** What a viewer may read: what it sent, what was sent to it, and broadcasts outside channels or in channels it may read. `m` is the messages alias. */
function visibleTo(v: MessageViewer): { sql: string; args: SqlArgs } {
  const ids = v.selves.map(() => '?').join(', ');
  const ch = channelsRepo.readableIds(v.channels);
  return {
    sql: `(m.from_agent IN (${ids}) OR m.to_agent IN (${ids}) OR (m.to_agent IS NULL AND (m.channel_id IS NULL OR m.channel_id IN ${ch.sql})))`,
    args: [...v.selves, ...v.selves, ...ch.args],
  };
}

/** GET /messages: newest first; ties of one second by id. */
const LISTING_ORDER = 'm.created_at DESC, m.id DESC';
/** The listing's walks, by recipient and by sender (migration 0026). */
const EVERY_MESSAGE = {
  recipient: 'messages m INDEXED BY idx_messages_to_created',
  sender: 'messages m INDEXED BY idx_messages_from_created',
};
/** The same walks over threaded messages only (migration 0027; a walk's WHERE must say `m.thread_id IS NOT NULL`). */
const THREADED = {
  recipient: 'messages m INDEXED BY idx_messages_to_threaded',
  sender: 'messages m INDEXED BY idx_messages_from_threaded',
};

/**
 * The index walks that together hold every message a non-admin listing can return (issue 11,
 * growth; migration 0026): each is one key of (recipient or sender, created_at), walked newest
 * first. With `to`, only that recipient's mail and broadcasts can match; with `from`, only that
 * sender's; otherwise what the viewer sent, what was sent to it, and broadcasts. The whole filter
 * (visibility included) is checked in every walk, so a walk's key only bounds where it looks.
 */
function listingWalks(
  f: Pick<MessageFilters, 'to' | 'from'>,
  viewer: MessageViewer,
  by = EVERY_MESSAGE,
): NewestBranch[] {
  const to = (id: string) => ({ from: by.recipient, where: { sql: 'm.to_agent = ?', args: [id] } });
  const sent = (id: string) => ({ from: by.sender, where: { sql: 'm.from_agent = ?', args: [id] } });
  const broadcasts = { from: by.recipient, where: { sql: 'm.to_agent IS NULL', args: [] } };
  if (f.to !== undefined) return [to(f.to), broadcasts];
  if (f.from !== undefined) return [sent(f.from)];
  return [...viewer.selves.map(sent), ...viewer.selves.map(to), broadcasts];
}

/** Per thread among the messages `cond` admits: count, last time, last sender (taken among them too, so it never names a hidden message's sender). */
function threadSummaries(db: Queryable, cond: SqlPart, limit: number) {
  return db.all<Record<string, unknown>>(
    `WITH v AS (SELECT m.id, m.thread_id, m.from_agent, m.created_at FROM messages m
                WHERE m.thread_id IS NOT NULL AND m.msg_type != 'chat' AND ${cond.sql})
     SELECT v.thread_id, COUNT(*) AS message_count, MAX(v.created_at) AS last_message_at,
            (SELECT v2.from_agent FROM v v2 WHERE v2.thread_id = v.thread_id ORDER BY v2.created_at DESC, v2.id DESC LIMIT 1) AS last_sender
     FROM v GROUP BY v.thread_id ORDER BY last_message_at DESC LIMIT ?`,
    [...cond.args, limit],
  );
}

/** `visibleTo` for one agent as a fragment with three `?`, all the agent id. */
export const VISIBLE_TO_AGENT = visibleTo({ selves: ['?'], channels: { memberId: '?', openChannels: false } }).sql;

/*
 * Inbox queries are bounded by what is open, not by the history (issue 11, growth):
 * - pending requests and directives are read from partial indexes holding only open ones per
 *   recipient (migration 0029), named with INDEXED BY: without ANALYZE statistics the planner
 *   would take idx_messages_to and walk every message ever sent to the agent;
 * - regular messages (message, info) stay `sent` once read (reads are per agent, in
 *   message_reads), so nothing marks them closed in the row: the unread ones are looked for
 *   among the last NEWS_DAYS days only, an id range of idx_messages_to (`to_agent`, then the
 *   rowid) after the last message before the window (one seek of idx_messages_created; the last
 *   before, not the first inside, because the index walked upwards gives ties of one second
 *   highest id first). Older unread messages are history, not news: GET /messages lists them.
 *   The range also starts no earlier than the agent's read-up-to mark (`markDrainedStatement`),
 *   so a heartbeat reads the mail that came since its inbox was last drained, not a week of it.
 * Directed and broadcast halves are separate queries, each one index range.
 */

/** Unread regular messages one heartbeat or boot delivers, at most (spec 02 §3.3 step 10); fewer means the inbox is drained. */
export const INBOX_UNREAD = 20;

/** How far back a regular message still counts as unread news for the heartbeat and boot. */
export const NEWS_DAYS = 7;
/** The id of the last message before the news window (ids follow time; 0: none): every id above it is inside. */
const NEWS_AFTER = `COALESCE((SELECT id FROM messages WHERE created_at < datetime('now', '-${NEWS_DAYS} days') ORDER BY created_at DESC LIMIT 1), 0)`;

/** A broadcast directive counts as handled for one agent once that agent acked it (per-agent read). */
const OPEN_DIRECTIVES = `messages m INDEXED BY idx_messages_open_directives`;
const PENDING_DIRECTIVE_DIRECT = `m.to_agent = ? AND m.msg_type = 'directive' AND m.status IN ('sent','pending')`;
const PENDING_DIRECTIVE_BROADCAST = `m.to_agent IS NULL AND m.msg_type = 'directive' AND m.status IN ('sent','pending')
  AND (m.channel_id IS NULL OR m.channel_id IN (SELECT channel_id FROM channel_members WHERE user_id = ?))
  AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.agent_id = ?)`;

const OPEN_REQUESTS = `messages m INDEXED BY idx_messages_open_requests`;
const PENDING_REQUEST = `m.to_agent = ? AND m.msg_type = 'request' AND m.status IN ('pending','sent')`;

/** The agent's read-up-to mark (migration 0029, `markDrainedStatement`): 0 before its first drained delivery. */
const READ_TO = `COALESCE((SELECT read_to FROM inbox_marks WHERE agent_id = ?), 0)`;

/** The newest message id there is (0: none): where a drained inbox's mark moves to. */
const NEWEST_MESSAGE_ID = 'COALESCE((SELECT MAX(id) FROM messages), 0)';

/** An upsert of the mark that only ever moves it forward. */
const MARK_MOVES_UP =
  'ON CONFLICT (agent_id) DO UPDATE SET read_to = excluded.read_to WHERE excluded.read_to > inbox_marks.read_to';

/** Regular unread (spec 03 §7.7), with channel posts only for members (spec 02 W25), in the news window, after the mark. */
const UNREAD_DIRECT = `m.to_agent = ? AND m.id > MAX(${NEWS_AFTER}, ${READ_TO}) AND +m.msg_type IN ('message','info') AND +m.status = 'sent' AND m.from_agent != ?
  AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.agent_id = ?)`;
/** Broadcasts older than the agent itself are history, not news either: the id range starts at the later bound. */
const BROADCAST_AFTER = `COALESCE((SELECT id FROM messages WHERE created_at < MAX(datetime('now', '-${NEWS_DAYS} days'),
    COALESCE((SELECT created_at FROM agents WHERE id = ?), '')) ORDER BY created_at DESC LIMIT 1), 0)`;
const UNREAD_BROADCAST = `m.to_agent IS NULL AND m.id > MAX(${BROADCAST_AFTER}, ${READ_TO}) AND +m.msg_type IN ('message','info') AND +m.status = 'sent' AND m.from_agent != ?
  AND m.created_at >= COALESCE((SELECT created_at FROM agents WHERE id = ?), '')
  AND (m.channel_id IS NULL OR m.channel_id IN (SELECT channel_id FROM channel_members WHERE user_id = ?))
  AND NOT EXISTS (SELECT 1 FROM message_reads r WHERE r.message_id = m.id AND r.agent_id = ?)`;

/*
 * The inbox reads of the hot calls (heartbeat, boot), built once: the same SQL text on every call
 * is looked up in the driver's statement cache without building and hashing it again (issue 11).
 * Lists are JSON arrays so several fit in one row; an ORDER BY inside the aggregate would cost a
 * sorter per list, so the readers (`inboxListsFrom`, `deliveredFrom`) restore the order.
 */
const jsonList = (from: string) => `SELECT json_group_array(json_object(${INBOX_JSON})) FROM (${from})`;
/** Pending directives, oldest first, ≤ 100. Args: agent id ×3. */
const PENDING_DIRECTIVES = `SELECT * FROM (SELECT ${INBOX_COLS} FROM ${OPEN_DIRECTIVES} WHERE ${PENDING_DIRECTIVE_DIRECT}
                  UNION ALL SELECT ${INBOX_COLS} FROM ${OPEN_DIRECTIVES} WHERE ${PENDING_DIRECTIVE_BROADCAST})
   ORDER BY id ASC LIMIT 100`;
/** Pending requests, newest first, ≤ 200: what follows the columns. Args: agent id. */
const PENDING_REQUESTS_FROM = `FROM ${OPEN_REQUESTS} WHERE ${PENDING_REQUEST} ORDER BY m.id DESC LIMIT 200`;
/** The pending requests read as rows (`pendingRequestsStatement`), built once. */
const PENDING_REQUESTS_SQL = `SELECT ${INBOX_COLS}, status ${PENDING_REQUESTS_FROM}`;
const PENDING_DIRECTIVES_JSON = jsonList(PENDING_DIRECTIVES);
const PENDING_REQUESTS_JSON = jsonList(`SELECT ${INBOX_COLS} ${PENDING_REQUESTS_FROM}`);
/** The same requests as the work queue shows them, newest first: the order of the subquery's rows, like the queue's other lists (work/repo.ts `partJson`). */
const PENDING_REQUESTS_QUEUE_JSON = `SELECT json_group_array(
    json_object('id', id, 'from_agent', from_agent, 'content', content, 'status', status))
  FROM (SELECT id, from_agent, content, status ${PENDING_REQUESTS_FROM})`;
const PENDING_INBOX = `SELECT (${PENDING_DIRECTIVES_JSON}) AS directives, (${PENDING_REQUESTS_JSON}) AS requests`;
/** Marks the unread regular messages (`unreadRegular`) read and returns each as JSON. Args: agent id ×11, limit. */
const DELIVER_UNREAD = `INSERT OR IGNORE INTO message_reads (message_id, agent_id)
  SELECT id, ? FROM (SELECT id FROM messages m WHERE ${UNREAD_DIRECT}
                     UNION ALL SELECT id FROM messages m WHERE ${UNREAD_BROADCAST}
                     ORDER BY id DESC LIMIT ?)
  RETURNING (SELECT json_object(${INBOX_JSON}, 'to_agent', to_agent) FROM messages WHERE id = message_id) AS message`;

export interface MessageFilters {
  from?: string;
  to?: string;
  thread?: string;
  project_id?: string;
  since?: string;
  msg_type?: string;
  status?: string;
  channel_id?: number;
  limit: number;
  offset: number;
}

export type NewMessage = Omit<MessageRow, 'id' | 'created_at' | 'resolved_at' | 'resolved_by'>;

export const messagesRepo = {
  get(db: Queryable, id: number) {
    return db.get<MessageRow>('SELECT * FROM messages WHERE id = ?', [id]);
  },

  insert(m: NewMessage): Statement {
    return {
      sql: `INSERT INTO messages (from_agent, to_agent, thread_id, project_id, content, metadata, msg_type, status, channel_id, priority)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      args: [
        m.from_agent,
        m.to_agent,
        m.thread_id,
        m.project_id,
        m.content,
        m.metadata,
        m.msg_type,
        m.status,
        m.channel_id,
        m.priority,
      ],
    };
  },

  /** GET /messages. `viewer` null = sees everything (admins). */
  list(db: Queryable, f: MessageFilters, viewer: MessageViewer | null) {
    const where = ["m.msg_type != 'chat'", "NOT (m.from_agent = '__system__' AND m.to_agent = '__system__')"];
    const args: SqlArgs = [];
    if (f.from !== undefined) {
      where.push('m.from_agent = ?');
      args.push(f.from);
    }
    if (f.to !== undefined) {
      where.push('(m.to_agent = ? OR m.to_agent IS NULL)');
      args.push(f.to);
    }
    if (f.thread !== undefined) {
      where.push('m.thread_id = ?');
      args.push(f.thread);
    }
    if (f.project_id !== undefined) {
      where.push('m.project_id = ?');
      args.push(f.project_id);
    }
    if (f.since !== undefined) {
      where.push('m.created_at > ?');
      args.push(f.since);
    }
    if (f.msg_type !== undefined) {
      where.push('m.msg_type = ?');
      args.push(f.msg_type);
    }
    if (f.status !== undefined) {
      where.push('m.status = ?');
      args.push(f.status);
    }
    if (f.channel_id !== undefined) {
      where.push('m.channel_id = ?');
      args.push(f.channel_id);
    }
    if (viewer !== null) {
      const vis = visibleTo(viewer);
      where.push(vis.sql);
      args.push(...vis.args);
    }
    // Admins walk idx_messages_created newest first. A thread, a channel or a project is one
    // key's rows, and a status (pending, acknowledged…) one of the few open ones, through their
    // own indexes; a walk per branch would read the viewer's mail until enough of them turned up.
    const keyed =
      f.thread !== undefined || f.channel_id !== undefined || f.project_id !== undefined || f.status !== undefined;
    if (viewer === null || keyed)
      return db.all<MessageRow>(
        `SELECT m.* FROM messages m WHERE ${where.join(' AND ')} ORDER BY ${LISTING_ORDER} LIMIT ? OFFSET ?`,
        [...args, f.limit, f.offset],
      );
    const ids = newestPerBranch(
      listingWalks(f, viewer),
      { sql: where.join(' AND '), args },
      {
        key: 'm.id',
        order: LISTING_ORDER,
        k: f.limit + f.offset,
      },
    );
    return db.all<MessageRow>(
      `SELECT m.* FROM messages m WHERE m.id IN (${ids.sql}) ORDER BY ${LISTING_ORDER} LIMIT ? OFFSET ?`,
      [...ids.args, f.limit, f.offset],
    );
  },

  /**
   * GET /messages/threads: the threads with the newest visible messages, each with its count of
   * visible messages, its last time and last sender. For a viewer (issue 11, growth), the threads
   * are found first by walking its visible threaded messages newest first (`listingWalks`), in
   * batches after a (created_at, id) cursor until `limit` threads have turned up, and only those
   * threads are then summed up: not a GROUP BY over every message of the agent's mail.
   */
  async threads(db: Queryable, limit: number, viewer: MessageViewer | null) {
    if (viewer === null) return threadSummaries(db, { sql: '1', args: [] }, limit);
    const vis = visibleTo(viewer);
    const walks = listingWalks({}, viewer, THREADED);
    // Doubled after each batch: one long thread in front of the others costs a few round trips, not one per 100 rows.
    let batch = Math.max(100, limit * 2);
    const found = new Map<string, number>();
    let after: SqlArgs | null = null;
    while (found.size < limit) {
      // A row-value bound is a range of each walk's (key, created_at, rowid) index.
      const before = after ? '(m.created_at, m.id) < (?, ?)' : '1';
      const ids = newestPerBranch(
        walks,
        {
          sql: `m.thread_id IS NOT NULL AND m.msg_type != 'chat' AND ${vis.sql} AND ${before}`,
          args: [...vis.args, ...(after ?? [])],
        },
        { key: 'm.id', order: LISTING_ORDER, k: batch },
      );
      // The first `batch` rows of the merged walks are exactly the newest `batch` after the cursor.
      const rows = await db.all<{ id: number; thread_id: string; created_at: string }>(
        `SELECT m.id, m.thread_id, m.created_at FROM messages m WHERE m.id IN (${ids.sql}) ORDER BY ${LISTING_ORDER} LIMIT ?`,
        [...ids.args, batch],
      );
      for (const r of rows) if (found.size < limit && !found.has(r.thread_id)) found.set(r.thread_id, found.size);
      if (rows.length < batch) break;
      const last = rows[rows.length - 1];
      after = [last.created_at, last.id];
      batch *= 2;
    }
    if (found.size === 0) return [];
    const threads = [...found.keys()];
    const rows = await threadSummaries(
      db,
      { sql: `m.thread_id IN (${threads.map(() => '?').join(', ')}) AND ${vis.sql}`, args: [...threads, ...vis.args] },
      limit,
    );
    // Newest last message first; ties of one second by the later message, as the walks found them.
    return rows.sort((a, b) => (found.get(String(a.thread_id)) ?? 0) - (found.get(String(b.thread_id)) ?? 0));
  },

  pendingDirectives(db: Queryable, agentId: string) {
    return db.all<InboxItem>(PENDING_DIRECTIVES, [agentId, agentId, agentId]);
  },

  pendingRequests(db: Queryable, agentId: string) {
    const s = messagesRepo.pendingRequestsStatement(agentId);
    return db.all<InboxItem>(s.sql, s.args);
  },

  /** The same read as a statement, for a caller that batches it with others (the work queue). */
  pendingRequestsStatement(agentId: string): Statement {
    return { sql: PENDING_REQUESTS_SQL, args: [agentId] };
  },

  /**
   * The same read as one JSON array value, newest first, with the fields a queue item shows, for a
   * statement that folds it in as a scalar subquery (the work poll). Args: agent id.
   */
  pendingRequestsJsonSql(): string {
    return PENDING_REQUESTS_QUEUE_JSON;
  },

  pendingRequestRows(db: Queryable, agentId: string) {
    return db.all<MessageRow>(
      `SELECT m.* FROM ${OPEN_REQUESTS} WHERE ${PENDING_REQUEST} ORDER BY m.id DESC LIMIT 500`,
      [agentId],
    );
  },

  pendingDirectiveRows(db: Queryable, agentId: string) {
    return db.all<MessageRow>(
      `SELECT * FROM (SELECT m.* FROM ${OPEN_DIRECTIVES} WHERE ${PENDING_DIRECTIVE_DIRECT}
                      UNION ALL SELECT m.* FROM ${OPEN_DIRECTIVES} WHERE ${PENDING_DIRECTIVE_BROADCAST})
       ORDER BY id ASC LIMIT 100`,
      [agentId, agentId, agentId],
    );
  },

  unreadRegular(db: Queryable, agentId: string, limit = INBOX_UNREAD) {
    return db.all<InboxItem>(
      `SELECT * FROM (SELECT ${INBOX_COLS}, to_agent FROM messages m WHERE ${UNREAD_DIRECT}
                      UNION ALL SELECT ${INBOX_COLS}, to_agent FROM messages m WHERE ${UNREAD_BROADCAST})
       ORDER BY id DESC LIMIT ?`,
      [...Array(10).fill(agentId), limit],
    );
  },

  /**
   * Pending directives (oldest first, ≤ 100) and requests (newest first, ≤ 200) — the same reads
   * as `pendingDirectives` / `pendingRequests` — each as ONE JSON array value: scalar subqueries a
   * hot batch folds into a row it reads anyway (issue 11). Read them with `inboxListsFrom`.
   */
  pendingInboxLists(agentId: string): { directives: Statement; requests: Statement } {
    return {
      directives: { sql: PENDING_DIRECTIVES_JSON, args: [agentId, agentId, agentId] },
      requests: { sql: PENDING_REQUESTS_JSON, args: [agentId] },
    };
  },

  /** `pendingInboxLists` as a statement of its own: one row, columns `directives` and `requests`. */
  pendingInboxStatement(agentId: string): Statement {
    return { sql: PENDING_INBOX, args: [agentId, agentId, agentId, agentId], first: true };
  },

  /**
   * Delivers up to `limit` unread regular messages (the `unreadRegular` read) in one statement:
   * it marks them read for the agent and returns, per marked row, the message as JSON — so the
   * rows delivered are exactly the rows marked, and the unread query runs once, not once to read
   * and again to mark (issue 11). Read the rows with `deliveredFrom` (newest first).
   */
  deliverUnreadStatement(agentId: string, limit = INBOX_UNREAD): Statement {
    return {
      sql: DELIVER_UNREAD,
      args: [...Array(11).fill(agentId), limit],
    };
  },

  /**
   * Right after `deliverUnreadStatement` in the same batch: when it delivered fewer than `limit`
   * (`changes()` is its count), every unread message of the agent was delivered, so its read-up-to
   * mark moves to the newest message there is; written only when that moves it. With `limit` or
   * more there may be older unread ones left: the mark stays.
   */
  markDrainedStatement(agentId: string, limit = INBOX_UNREAD): Statement {
    return {
      sql: `INSERT INTO inbox_marks (agent_id, read_to)
              SELECT ?, ${NEWEST_MESSAGE_ID} WHERE changes() < ? ${MARK_MOVES_UP}`,
      args: [agentId, limit],
    };
  },

  /** The newest message id there is (0: none), for a mark written in a later batch (`markReadTo`). */
  newestId(db: Queryable) {
    return db.get<{ n: number }>(`SELECT ${NEWEST_MESSAGE_ID} AS n`).then((r) => Number(r?.n ?? 0));
  },

  /**
   * Moves the agent's read-up-to mark to `readTo` (never back): for a caller that read every unread
   * message of the agent in an earlier batch, `readTo` being the newest id that batch saw, and marks
   * them read in the same batch as this (slim and smart boot).
   */
  markReadTo(agentId: string, readTo: number): Statement {
    return {
      sql: `INSERT INTO inbox_marks (agent_id, read_to) VALUES (?, ?) ${MARK_MOVES_UP}`,
      args: [agentId, readTo],
    };
  },

  /** Messages for an agent created after an instant (verbose boot `new_messages`). */
  newSince(db: Queryable, agentId: string, since: string, limit = 50) {
    return db.all(
      `SELECT id, from_agent, to_agent, content, msg_type, priority, project_id, created_at FROM messages m
       WHERE m.msg_type IN ('message','info') AND m.created_at > ?
         AND (m.to_agent = ? OR (m.to_agent IS NULL AND (m.channel_id IS NULL OR m.channel_id IN (SELECT channel_id FROM channel_members WHERE user_id = ?))))
       ORDER BY m.id DESC LIMIT ?`,
      [since, agentId, agentId, limit],
    );
  },

  markRead(agentId: string, ids: number[]): Statement[] {
    if (!ids.length) return [];
    return [
      {
        sql: `INSERT OR IGNORE INTO message_reads (message_id, agent_id)
              SELECT id, ? FROM messages WHERE id IN (${ids.map(() => '?').join(',')})`,
        args: [agentId, ...ids],
      },
    ];
  },

  /**
   * Marks read, for one agent, the messages a SELECT of theirs returns (its first column is the
   * id) — evaluated inside the same batch right after the read that delivered them, so exactly the
   * delivered rows are marked without a second round trip.
   */
  markReadFrom(agentId: string, select: Statement): Statement {
    return {
      sql: `INSERT OR IGNORE INTO message_reads (message_id, agent_id) SELECT id, ? FROM (${select.sql})`,
      args: [agentId, ...(select.args ?? [])],
    };
  },

  /** Recipient-wide ack: only while the message is still open. */
  ack(db: Queryable, id: number) {
    return db.get<MessageRow>("UPDATE messages SET status = 'acknowledged' WHERE id = ? RETURNING *", [id]);
  },

  resolve(id: number, by: string): Statement {
    return {
      sql: "UPDATE messages SET status = 'resolved', resolved_at = datetime('now'), resolved_by = ? WHERE id = ? RETURNING id",
      args: [by, id],
    };
  },

  /** Hard delete with read marks (spec 03 W26: no orphans; LIKE wildcards escaped). */
  bulkDelete(f: { from?: string; to?: string; content_like?: string }) {
    const where: string[] = [];
    const args: SqlArgs = [];
    if (f.from !== undefined) {
      where.push('from_agent = ?');
      args.push(f.from);
    }
    if (f.to !== undefined) {
      where.push('to_agent = ?');
      args.push(f.to);
    }
    if (f.content_like !== undefined) {
      where.push("content LIKE ? ESCAPE '\\'");
      args.push(`%${f.content_like.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`);
    }
    const cond = where.join(' AND ');
    return {
      reads: { sql: `DELETE FROM message_reads WHERE message_id IN (SELECT id FROM messages WHERE ${cond})`, args },
      messages: { sql: `DELETE FROM messages WHERE ${cond}`, args },
    } satisfies Record<string, Statement>;
  },

  /** Requests open for more than 72 h (spec 03 §8.5): the FROM/WHERE that finds them, for a batch's event rows. */
  staleRequests(olderThan: string) {
    return {
      rest: "FROM messages WHERE msg_type = 'request' AND status IN ('pending','sent') AND created_at < ?",
      args: [olderThan],
    };
  },
  /** Closes the requests `staleRequests` finds (same condition). */
  resolveStale(olderThan: string): Statement {
    return {
      sql: `UPDATE messages SET status = 'resolved', resolved_at = datetime('now'), resolved_by = 'system',
              content = content || char(10) || char(10) || '[Auto-resolved: request was pending for over 72 hours]'
       WHERE msg_type = 'request' AND status IN ('pending','sent') AND created_at < ?`,
      args: [olderThan],
    };
  },

  isChannelMember(db: Queryable, channelId: number, userId: string) {
    return db.get('SELECT 1 AS ok FROM channel_members WHERE channel_id = ? AND user_id = ?', [channelId, userId]);
  },

  channel(db: Queryable, id: number) {
    return db.get<{ id: number; type: string; slug: string; status: string }>(
      'SELECT id, type, slug, status FROM channels WHERE id = ?',
      [id],
    );
  },

  generalChannelId(db: Queryable) {
    return db.get<{ id: number }>("SELECT id FROM channels WHERE slug = 'general'");
  },
};
