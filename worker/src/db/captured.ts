import { Db } from './db.js';
import type { ResultSet, Statement } from './types.js';

/**
 * Runs ordinary repo reads inside one `db.batch` (issue 11: a hot call is one pipeline request on
 * Workers). Repo functions are called as usual, but against `capture.db`: each statement they issue
 * synchronously is recorded instead of sent, and its promise settles when `settle()` hands in the
 * batch's results. So a call composes its reads — and its writes — into one round trip without a
 * second copy of any repo's SQL.
 *
 * Only the statements issued before `statements()` is taken are batched; a repo function that
 * awaits one query before issuing the next would see its later queries go to `fallback` (correct,
 * but one more round trip — the budget test in test/node/worker-budgets.test.ts notices).
 */
export class StatementCapture {
  private readonly pending: { stmt: Statement; resolve: (r: ResultSet) => void }[] = [];
  private sealed = false;
  /** A Db whose reads are recorded; its `batch`/`transaction` go straight to the real one. */
  readonly db: Db;

  constructor(fallback: Db) {
    this.db = new Db({
      execute: (stmt) => {
        if (this.sealed) return fallback.execute(stmt.sql, stmt.args ?? []);
        return new Promise<ResultSet>((resolve) => this.pending.push({ stmt, resolve }));
      },
      batch: (stmts) => fallback.batch(stmts),
      transaction: (fn) => fallback.transaction((tx) => fn({ execute: (st) => tx.execute(st.sql, st.args ?? []) })),
      close: async () => undefined,
    });
  }

  /** Stops recording and returns the recorded statements, in issue order. */
  statements(): Statement[] {
    this.sealed = true;
    return this.pending.map((p) => p.stmt);
  }

  /** Hands in the results of the recorded statements (same order as `statements()`). */
  settle(results: ResultSet[]): void {
    for (const [i, p] of this.pending.entries()) p.resolve(results[i]);
  }

  /**
   * The batch failed; its caller gets the error. The recorded reads settle empty rather than
   * rejecting, so promises the caller no longer awaits never become unhandled rejections.
   */
  fail(): void {
    for (const p of this.pending) p.resolve({ rows: [], rowsAffected: 0, lastInsertRowid: null });
  }
}

/**
 * One `db.batch` made of parts in order: plain statements (their results are returned at the
 * part's index) and captures (settled with their slice, so their promises resolve). Reads placed
 * before a write see the state before it; reads after it see it — one transaction either way.
 */
export async function composedBatch(
  run: (stmts: Statement[]) => Promise<ResultSet[]>,
  parts: (Statement[] | StatementCapture)[],
): Promise<ResultSet[][]> {
  const lists = parts.map((p) => (p instanceof StatementCapture ? p.statements() : p));
  let res: ResultSet[];
  try {
    res = await run(lists.flat());
  } catch (err) {
    for (const p of parts) if (p instanceof StatementCapture) p.fail();
    throw err;
  }
  let at = 0;
  return lists.map((list, i) => {
    const mine = res.slice(at, at + list.length);
    at += list.length;
    const p = parts[i];
    if (p instanceof StatementCapture) p.settle(mine);
    return mine;
  });
}
