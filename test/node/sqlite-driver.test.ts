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

  it('a `single` write with RETURNING: stepped once, its change made and counted, seen by the next statement', async () => {
    const [hit, after, miss, none] = await db.batch([
      { sql: 'UPDATE t SET flag = 7 WHERE id = ? RETURNING id, flag', args: [2], single: true },
      { sql: 'SELECT changes() AS n', single: true },
      { sql: 'UPDATE t SET flag = 7 WHERE id = ? RETURNING id, flag', args: [-1], single: true },
      { sql: 'SELECT changes() AS n' },
    ]);
    expect(hit).toMatchObject({ rows: [{ id: 2, flag: 7 }], rowsAffected: 1 });
    expect(after.rows).toEqual([{ n: 1 }]);
    expect(miss).toMatchObject({ rows: [], rowsAffected: 0 });
    expect(none.rows).toEqual([{ n: 0 }]);
    const [inserted] = await db.batch([
      { sql: "INSERT INTO t (name, flag) VALUES ('d', 0) RETURNING id, name", single: true },
    ]);
    expect(inserted).toMatchObject({ rows: [{ name: 'd' }], rowsAffected: 1 });
    expect(await db.get('SELECT flag FROM t WHERE id = 2')).toEqual({ flag: 7 });
    expect(await db.get("SELECT count(*) AS n FROM t WHERE name = 'd'")).toEqual({ n: 1 });
    // A step that fails leaves no stale arguments behind (libsql 0.5 does not reset such a
    // statement; the driver prepares it afresh): the next call writes its own values.
    await db.batch([
      {
        sql: "CREATE TRIGGER t_refuse BEFORE INSERT ON t WHEN NEW.name = 'refused' BEGIN SELECT RAISE(ABORT, 'refused'); END",
      },
    ]);
    const insert = 'INSERT INTO t (name, flag) VALUES (?, 0) RETURNING name';
    await expect(db.batch([{ sql: insert, args: ['refused'], single: true }])).rejects.toThrow(/refused/);
    const [next] = await db.batch([{ sql: insert, args: ['accepted'], single: true }]);
    expect(next.rows).toEqual([{ name: 'accepted' }]);
    await expect(db.get("SELECT json_extract(?, '$.a') AS v", ['not json'])).rejects.toThrow();
    expect(await db.get("SELECT json_extract(?, '$.a') AS v", ['{"a": 5}'])).toEqual({ v: 5 });
    await db.batch([{ sql: 'DROP TRIGGER t_refuse' }, { sql: "DELETE FROM t WHERE name = 'accepted'" }]);
    // The same SQL without the flag still runs through a row cursor, with its own statement.
    const [again] = await db.batch([{ sql: 'UPDATE t SET flag = 8 WHERE id = ? RETURNING id, flag', args: [2] }]);
    expect(again).toMatchObject({ rows: [{ id: 2, flag: 8 }], rowsAffected: 1 });
    await db.batch([{ sql: "DELETE FROM t WHERE name = 'd'" }]);
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

  it('group commit: writes of one turn commit together, each batch atomic on its own, answered only after the commit', async () => {
    await db.execute('CREATE TABLE g (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
    const outside = new Database(file);
    try {
      const visible = () => (outside.prepare('SELECT count(*) AS n FROM g').get() as { n: number }).n;
      let answered = 0;
      const a = db
        .batch([{ sql: "INSERT INTO g (v) VALUES ('a1')" }, { sql: "INSERT INTO g (v) VALUES ('a2')" }])
        .then((r) => {
          answered++;
          return r;
        });
      // The second statement breaks the UNIQUE rule: its batch rolls back alone, the first row of it too.
      const b = db.batch([{ sql: "INSERT INTO g (v) VALUES ('b1')" }, { sql: "INSERT INTO g (v) VALUES ('a1')" }]);
      const c = db.execute("INSERT INTO g (v) VALUES ('c1')").then((r) => {
        answered++;
        return r;
      });
      // A read in the same turn sees the group's writes and is answered with it.
      const read = db.all<{ v: string }>('SELECT v FROM g ORDER BY v');
      // Nothing is committed (or answered) before the turn ends.
      expect(visible()).toBe(0);
      await Promise.resolve();
      expect(answered).toBe(0);
      await expect(b).rejects.toThrow(/UNIQUE/);
      const [ra] = await a;
      expect(ra.rowsAffected).toBe(1);
      expect((await c).rowsAffected).toBe(1);
      expect((await read).map((r) => r.v)).toEqual(['a1', 'a2', 'c1']);
      expect(outside.prepare('SELECT v FROM g ORDER BY v').all()).toEqual([{ v: 'a1' }, { v: 'a2' }, { v: 'c1' }]);
    } finally {
      outside.close();
    }
  });

  it('group commit: a COMMIT that fails fails every batch of its group, and none of it is kept', async () => {
    // A deferred foreign key is checked only at COMMIT: the one way to make a commit refuse here.
    await db.batch([
      { sql: 'CREATE TABLE parent (id INTEGER PRIMARY KEY)' },
      {
        sql: 'CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)',
      },
    ]);
    const good = db.batch([{ sql: 'INSERT INTO parent (id) VALUES (1)' }]);
    const bad = db.batch([{ sql: 'INSERT INTO child (id, p) VALUES (1, 99)' }]);
    await expect(good).rejects.toThrow(/FOREIGN KEY/);
    await expect(bad).rejects.toThrow(/FOREIGN KEY/);
    expect(await db.get('SELECT count(*) AS n FROM parent')).toEqual({ n: 0 });
    // The connection goes on: the next group commits.
    await db.batch([{ sql: 'INSERT INTO parent (id) VALUES (2)' }]);
    expect(await db.get('SELECT count(*) AS n FROM parent')).toEqual({ n: 1 });
  });

  it('group commit: another connection of this process takes the write lock without waiting for the turn to end', async () => {
    const second = new Db(new SqliteFileDriver(file));
    await second.execute('PRAGMA busy_timeout = 0');
    try {
      const mine = db.execute("INSERT INTO g (v) VALUES ('d1')"); // opens a group on `db`
      // `second` commits `db`'s group before it takes the lock, instead of failing as busy.
      await second.batch([{ sql: "INSERT INTO g (v) VALUES ('d2')" }]);
      expect((await mine).rowsAffected).toBe(1);
      expect(await second.all('SELECT v FROM g WHERE v LIKE ? ORDER BY v', ['d%'])).toEqual([{ v: 'd1' }, { v: 'd2' }]);
    } finally {
      await second.close();
    }
  });
});
