import Database from 'libsql';
import type { DbDriver, DbExecutor, ResultSet, Statement } from '../worker/src/db/types.js';
import { Checkpointer } from './checkpointer.js';

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

type StatementKind = 'read' | 'write' | 'other';

export interface DriverOptions {
  /**
   * WAL checkpoints on a worker thread (checkpointer.ts) instead of inside the commit that crosses
   * SQLite's threshold, on the event loop. For the server's core file, which takes every write.
   */
  backgroundCheckpoints?: boolean;
  onCheckpointError?: (message: string) => void;
}
/**
 * The main connection's automatic checkpoint threshold when a thread does the checkpoints: a
 * safety net, and what lets the WAL start over from its beginning under sustained writes (a
 * checkpoint racing the writer never catches the last frame), after ~40 MB of log.
 */
const SAFETY_NET_PAGES = 10_000;
/** Commits before the checkpoint thread starts (see `committed`). */
const START_AFTER_COMMITS = 200;
interface Group {
  waiters: { resolve(v: unknown): void; reject(err: unknown): void; value: unknown }[];
}
/**
 * Drivers of this process with a group open. A second connection in the same process (a test's
 * direct handle, a plugin's file, a backup) that wants the write lock would otherwise wait on
 * the busy timeout for a commit that only this process's next turn can make: before taking the
 * lock, a driver commits the others' groups (committing early is always safe).
 */
