/**
 * Tests for the Hrana-over-HTTP test server, driven by the real `@libsql/client/web` client and
 * by our LibsqlHttpDriver, plus a few raw protocol requests for what the client never sends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, type Client, type Config } from '@libsql/client/web';
import { startHranaServer, parseSql, type HranaServer, type HranaServerOptions } from '../../dev/hrana-server.js';
import { LibsqlHttpDriver } from '../../worker/src/db/libsql-http-driver.js';

let dir: string;
let dbPath: string;
let server: HranaServer;
const servers: HranaServer[] = [];
const clients: Client[] = [];

async function start(extra: Partial<HranaServerOptions> = {}): Promise<HranaServer> {
  const s = await startHranaServer({ dbPath, ...extra });
  servers.push(s);
  return s;
}

function client(config: Partial<Config> = {}): Client {
  const c = createClient({ url: server.url, ...config });
  clients.push(c);
  return c;
}

/** One raw `POST /v2/pipeline`. */
async function pipeline(body: unknown, url = server.url, headers: Record<string, string> = {}) {
  const r = await fetch(`${url}/v2/pipeline`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, json: (await r.json()) as any };
}

const sqlStmt = (sql: string, extra: object = {}) => ({ type: 'execute', stmt: { sql, ...extra } });

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hrana-test-'));
  dbPath = path.join(dir, 'test.db');
  server = await start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('execute', () => {
  it('creates, inserts and selects with correct rowsAffected and lastInsertRowid', async () => {
    const c = client();
    const created = await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, n INTEGER)');
    expect(created.rowsAffected).toBe(0);

    const a = await c.execute({ sql: 'INSERT INTO t (name, n) VALUES (?, ?)', args: ['a', 1] });
    expect(a.rowsAffected).toBe(1);
    expect(a.lastInsertRowid).toBe(1n);
    const many = await c.execute({ sql: 'INSERT INTO t (name, n) VALUES (?, 2), (?, 3)', args: ['b', 'c'] });
    expect(many.rowsAffected).toBe(2);
    expect(many.lastInsertRowid).toBe(3n);

    const sel = await c.execute('SELECT id, name, n FROM t ORDER BY id');
    expect(sel.columns).toEqual(['id', 'name', 'n']);
    expect(sel.columnTypes).toEqual(['INTEGER', 'TEXT', 'INTEGER']);
    expect(sel.rowsAffected).toBe(0);
    expect(sel.lastInsertRowid).toBeUndefined();
    expect(sel.rows.map((r) => ({ ...r }))).toEqual([
      { id: 1, name: 'a', n: 1 },
      { id: 2, name: 'b', n: 2 },
      { id: 3, name: 'c', n: 3 },
    ]);

    const upd = await c.execute({ sql: 'UPDATE t SET n = n * 10 WHERE id >= ?', args: [2] });
    expect(upd.rowsAffected).toBe(2);
    const none = await c.execute('UPDATE t SET n = 0 WHERE id = 99');
    expect(none.rowsAffected).toBe(0);
    const del = await c.execute('DELETE FROM t WHERE id = 1');
    expect(del.rowsAffected).toBe(1);
  });

  it('counts rows changed by statements with RETURNING', async () => {
    const c = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
    const ins = await c.execute('INSERT INTO t (n) VALUES (1), (2), (3) RETURNING id');
    expect(ins.rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(ins.rowsAffected).toBe(3);
    expect(ins.lastInsertRowid).toBe(3n);

    const upd = await c.execute('UPDATE t SET n = n + 1 WHERE n >= 2 RETURNING id, n');
    expect(upd.rows.map((r) => [r.id, r.n])).toEqual([
      [2, 3],
      [3, 4],
    ]);
    expect(upd.rowsAffected).toBe(upd.rows.length);

    const noMatch = await c.execute('UPDATE t SET n = 0 WHERE id = 42 RETURNING n');
    expect(noMatch.rows).toEqual([]);
    expect(noMatch.rowsAffected).toBe(0);

    const del = await c.execute('DELETE FROM t WHERE id < 3 RETURNING id');
    expect(del.rowsAffected).toBe(2);
  });

  it('round-trips integers, floats, text, blobs and nulls', async () => {
    const c = client();
    await c.execute('CREATE TABLE v (i INTEGER, f REAL, s TEXT, b BLOB, z)');
    const blob = new Uint8Array([0, 1, 2, 250, 255]);
    await c.execute({ sql: 'INSERT INTO v VALUES (?, ?, ?, ?, ?)', args: [42, 3.25, 'héllo; "x"', blob, null] });
    const r = await c.execute('SELECT i, f, s, b, z, typeof(i) AS ti, typeof(f) AS tf FROM v');
    const row = r.rows[0];
    expect(row.i).toBe(42);
    expect(typeof row.i).toBe('number');
    expect(row.f).toBe(3.25);
    expect(row.s).toBe('héllo; "x"');
    expect(row.b).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(row.b as ArrayBuffer)).toEqual(blob);
    expect(row.z).toBeNull();
    expect([row.ti, row.tf]).toEqual(['integer', 'real']);

    // As with sqld, a JS number travels as a float and binds as REAL; a bigint binds as INTEGER.
    const t = await c.execute({ sql: 'SELECT typeof(?) AS a, typeof(?) AS b', args: [1, 1n] });
    expect([t.rows[0].a, t.rows[0].b]).toEqual(['real', 'integer']);

    // 64-bit integers survive in both directions.
    const big = client({ intMode: 'bigint' });
    const max = 9223372036854775807n;
    const rb = await big.execute({ sql: 'SELECT ? AS x, ? - 1 AS y', args: [max, -max] });
    expect(rb.rows[0].x).toBe(max);
    expect(rb.rows[0].y).toBe(-max - 1n);
  });

  it('binds named arguments with or without their prefix', async () => {
    const c = client();
    const r = await c.execute({
      sql: 'SELECT :a AS a, @b AS b, $c AS c, :a || @b AS ab',
      args: { a: 'x', '@b': 'y', c: null },
    });
    expect({ ...r.rows[0] }).toEqual({ a: 'x', b: 'y', c: null, ab: 'xy' });
  });

  it('reports SQL errors with their SQLite code', async () => {
    const c = client();
    await expect(c.execute('SELECT * FROM missing')).rejects.toMatchObject({ code: 'SQLITE_ERROR' });
    await c.execute('CREATE TABLE u (id INTEGER PRIMARY KEY)');
    await c.execute('INSERT INTO u VALUES (1)');
    await expect(c.execute('INSERT INTO u VALUES (1)')).rejects.toMatchObject({
      code: 'SQLITE_CONSTRAINT',
      message: expect.stringContaining('UNIQUE constraint failed'),
    });
    await expect(c.execute('SELECT 1; SELECT 2')).rejects.toMatchObject({ code: 'SQL_MANY_STATEMENTS' });
  });

  it('enforces foreign keys', async () => {
    const c = client();
    await c.executeMultiple('CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE ch (p INTEGER REFERENCES p(id));');
    await expect(c.execute('INSERT INTO ch VALUES (7)')).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
  });
});

