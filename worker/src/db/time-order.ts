import type { SqlValue } from './types.js';

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
  // past the last id). Each step reads the first row at or after the middle (ids have gaps).
  const mid = `(SELECT ${column} FROM ${table} WHERE id >= (lo + hi) / 2 ORDER BY id LIMIT 1) ${op} ${time.sql}`;
  return {
    sql: `(WITH RECURSIVE probe(lo, hi) AS (
        SELECT COALESCE((SELECT MIN(id) FROM ${table}), 0), COALESCE((SELECT MAX(id) FROM ${table}), 0) + 1
        UNION ALL
        SELECT CASE WHEN ${mid} THEN lo ELSE (lo + hi) / 2 + 1 END, CASE WHEN ${mid} THEN (lo + hi) / 2 ELSE hi END
        FROM probe WHERE lo < hi
      ) SELECT MAX(lo) FROM probe)`,
    args: [...time.args, ...time.args],
  };
}
