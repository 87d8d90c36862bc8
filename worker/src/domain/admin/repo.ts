import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** Operator availability and the sleep-mode side tables (spec 01 §5.3). */
export const sleepRepo = {
  operator(db: Queryable, id: string) {
    return db.get<{ id: string; availability: string; display_name: string }>(
      'SELECT id, availability, display_name FROM operators WHERE id = ?',
      [id],
    );
  },
  operatorOfUser(db: Queryable, userId: number) {
    return db.get<{ id: string }>('SELECT id FROM operators WHERE studio_user_id = ? LIMIT 1', [userId]);
  },
  availableCount(db: Queryable) {
    return db
      .get<{ n: number }>("SELECT COUNT(*) AS n FROM operators WHERE status = 'active' AND availability = 'available'")
      .then((r) => Number(r?.n ?? 0));
  },
  presentOperator(db: Queryable, since: string) {
    return db.get(
      `SELECT 1 AS ok FROM operators o JOIN studio_users u ON u.id = o.studio_user_id
       WHERE o.status = 'active' AND o.availability = 'available' AND u.last_seen >= ? LIMIT 1`,
      [since],
    );
  },
  /** Active, available operators not seen on the dashboard recently (auto-away at sleep start). */
  staleAvailableOperators(db: Queryable, since: string, exceptId: string | null) {
    return db.all<{ id: string; display_name: string }>(
      `SELECT o.id, o.display_name FROM operators o LEFT JOIN studio_users u ON u.id = o.studio_user_id
       WHERE o.status = 'active' AND o.availability = 'available' AND o.id != ? AND (u.id IS NULL OR u.last_seen IS NULL OR u.last_seen < ?)`,
      [exceptId ?? '', since],
    );
  },
  stillAway(db: Queryable, ids: string[]) {
    if (!ids.length) return Promise.resolve([] as { id: string; display_name: string }[]);
    return db.all<{ id: string; display_name: string }>(
      `SELECT id, display_name FROM operators WHERE availability = 'away' AND id IN (${ids.map(() => '?').join(',')})`,
      ids,
    );
  },
  setAvailability(id: string, availability: string, awayMessage: string): Statement {
    return {
      sql: "UPDATE operators SET availability = ?, away_message = ?, updated_at = datetime('now') WHERE id = ?",
      args: [availability, awayMessage, id],
    };
  },
  wakeSleepers(): Statement {
    return {
      sql: "UPDATE operators SET availability = 'available', updated_at = datetime('now') WHERE availability = 'sleeping'",
      args: [],
    };
  },
  notifyOnlineAgents(content: string): Statement {
    return {
      sql: `INSERT INTO messages (from_agent, to_agent, content, msg_type, status, priority)
            SELECT '__system__', id, ?, 'info', 'sent', 'normal' FROM agents
            WHERE status IN ('online','idle') AND agent_type != 'drone' AND project_id != 'drone' AND role != 'drone'`,
      args: [content],
    };
  },
  morningSummary(operatorId: string, content: string): Statement {
    return {
      sql: `INSERT INTO messages (from_agent, to_agent, content, msg_type, status, priority)
            SELECT '__system__', id, ?, 'info', 'sent', 'normal' FROM agents WHERE operator_id = ? AND operator_id != ''`,
      args: [content, operatorId],
    };
  },
  tasksDoneSince(db: Queryable, since: string) {
    return db.all<{ id: number; title: string; assignee: string | null; updated_at: string }>(
      "SELECT id, title, assignee, updated_at FROM tasks WHERE status = 'done' AND updated_at >= ? ORDER BY updated_at",
      [since],
    );
  },
  /** One more message in the sleep log, only while sleep mode is on (a no-op otherwise). */
  countMessage(): Statement {
    return {
      sql: `UPDATE instance_config SET value = json_set(value, '$.messages_sent', COALESCE(json_extract(value, '$.messages_sent'), 0) + 1)
            WHERE key = 'sleep_mode_log' AND json_valid(value)
              AND EXISTS (SELECT 1 FROM instance_config s WHERE s.key = 'sleep_mode' AND json_valid(s.value) AND json_extract(s.value, '$.active') = 1)`,
      args: [],
    };
  },
  /** One json_insert per entry: concurrent appends never overwrite each other. */
  appendLog(list: string, entry: Record<string, unknown>): Statement {
    const valid = "CASE WHEN json_valid(value) THEN value ELSE '{}' END";
    return {
      sql: `UPDATE instance_config SET value = json_set(${valid}, '$.' || ?,
              json_insert(COALESCE(json_extract(${valid}, '$.' || ?), '[]'), '$[#]', json(?)))
            WHERE key = 'sleep_mode_log'`,
      args: [list, list, JSON.stringify(entry)],
    };
  },
};
