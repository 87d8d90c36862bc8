import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** Team chat lives in `messages` as msg_type 'chat' rows without a channel (spec 03 §10). */
export const teamChatRepo = {
  list(db: Queryable, limit: number) {
    return db.all("SELECT * FROM messages WHERE msg_type = 'chat' AND channel_id IS NULL ORDER BY id DESC LIMIT ?", [
      limit,
    ]);
  },
  insert(from: string, content: string): Statement {
    return {
      sql: "INSERT INTO messages (from_agent, to_agent, content, msg_type, status, priority) VALUES (?, NULL, ?, 'chat', 'sent', 'normal') RETURNING id",
      args: [from, content],
    };
  },
};
