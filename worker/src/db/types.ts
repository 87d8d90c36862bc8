/**
 * The database port. Both runtimes implement it: local SQLite files through the synchronous
 * `libsql` driver on Node, and libSQL over HTTP (`@libsql/client/web`) on Workers.
 * Everything is async so domain code never knows which one it talks to.
 */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;
export type SqlArgs = SqlValue[];
export type Row = Record<string, unknown>;

/** A piece of SQL (a condition, a subquery, a CTE) and the arguments of its `?`s, in order. */
export interface SqlPart {
  sql: string;
  args: SqlArgs;
}

export interface Statement {
  sql: string;
  args?: SqlArgs;
  /**
   * Only the first row is wanted (`Queryable.get`): a driver may stop after it. Node steps such a
   * read once instead of opening a row cursor; libSQL over HTTP ignores it.
   */
  first?: boolean;
  /**
   * At most one row, by a primary or unique key (or a VALUES insert): Node steps such a statement
   * once even when it writes (SQLite makes every change of a statement, RETURNING included, at its
   * first step) instead of opening a row cursor, and counts its row as the change. libSQL over
   * HTTP ignores it. Never set it on a statement that can match several rows.
   */
  single?: boolean;
}

export interface ResultSet {
  rows: Row[];
  /** Rows changed by an INSERT/UPDATE/DELETE. */
  rowsAffected: number;
  /** rowid of the last inserted row, when the statement inserted one. */
  lastInsertRowid: number | null;
}

/** What a driver must provide. Kept minimal so a new adapter is small. */
export interface DbDriver {
  execute(stmt: Statement): Promise<ResultSet>;
  /** All statements succeed together or none does (one atomic round trip). */
  batch(stmts: Statement[]): Promise<ResultSet[]>;
  /** Interactive write transaction; used only where a read must decide a later write. */
  transaction<T>(fn: (tx: DbExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The part of the port available inside and outside transactions. */
export interface DbExecutor {
  execute(stmt: Statement): Promise<ResultSet>;
}
