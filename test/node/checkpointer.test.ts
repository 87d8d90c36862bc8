import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';

/**
 * WAL checkpoints off the event loop (issue 11, node-adapter/checkpointer.ts): the core file's
 * pages reach the database file through the worker thread while the main connection stays below
 * its own (safety-net) threshold, and closing the driver stops the thread.
 */
const dir = mkdtempSync(join(tmpdir(), 'mycelium-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fill(db: Db, commits: number) {
  const blob = 'x'.repeat(3000); // about one page per row
  for (let i = 0; i < commits; i++)
    await db.batch(Array.from({ length: 20 }, () => ({ sql: 'INSERT INTO t (v) VALUES (?)', args: [blob] })));
}

async function until(cond: () => boolean, ms: number) {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
}

describe('background WAL checkpoints', () => {
  it('a thread copies committed pages into the database file; the main connection never crossed its threshold', async () => {
    const file = join(dir, 'bg.db');
    const errors: string[] = [];
    const db = new Db(
      new SqliteFileDriver(file, 'NORMAL', { backgroundCheckpoints: true, onCheckpointError: (m) => errors.push(m) }),
    );
    await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    // The main connection's own checkpoint waits for 10,000 pages: it cannot be what copies them here.
    expect(await db.get('PRAGMA wal_autocheckpoint')).toEqual({ wal_autocheckpoint: 10_000 });
    const before = statSync(file).size;
    // The thread starts with the write traffic, not with the first commit: a few writes leave the
    // pages in the log (above SQLite's default threshold of 1,000 pages, below the safety net).
    await fill(db, 100);
    await new Promise((r) => setTimeout(r, 400));
    expect(statSync(file).size).toBe(before);
    await fill(db, 150); // past 200 commits: the thread starts and copies all ~5,000 pages
    expect(await until(() => statSync(file).size > before + 15_000_000, 5_000)).toBe(true);
    // The rows are all there, read through the main connection (from the WAL or the file).
    expect(await db.get('SELECT count(*) AS n FROM t')).toEqual({ n: 5_000 });
    await db.close();
    expect(errors).toEqual([]);
  });

  it('under sustained writes the log starts over instead of growing: the safety-net checkpoint completes what the thread began', async () => {
    const file = join(dir, 'long.db');
    const db = new Db(new SqliteFileDriver(file, 'NORMAL', { backgroundCheckpoints: true }));
    await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    // The WAL header's checkpoint sequence number (bytes 12-15) goes up each time the log starts over.
    const restarts = () => {
      const b = Buffer.alloc(16);
      const fd = openSync(`${file}-wal`, 'r');
      readSync(fd, b, 0, 16, 0);
      closeSync(fd);
      return b.readUInt32BE(12);
    };
    const first = restarts();
    // ~15,000 pages back to back: a checkpoint that races the writer never catches the last frame, so
    // only the connection's own safety-net checkpoint (at 10,000 pages) lets the log start over. It
    // retries after every commit while the thread holds the checkpoint lock: keep writing until then.
    await fill(db, 750);
    const end = Date.now() + 10_000;
    while (restarts() === first && Date.now() < end) await fill(db, 1);
    expect(restarts()).toBeGreaterThan(first);
    expect(Number((await db.get<{ n: number }>('SELECT count(*) AS n FROM t'))!.n)).toBeGreaterThanOrEqual(15_000);
    await db.close();
  }, 30_000);

  it('without it (plugin files), the connection checkpoints itself as SQLite does by default', async () => {
    const file = join(dir, 'fg.db');
    const db = new Db(new SqliteFileDriver(file));
    await db.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    await fill(db, 100);
    // The automatic checkpoint ran inside the commits: the file grew with no thread and no wait.
    expect(statSync(file).size).toBeGreaterThan(4_000_000);
    await db.close();
  });
});
