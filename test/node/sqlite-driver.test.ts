import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';

/**
 * The Node driver's cheap paths (issue 11) keep the port's meaning: a first-row read answers what
 * a row cursor would have, without the driver's own bookkeeping in the row; a batch of plain reads
 * needs no write lock; a batch that writes still takes it at once.
 */
let dir: string;
let db: Db;
let file: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-driver-'));
  file = join(dir, 'd.db');
  db = new Db(new SqliteFileDriver(file));
  await db.batch([
    { sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, flag INTEGER)' },
    { sql: "INSERT INTO t (name, flag) VALUES ('a', 0), ('b', 1), ('c', 0)" },
  ]);
});
afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteFileDriver (issue 11 fast paths)', () => {
  it('get: the first row of a many-row read, with only its columns, and the statement left reusable', async () => {
    const row = await db.get('SELECT * FROM t ORDER BY id');
    expect(row).toEqual({ id: 1, name: 'a', flag: 0 });
    expect(await db.get('SELECT * FROM t WHERE id = -1')).toBeUndefined();
    // The same statement again, then a write batch: nothing was left open by the single step.
    expect(await db.get('SELECT * FROM t ORDER BY id')).toEqual({ id: 1, name: 'a', flag: 0 });
    await db.batch([{ sql: 'UPDATE t SET flag = ? WHERE id = 3', args: [true] }]);
    expect(await db.all('SELECT id FROM t WHERE flag = ? ORDER BY id', [true])).toEqual([{ id: 2 }, { id: 3 }]);
  });

  it('get after all on the same SQL answers for its own arguments (libsql 0.5 repeats the last row of a shared statement)', async () => {
    const sql = 'SELECT id, name FROM t WHERE id = ?';
    expect(await db.all(sql, [2])).toEqual([{ id: 2, name: 'b' }]);
    expect(await db.get(sql, [3])).toEqual({ id: 3, name: 'c' });
    expect(await db.get(sql, [1])).toEqual({ id: 1, name: 'a' });
    const [viaBatch] = await db.batch([{ sql, args: [2] }]);
    expect(viaBatch.rows).toEqual([{ id: 2, name: 'b' }]);
    expect(await db.get(sql, [-1])).toBeUndefined();
    expect(await db.get(sql, [3])).toEqual({ id: 3, name: 'c' });
  });

  it('get on a write with RETURNING changes every row it matches', async () => {
    const first = await db.get<{ id: number }>("UPDATE t SET name = name || '!' RETURNING id");
    expect(first?.id).toBeTypeOf('number');
    expect(await db.all('SELECT name FROM t ORDER BY id')).toEqual([{ name: 'a!' }, { name: 'b!' }, { name: 'c!' }]);
  });

  it('a batch of plain reads runs while another connection holds the write lock; a writing batch waits for it', async () => {
    const other = new Database(file);
    other.exec('PRAGMA busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      const [count, names] = await db.batch([
        { sql: 'SELECT count(*) AS n FROM t' },
        { sql: 'WITH x AS (SELECT name FROM t) SELECT name FROM x ORDER BY name' },
      ]);
      expect(count.rows[0]).toEqual({ n: 3 });
      expect(names.rows).toHaveLength(3);
    } finally {
      other.exec('COMMIT');
    }
    // Lock held elsewhere with no wait allowed here: a writing batch is refused, not half-run.
    const strict = new Db(new SqliteFileDriver(file));
    await strict.execute('PRAGMA busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(strict.batch([{ sql: "INSERT INTO t (name, flag) VALUES ('z', 0)" }])).rejects.toThrow(
        /locked|busy/i,
      );
    } finally {
      other.exec('COMMIT');
      other.close();
      await strict.close();
    }
    expect(await db.get("SELECT count(*) AS n FROM t WHERE name = 'z'")).toEqual({ n: 0 });
  });
});
