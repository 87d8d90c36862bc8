import type { DbDriver, DbExecutor, ResultSet, Row, SqlArgs, Statement } from './types.js';

/**
 * Convenience layer over a driver: typed `all`/`get`/`run` helpers used by the repos.
 * Repos receive a `Db` (or, inside a transaction, a `DbExecutor` wrapped the same way).
 */
export class Queryable {
  constructor(protected readonly exec: DbExecutor) {}

  execute(sql: string, args: SqlArgs = []): Promise<ResultSet> {
    return this.exec.execute({ sql, args });
  }

  async all<T = Row>(sql: string, args: SqlArgs = []): Promise<T[]> {
    return (await this.exec.execute({ sql, args })).rows as T[];
  }

  async get<T = Row>(sql: string, args: SqlArgs = []): Promise<T | undefined> {
    return (await this.exec.execute({ sql, args, first: true })).rows[0] as T | undefined;
  }

  async run(sql: string, args: SqlArgs = []): Promise<{ changes: number; lastInsertRowid: number | null }> {
    const r = await this.exec.execute({ sql, args });
    return { changes: r.rowsAffected, lastInsertRowid: r.lastInsertRowid };
  }
}

export class Db extends Queryable {
  constructor(private readonly driver: DbDriver) {
    super(driver);
  }

  /** Atomic multi-statement write: all or nothing, one round trip on both runtimes. */
  batch(stmts: Statement[]): Promise<ResultSet[]> {
    if (stmts.length === 0) return Promise.resolve([]);
    return this.driver.batch(stmts);
  }

  /** Interactive write transaction (serialised per connection on Node, a baton stream over HTTP). */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.driver.transaction((exec) => fn(new Queryable(exec)));
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
