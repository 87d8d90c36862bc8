import type { Queryable } from '../../db/db.js';
import { rowsAfter } from '../../db/time-order.js';
import type { SqlArgs } from '../../db/types.js';
import { agentOrProjects, eventsAfter, newestIds } from '../events/repo.js';
import { VISIBLE_TO_AGENT } from '../messages/repo.js';

/** Scoped "changed since" reads for the savepoint diff (spec 02 §3.7, W23). Read-only. */

function scoped(col: string, scope: string[] | null): { sql: string; args: SqlArgs } {
  if (scope === null) return { sql: '1', args: [] };
  return { sql: `(${col} = '' OR ${col} IN (${scope.map(() => '?').join(',')}))`, args: scope };
}

export const diffRepo = {
  messages(db: Queryable, agentId: string, since: string, acked: number[]) {
    const notAcked = acked.length ? `AND m.id NOT IN (${acked.map(() => '?').join(',')})` : '';
    // An id range (ids follow time): each branch of the visibility OR (sent, received, broadcast)
    // reads its index from there on, not the agent's whole history of messages.
    const after = rowsAfter('messages', 'created_at', since, 'msg_after', 'm');
    return db.all(
      `WITH ${after.with.sql} SELECT m.* FROM ${after.from}messages m WHERE ${after.sql} AND m.from_agent != ? AND m.msg_type != 'chat' AND ${VISIBLE_TO_AGENT} ${notAcked}
       ORDER BY m.id ASC LIMIT 100`,
      [...after.with.args, ...after.args, agentId, agentId, agentId, agentId, ...acked],
    );
  },
  /**
   * Tasks changed since the savepoint: the agent's own, and unassigned ones of its projects (and of
   * no project). Each part is the newest 50 of one index range — (assignee, updated_at) or
   * (project_id, updated_at), migration 0016 — merged; one OR over them read every task of the
   * project and sorted it on each boot (issue 11 growth: 100k tasks made boot 14× slower).
   */
  tasks(db: Queryable, agentId: string, since: string, scope: string[] | null) {
    const newest = 'ORDER BY updated_at DESC, id DESC LIMIT 50';
    if (scope === null)
      return db.all(
        `SELECT * FROM tasks WHERE updated_at > ? AND (assignee = ? OR COALESCE(assignee, '') = '') ${newest}`,
        [since, agentId],
      );
    const projects = ['', ...new Set(scope.filter((p) => p !== ''))];
    const unassigned = projects.map(
      () =>
        `SELECT * FROM (SELECT * FROM tasks WHERE project_id = ? AND updated_at > ? AND COALESCE(assignee, '') = '' ${newest})`,
    );
    return db.all(
      `SELECT * FROM (SELECT * FROM tasks WHERE assignee = ? AND updated_at > ? ${newest})
       UNION ALL ${unassigned.join(' UNION ALL ')} ${newest}`,
      [agentId, since, ...projects.flatMap((p) => [p, since])],
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
  /** Events since, of the agent or its projects, counted up to 50 (the diff says "50" for more). */
  async eventCount(db: Queryable, agentId: string, since: string, scope: string[] | null) {
    // An id range (events carry no created_at index, migration 0025) read newest first per branch
    // (newestIds): the count stops at 50 instead of visiting the range, or a project's history.
    const after = eventsAfter(since);
    const ids = newestIds({ sql: after.sql, args: after.args }, agentOrProjects(agentId, scope), 50, after.from);
    const r = await db.get<{ n: number }>(
      `WITH ${after.with.sql} SELECT COUNT(*) AS n FROM (SELECT id FROM (${ids.sql}) LIMIT 50)`,
      [...after.with.args, ...ids.args],
    );
    return Number(r?.n ?? 0);
  },
};
