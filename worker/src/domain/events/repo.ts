import type { Queryable } from '../../db/db.js';
import { parseDbTime, toDbTime } from '../../db/time.js';
import { firstIdFrom } from '../../db/time-order.js';
import type { SqlArgs } from '../../db/types.js';

/** The events table's SQL (spec 04 §1.10). Writes go through the bus (bus.ts). */

export interface EventRow {
  id: number;
  type: string;
  agent: string;
  project_id: string | null;
  summary: string;
  /** The stored JSON text: the wire carries it as a string (spec 04 §7.2, 07 REL-21). */
  data: string;
  created_at: string;
}

export interface EventFilters {
  projectId?: string;
  type?: string;
  agent?: string;
}

/**
 * What an agent may see (weak spot E2, spec 07 SEC-44): shared events (no project), events of
 * its own or its teams' projects, and events tagged with its own id. Null = everything.
 */
export interface EventScope {
  agentId: string;
  projectIds: string[];
}

export interface EventQuery extends EventFilters {
  /** SQLite-format UTC text; rows strictly after it. */
  since?: string;
  search?: string;
  limit: number;
  offset: number;
}

/**
 * Events carry no index on `created_at` (migration 0025: one b-tree less written per event): ids
 * follow time, so a time bound is an id bound found by `firstIdFrom` (db/time-order.ts). `since`
 * starts its id range this much earlier, so rows up to a minute out of order (a clock stepped
 * back) are still found; `created_at > since` itself stays in the query and keeps it exact.
 */
const SINCE_SLACK_MS = 60_000;

/**
 * "Written after `since`" over events, as an id range (`firstIdFrom`) and the time itself: the
 * condition every `since` read of events uses (the listing, the savepoint diff's count), `since`
 * in the stored format (`YYYY-MM-DD HH:MM:SS` UTC).
 */
export function eventsAfter(since: string): { sql: string; args: SqlArgs } {
  const ms = parseDbTime(since);
  // Text that is no instant bounds nothing early: the range starts where the text itself compares.
  const early = Number.isFinite(ms) ? toDbTime(ms - SINCE_SLACK_MS) : since;
  const from = firstIdFrom('events', 'created_at', '>', { sql: '?', args: [early] });
  return { sql: `id >= ${from.sql} AND created_at > ?`, args: [...from.args, since] };
}

/** `%`, `_` and `\` in a user's search text match only themselves. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

function where(f: EventFilters, scope: EventScope | null, extra: string[] = [], extraArgs: SqlArgs = []) {
  const conds = [...extra];
  const args: SqlArgs = [...extraArgs];
  if (f.projectId) {
    conds.push('project_id = ?');
    args.push(f.projectId);
  }
  if (f.type) {
    conds.push('type = ?');
    args.push(f.type);
  }
  if (f.agent) {
    conds.push('agent = ?');
    args.push(f.agent);
  }
  if (scope) {
    const marks = scope.projectIds.map(() => '?').join(', ');
    conds.push(`(project_id IS NULL OR project_id = ''${marks ? ` OR project_id IN (${marks})` : ''} OR agent = ?)`);
    args.push(...scope.projectIds, scope.agentId);
  }
  return { sql: conds.length ? `WHERE ${conds.join(' AND ')}` : '', args };
}

export const eventsRepo = {
  /** GET /events: newest first, by id (weak spot E5: ties at one-second resolution stay stable). */
  list(db: Queryable, q: EventQuery, scope: EventScope | null) {
    const extra: string[] = [];
    const extraArgs: SqlArgs = [];
    if (q.since) {
      const after = eventsAfter(q.since);
      extra.push(after.sql);
      extraArgs.push(...after.args);
    }
    if (q.search) {
      extra.push("(summary LIKE ? ESCAPE '\\' OR type LIKE ? ESCAPE '\\' OR agent LIKE ? ESCAPE '\\')");
      const pat = `%${likeEscape(q.search)}%`;
      extraArgs.push(pat, pat, pat);
    }
    const w = where(q, scope, extra, extraArgs);
    return db.all<EventRow>(`SELECT * FROM events ${w.sql} ORDER BY id DESC LIMIT ? OFFSET ?`, [
      ...w.args,
      q.limit,
      q.offset,
    ]);
  },

  maxId(db: Queryable) {
    return db.get<{ id: number | null }>('SELECT MAX(id) AS id FROM events').then((r) => Number(r?.id ?? 0));
  },

  /** The `n` newest matching events up to `upTo`, returned oldest first (SSE replay). */
  async recent(db: Queryable, f: EventFilters, scope: EventScope | null, upTo: number, n: number) {
    const w = where(f, scope, ['id <= ?'], [upTo]);
    const rows = await db.all<EventRow>(`SELECT * FROM events ${w.sql} ORDER BY id DESC LIMIT ?`, [...w.args, n]);
    return rows.reverse();
  },

  /** Matching events with id in (after, upTo], oldest first (resume and live polling). */
  range(db: Queryable, f: EventFilters, scope: EventScope | null, after: number, upTo: number | null, n: number) {
    const extra = ['id > ?'];
    const args: SqlArgs = [after];
    if (upTo !== null) {
      extra.push('id <= ?');
      args.push(upTo);
    }
    const w = where(f, scope, extra, args);
    return db.all<EventRow>(`SELECT * FROM events ${w.sql} ORDER BY id ASC LIMIT ?`, [...w.args, n]);
  },

  /**
   * Daily retention (spec 04 §10: the original had none): the id range before the first event of
   * the cutoff, read from its start (no index on `created_at`). A row written out of time order
   * goes once the rows around it are past the cutoff too.
   */
  purgeOlderThan(db: Queryable, days: number) {
    const cutoff = { sql: "datetime('now', ?)", args: [`-${days} days`] };
    const upTo = firstIdFrom('events', 'created_at', '>=', cutoff);
    return db.run(`DELETE FROM events WHERE id < ${upTo.sql} AND created_at < ${cutoff.sql}`, [
      ...upTo.args,
      ...cutoff.args,
    ]);
  },
};
