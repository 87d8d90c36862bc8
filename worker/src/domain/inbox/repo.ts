import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';

/** SQL for operator_inbox (spec 03 §2.13, §11). */

export interface InboxRow {
  id: number;
  operator_id: string;
  type: string;
  entity_type: string;
  entity_id: string;
  title: string;
  summary: string;
  data: string;
  status: string;
  priority: string;
  created_at: string;
  read_at: string | null;
}

export interface NewInboxItem {
  type: string;
  entity_type: string;
  entity_id: string;
  title: string;
  summary: string;
  data: unknown;
  priority: string;
}

/** `data` is handed out as an object (invalid JSON → {}), spec 03 §11. */
export function toInboxView(row: InboxRow) {
  let data: unknown = {};
  try {
    data = JSON.parse(row.data);
  } catch {
    data = {};
  }
  return { ...row, data };
}

/** urgent > high > normal > low (weak spot W11: `high` used to sort below `normal`). */
const PRIORITY_RANK =
  "CASE priority WHEN 'urgent' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 WHEN 'low' THEN 3 ELSE 4 END";

/** The one column list every inbox write uses; a caller's SELECT yields exactly these. */
const INBOX_COLUMNS = 'operator_id, type, entity_type, entity_id, title, summary, data, priority';

export const inboxRepo = {
  /**
   * Inbox rows produced by a SELECT over rows of the same batch (the step just appended, the approval
   * just written): the SELECT yields the columns of INBOX_COLUMNS in order.
   */
  insertSelected(select: string, args: SqlArgs): Statement {
    return { sql: `INSERT INTO operator_inbox (${INBOX_COLUMNS}) ${select}`, args };
  },
  /** Marks the items a condition selects as actioned (their subject was decided or expired). */
  markActionedWhere(condition: string, args: SqlArgs): Statement {
    return {
      sql: `UPDATE operator_inbox SET status = 'actioned', read_at = COALESCE(read_at, datetime('now'))
            WHERE status != 'dismissed' AND (${condition})`,
      args,
    };
  },
  insertFor(operatorId: string, i: NewInboxItem): Statement {
    return {
      sql: `INSERT INTO operator_inbox (${INBOX_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      args: [
        operatorId,
        i.type,
        i.entity_type,
        i.entity_id,
        i.title,
        i.summary,
        JSON.stringify(i.data ?? {}),
        i.priority,
      ],
    };
  },
  insertForAllActive(i: NewInboxItem): Statement {
    return {
      sql: `INSERT INTO operator_inbox (${INBOX_COLUMNS})
            SELECT id, ?, ?, ?, ?, ?, ?, ? FROM operators WHERE status = 'active' ORDER BY created_at ASC RETURNING id`,
      args: [i.type, i.entity_type, i.entity_id, i.title, i.summary, JSON.stringify(i.data ?? {}), i.priority],
    };
  },
  get(db: Queryable, id: number) {
    return db.get<InboxRow>('SELECT * FROM operator_inbox WHERE id = ?', [id]);
  },
  list(
    db: Queryable,
    q: { operatorId: string; status?: string; type?: string; entityType?: string; limit: number; offset: number },
  ) {
    const conds = ['operator_id = ?'];
    const args: SqlArgs = [q.operatorId];
    if (q.status) {
      conds.push('status = ?');
      args.push(q.status);
    } else conds.push("status != 'dismissed'");
    if (q.type) {
      conds.push('type = ?');
      args.push(q.type);
    }
    if (q.entityType) {
      conds.push('entity_type = ?');
      args.push(q.entityType);
    }
    return db.all<InboxRow>(
      `SELECT * FROM operator_inbox WHERE ${conds.join(' AND ')} ORDER BY ${PRIORITY_RANK}, created_at DESC, id DESC LIMIT ? OFFSET ?`,
      [...args, q.limit, q.offset],
    );
  },
  unreadCount(db: Queryable, operatorId: string) {
    return db
      .get<{ n: number }>("SELECT COUNT(*) AS n FROM operator_inbox WHERE operator_id = ? AND status = 'unread'", [
        operatorId,
      ])
      .then((r) => Number(r?.n ?? 0));
  },
  unreadCounts(db: Queryable) {
    return db.all<{ operator_id: string; count: number }>(
      "SELECT operator_id, COUNT(*) AS count FROM operator_inbox WHERE status = 'unread' GROUP BY operator_id ORDER BY operator_id",
    );
  },
  markRead(db: Queryable, id: number) {
    return db.run(
      "UPDATE operator_inbox SET status = 'read', read_at = datetime('now') WHERE id = ? AND status = 'unread'",
      [id],
    );
  },
  markActioned(db: Queryable, id: number) {
    return db.run(
      "UPDATE operator_inbox SET status = 'actioned', read_at = COALESCE(read_at, datetime('now')) WHERE id = ?",
      [id],
    );
  },
  dismiss(db: Queryable, id: number) {
    return db.run("UPDATE operator_inbox SET status = 'dismissed' WHERE id = ?", [id]);
  },
  dismissAll(db: Queryable, operatorId: string) {
    return db.run("UPDATE operator_inbox SET status = 'dismissed' WHERE operator_id = ? AND status != 'dismissed'", [
      operatorId,
    ]);
  },
  /** Only ids that belong to `operatorId` (null = any owner, for admins). */
  dismissIds(db: Queryable, ids: number[], operatorId: string | null) {
    if (!ids.length) return Promise.resolve({ changes: 0, lastInsertRowid: null });
    const marks = ids.map(() => '?').join(', ');
    return operatorId === null
      ? db.run(`UPDATE operator_inbox SET status = 'dismissed' WHERE id IN (${marks}) AND status != 'dismissed'`, ids)
      : db.run(
          `UPDATE operator_inbox SET status = 'dismissed' WHERE id IN (${marks}) AND operator_id = ? AND status != 'dismissed'`,
          [...ids, operatorId],
        );
  },
};
