import type { Queryable } from '../../db/db.js';
import { rowsAfter } from '../../db/time-order.js';
import { SqlTexts } from '../../db/sql-texts.js';
import type { SqlArgs } from '../../db/types.js';
import { eventsAfter } from '../events/repo.js';
import { VISIBLE_TO_AGENT } from '../messages/repo.js';

/** Scoped "changed since" reads for the savepoint diff (spec 02 §3.7, W23). Read-only. */

function scoped(col: string, scope: string[] | null): { sql: string; args: SqlArgs } {
  if (scope === null) return { sql: '1', args: [] };
  return { sql: `(${col} = '' OR ${col} IN (${scope.map(() => '?').join(',')}))`, args: scope };
}

/** The savepoint diff's `events_since` stops counting here (spec 02 §3.7: a count, ≤ 50). */
const EVENTS_COUNTED = 50;
/**
 * Rows each walk of the event count reads at most (see `eventCount`): the 50 it may count, and
 * as many again four times over for rows of the range's early slack that do not count.
 */
const EVENTS_WALKED = 250;

/**
 * The diff's SQL texts by shape (which read, how many acked ids, projects or namespaces): boot
 * sends them on every call, and a text built anew is hashed anew by the driver (issue 11).
 */
const texts = new SqlTexts(200);
/**
 * A shape key: the read, whether its log range starts at a mark (`rowsAfter`'s `marked`), and its
 * counts (null: no scope).
 */
const shape = (read: string, ...counts: (number | boolean | null)[]) => `${read}:${counts.join(',')}`;

export const diffRepo = {
  /**
   * `mark`: the savepoint's messages_mark (null on rows older than migration 0032). An id range
   * (ids follow time): each branch of the visibility OR (sent, received, broadcast) reads its index
   * from there on, not the agent's whole history of messages.
   */
  messages(db: Queryable, agentId: string, since: string, acked: number[], mark: number | null = null) {
    const after = rowsAfter('messages', 'created_at', since, 'msg_after', 'm', mark);
    const sql = texts.get(
      shape('messages', after.marked, acked.length),
      () =>
        `WITH ${after.with.sql} SELECT m.* FROM ${after.from}messages m WHERE ${after.sql} AND m.from_agent != ? AND m.msg_type != 'chat' AND ${VISIBLE_TO_AGENT}
       ${acked.length ? `AND m.id NOT IN (${acked.map(() => '?').join(',')})` : ''} ORDER BY m.id ASC LIMIT 100`,
    );
    return db.all(sql, [...after.with.args, ...after.args, agentId, agentId, agentId, agentId, ...acked]);
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
    const sql = texts.get(shape('tasks', projects.length), () => {
      const unassigned = projects.map(
        () =>
          `SELECT * FROM (SELECT * FROM tasks WHERE project_id = ? AND updated_at > ? AND COALESCE(assignee, '') = '' ${newest})`,
      );
      return `SELECT * FROM (SELECT * FROM tasks WHERE assignee = ? AND updated_at > ? ${newest})
       UNION ALL ${unassigned.join(' UNION ALL ')} ${newest}`;
    });
    return db.all(sql, [agentId, since, ...projects.flatMap((p) => [p, since])]);
  },
  /** The agent's own system bookkeeping keys (standup, md_report) are not news to it. */
  context(db: Queryable, agentId: string, namespaces: string[], since: string) {
    const sql = texts.get(
      shape('context', namespaces.length),
      () => `SELECT namespace, key, data, category, updated_at, updated_by, version FROM context_keys
       WHERE updated_at > ? AND namespace IN (${namespaces.map(() => '?').join(',')})
         AND NOT (namespace = ? AND key IN ('standup','md_report'))
       ORDER BY updated_at DESC LIMIT 50`,
    );
    return db.all(sql, [since, ...namespaces, agentId]);
  },
  plans(db: Queryable, since: string, scope: string[] | null) {
    const s = scoped('project_id', scope);
    const sql = texts.get(
      shape('plans', scope?.length ?? null),
      () => `SELECT * FROM plans WHERE updated_at > ? AND ${s.sql} ORDER BY updated_at DESC LIMIT 20`,
    );
    return db.all(sql, [since, ...s.args]);
  },
  bugs(db: Queryable, since: string, scope: string[] | null) {
    const s = scoped('project_id', scope);
    const sql = texts.get(
      shape('bugs', scope?.length ?? null),
      () => `SELECT * FROM bugs WHERE updated_at > ? AND ${s.sql} ORDER BY updated_at DESC LIMIT 20`,
    );
    return db.all(sql, [since, ...s.args]);
  },
  /**
   * Events since, of the agent or its projects, counted up to 50 (the diff says "50" for more). An
   * id range (events carry no created_at index, migration 0025), each part walked newest first in
   * its own index and stopped at 50, never a project's history. The parts are disjoint — the
   * agent's own events, then each project's events by anyone else (an event has one project) — so
   * their counts add up without a UNION sorting the ids to drop duplicates; when the agent's own
   * already reach 50 the projects are not walked.
   *
   * Each walk reads its index newest first and stops at the 50th row written after `since`, or
   * after EVENTS_WALKED rows (the inner subquery is a co-routine: rows are read as they are
   * counted). The bound is a scalar subquery, not a join to its CTE: joined, SQLite cannot tell
   * the walk is in id order and sorts the whole range before the LIMIT. The range starts after
   * `mark`, the savepoint's events_mark, or, on rows older than migration 0032, a minute before
   * `since` (rowsAfter's slack for a clock stepped back); the row cap keeps a busy second or minute
   * from being read through. In time order the rows that count are the newest of the range, so
   * the count is exact; a row written out of order further down may be left out, never let in.
   */
  async eventCount(db: Queryable, agentId: string, since: string, scope: string[] | null, mark: number | null = null) {
    const after = eventsAfter(since, mark);
    const walk = (where: string) =>
      `(SELECT COUNT(*) FROM (SELECT 1 FROM (SELECT created_at FROM events WHERE ${where} AND ${after.boundSql}
         ORDER BY events.id DESC LIMIT ${EVENTS_WALKED}) WHERE ${after.timeSql} LIMIT ${EVENTS_COUNTED}))`;
    if (scope === null) {
      const sql = texts.get(
        shape('events', after.marked, null),
        () => `WITH ${after.with.sql} SELECT ${walk('1')} AS n`,
      );
      const r = await db.get<{ n: number }>(sql, [...after.with.args, ...after.args]);
      return Number(r?.n ?? 0);
    }
    const projects = [...new Set(scope)];
    const sql = texts.get(shape('events', after.marked, projects.length), () => {
      const others = projects.map(() => ` + ${walk('project_id = ? AND agent IS NOT ?')}`).join('');
      return `WITH ${after.with.sql} SELECT CASE WHEN mine >= ${EVENTS_COUNTED} THEN ${EVENTS_COUNTED}
         ELSE MIN(${EVENTS_COUNTED}, mine${others}) END AS n FROM (SELECT ${walk('agent = ?')} AS mine)`;
    });
    const r = await db.get<{ n: number }>(sql, [
      ...after.with.args,
      ...projects.flatMap((p) => [p, agentId, ...after.args]),
      agentId,
      ...after.args,
    ]);
    return Number(r?.n ?? 0);
  },
};
