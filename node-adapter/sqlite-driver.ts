import Database from 'libsql';
import type { DbDriver, DbExecutor, ResultSet, Statement } from '../worker/src/db/types.js';

type SyncDb = InstanceType<typeof Database>;
type SyncStatement = ReturnType<SyncDb['prepare']>;
/**
 * The statement calls as used here: one array argument is bound as is (the driver's spread form
 * copies and flattens the arguments first).
 */
interface NativeCalls {
  all(args: unknown[]): Record<string, unknown>[];
  get(args: unknown[]): (Record<string, unknown> & { _metadata?: unknown }) | undefined;
  run(args: unknown[]): { changes: number; lastInsertRowid: number | bigint };
}

/** SQLite has no booleans: 1/0. Most argument lists have none and are passed on as they are. */
function bindable(args: Statement['args']): unknown[] {
  if (!args) return [];
  for (const a of args) if (typeof a === 'boolean') return args.map((x) => (typeof x === 'boolean' ? (x ? 1 : 0) : x));
  return args;
}

/** A prepared statement with what the driver needs to know about it, worked out once per SQL text. */
interface Prepared {
  stmt: SyncStatement;
  /** Returns rows (a SELECT, or a write with RETURNING). */
  reader: boolean;
  /** Changes rows (its RETURNING rows are what it changed). */
  write: boolean;
  /** A plain read: a batch of only these needs no write lock. */
  readOnly: boolean;
}

const WRITE_START = /^\s*(insert|update|delete|replace|with)/i;
const READ_START = /^\s*(select|with)\b/i;
const WRITE_WORD = /\b(insert|update|delete|replace)\b/i;
/** A SELECT (or WITH … SELECT) that names no write: needs no write lock. */
const plainRead = (sql: string) => READ_START.test(sql) && !WRITE_WORD.test(sql);

/**
 * Local SQLite file through the synchronous `libsql` driver: measured ~3.5x faster than
 * `@libsql/client` with a file: URL on the same machine (see ARCHITECTURE.md), so the Node
 * runtime uses it. Prepared statements are cached by SQL text, with their kind (reader, write).
 *
 * One connection serves the whole process. Plain statements are synchronous and therefore
 * never interleave; an interactive transaction holds a lock so other requests' statements wait
 * until it commits instead of landing inside it.
 *
 * Per-call costs that add up on the hot paths (issue 11, bench/route-cpu.ts): a row cursor
 * (`all`) costs ~4 µs more than one step (`get`), so a statement whose caller wants only its first
 * row (`Statement.first`, set by `Queryable.get`) is stepped once; `BEGIN IMMEDIATE` takes the
 * write lock, so a batch of plain reads (the work poll) opens a read transaction instead.
 */
export class SqliteFileDriver implements DbDriver {
  private readonly db: SyncDb;
  private readonly cache = new Map<string, Prepared>();
  /**
   * Statements stepped once (`Statement.first`) are prepared apart: libsql 0.5's `get` on a
   * statement last run through `all` answers that run's row again, whatever the new arguments
   * (test/node/sqlite-driver.test.ts), so one native statement is never used both ways.
   */
  private readonly firstCache = new Map<string, Prepared>();
  private lock: Promise<void> = Promise.resolve();
  private inTransaction = false;

  /**
   * `synchronous` is the durability level (SQLITE_SYNCHRONOUS): NORMAL (default) never corrupts
   * and loses nothing on a process crash, but a power cut or OS crash can lose the last commits;
   * FULL syncs the WAL on every commit, so those survive too, at a cost per write (bench/README.md).
   */
  constructor(path: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL') {
    this.db = new Database(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA busy_timeout = 5000');
    this.db.exec(`PRAGMA synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.db.exec('PRAGMA foreign_keys = ON');
  }

  private prepare(sql: string, first = false): Prepared {
    const cache = first ? this.firstCache : this.cache;
    let p = cache.get(sql);
    if (!p) {
      const stmt = this.db.prepare(sql);
      const reader = (stmt as unknown as { reader: boolean }).reader;
      p = {
        stmt,
        reader,
        write: WRITE_START.test(sql),
        readOnly: reader && READ_START.test(sql) && !WRITE_WORD.test(sql),
      };
      if (cache.size > 500) cache.clear();
      cache.set(sql, p);
    }
    return p;
  }

  private runSync(s: Statement): ResultSet {
    const args = bindable(s.args);
    if (s.first) {
      const f = this.prepare(s.sql, true);
      if (f.reader && !f.write) {
        // One step instead of a row cursor. The driver tags the row with its timing: not ours to pass on.
        const row = (f.stmt as unknown as NativeCalls).get(args);
        if (row === undefined) return { rows: [], rowsAffected: 0, lastInsertRowid: null };
        delete row._metadata;
        return { rows: [row], rowsAffected: 0, lastInsertRowid: null };
      }
      // A write asked for its first row: it runs in full below, its count of changes intact.
    }
    const p = this.prepare(s.sql);
    const stmt = p.stmt as unknown as NativeCalls;
    if (p.reader) {
      const rows = stmt.all(args);
      // RETURNING statements are readers; their row count is what they changed.
      return { rows, rowsAffected: p.write ? rows.length : 0, lastInsertRowid: null };
    }
    const r = stmt.run(args);
    return { rows: [], rowsAffected: r.changes, lastInsertRowid: r.changes > 0 ? Number(r.lastInsertRowid) : null };
  }

  async execute(s: Statement): Promise<ResultSet> {
    if (this.inTransaction) await this.waitTurn();
    return this.runSync(s);
  }

  async batch(stmts: Statement[]): Promise<ResultSet[]> {
    if (this.inTransaction) await this.waitTurn();
    // Plain reads see one snapshot without holding the write lock (other processes on the file
    // keep writing); anything else takes the lock at once, so busy_timeout applies to it. Judged
    // from the SQL text: a statement may only prepare after an earlier one ran (migrations).
    const readOnly = stmts.every((s) => this.cache.get(s.sql)?.readOnly ?? plainRead(s.sql));
    this.db.exec(readOnly ? 'BEGIN' : 'BEGIN IMMEDIATE');
    try {
      const out = stmts.map((s) => this.runSync(s));
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }
  /** Resolves once no interactive transaction holds the connection. */
  private async waitTurn(): Promise<void> {
    while (this.inTransaction) await this.lock;
  }

  async transaction<T>(fn: (tx: DbExecutor) => Promise<T>): Promise<T> {
    await this.waitTurn();
    let release!: () => void;
    this.lock = new Promise<void>((r) => (release = r));
    this.inTransaction = true;
    this.db.exec('BEGIN IMMEDIATE');
    const tx: DbExecutor = { execute: async (s) => this.runSync(s) };
    try {
      const result = await fn(tx);
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.inTransaction = false;
      release();
    }
  }

  /** Multi-statement script (migrations); no arguments. */
  execScript(sql: string): void {
    this.db.exec(sql);
  }

  async close(): Promise<void> {
    this.cache.clear();
    this.db.close();
  }
}
