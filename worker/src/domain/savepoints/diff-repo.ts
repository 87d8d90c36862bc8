import type { Queryable } from '../../db/db.js';
import type { SqlArgs } from '../../db/types.js';
import { VISIBLE_TO_AGENT } from '../messages/repo.js';

/** Scoped "changed since" reads for the savepoint diff (spec 02 §3.7, W23). Read-only. */

function scoped(col: string, scope: string[] | null): { sql: string; args: SqlArgs } {
  if (scope === null) return { sql: '1', args: [] };
  return { sql: `(${col} = '' OR ${col} IN (${scope.map(() => '?').join(',')}))`, args: scope };
}

export const diffRepo = {
  messages(db: Queryable, agentId: string, since: string, acked: number[]) {
    const notAcked = acked.length ? `AND m.id NOT IN (${acked.map(() => '?').join(',')})` : '';
    return db.all(
      `SELECT m.* FROM messages m WHERE m.created_at > ? AND m.from_agent != ? AND m.msg_type != 'chat' AND ${VISIBLE_TO_AGENT} ${notAcked}
       ORDER BY m.id ASC LIMIT 100`,
      [since, agentId, agentId, agentId, agentId, ...acked],
    );
  },
  tasks(db: Queryable, agentId: string, since: string, scope: string[] | null) {
    const s = scoped('project_id', scope);
    return db.all(
      `SELECT * FROM tasks WHERE updated_at > ? AND (assignee = ? OR (COALESCE(assignee, '') = '' AND ${s.sql}))
       ORDER BY updated_at DESC, id DESC LIMIT 50`,
      [since, agentId, ...s.args],
    );
  },
  /** The agent's own system bookkeeping keys (standup, md_report) are not news to it. */
  context(db: Queryable, agentId: string, namespaces: string[], since: string) {
    return db.all(
      `SELECT namespace, key, data, category, updated_at, updated_by, version FROM context_keys
       WHERE updated_at > ? AND namespace IN (${namespaces.map(() => '?').join(',')})
         AND NOT (namespace = ? AND key IN ('standup','md_report'))
       ORDER BY updated_at DESC LIMIT 50`,
      [since, ...namespaces, agentId],
    );
  },
  plans(db: Queryable, since: string, scope: string[] | null) {
    const s = scoped('project_id', scope);
    return db.all(`SELECT * FROM plans WHERE updated_at > ? AND ${s.sql} ORDER BY updated_at DESC LIMIT 20`, [
      since,
      ...s.args,
    ]);
  },
  bugs(db: Queryable, since: string, scope: string[] | null) {
    const s = scoped('project_id', scope);
    return db.all(`SELECT * FROM bugs WHERE updated_at > ? AND ${s.sql} ORDER BY updated_at DESC LIMIT 20`, [
      since,
      ...s.args,
    ]);
  },
  async eventCount(db: Queryable, agentId: string, since: string, scope: string[] | null) {
    const s =
      scope === null
        ? { sql: '1', args: [] as SqlArgs }
        : { sql: `(agent = ? OR project_id IN (${scope.map(() => '?').join(',')}))`, args: [agentId, ...scope] };
    const r = await db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE created_at > ? AND ${s.sql} LIMIT 50)`,
      [since, ...s.args],
    );
    return Number(r?.n ?? 0);
  },
};
