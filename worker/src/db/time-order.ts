import { parseDbTime, toDbTime } from './time.js';
import type { SqlArgs, SqlPart, SqlValue } from './types.js';

/**
 * Append-only tables whose rows take their time from `datetime('now')` when inserted (events,
 * context history) hold their rows in time order by id: one writer at a time, ids handed out in
 * commit order. A time bound on such a table is an id bound, found by a binary search over the
 * rowid (about log2(rows) single-row seeks, in the statement itself: one round trip), so the table
 * needs no index on its time column (issue 11: each index is pages written on every insert).
 *
 * `firstIdFrom(table, column, op, time)` is the SQL of a scalar subquery: an id from which on
 * every row has `column op time` (e.g. `created_at > ?`) and before which none has, for rows in
 * time order. Callers keep the time condition itself too, so the answer is exact whenever the
 * order holds, and a row written out of order (a backdated row, a clock stepped back) can only be
 * left out of a bound range, never wrongly let in. `table` and `column` are trusted names.
 */
export function firstIdFrom(
  table: string,
  column: string,
  op: '>' | '>=',
  time: { sql: string; args: SqlValue[] },
): { sql: string; args: SqlValue[] } {
  // Invariant: every row below `lo` fails the condition; every row from `hi` on passes (hi starts
  // past the last id). `ok` is the condition on the first row at or after the middle of [lo, hi)
  // (ids have gaps), read once per step and carried in the row, so each step is one seek (written
  // twice in the CASEs, the subquery would run twice). The last step, where the range is empty,
  // reads nothing.
  const test = (lo: string, hi: string) =>
    `CASE WHEN ${lo} < ${hi} THEN (SELECT ${column} FROM ${table} WHERE id >= (${lo} + ${hi}) / 2 ORDER BY id LIMIT 1) ${op} ${time.sql} END`;
  const nextLo = 'CASE WHEN ok THEN lo ELSE (lo + hi) / 2 + 1 END';
  const nextHi = 'CASE WHEN ok THEN (lo + hi) / 2 ELSE hi END';
  return {
    sql: `(WITH RECURSIVE probe(lo, hi, ok) AS (
        SELECT lo, hi, ${test('lo', 'hi')} FROM (SELECT COALESCE((SELECT MIN(id) FROM ${table}), 0) AS lo,
          COALESCE((SELECT MAX(id) FROM ${table}), 0) + 1 AS hi)
        UNION ALL
        SELECT ${nextLo}, ${nextHi}, ${test(`(${nextLo})`, `(${nextHi})`)} FROM probe WHERE lo < hi
      ) SELECT MAX(lo) FROM probe)`,
    args: [...time.args, ...time.args],
  };
}

/**
 * How much earlier than `since` the id range of `rowsAfter` starts: rows up to a minute out of time
 * order (a clock stepped back) are still found; the time condition itself keeps the answer exact.
 */
const SINCE_SLACK_MS = 60_000;

/**
 * "Written after `since`" over an append-only table in time order, for reads that need it more
 * than once or inside an OR: `with` is a CTE named `name` holding the first id of the range
 * (`firstIdFrom`, about log2(rows) seeks), computed once however many branches of a query use it;
 * `from` goes before the table in FROM (`FROM ${from}messages m`), and `sql` is the condition, the
 * id bound and the time itself. The bound is a join term, not a subquery: SQLite copies it into
 * each branch of a MULTI-INDEX OR (an equality on an indexed column becomes a range, as every
 * index key ends with the rowid), which it does not do for a term holding a subquery. `since` in
 * the stored format (`YYYY-MM-DD HH:MM:SS` UTC); `alias` is the table's name in the query (default:
 * the table's own). `table`, `column`, `name` and `alias` are trusted names.
 *
 * `mark`: the table's greatest id when `since` was taken, if the caller stored it (a savepoint
 * does, migration 0032). Every later row has a greater id, so the range starts right after it and
 * no search runs; the time condition stays, so the answer is the same for rows in time order.
 */
export function rowsAfter(
  table: string,
  column: string,
  since: string,
  name: string,
  alias = table,
  mark: number | null = null,
): {
  with: SqlPart;
  from: string;
  sql: string;
  args: SqlArgs;
  boundSql: string;
  timeSql: string;
  /** The range starts at `mark` (no search): its SQL text differs from the searching one's. */
  marked: boolean;
} {
  const ms = parseDbTime(since);
  // Text that is no instant bounds nothing early: the range starts where the text itself compares.
  const early = Number.isFinite(ms) ? toDbTime(ms - SINCE_SLACK_MS) : since;
  const marked = Number.isSafeInteger(mark);
  const first = marked
    ? { sql: '?', args: [(mark as number) + 1] }
    : firstIdFrom(table, column, '>', { sql: '?', args: [early] });
  return {
    marked,
    with: { sql: `${name}(id) AS MATERIALIZED (SELECT ${first.sql})`, args: first.args },
    from: `${name} CROSS JOIN `,
    sql: `${alias}.id >= ${name}.id AND ${alias}.${column} > ?`,
    args: [since],
    // The two halves of `sql` apart, for a walk of ONE index newest first that applies the time
    // condition after its LIMIT (diff-repo's event count): the bound as a scalar subquery, not a
    // join term (no `from`), because joined to the CTE SQLite does not know the walk is in id
    // order and sorts the whole range first. `timeSql` takes `args`.
    boundSql: `${alias}.id >= (SELECT id FROM ${name})`,
    timeSql: `${column} > ?`,
  };
}
