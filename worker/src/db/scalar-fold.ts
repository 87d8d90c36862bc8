import { StatementCapture } from './captured.js';
import type { ResultSet, Row, Statement } from './types.js';
import { SqlTexts, SqlTextsByParts } from './sql-texts.js';

const NO_ROW: ResultSet = { rows: [], rowsAffected: 0, lastInsertRowid: null };
const SINGLE_COLUMN = /^\s*SELECT\s+(.+?)\s+FROM\s/is;

/**
 * Column names by SQL text: a fold asks for each read's name twice per call (building, settling),
 * and the texts are the repos' constants, so each is worked out once.
 */
const names = new SqlTexts(500);
/** A fold's statement by the texts of its reads (constants of the repos): one string per shape. */
const foldSql = new SqlTextsByParts(100);

/** The name the read's one column answers under (`x AS n` → n, `t.col` → col). */
function columnName(sql: string): string {
  return names.get(sql, () => {
    const expr = SINGLE_COLUMN.exec(sql)?.[1];
    // Two columns at the top level (a comma outside parentheses) cannot be one scalar.
    const multi = expr?.replace(/\([^()]*\)/g, '').includes(',');
    const name = expr && !multi && (/\bAS\s+(\w+)$/i.exec(expr)?.[1] ?? /^(?:\w+\.)?(\w+)$/.exec(expr)?.[1]);
    if (!name) throw new Error(`ScalarFold: not a one-column read: ${sql.slice(0, 80)}`);
    return name;
  });
}

/**
 * One-value reads folded into ONE statement (issue 11: boot's first batch sent seven reads of one
 * row and one column — config flags, context keys, operator counts — as seven statements, each a
 * driver call and a result set). Repo functions run against `fold.db` as they would against any
 * db, and the fold joins a batch like any capture (`composedBatch`); it sends
 * `SELECT (<read 1>) AS c0, (<read 2>) AS c1, …` and hands each read back its own row.
 *
 * Only for reads asked with `get` whose SQL is `SELECT <one column> FROM …` with `?` parameters
 * (anything else throws when the batch is built) and whose column is never NULL in a row that
 * exists: a scalar subquery answers NULL for "no row", so NULL comes back as no row.
 */
export class ScalarFold extends StatementCapture {
  override statements(): Statement[] {
    const reads = super.statements();
    if (reads.length === 0) return [];
    for (const r of reads) {
      if (!r.first) throw new Error(`ScalarFold: only first-row reads fold: ${r.sql.slice(0, 80)}`);
      columnName(r.sql);
    }
    return [
      {
        sql: foldSql.get(
          reads.map((r) => r.sql),
          () => `SELECT ${reads.map((r, i) => `(${r.sql}) AS c${i}`).join(', ')}`,
        ),
        args: reads.flatMap((r) => r.args ?? []),
        first: true,
      },
    ];
  }

  override settle(results: ResultSet[]): void {
    const reads = super.statements();
    const row: Row = results[0]?.rows[0] ?? {};
    super.settle(
      reads.map((r, i) => {
        const v = row[`c${i}`];
        return v === null || v === undefined ? NO_ROW : { ...NO_ROW, rows: [{ [columnName(r.sql)]: v }] };
      }),
    );
  }
}
