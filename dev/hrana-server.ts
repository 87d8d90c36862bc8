/**
 * A small Hrana-over-HTTP (protocol v2, JSON encoding) server for tests and for the local Worker
 * dev loop (`npm run dev:worker`, `npm run dev:libsql`).
 *
 * Why: the Worker build talks to its database through `@libsql/client/web`, i.e. over HTTP.
 * There is no `sqld` binary on developer machines or CI, so this file speaks the part of the
 * protocol that client uses, on top of a real SQLite engine (the `libsql` npm package) and a
 * real database file. See docs/testing-hrana.md for the supported subset and the limits.
 *
 * Shape of the protocol, as implemented here:
 *  - `GET /v3-protobuf` → 404, so a client that probes for v3 falls back to v2 JSON.
 *  - `GET /v2` and `GET /health` → 200.
 *  - `POST /v2/pipeline` `{baton, requests}` → `{baton, base_url: null, results}`.
 *    A null baton opens a stream (one dedicated SQLite connection); every response hands out
 *    a fresh baton for the next request of that stream (batons are single use), or null once
 *    the stream was closed. Idle streams are closed (and so rolled back) after 10 s.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Database from 'libsql';

type SyncDb = InstanceType<typeof Database>;
type Prepared = ReturnType<SyncDb['prepare']>;
/** The two calls we make, typed for an array of positional values (the package's typings are loose). */
type Runnable = { all(bind: unknown[]): unknown[][]; run(bind: unknown[]): unknown };
const runnable = (stmt: Prepared) => stmt as unknown as Runnable;

/** SQLite's busy_timeout, emulated asynchronously (see `retryOnBusy`). */
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
const DEFAULT_STREAM_IDLE_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Wire types (JSON field names exactly as the Hrana v2 JSON encoding spells them).
// ---------------------------------------------------------------------------------------------

type ProtoValue =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string };

interface ProtoStmt {
  sql?: string | null;
  sql_id?: number | null;
  args?: ProtoValue[];
  named_args?: { name: string; value: ProtoValue }[];
  want_rows?: boolean;
}

interface ProtoError {
  message: string;
  code: string;
}

interface ProtoCol {
  name: string | null;
  decltype: string | null;
}

interface StmtResult {
  cols: ProtoCol[];
  rows: ProtoValue[][];
  affected_row_count: number;
  last_insert_rowid: string | null;
}

type BatchCond =
  | { type: 'ok'; step: number }
  | { type: 'error'; step: number }
  | { type: 'not'; cond: BatchCond }
  | { type: 'and'; conds: BatchCond[] }
  | { type: 'or'; conds: BatchCond[] }
  | { type: 'is_autocommit' };

interface BatchStep {
  condition?: BatchCond | null;
  stmt: ProtoStmt;
}

type StreamRequest =
  | { type: 'close' }
  | { type: 'execute'; stmt: ProtoStmt }
  | { type: 'batch'; batch: { steps: BatchStep[] } }
  | { type: 'sequence'; sql?: string | null; sql_id?: number | null }
  | { type: 'describe'; sql?: string | null; sql_id?: number | null }
  | { type: 'store_sql'; sql_id: number; sql: string }
  | { type: 'close_sql'; sql_id: number }
  | { type: 'get_autocommit' };

type StreamResponse = { type: StreamRequest['type'] } & Record<string, unknown>;

type StreamResult = { type: 'ok'; response: StreamResponse } | { type: 'error'; error: ProtoError };

/** A failure reported to the client as a per-request `{type: "error"}` result. */
class HranaError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** A failure of the whole HTTP request (bad baton, bad auth, malformed body). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// SQL text scanning: statement boundaries and parameter names.
//
// The `libsql` package prepares only the first statement of a string and silently ignores the
// rest, cannot tell us parameter names, and aborts the whole process (a Rust panic) if asked to
// bind an object to a statement with an anonymous `?`. So we tokenize just enough SQL ourselves:
// strings, quoted identifiers, comments, `;`, and parameters, following SQLite's rules.
// ---------------------------------------------------------------------------------------------

interface ParsedStatement {
  sql: string;
  /** Name of parameter i+1 (`:a`, `@a`, `$a`, `?3`), or null for an anonymous `?`. */
  params: (string | null)[];
}

const isIdChar = (c: string | undefined): boolean =>
  c !== undefined && (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80);

