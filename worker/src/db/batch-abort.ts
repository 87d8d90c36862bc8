import type { Statement } from './types.js';
import { SqlTexts } from './sql-texts.js';

/**
 * Batch aborts: `db.batch` is atomic, but its statements cannot branch on each other's results.
 * An abort is a statement that *fails* (and so rolls the whole batch back) when a condition holds:
 * it inserts into `batch_abort` (migration 0013), whose CHECK refuses every row. With a false
 * condition it inserts nothing. This turns "update A, and only if that really happened, do B"
 * into one atomic round trip on both runtimes, with no interactive transaction.
 */
const ABORT_SQL = 'INSERT INTO batch_abort (reason) SELECT ? WHERE ';

/** Aborts the batch when the statement just before it changed no row (a lost compare-and-set). */
export function abortUnlessChanged(reason = 'nothing changed'): Statement {
  return { sql: `${ABORT_SQL}changes() = 0`, args: [reason] };
}

/** Aborts the batch when `conditionSql` is true at that point of the batch. */
export function abortIf(conditionSql: string, args: Statement['args'] = [], reason = 'condition held'): Statement {
  return { sql: abortTexts.get(conditionSql, () => `${ABORT_SQL}(${conditionSql})`), args: [reason, ...(args ?? [])] };
}

/** `abortIf` texts by condition (the callers' constants; a heartbeat sends one): built once (issue 11). */
const abortTexts = new SqlTexts(200);

/** True when an error is one of the aborts above firing (as opposed to a real failure). */
export function isBatchAbort(err: unknown): boolean {
  return /CHECK constraint failed: batch_abort_refused/i.test(String((err as Error)?.message ?? err));
}
