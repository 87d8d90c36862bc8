import type { SqlPart } from './types.js';

/** One index walk of `newestPerBranch`: the FROM (a table, its alias, an INDEXED BY) and the branch's own key condition. */
export interface NewestBranch {
  from: string;
  where: SqlPart;
}

/**
 * The ids of the newest `k` rows of each branch that also pass `filters`, as one compound SELECT
 * (each arm wrapped, since an arm of a UNION cannot have its own ORDER BY and LIMIT; the UNION
 * drops a row two branches found). For "rows visible to a reader" over a table that only grows
 * (events, messages): written as one `a OR b OR c`, SQLite plans a MULTI-INDEX OR, which collects
 * every row of every branch — a key's whole history — before a LIMIT or a count sees them (issue
 * 11, growth). Per branch, a walk of an index whose order is `order` (the branch's key, then the
 * order's columns) stops after `k` rows. The newest `k` of the union are among the branches'
 * newest `k`, so an outer `ORDER BY … LIMIT` over these ids is exact.
 *
 * `key` is the id column as the arms name it; `order` the newest-first order (it must be what
 * each branch's index yields, or each arm sorts its whole branch again).
 */
export function newestPerBranch(
  branches: NewestBranch[],
  filters: SqlPart,
  o: { key: string; order: string; k: number },
): SqlPart {
  const parts = branches.map((b) => ({
    sql: `SELECT id FROM (SELECT ${o.key} AS id FROM ${b.from} WHERE ${b.where.sql} AND ${filters.sql} ORDER BY ${o.order} LIMIT ?)`,
    args: [...b.where.args, ...filters.args, o.k],
  }));
  return { sql: parts.map((p) => p.sql).join(' UNION '), args: parts.flatMap((p) => p.args) };
}