/** Splits a script into statements (skipping empty ones) and lists each one's parameters. */
export function parseSql(sql: string): ParsedStatement[] {
  const out: ParsedStatement[] = [];
  const n = sql.length;
  let start = 0;
  let i = 0;

  // Per-statement state.
  let firstTokens: string[] = [];
  let isTrigger = false;
  let prev1 = '';
  let prev2 = '';
  let params: (string | null)[] = [];
  let named = new Map<string, number>();

  // Records a significant token. `CREATE [TEMP] TRIGGER ... BEGIN ...; ...; END` contains
  // semicolons that do not end the statement; like sqlite3_complete(), we only end a trigger at
  // a `;` that follows `; END`.
  const token = (t: string) => {
    prev2 = prev1;
    prev1 = t;
    if (firstTokens.length < 3) {
      firstTokens.push(t);
      const [a, b, c] = firstTokens;
      isTrigger = a === 'CREATE' && (b === 'TRIGGER' || ((b === 'TEMP' || b === 'TEMPORARY') && c === 'TRIGGER'));
    }
  };
  // SQLite numbering: `?` takes the next index, `?NNN` takes NNN, a name reuses its index.
  const param = (name: string | null) => {
    token('?');
    if (name === null) {
      params.push(null);
    } else if (name.startsWith('?')) {
      const idx = Number(name.slice(1));
      while (params.length < idx) params.push(null);
      if (idx > 0) params[idx - 1] = name;
    } else if (!named.has(name)) {
      params.push(name);
      named.set(name, params.length);
    }
  };
  const finish = (end: number) => {
    if (firstTokens.length > 0) out.push({ sql: sql.slice(start, end).trim(), params });
    start = end + 1;
    firstTokens = [];
    isTrigger = false;
    prev1 = prev2 = '';
    params = [];
    named = new Map();
  };

  while (i < n) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === '`') {
      // String literal or quoted identifier; a doubled quote is an escaped quote.
      let j = i + 1;
      for (;;) {
        const q = sql.indexOf(c, j);
        if (q < 0) {
          j = n;
          break;
        }
        if (sql[q + 1] === c) {
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      token('LITERAL');
      i = j;
    } else if (c === '[') {
      const end = sql.indexOf(']', i);
      token('LITERAL');
      i = end < 0 ? n : end + 1;
    } else if (c === ';') {
      if (isTrigger && !(prev1 === 'END' && prev2 === ';')) {
        token(';');
        i++;
      } else {
        finish(i);
        i++;
      }
    } else if (c === '?') {
      let j = i + 1;
      while (j < n && /[0-9]/.test(sql[j])) j++;
      param(j > i + 1 ? sql.slice(i, j) : null);
      i = j;
    } else if (c === ':' || c === '@' || c === '$') {
      // Named parameter: identifier characters, `::` separators, optional `(...)` suffix.
      let j = i + 1;
      let chars = 0;
      while (j < n) {
        if (isIdChar(sql[j])) {
          chars++;
          j++;
        } else if (sql[j] === ':' && sql[j + 1] === ':') {
          j += 2;
        } else if (sql[j] === '(' && chars > 0) {
          const close = sql.indexOf(')', j);
          j = close < 0 ? n : close + 1;
          break;
        } else {
          break;
        }
      }
      if (chars > 0) param(sql.slice(i, j));
      else token(c);
      i = chars > 0 ? j : i + 1;
    } else if (isIdChar(c)) {
      let j = i + 1;
      while (j < n && isIdChar(sql[j])) j++;
      token(sql.slice(i, j).toUpperCase());
      i = j;
    } else {
      token(c);
      i++;
    }
  }
  finish(n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Values.
// ---------------------------------------------------------------------------------------------

type Bindable = null | bigint | number | string | Buffer;

function decodeValue(v: unknown): Bindable {
  const o = (v ?? {}) as Record<string, unknown>;
  switch (o.type) {
    case 'null':
      return null;
    case 'integer':
      // Decimal string so 64-bit integers survive JSON; bound as INTEGER (bigint).
      if (typeof o.value !== 'string' && typeof o.value !== 'number') break;
      return BigInt(o.value);
    case 'float':
      // Bound as REAL: the `libsql` package binds every JS number as a double, as sqld does.
      if (typeof o.value !== 'number') break;
      return o.value;
    case 'text':
      if (typeof o.value !== 'string') break;
      return o.value;
    case 'blob':
      if (typeof o.base64 !== 'string') break;
      return Buffer.from(o.base64, 'base64');
  }
  throw new HranaError(`Invalid value: ${JSON.stringify(v)}`, 'ARGS_INVALID');
}

/** Statements run with safeIntegers, so SQLite INTEGERs arrive as bigint and REALs as number. */
function encodeValue(v: unknown): ProtoValue {
  if (v === null || v === undefined) return { type: 'null' };
  if (typeof v === 'bigint') return { type: 'integer', value: v.toString() };
  if (typeof v === 'number') {
    // JSON has no Infinity; sqld cannot send it either. We degrade it to NULL.
    return Number.isFinite(v) ? { type: 'float', value: v } : { type: 'null' };
  }
  if (typeof v === 'string') return { type: 'text', value: v };
  if (v instanceof Uint8Array) return { type: 'blob', base64: Buffer.from(v).toString('base64') };
  throw new Error(`Unexpected value from SQLite: ${typeof v}`);
}

// ---------------------------------------------------------------------------------------------
// Errors.
// ---------------------------------------------------------------------------------------------

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

function toProtoError(err: unknown): ProtoError {
  if (err instanceof HranaError) return { message: err.message, code: err.code };
  const code = sqliteCode(err);
  const message = err instanceof Error ? err.message : String(err);
  // `libsql` reports extended codes (SQLITE_CONSTRAINT_UNIQUE); sqld's Hrana errors carry the
  // primary code (SQLITE_CONSTRAINT), so clients must not rely on the extended one.
  if (code) return { message, code: /^SQLITE_[A-Z]+/.exec(code)![0] };
  return { message, code: 'INTERNAL_ERROR' };
}

const isBusy = (err: unknown) => sqliteCode(err)?.startsWith('SQLITE_BUSY') ?? false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Streams: one dedicated SQLite connection each.
// ---------------------------------------------------------------------------------------------

interface CachedStmt {
  stmt: Prepared;
  reader: boolean;
  cols: ProtoCol[];
}

class Stream {
  db!: SyncDb;
  private counters!: Prepared;
  private cache = new Map<string, CachedStmt>();
  /** SQL texts registered with `store_sql`, by id. */
  readonly storedSql = new Map<number, string>();
  lastActive = Date.now();
  closed = false;
  /** Set when a BUSY error left a statement stuck holding an old snapshot (see `recover`). */
  private stuck = false;

  constructor(
    private readonly dbPath: string,
    readonly busyTimeoutMs: number,
  ) {
    this.open();
  }

  private open() {
    this.db = new Database(this.dbPath);
    // SQLite's own busy handler would sleep synchronously and freeze this single-threaded
    // server, including the very stream that holds the lock. We wait asynchronously instead.
    this.db.exec('PRAGMA busy_timeout = 0');
    this.db.exec('PRAGMA foreign_keys = ON');
    this.db.exec('PRAGMA synchronous = NORMAL');
    this.counters = this.db.prepare('SELECT changes(), total_changes(), last_insert_rowid()');
    this.counters.raw(true).safeIntegers(true);
    this.cache.clear();
    this.stuck = false;
  }

  /**
   * `libsql` does not reset a statement that failed with SQLITE_BUSY*; it stays active until it
   * is run again. While it is active, later statements on the connection misbehave: in
   * autocommit mode their writes are never committed, and after a ROLLBACK the old read
   * snapshot survives so every write fails with SQLITE_BUSY_SNAPSHOT. Retrying runs the same
   * statement object again (which resets it); a statement we give up on is abandoned here, and
   * its connection replaced as soon as it is outside a transaction (so nothing is lost).
   */
  abandon(sql: string) {
    this.cache.delete(sql);
    this.stuck = true;
    this.recover();
  }

  recover() {
    if (this.stuck && !this.db.inTransaction) {
      this.db.close();
      this.open();
    }
  }

  get autocommit(): boolean {
    return !this.db.inTransaction;
  }

  prepare(sql: string): CachedStmt {
    let c = this.cache.get(sql);
    if (!c) {
      const stmt = this.db.prepare(sql);
      stmt.safeIntegers(true);
      // `reader` = the statement returns rows (SELECT, PRAGMA, or DML with RETURNING).
      const reader = stmt.reader;
      if (reader) stmt.raw(true);
      const cols = reader ? stmt.columns().map((col) => ({ name: col.name, decltype: col.type ?? null })) : [];
      c = { stmt, reader, cols };
      if (this.cache.size > 200) this.cache.clear();
      this.cache.set(sql, c);
    }
    return c;
  }

  private readCounters(): { changes: bigint; total: bigint; lastId: bigint } {
    const [changes, total, lastId] = runnable(this.counters).all([])[0] as bigint[];
    return { changes, total, lastId };
  }

  /** Runs one statement synchronously (so it never interleaves with another stream's). */
  executeOnce(sql: string, bind: Bindable[], wantRows: boolean): StmtResult {
    const { stmt, reader, cols } = this.prepare(sql);
    const before = this.readCounters();
    let rows: unknown[][] = [];
    // Readers must be drained with all(): run() on a reader leaves it active, holding a snapshot.
    if (reader) rows = runnable(stmt).all(bind);
    else runnable(stmt).run(bind);
    const after = this.readCounters();
    // changes() is stale after statements that change nothing (SELECT, DDL, an UPDATE matching
    // no row), so only trust it when total_changes() moved. This also counts the rows changed
    // by INSERT/UPDATE/DELETE ... RETURNING, which run as readers.
    const changed = after.total !== before.total;
    return {
      cols,
      rows: wantRows ? rows.map((r) => r.map(encodeValue)) : [],
      affected_row_count: changed ? Number(after.changes) : 0,
      // Like sqlite3_last_insert_rowid(): the connection's latest inserted rowid, reported only
      // when this statement changed rows (0 means this stream never inserted into a rowid table).
      last_insert_rowid: changed && after.lastId !== 0n ? after.lastId.toString() : null,
    };
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    // Roll back explicitly: `libsql` only really closes the connection (which would roll back)
    // once every statement prepared on it has been garbage-collected, so until then an open
    // transaction would keep holding its locks.
    if (this.db.inTransaction) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // Nothing more we can do; the connection is going away anyway.
      }
    }
    this.db.close();
  }
}