describe('batch', () => {
  it('is atomic: a failing statement in the middle leaves nothing written', async () => {
    const c = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)');
    await expect(
      c.batch(
        [
          { sql: 'INSERT INTO t VALUES (?, ?)', args: [1, 'one'] },
          { sql: 'INSERT INTO t VALUES (?, ?)', args: [1, 'duplicate'] },
          { sql: 'INSERT INTO t VALUES (?, ?)', args: [2, 'two'] },
        ],
        'write',
      ),
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    expect((await c.execute('SELECT count(*) AS n FROM t')).rows[0].n).toBe(0);

    const ok = await c.batch(
      [
        { sql: 'INSERT INTO t VALUES (?, ?)', args: [1, 'one'] },
        { sql: 'UPDATE t SET s = ? WHERE id = ? RETURNING s', args: ['uno', 1] },
        'SELECT id, s FROM t',
      ],
      'write',
    );
    expect(ok.map((r) => r.rowsAffected)).toEqual([1, 1, 0]);
    expect(ok[1].rows[0].s).toBe('uno');
    expect(ok[2].rows.map((r) => ({ ...r }))).toEqual([{ id: 1, s: 'uno' }]);
  });
});

describe('interactive transactions', () => {
  it('reads and writes across several calls; commit persists', async () => {
    const c = client();
    const other = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)');
    await c.execute('INSERT INTO t VALUES (1, 10)');

    const tx = await c.transaction('write');
    const before = await tx.execute('SELECT n FROM t WHERE id = 1');
    await tx.execute({ sql: 'UPDATE t SET n = ? WHERE id = 1', args: [Number(before.rows[0].n) + 5] });
    const ins = await tx.execute('INSERT INTO t VALUES (2, 20)');
    expect(ins.lastInsertRowid).toBe(2n);
    expect((await tx.execute('SELECT sum(n) AS s FROM t')).rows[0].s).toBe(35);
    // Uncommitted work is invisible to other streams.
    expect((await other.execute('SELECT sum(n) AS s FROM t')).rows[0].s).toBe(10);
    await tx.commit();

    expect((await other.execute('SELECT sum(n) AS s FROM t')).rows[0].s).toBe(35);
  });

  it('rollback discards', async () => {
    const c = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const tx = await c.transaction('write');
    await tx.execute('INSERT INTO t VALUES (1)');
    expect((await tx.execute('SELECT count(*) AS n FROM t')).rows[0].n).toBe(1);
    await tx.rollback();
    expect((await c.execute('SELECT count(*) AS n FROM t')).rows[0].n).toBe(0);
  });

  it('makes a concurrent writer wait for the commit instead of failing', async () => {
    const c = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const tx = await c.transaction('write');
    await tx.execute('INSERT INTO t VALUES (1)');

    let done = false;
    const waiting = client()
      .execute('INSERT INTO t VALUES (2)')
      .then((r) => {
        done = true;
        return r;
      });
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    // The server keeps serving the lock holder while the other writer waits.
    await tx.execute('INSERT INTO t VALUES (3)');
    await tx.commit();
    expect((await waiting).rowsAffected).toBe(1);
    expect((await c.execute('SELECT id FROM t ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('gives up with SQLITE_BUSY once the busy timeout has passed', async () => {
    server = await start({ busyTimeoutMs: 200 });
    const c = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const tx = await c.transaction('write');
    await tx.execute('INSERT INTO t VALUES (1)');
    const started = Date.now();
    await expect(client().execute('INSERT INTO t VALUES (2)')).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);

    // A stream whose statement gave up keeps working, and its later writes are committed.
    const waiter = await pipeline({ baton: null, requests: [sqlStmt('INSERT INTO t VALUES (3)')] });
    expect(waiter.json.results[0]).toMatchObject({ type: 'error', error: { code: 'SQLITE_BUSY' } });
    await tx.commit();
    const again = await pipeline({ baton: waiter.json.baton, requests: [sqlStmt('INSERT INTO t VALUES (4)')] });
    expect(again.json.results[0].type).toBe('ok');
    expect((await c.execute('SELECT id FROM t ORDER BY id')).rows.map((r) => r.id)).toEqual([1, 4]);
    await pipeline({ baton: again.json.baton, requests: [{ type: 'close' }] });
  });

  it('a stream recovers after a stale-snapshot write is rolled back', async () => {
    const c = client();
    await c.execute('CREATE TABLE t (x)');
    // A deferred transaction reads, then another stream commits a write...
    let r = await pipeline({ baton: null, requests: [sqlStmt('BEGIN'), sqlStmt('SELECT count(*) FROM t')] });
    await c.execute('INSERT INTO t VALUES (1)');
    // ...so upgrading to a write fails: the snapshot is stale (SQLITE_BUSY_SNAPSHOT).
    r = await pipeline({ baton: r.json.baton, requests: [sqlStmt('INSERT INTO t VALUES (2)')] });
    expect(r.json.results[0]).toMatchObject({ type: 'error', error: { code: 'SQLITE_BUSY' } });
    // After ROLLBACK the same stream sees fresh data and can write again.
    r = await pipeline({
      baton: r.json.baton,
      requests: [
        sqlStmt('ROLLBACK'),
        sqlStmt('INSERT INTO t VALUES (3)'),
        sqlStmt('SELECT count(*) FROM t'),
        { type: 'close' },
      ],
    });
    expect(r.json.results.map((x: any) => x.type)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(r.json.results[2].response.result.rows).toEqual([[{ type: 'integer', value: '2' }]]);
    await c.execute('INSERT INTO t VALUES (4)');
  });

  it('a failed statement does not end the transaction', async () => {
    const c = client();
    await c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const tx = await c.transaction('write');
    await tx.execute('INSERT INTO t VALUES (1)');
    await expect(tx.execute('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
    await tx.execute('INSERT INTO t VALUES (2)');
    await tx.commit();
    expect((await c.execute('SELECT count(*) AS n FROM t')).rows[0].n).toBe(2);
  });
});

describe('executeMultiple', () => {
  it('runs a script with comments, strings containing semicolons and a trigger', async () => {
    const c = client();
    await c.executeMultiple(`
      -- schema; with a semicolon in a comment
      CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT);
      CREATE TABLE log (msg TEXT);
      /* block; comment */
      CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN
        INSERT INTO log VALUES ('inserted;' || NEW.s);
        INSERT INTO log VALUES (CASE WHEN NEW.id > 1 THEN 'big' ELSE 'small' END);
      END;
      INSERT INTO t (s) VALUES ('a;b'), ('it''s');
    `);
    expect((await c.execute('SELECT s FROM t ORDER BY id')).rows.map((r) => r.s)).toEqual(['a;b', "it's"]);
    expect((await c.execute('SELECT msg FROM log ORDER BY rowid')).rows.map((r) => r.msg)).toEqual([
      'inserted;a;b',
      'small',
      "inserted;it's",
      'big',
    ]);
  });

  it('stops at the first error, keeping what ran before it', async () => {
    const c = client();
    await expect(
      c.executeMultiple('CREATE TABLE a (x); INSERT INTO nope VALUES (1); CREATE TABLE b (x);'),
    ).rejects.toMatchObject({
      code: 'SQLITE_ERROR',
    });
    const tables = await c.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    expect(tables.rows.map((r) => r.name)).toEqual(['a']);
  });
});

describe('concurrency', () => {
  it('20 concurrent compare-and-set updates from separate clients: exactly 10 succeed', async () => {
    const setup = client();
    await setup.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
    await setup.execute('INSERT INTO t VALUES (1, 0)');

    const results = await Promise.all(
      Array.from({ length: 20 }, () => client().execute('UPDATE t SET n = n + 1 WHERE id = 1 AND n < 10 RETURNING n')),
    );
    const winners = results.filter((r) => r.rows.length === 1);
    expect(winners).toHaveLength(10);
    expect(winners.every((r) => r.rowsAffected === 1)).toBe(true);
    expect(winners.map((r) => r.rows[0].n).sort((a, b) => Number(a) - Number(b))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(results.filter((r) => r.rowsAffected === 0)).toHaveLength(10);
    expect((await setup.execute('SELECT n FROM t')).rows[0].n).toBe(10);
  });

  it('concurrent interactive transactions serialize without lost updates', async () => {
    const setup = client();
    await setup.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
    await setup.execute('INSERT INTO t VALUES (1, 0)');
    const driver = new LibsqlHttpDriver(server.url);
    try {
      await Promise.all(
        Array.from({ length: 8 }, () =>
          driver.transaction(async (tx) => {
            const r = await tx.execute({ sql: 'SELECT n FROM t WHERE id = 1' });
            await tx.execute({ sql: 'UPDATE t SET n = ? WHERE id = 1', args: [Number(r.rows[0].n) + 1] });
          }),
        ),
      );
    } finally {
      await driver.close();
    }
    expect((await setup.execute('SELECT n FROM t')).rows[0].n).toBe(8);
  });
});

describe('auth', () => {
  it('requires the bearer token when one is configured', async () => {
    server = await start({ token: 's3cret' });
    await expect(client().execute('SELECT 1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(client({ authToken: 'wrong' }).execute('SELECT 1')).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const raw = await pipeline({ baton: null, requests: [] });
    expect(raw.status).toBe(401);
    const ok = await client({ authToken: 's3cret' }).execute('SELECT 1 AS one');
    expect(ok.rows[0].one).toBe(1);
    // Version probes and health checks are not authenticated (the client sends no token there).
    expect((await fetch(`${server.url}/v2`)).status).toBe(200);
  });
});

describe('LibsqlHttpDriver against the server', () => {
  it('execute, batch and transaction map to our ResultSet', async () => {
    const db = new LibsqlHttpDriver(server.url);
    try {
      await db.execute({ sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, flag INTEGER, data BLOB, note TEXT)' });
      const ins = await db.execute({
        sql: 'INSERT INTO t (flag, data, note) VALUES (?, ?, ?)',
        args: [true, new Uint8Array([9, 8, 7]), null],
      });
      expect(ins).toEqual({ rows: [], rowsAffected: 1, lastInsertRowid: 1 });

      const sel = await db.execute({ sql: 'SELECT id, flag, data, note FROM t' });
      expect(sel.rowsAffected).toBe(0);
      expect(sel.lastInsertRowid).toBeNull();
      expect(sel.rows).toEqual([{ id: 1, flag: 1, data: new Uint8Array([9, 8, 7]), note: null }]);

      const results = await db.batch([
        { sql: 'INSERT INTO t (flag) VALUES (?)', args: [false] },
        { sql: 'UPDATE t SET note = ? RETURNING id', args: ['x'] },
      ]);
      expect(results.map((r) => r.rowsAffected)).toEqual([1, 2]);
      expect(results[1].rows).toEqual([{ id: 1 }, { id: 2 }]);

      await expect(
        db.batch([
          { sql: 'INSERT INTO t (id) VALUES (?)', args: [10] },
          { sql: 'INSERT INTO t (id) VALUES (?)', args: [1] },
        ]),
      ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT' });
      expect((await db.execute({ sql: 'SELECT count(*) AS n FROM t' })).rows[0].n).toBe(2);

      const value = await db.transaction(async (tx) => {
        await tx.execute({ sql: 'INSERT INTO t (id) VALUES (?)', args: [20] });
        return (await tx.execute({ sql: 'SELECT count(*) AS n FROM t' })).rows[0].n;
      });
      expect(value).toBe(3);
      await expect(
        db.transaction(async (tx) => {
          await tx.execute({ sql: 'INSERT INTO t (id) VALUES (?)', args: [21] });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect((await db.execute({ sql: 'SELECT count(*) AS n FROM t' })).rows[0].n).toBe(3);
    } finally {
      await db.close();
    }
  });
});

describe('protocol details (raw HTTP)', () => {
  it('answers the version probes', async () => {
    expect((await fetch(`${server.url}/v3-protobuf`)).status).toBe(404);
    expect((await fetch(`${server.url}/v2`)).status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('continues a stream with single-use batons and closes it', async () => {
    const first = await pipeline({ baton: null, requests: [sqlStmt('CREATE TABLE t (x)'), sqlStmt('BEGIN')] });
    expect(first.status).toBe(200);
    expect(first.json.base_url).toBeNull();
    expect(first.json.results.map((r: any) => r.type)).toEqual(['ok', 'ok']);
    expect(first.json.results[0].response).toEqual({
      type: 'execute',
      result: { cols: [], rows: [], affected_row_count: 0, last_insert_rowid: null },
    });
    const baton = first.json.baton;
    expect(typeof baton).toBe('string');

    const second = await pipeline({
      baton,
      requests: [
        sqlStmt('INSERT INTO t VALUES (?)', { args: [{ type: 'integer', value: '5' }] }),
        { type: 'get_autocommit' },
      ],
    });
    expect(second.json.results[0].response.result).toMatchObject({ affected_row_count: 1, last_insert_rowid: '1' });
    expect(second.json.results[1].response).toEqual({ type: 'get_autocommit', is_autocommit: false });

    // The baton was used up.
    const replay = await pipeline({ baton, requests: [sqlStmt('SELECT 1')] });
    expect(replay.status).toBe(400);
    expect(replay.json).toMatchObject({ message: expect.any(String), code: 'STREAM_EXPIRED' });

    const third = await pipeline({
      baton: second.json.baton,
      requests: [sqlStmt('SELECT x FROM t'), { type: 'close' }, sqlStmt('SELECT 1')],
    });
    expect(third.json.baton).toBeNull();
    expect(third.json.results[0].response.result.rows).toEqual([[{ type: 'integer', value: '5' }]]);
    expect(third.json.results[1]).toEqual({ type: 'ok', response: { type: 'close' } });
    expect(third.json.results[2].type).toBe('error');

    // Closing the stream rolled back its open transaction.
    const after = await pipeline({ baton: null, requests: [sqlStmt('SELECT count(*) FROM t'), { type: 'close' }] });
    expect(after.json.results[0].response.result.rows).toEqual([[{ type: 'integer', value: '0' }]]);
  });

  it('rejects unknown batons with HTTP 400 and JSON', async () => {
    const r = await pipeline({ baton: 'nope', requests: [] });
    expect(r.status).toBe(400);
    expect(r.json.code).toBe('STREAM_EXPIRED');
  });

  it('evaluates batch conditions', async () => {
    const ok = (step: number) => ({ type: 'ok', step });
    const err = (step: number) => ({ type: 'error', step });
    const stmt = (sql: string) => ({ sql, want_rows: true });
    const r = await pipeline({
      baton: null,
      requests: [
        {
          type: 'batch',
          batch: {
            steps: [
              { stmt: stmt('SELECT 1') }, // 0 ok
              { stmt: stmt('SELECT * FROM missing') }, // 1 error
              { condition: ok(1), stmt: stmt('SELECT 2') }, // 2 skipped
              { condition: err(1), stmt: stmt('SELECT 3') }, // 3 runs
              { condition: { type: 'not', cond: ok(2) }, stmt: stmt('SELECT 4') }, // 4 runs
              { condition: { type: 'and', conds: [ok(0), err(1)] }, stmt: stmt('SELECT 5') }, // 5 runs
              { condition: { type: 'or', conds: [ok(2), err(2)] }, stmt: stmt('SELECT 6') }, // 6 skipped
              { condition: { type: 'is_autocommit' }, stmt: stmt('BEGIN') }, // 7 runs
              { condition: { type: 'is_autocommit' }, stmt: stmt('SELECT 8') }, // 8 skipped
              { condition: { type: 'not', cond: { type: 'is_autocommit' } }, stmt: stmt('ROLLBACK') }, // 9 runs
            ],
          },
        },
        { type: 'close' },
      ],
    });
    const result = r.json.results[0].response.result;
    const ran = result.step_results.map((x: unknown) => x !== null);
    expect(ran).toEqual([true, false, false, true, true, true, false, true, false, true]);
    expect(result.step_errors.map((x: unknown) => x !== null)).toEqual([
      false,
      true,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(result.step_errors[1]).toMatchObject({ code: 'SQLITE_ERROR', message: expect.stringContaining('missing') });
    expect(result.step_results[3].rows).toEqual([[{ type: 'integer', value: '3' }]]);

    const bad = await pipeline({
      baton: null,
      requests: [
        { type: 'batch', batch: { steps: [{ condition: ok(0), stmt: stmt('SELECT 1') }] } },
        { type: 'close' },
      ],
    });
    expect(bad.json.results[0].type).toBe('error');
  });

  it('supports store_sql / sql_id / close_sql, describe, sequence and want_rows', async () => {
    const r = await pipeline({
      baton: null,
      requests: [
        {
          type: 'sequence',
          sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t (name) VALUES (1.5);',
        },
        { type: 'store_sql', sql_id: 7, sql: 'SELECT id, name FROM t WHERE id = :id' },
        {
          type: 'execute',
          stmt: { sql_id: 7, named_args: [{ name: 'id', value: { type: 'integer', value: '1' } }], want_rows: true },
        },
        { type: 'describe', sql_id: 7 },
        { type: 'describe', sql: 'INSERT INTO t (name) VALUES (?)' },
        { type: 'execute', stmt: { sql: 'SELECT id FROM t', want_rows: false } },
        { type: 'close_sql', sql_id: 7 },
        { type: 'execute', stmt: { sql_id: 7 } },
        { type: 'close' },
      ],
    });
    const res = r.json.results;
    expect(res.slice(0, 2).map((x: any) => x.response.type)).toEqual(['sequence', 'store_sql']);
    expect(res[2].response.result.rows).toEqual([
      [
        { type: 'integer', value: '1' },
        { type: 'text', value: '1.5' },
      ],
    ]);
    expect(res[3].response.result).toEqual({
      params: [{ name: ':id' }],
      cols: [
        { name: 'id', decltype: 'INTEGER' },
        { name: 'name', decltype: 'TEXT' },
      ],
      is_explain: false,
      is_readonly: true,
    });
    expect(res[4].response.result).toMatchObject({ params: [{ name: null }], cols: [], is_readonly: false });
    expect(res[5].response.result).toMatchObject({ cols: [{ name: 'id', decltype: 'INTEGER' }], rows: [] });
    expect(res[6].response.type).toBe('close_sql');
    expect(res[7]).toMatchObject({ type: 'error', error: { code: 'SQL_NOT_FOUND' } });
  });

  it('closes and rolls back streams that stay idle too long', async () => {
    server = await start({ streamIdleTimeoutMs: 100 });
    const setup = client();
    await setup.execute('CREATE TABLE t (x)');
    const open = await pipeline({
      baton: null,
      requests: [sqlStmt('BEGIN IMMEDIATE'), sqlStmt('INSERT INTO t VALUES (1)')],
    });
    expect(open.json.results.map((x: any) => x.type)).toEqual(['ok', 'ok']);
    await new Promise((r) => setTimeout(r, 400));
    const late = await pipeline({ baton: open.json.baton, requests: [sqlStmt('COMMIT')] });
    expect(late.status).toBe(400);
    // The write lock was released and the insert discarded.
    await setup.execute('INSERT INTO t VALUES (2)');
    expect((await setup.execute('SELECT x FROM t')).rows.map((r) => r.x)).toEqual([2]);
  });
});

describe('parseSql', () => {
  it('splits statements and numbers parameters like SQLite', () => {
    const parsed = parseSql(`SELECT ?, :a, ?5, :a, @b, ?; ; -- trailing; comment
      SELECT 'it''s; ?' AS "q;?", [x;?], \`y?\`, $c::d(ef) /* ?; */`);
    expect(parsed.map((p) => p.params)).toEqual([[null, ':a', null, null, '?5', '@b', null], ['$c::d(ef)']]);
    expect(parseSql('  -- nothing\n /* here */ ;')).toEqual([]);
    expect(
      parseSql('CREATE TEMP TRIGGER tr AFTER DELETE ON t BEGIN SELECT 1; SELECT CASE WHEN 1 THEN 2 END; END; SELECT 2'),
    ).toHaveLength(2);
  });
});
