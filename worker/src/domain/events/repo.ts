import type { Queryable } from '../../db/db.js';
import { newestPerBranch } from '../../db/newest-per-branch.js';
import { firstIdFrom, rowsAfter } from '../../db/time-order.js';
import type { SqlArgs, SqlPart } from '../../db/types.js';

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
 * "Written after `since`" over events (no index on `created_at`, migration 0025: one b-tree less
 * written per event; ids follow time), as `rowsAfter` gives it: a CTE `after_id`, the FROM
 * prefix, and the condition each branch adds.
 */
export function eventsAfter(since: string, mark: number | null = null) {
  return rowsAfter('events', 'created_at', since, 'after_id', 'events', mark);
}

/** `%`, `_` and `\` in a user's search text match only themselves. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (ch) => `\\${ch}`);
}

/**
 * The filters of a read (not the scope), ANDed; `'1'` when there are none. `keyed`: one of them is
 * an equality an index of events serves (type, agent, project).
 */
function filtersOf(f: EventFilters, extra: string[] = [], extraArgs: SqlArgs = []): SqlPart & { keyed: boolean } {
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
  return { sql: conds.length ? conds.join(' AND ') : '1', args, keyed: Boolean(f.projectId || f.type || f.agent) };
}

/** What an agent may see (EventScope) as one condition: for the oldest-first range reads. */
function scopeCond(scope: EventScope): SqlPart {
  const marks = scope.projectIds.map(() => '?').join(', ');
  return {
    sql: `(project_id IS NULL OR project_id = ''${marks ? ` OR project_id IN (${marks})` : ''} OR agent = ?)`,
    args: [...scope.projectIds, scope.agentId],
  };
}

/** The same, as branches of one equality each (project_id IS NULL, = '', = each project, agent =). */
function scopeBranches(scope: EventScope): SqlPart[] {
  return [
    { sql: 'project_id IS NULL', args: [] },
    { sql: "project_id = ''", args: [] },
    ...scope.projectIds.map((p) => ({ sql: 'project_id = ?', args: [p] })),
    { sql: 'agent = ?', args: [scope.agentId] },
  ];
}

/**
 * The branches of "the agent's own events or its projects'" (boot's recent events, the savepoint
 * diff's count; null projects = everything, no branches).
 */
export function agentOrProjects(agentId: string, projectIds: string[] | null): SqlPart[] | null {
  if (projectIds === null) return null;
  return [{ sql: 'agent = ?', args: [agentId] }, ...projectIds.map((p) => ({ sql: 'project_id = ?', args: [p] }))];
}

/**
 * The ids of the newest `k` events matching `filters` and any one of `branches` (null: no scope),
 * as the SQL of a subquery (db/newest-per-branch.ts: an OR of the branches would collect each
 * branch's whole history — an agent's boot counted 60,000 events of its project to answer "50 or
 * more"). Each branch walks its index (project_id or agent, then rowid) backwards; `from` is what
 * goes before `events` in each FROM (a `rowsAfter` range).
 */
export function newestIds(filters: SqlPart, branches: SqlPart[] | null, k: number, from = ''): SqlPart {
  const walks = (branches ?? [{ sql: '1', args: [] }]).map((where) => ({ from: `${from}events`, where }));
  return newestPerBranch(walks, filters, { key: 'events.id', order: 'events.id DESC', k });
}

/**
 * The newest `limit` matching events after skipping `offset`, newest first. Scoped: one read per
 * scope branch (`newestIds`) — unless a filter is itself an indexed equality (a type, an agent, a
 * project): then one read walks that index newest first and checks the scope per row, as each
 * branch would otherwise pick that same index and walk it to the end for a branch with no rows of
 * the type (`GET /events?type=` went from 0.7 to 20 ms at 200,000 events that way).
 */
function newestRows(
  db: Queryable,
  range: { with: SqlPart; from: string } | null,
  filters: SqlPart & { keyed: boolean },
  scope: EventScope | null,
  limit: number,
  offset = 0,
) {
  const w = range ? { sql: `WITH ${range.with.sql} `, args: range.with.args } : { sql: '', args: [] };
  const from = range?.from ?? '';
  if (!scope || filters.keyed) {
    const s = scope ? scopeCond(scope) : { sql: '1', args: [] };
    return db.all<EventRow>(
      `${w.sql}SELECT events.* FROM ${from}events WHERE ${filters.sql} AND ${s.sql} ORDER BY events.id DESC LIMIT ? OFFSET ?`,
      [...w.args, ...filters.args, ...s.args, limit, offset],
    );
  }
  const ids = newestIds(filters, scopeBranches(scope), limit + offset, from);
  return db.all<EventRow>(`${w.sql}SELECT * FROM events WHERE id IN (${ids.sql}) ORDER BY id DESC LIMIT ? OFFSET ?`, [
    ...w.args,
    ...ids.args,
    limit,
    offset,
  ]);
}

export const eventsRepo = {
  /** GET /events: newest first, by id (weak spot E5: ties at one-second resolution stay stable). */
  list(db: Queryable, q: EventQuery, scope: EventScope | null) {
    const after = q.since ? eventsAfter(q.since) : null;
    const extra: string[] = after ? [after.sql] : [];
    const extraArgs: SqlArgs = after ? [...after.args] : [];
    if (q.search) {
      extra.push("(summary LIKE ? ESCAPE '\\' OR type LIKE ? ESCAPE '\\' OR agent LIKE ? ESCAPE '\\')");
      const pat = `%${likeEscape(q.search)}%`;
      extraArgs.push(pat, pat, pat);
    }
    return newestRows(db, after, filtersOf(q, extra, extraArgs), scope, q.limit, q.offset);
  },

  /** The newest `n` events of the agent or its projects (null: of everyone), newest first. */
  newestOf(db: Queryable, agentId: string, projectIds: string[] | null, n: number) {
    const ids = newestIds({ sql: '1', args: [] }, agentOrProjects(agentId, projectIds), n);
    return db.all<EventRow>(`SELECT * FROM events WHERE id IN (${ids.sql}) ORDER BY id DESC LIMIT ?`, [...ids.args, n]);
  },

  maxId(db: Queryable) {
    return db.get<{ id: number | null }>('SELECT MAX(id) AS id FROM events').then((r) => Number(r?.id ?? 0));
  },

  /** The `n` newest matching events up to `upTo`, returned oldest first (SSE replay). */
  async recent(db: Queryable, f: EventFilters, scope: EventScope | null, upTo: number, n: number) {
    const rows = await newestRows(db, null, filtersOf(f, ['id <= ?'], [upTo]), scope, n);
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
    // Oldest first from a cursor: each branch of the scope reads only what came after it.
    const w = filtersOf(f, extra, args);
    const s = scope ? scopeCond(scope) : { sql: '1', args: [] };
    return db.all<EventRow>(`SELECT * FROM events WHERE ${w.sql} AND ${s.sql} ORDER BY id ASC LIMIT ?`, [
      ...w.args,
      ...s.args,
      n,
    ]);
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