/**
 * Runs `fn`, retrying on SQLITE_BUSY for up to busyTimeoutMs without blocking the event loop,
 * so the stream that holds the lock can still be served and commit. SQLITE_BUSY_SNAPSHOT is not
 * retried: the transaction's snapshot is stale and only a rollback helps.
 */
async function retryOnBusy<T>(stream: Stream, sql: string, fn: () => T): Promise<T> {
  const deadline = Date.now() + stream.busyTimeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    stream.recover();
    try {
      return fn();
    } catch (err) {
      if (!isBusy(err)) throw err;
      if (sqliteCode(err) !== 'SQLITE_BUSY' || Date.now() + delay > deadline) {
        stream.abandon(sql);
        throw err;
      }
      await sleep(delay);
      if (stream.closed) throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Request handlers.
// ---------------------------------------------------------------------------------------------

function resolveSql(stream: Stream, sql: unknown, sqlId: unknown): string {
  if (typeof sql === 'string') return sql;
  if (typeof sqlId === 'number') {
    const stored = stream.storedSql.get(sqlId);
    if (stored === undefined) throw new HranaError(`SQL text with id ${sqlId} was not stored`, 'SQL_NOT_FOUND');
    return stored;
  }
  throw new HranaError('Statement needs either `sql` or `sql_id`', 'PROTO_ERROR');
}

function singleStatement(sql: string): ParsedStatement {
  const parsed = parseSql(sql);
  if (parsed.length === 0) throw new HranaError('SQL string does not contain any statement', 'SQL_NO_STATEMENT');
  if (parsed.length > 1) throw new HranaError('SQL string contains more than one statement', 'SQL_MANY_STATEMENTS');
  return parsed[0];
}

/** Positional args bind to ?1..?n; named args bind by name, with or without the `:@$` prefix. */
function bindArgs(stmt: ProtoStmt, parsed: ParsedStatement): Bindable[] {
  const bind = (stmt.args ?? []).map(decodeValue);
  const namedArgs = stmt.named_args ?? [];
  if (namedArgs.length === 0) return bind;
  const named = new Map<string, Bindable>();
  for (const a of namedArgs) named.set(a.name, decodeValue(a.value));
  parsed.params.forEach((name, idx) => {
    if (name === null || name.startsWith('?')) return;
    const v = named.has(name) ? named.get(name) : named.get(name.slice(1));
    if (v !== undefined) bind[idx] = v;
  });
  // Array binding is by index; fill holes (unbound parameters are NULL, as in SQLite).
  for (let i = 0; i < bind.length; i++) if (bind[i] === undefined) bind[i] = null;
  return bind;
}

async function executeStmt(stream: Stream, stmt: ProtoStmt): Promise<StmtResult> {
  if (stmt === null || typeof stmt !== 'object') throw new HranaError('Missing `stmt`', 'PROTO_ERROR');
  const sql = resolveSql(stream, stmt.sql, stmt.sql_id);
  const parsed = singleStatement(sql);
  const bind = bindArgs(stmt, parsed);
  return retryOnBusy(stream, sql, () => stream.executeOnce(sql, bind, stmt.want_rows ?? true));
}

function checkCond(cond: unknown, step: number): void {
  const c = cond as BatchCond;
  if (c === null || typeof c !== 'object') throw new HranaError('Invalid batch condition', 'PROTO_ERROR');
  switch (c.type) {
    case 'ok':
    case 'error':
      if (!Number.isInteger(c.step) || c.step < 0 || c.step >= step)
        throw new HranaError(
          `Batch condition refers to step ${c.step}, which does not precede step ${step}`,
          'PROTO_ERROR',
        );
      return;
    case 'not':
      checkCond(c.cond, step);
      return;
    case 'and':
    case 'or':
      if (!Array.isArray(c.conds)) throw new HranaError('Invalid batch condition', 'PROTO_ERROR');
      for (const x of c.conds) checkCond(x, step);
      return;
    case 'is_autocommit':
      return;
    default:
      throw new HranaError(`Unknown batch condition ${JSON.stringify((c as { type: unknown }).type)}`, 'PROTO_ERROR');
  }
}

async function executeBatch(stream: Stream, steps: BatchStep[]) {
  if (!Array.isArray(steps)) throw new HranaError('Missing `batch.steps`', 'PROTO_ERROR');
  // Validate every condition first, so a malformed batch does not run half-way.
  steps.forEach((s, i) => {
    s?.condition != null && checkCond(s.condition, i);
  });
  const results: (StmtResult | null)[] = [];
  const errors: (ProtoError | null)[] = [];
  const evaluate = (c: BatchCond): boolean => {
    switch (c.type) {
      case 'ok':
        return results[c.step] !== null;
      case 'error':
        return errors[c.step] !== null;
      case 'not':
        return !evaluate(c.cond);
      case 'and':
        return c.conds.every(evaluate);
      case 'or':
        return c.conds.some(evaluate);
      case 'is_autocommit':
        return stream.autocommit;
    }
  };
  for (const step of steps) {
    // A skipped step has neither a result nor an error, so both `ok` and `error` are false.
    if (step.condition != null && !evaluate(step.condition)) {
      results.push(null);
      errors.push(null);
      continue;
    }
    try {
      results.push(await executeStmt(stream, step.stmt));
      errors.push(null);
    } catch (err) {
      results.push(null);
      errors.push(toProtoError(err));
    }
  }
  return { step_results: results, step_errors: errors };
}

/** A multi-statement script without arguments; stops at the first error (earlier ones stay). */
async function executeSequence(stream: Stream, sql: string): Promise<void> {
  for (const s of parseSql(sql)) {
    await retryOnBusy(stream, s.sql, () => stream.executeOnce(s.sql, [], false));
  }
}

function describe(stream: Stream, sql: string) {
  const parsed = singleStatement(sql);
  stream.recover();
  const { cols } = stream.prepare(sql);
  const isExplain = /^\s*EXPLAIN\b/i.test(parsed.sql);
  // `libsql` does not expose sqlite3_stmt_readonly(); SQLite clears that flag for programs with
  // a write OP_Transaction (p2 != 0) or a journal-mode change/VACUUM, which EXPLAIN shows us.
  let isReadonly = true;
  if (!isExplain) {
    const program = runnable(stream.db.prepare(`EXPLAIN ${parsed.sql}`).raw(true)).all([]);
    isReadonly = !program.some(
      ([, opcode, , p2]) => (opcode === 'Transaction' && p2 !== 0) || opcode === 'JournalMode' || opcode === 'Vacuum',
    );
  }
  return {
    params: parsed.params.map((name) => ({ name })),
    cols: cols.map((c) => ({ name: c.name ?? '', decltype: c.decltype })),
    is_explain: isExplain,
    is_readonly: isReadonly,
  };
}

async function handleRequest(stream: Stream, req: StreamRequest): Promise<StreamResponse> {
  switch (req?.type) {
    case 'close':
      stream.close();
      return { type: 'close' };
    case 'execute':
      return { type: 'execute', result: await executeStmt(stream, req.stmt) };
    case 'batch':
      return { type: 'batch', result: await executeBatch(stream, req.batch?.steps) };
    case 'sequence':
      await executeSequence(stream, resolveSql(stream, req.sql, req.sql_id));
      return { type: 'sequence' };
    case 'describe':
      return { type: 'describe', result: describe(stream, resolveSql(stream, req.sql, req.sql_id)) };
    case 'store_sql':
      if (typeof req.sql_id !== 'number' || typeof req.sql !== 'string')
        throw new HranaError('store_sql needs `sql_id` and `sql`', 'PROTO_ERROR');
      stream.storedSql.set(req.sql_id, req.sql);
      return { type: 'store_sql' };
    case 'close_sql':
      stream.storedSql.delete(req.sql_id);
      return { type: 'close_sql' };
    case 'get_autocommit':
      // A v3 request; the v2 client never sends it, but accepting it costs nothing.
      return { type: 'get_autocommit', is_autocommit: stream.autocommit };
    default:
      throw new HranaError(`Unknown request type ${JSON.stringify((req as { type?: unknown })?.type)}`, 'PROTO_ERROR');
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP server.
// ---------------------------------------------------------------------------------------------

/** What the server has been asked, for tests of request budgets (a count, never a timing). */
export interface HranaStats {
  /** `POST /v2/pipeline` requests received (one libSQL subrequest each on Workers). */
  pipelines: number;
  /** Statements executed (each `execute` and each step of a `batch`). */
  statements: number;
  /** Pipeline requests being processed right now, and the most seen at once since the last reset. */
  inFlight: number;
  maxInFlight: number;
  /** Per pipeline request since the last reset, the SQL texts it carried (to tell what a request cost). */
  pipelineSql: string[][];
}

export interface HranaServer {
  url: string;
  port: number;
  stats: HranaStats;
  /** Zeroes the counters (the in-flight gauge keeps its live value). */
  resetStats(): void;
  close(): Promise<void>;
}

export interface HranaServerOptions {
  dbPath: string;
  /** When set, `POST /v2/pipeline` requires `Authorization: Bearer <token>`. */
  token?: string;
  /** Idle streams are closed and rolled back after this long (default 10 s). */
  streamIdleTimeoutMs?: number;
  /** How long a statement waits for a lock held by another stream (default 5 s). */
  busyTimeoutMs?: number;
  /** TCP port to listen on (default 0: any free port). */
  port?: number;
  /** Address to listen on (default 127.0.0.1: never reachable from other machines). */
  host?: string;
  /**
   * Holds every pipeline answer this long (default 0). Tests of concurrency set it so that requests a
   * client sends at once are seen at once (a local SQLite answers faster than they arrive otherwise).
   */
  responseDelayMs?: number;
}

/** The SQL texts of one pipeline's requests (`store_sql`, `execute`, `batch` steps), for stats. */
function sqlTextsOf(requests: StreamRequest[]): string[] {
  const out: string[] = [];
  for (const r of requests as {
    type?: string;
    sql?: string;
    stmt?: { sql?: string };
    batch?: { steps?: { stmt?: { sql?: string } }[] };
  }[]) {
    if (typeof r?.sql === 'string') out.push(r.sql);
    if (typeof r?.stmt?.sql === 'string') out.push(r.stmt.sql);
    for (const step of r?.batch?.steps ?? []) if (typeof step?.stmt?.sql === 'string') out.push(step.stmt.sql);
  }
  return out;
}

export async function startHranaServer(opts: HranaServerOptions): Promise<HranaServer> {
  const idleMs = opts.streamIdleTimeoutMs ?? DEFAULT_STREAM_IDLE_MS;

  // journal_mode is persistent in the file: set WAL once so readers and the single writer of
  // concurrent streams do not block each other.
  const bootstrap = new Database(opts.dbPath);
  bootstrap.exec('PRAGMA busy_timeout = 5000');
  bootstrap.exec('PRAGMA journal_mode = WAL');
  bootstrap.close();

  const stats: HranaStats = { pipelines: 0, statements: 0, inFlight: 0, maxInFlight: 0, pipelineSql: [] };

  /** Streams waiting for their next request, by the baton that continues them. */
  const idle = new Map<string, Stream>();
  /** Every open stream, including those whose request is being processed. */
  const live = new Set<Stream>();

  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const [baton, s] of idle) {
        if (now - s.lastActive > idleMs) {
          idle.delete(baton);
          live.delete(s);
          s.close();
        }
      }
    },
    Math.max(20, Math.min(1000, idleMs / 4)),
  );
  sweeper.unref();

  async function pipeline(body: unknown) {
    const b = body as { baton?: unknown; requests?: unknown };
    if (b === null || typeof b !== 'object' || !Array.isArray(b.requests))
      throw new HttpError(400, 'Body must be {baton, requests: [...]}', 'PROTO_ERROR');
    let stream: Stream;
    if (b.baton === null || b.baton === undefined) {
      stream = new Stream(opts.dbPath, opts.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
      live.add(stream);
    } else {
      const found = typeof b.baton === 'string' ? idle.get(b.baton) : undefined;
      if (!found) throw new HttpError(400, 'Unknown baton: the stream expired or was closed', 'STREAM_EXPIRED');
      // Batons are single use: a replayed baton cannot run two requests on one connection.
      idle.delete(b.baton as string);
      stream = found;
    }
    const results: StreamResult[] = [];
    stats.pipelineSql.push(sqlTextsOf(b.requests as StreamRequest[]));
    for (const req of b.requests as StreamRequest[]) {
      if (req?.type === 'execute') stats.statements++;
      else if (req?.type === 'batch' && Array.isArray(req.batch?.steps)) stats.statements += req.batch.steps.length;
      if (stream.closed) {
        results.push({ type: 'error', error: { message: 'The stream is closed', code: 'STREAM_CLOSED' } });
        continue;
      }
      try {
        results.push({ type: 'ok', response: await handleRequest(stream, req) });
      } catch (err) {
        results.push({ type: 'error', error: toProtoError(err) });
      }
    }
    let baton: string | null = null;
    if (stream.closed) {
      live.delete(stream);
    } else {
      baton = randomBytes(18).toString('base64url');
      stream.lastActive = Date.now();
      idle.set(baton, stream);
    }
    return { baton, base_url: null, results };
  }

  const authorized = (req: http.IncomingMessage) =>
    opts.token === undefined || req.headers.authorization === `Bearer ${opts.token}`;

  const send = (res: http.ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) {
      res.writeHead(status).end();
    } else {
      // Exactly "application/json": the client only parses error bodies with that content type.
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    // In flight from arrival (before the body is read) to the answer; see `pipeline` requests below.
    const counted = req.method === 'POST' && path === '/v2/pipeline';
    if (counted) {
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    }
    try {
      return await handlePath(req, res, path);
    } finally {
      if (counted) stats.inFlight--;
    }
  }

  async function handlePath(req: http.IncomingMessage, res: http.ServerResponse, path: string) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);

    if (req.method === 'GET' && (path === '/v2' || path === '/health')) return send(res, 200);
    if (path !== '/v2/pipeline') return send(res, 404, { message: `Not found: ${path}`, code: 'NOT_FOUND' });
    if (req.method !== 'POST') return send(res, 405, { message: 'Use POST', code: 'METHOD_NOT_ALLOWED' });
    if (!authorized(req))
      return send(res, 401, { message: 'Unauthorized: bad or missing bearer token', code: 'UNAUTHORIZED' });
    stats.pipelines++;
    if (opts.responseDelayMs) await new Promise((r) => setTimeout(r, opts.responseDelayMs));
    return pipelineRequest(res, chunks);
  }

  async function pipelineRequest(res: http.ServerResponse, chunks: Buffer[]) {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { message: 'Body is not valid JSON', code: 'PROTO_ERROR' });
    }
    try {
      send(res, 200, await pipeline(body));
    } catch (err) {
      if (err instanceof HttpError) return send(res, err.status, { message: err.message, code: err.code });
      throw err;
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, { message: String(err), code: 'INTERNAL_ERROR' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    stats,
    resetStats() {
      stats.pipelines = 0;
      stats.statements = 0;
      stats.maxInFlight = stats.inFlight;
      stats.pipelineSql = [];
    },
    async close() {
      clearInterval(sweeper);
      for (const s of live) s.close();
      live.clear();
      idle.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