const openGroups = new Set<SqliteFileDriver>();
function commitOtherGroups(self: SqliteFileDriver): void {
  for (const d of openGroups) if (d !== self) d.commitNow();
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
 * row (`Statement.first`, set by `Queryable.get`) or that has one row at most (`Statement.single`,
 * writes with RETURNING included) is stepped once; `BEGIN IMMEDIATE` takes the
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
  private readonly kinds = new Map<string, StatementKind>();
  private lock: Promise<void> = Promise.resolve();
  private inTransaction = false;
  /** The open group commit, if any (see `inGroup`). */
  private group: Group | null = null;
  private checkpointer: Checkpointer | undefined;
  private commits = 0;

  /**
   * `synchronous` is the durability level (SQLITE_SYNCHRONOUS): NORMAL (default) never corrupts
   * and loses nothing on a process crash, but a power cut or OS crash can lose the last commits;
   * FULL syncs the WAL on every commit, so those survive too, at a cost per write (bench/README.md).
   */
  constructor(
    private readonly path: string,
    synchronous: 'NORMAL' | 'FULL' = 'NORMAL',
    private readonly options: DriverOptions = {},
  ) {
    this.db = new Database(path);
    this.db.exec('PRAGMA journal_mode = WAL');
    this.db.exec('PRAGMA busy_timeout = 5000');
    this.db.exec(`PRAGMA synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.db.exec('PRAGMA foreign_keys = ON');
    // The thread checkpoints; the connection's own automatic checkpoint only bounds the log.
    if (options.backgroundCheckpoints) this.db.exec(`PRAGMA wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
  }

  /**
   * After a commit: the checkpoint thread copies what was written. It starts with the write
   * traffic (after START_AFTER_COMMITS commits), not with the process: a server that only starts,
   * or sees a few writes, never pays for the thread (~10 MB of RSS); until then the connection's
   * own safety-net checkpoint applies.
   */
  private committed(): void {
    if (!this.options.backgroundCheckpoints) return;
    if (!this.checkpointer) {
      if (++this.commits < START_AFTER_COMMITS) return;
      this.checkpointer = new Checkpointer(this.path, 100, this.options.onCheckpointError);
    }
    this.checkpointer.nudge();
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
        // A WITH … SELECT naming no write is a read: stepped once when its caller wants one row.
        write: this.kindOf(sql) === 'write',
      };
      if (cache.size > 500) cache.clear();
      cache.set(sql, p);
    }
    return p;
  }

  private runSync(s: Statement): ResultSet {
    const args = bindable(s.args);
    if (s.first || s.single) {
      const f = this.prepare(s.sql, true);
      // A write steps once only when it matches one row at most (`single`): one step makes all its
      // changes, and its row is its count of changes.
      if (f.reader && (!f.write || s.single)) {
        // One step instead of a row cursor. The driver tags the row with its timing: not ours to pass on.
        const row = this.stepOnce(s.sql, f, args);
        const changed = f.write ? 1 : 0;
        if (row === undefined) return { rows: [], rowsAffected: 0, lastInsertRowid: null };
        delete row._metadata;
        return { rows: [row], rowsAffected: changed, lastInsertRowid: null };
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

  /**
   * `get` on a prepared statement. libsql 0.5 does not reset a statement whose step failed (a
   * constraint, a trigger's RAISE, the batch abort): its next `get` keeps the failed call's
   * arguments, failing again or — worse — writing them (test/node/sqlite-driver.test.ts). A
   * statement that failed is therefore dropped and prepared afresh on its next use.
   */
  private stepOnce(sql: string, f: Prepared, args: unknown[]) {
    try {
      return (f.stmt as unknown as NativeCalls).get(args);
    } catch (err) {
      this.firstCache.delete(sql);
      throw err;
    }
  }

  async execute(s: Statement): Promise<ResultSet> {
    if (this.inTransaction) await this.waitTurn();
    const kind = this.kindOf(s.sql);
    if (kind === 'other') {
      // VACUUM INTO, PRAGMA…: outside any transaction.
      this.commitAllGroups();
      return this.runSync(s);
    }
    if (kind === 'read' && !this.group) return this.runSync(s);
    return this.inGroup(() => this.runSync(s));
  }

  async batch(stmts: Statement[]): Promise<ResultSet[]> {
    if (this.inTransaction) await this.waitTurn();
    let kind: StatementKind = 'read';
    for (const s of stmts) {
      const k = this.kindOf(s.sql);
      if (k === 'other') kind = 'other';
      else if (k === 'write' && kind === 'read') kind = 'write';
    }
    if (kind === 'write' || (kind === 'read' && this.group))
      return this.inGroup(() => stmts.map((s) => this.runSync(s)));
    // Plain reads see one snapshot without holding the write lock (other processes on the file
    // keep writing). A batch with DDL or pragmas (migrations) runs in a transaction of its own.
    if (kind === 'other') this.commitAllGroups();
    this.db.exec(kind === 'read' ? 'BEGIN' : 'BEGIN IMMEDIATE');
    try {
      const out = stmts.map((s) => this.runSync(s));
      this.db.exec('COMMIT');
      if (kind === 'other') this.committed();
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  /**
   * Judged from the SQL text, not from a prepared statement (a statement may only prepare after an
   * earlier one of its batch ran: migrations), and remembered per text.
   */
  private kindOf(sql: string): StatementKind {
    let k = this.kinds.get(sql);
    if (k === undefined) {
      k = plainRead(sql) ? 'read' : WRITE_START.test(sql) ? 'write' : 'other';
      if (this.kinds.size > 1000) this.kinds.clear();
      this.kinds.set(sql, k);
    }
    return k;
  }

  /**
   * Group commit. Every write of one turn of the event loop joins one transaction, each batch in
   * a savepoint of its own (so a failing batch rolls back alone), and the transaction commits once
   * in `setImmediate`, after the I/O callbacks of that turn. Only then are the callers answered,
   * so nobody sees a write before it is durable, and a failed COMMIT fails every batch of the
   * group. Why: with WAL and synchronous=NORMAL a commit writes every page its transaction dirtied;
   * concurrent agent calls dirty the same hot pages (the tail of `events` and its indexes, the
   * agents' counters), so one commit for the group writes them once instead of once per call
   * (bench/README.md, "group commit"). Reads that arrive while a group is open run inside it and
   * are answered with it, for the same reason: what they saw is committed before they answer.
   */
  private inGroup<T>(run: () => T): Promise<T> {
    let group = this.group;
    if (!group) {
      commitOtherGroups(this);
      this.db.exec('BEGIN IMMEDIATE');
      group = this.group = { waiters: [] };
      openGroups.add(this);
      const g = group;
      setImmediate(() => this.commitGroup(g));
    }
    this.db.exec('SAVEPOINT batch');
    let value: T;
    try {
      value = run();
      this.db.exec('RELEASE batch');
    } catch (err) {
      this.undoBatch(group, err);
      return Promise.reject(err);
    }
    const waiters = group.waiters;
    return new Promise<T>((resolve, reject) =>
      waiters.push({ resolve: resolve as (v: unknown) => void, reject, value }),
    );
  }

  /** Rolls one batch back to its savepoint; if SQLite already ended the transaction, the group is lost. */
  private undoBatch(group: Group, err: unknown): void {
    if (this.db.inTransaction) {
      try {
        this.db.exec('ROLLBACK TO batch');
        this.db.exec('RELEASE batch');
        return;
      } catch {
        // fall through: the transaction cannot go on
      }
    }
    // An I/O error or a full disk can make SQLite roll the whole transaction back: the earlier
    // batches of the group were not committed, so their callers must hear so.
    if (this.group === group) {
      this.group = null;
      openGroups.delete(this);
    }
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    for (const w of group.waiters) w.reject(err);
  }

  /** Commits the open group now (another connection of this process needs the write lock). */
  commitNow(): void {
    this.commitGroup();
  }

  /** Before what runs outside a group (DDL, pragmas, an interactive transaction): no group of this process stays open. */
  private commitAllGroups(): void {
    this.commitGroup();
    commitOtherGroups(this);
  }

  /** Commits the open group (now, when `g` is omitted) and answers its callers. */
  private commitGroup(g: Group | null = this.group): void {
    if (!g || this.group !== g) return;
    this.group = null;
    openGroups.delete(this);
    try {
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (const w of g.waiters) w.reject(err);
      return;
    }
    this.committed();
    for (const w of g.waiters) w.resolve(w.value);
  }

  /** Resolves once no interactive transaction holds the connection. */
  private async waitTurn(): Promise<void> {
    while (this.inTransaction) await this.lock;
  }

  async transaction<T>(fn: (tx: DbExecutor) => Promise<T>): Promise<T> {
    await this.waitTurn();
    this.commitAllGroups();
    let release!: () => void;
    this.lock = new Promise<void>((r) => (release = r));
    this.inTransaction = true;
    this.db.exec('BEGIN IMMEDIATE');
    const tx: DbExecutor = { execute: async (s) => this.runSync(s) };
    try {
      const result = await fn(tx);
      this.db.exec('COMMIT');
      this.committed();
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
    this.commitAllGroups();
    this.db.exec(sql);
  }

  async close(): Promise<void> {
    this.commitGroup();
    await this.checkpointer?.close();
    this.cache.clear();
    this.db.close();
  }
}
