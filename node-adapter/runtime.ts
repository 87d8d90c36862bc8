import { mkdir, readFile, writeFile, unlink, readdir, stat, chmod, open } from 'node:fs/promises';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { lookup } from 'node:dns/promises';
import Database from 'libsql';
import type { Config } from '../worker/src/config.js';
import { Db } from '../worker/src/db/db.js';
import { consoleLogger, systemClock, type BlobStore, type Clock, type Logger, type Runtime } from '../worker/src/runtime.js';
import { SqliteFileDriver } from './sqlite-driver.js';
import { ensurePrivateDir, FILE_MODE } from './data-dir.js';
import { createPasswordPool } from './password-pool.js';

export const CORE_DB_FILE = 'mycelium.db';

export interface NodeRuntimeOptions {
  config: Config;
  log?: Logger;
  clock?: Clock;
}

/** Node runtime: SQLite files in DATA_DIR, blobs in a folder, timers, online backups. */
export function createNodeRuntime({ config, log = consoleLogger(config.logLevel), clock = systemClock }: NodeRuntimeOptions) {
  const dataDir = config.dataDir;
  const driver = new SqliteFileDriver(join(dataDir, CORE_DB_FILE), config.sqliteSynchronous);
  const db = new Db(driver);
  const pluginDbs = new Map<string, Db>();
  const pending = new Set<Promise<unknown>>();
  const passwords = createPasswordPool();

  const runtime: Runtime & { close(): Promise<void>; settle(): Promise<void> } = {
    kind: 'node',
    config,
    db,
    async pluginDb(name: string) {
      if (!/^[a-z0-9][a-z0-9-]{0,63}$/.test(name)) throw new Error(`invalid plugin name: ${name}`);
      let pdb = pluginDbs.get(name);
      if (!pdb) {
        const dir = ensurePrivateDir(join(dataDir, 'plugins'));
        const file = join(dir, `${name}.db`);
        pdb = new Db(new SqliteFileDriver(file, config.sqliteSynchronous));
        // Created now, at run time: give it (and its WAL files) the data-folder mode straight away.
        for (const f of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(f)) chmodSync(f, FILE_MODE);
        pluginDbs.set(name, pdb);
      }
      return pdb;
    },
    blobs: folderBlobs(join(dataDir, 'blobs')),
    clock,
    log,
    waitUntil(p) {
      const tracked = p.catch((err) => log.error('background task failed', { error: (err as Error).message })).finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    peerAddress(_req, env) {
      const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
      return incoming?.socket?.remoteAddress;
    },
    backup: () => backupDatabase(driver, dataDir, config.backupRetention, clock),
    listBackups: () => listBackups(dataDir),
    // The SSRF guard refuses names that resolve to internal addresses (spec 07 SEC-32).
    async resolveHost(hostname: string) {
      return (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);
    },
    // Password hashing on worker threads with a bounded queue: logins cannot starve requests.
    argon2id: passwords.derive,
    startedAt: clock.now().getTime(),
    memoryUsageMb: () => Math.round(process.memoryUsage().rss / 1048576),
    /** Waits for background work (hooks, webhooks) — used by graceful shutdown and tests. */
    async settle() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
    async close() {
      await runtime.settle();
      await passwords.close();
      for (const p of pluginDbs.values()) await p.close();
      await db.close();
    },
  };
  return runtime;
}

function folderBlobs(dir: string): BlobStore {
  const path = (key: string) => {
    if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((s) => s === '..' || s === '' || s === '.')) {
      throw new Error(`invalid blob key: ${key}`);
    }
    return join(dir, key);
  };
  return {
    async put(key, data) {
      const p = path(key);
      await mkdir(join(p, '..'), { recursive: true, mode: 0o700 });
      await writeFile(p, data, { mode: FILE_MODE });
    },
    async get(key) {
      try {
        return new Uint8Array(await readFile(path(key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async delete(key) {
      await unlink(path(key)).catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
    },
  };
}

/**
 * Online backup with VACUUM INTO (a consistent copy of a live WAL database, unlike a file copy),
 * verified by opening the copy and running an integrity check; a copy that fails is deleted
 * and reported (spec 07 REL-23). Names are UTC; the newest `retention` are kept.
 */
export async function backupDatabase(driver: SqliteFileDriver, dataDir: string, retention: number, clock: Clock) {
  const dir = ensurePrivateDir(join(dataDir, 'backups'));
  const stamp = clock.now().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
  // The name is reserved by creating the file exclusively (VACUUM INTO accepts an empty file), so
  // concurrent backups in the same second get distinct names instead of colliding on one.
  let file = join(dir, `mycelium_${stamp}.db`);
  for (let n = 1; !(await reserve(file)); n++) file = join(dir, `mycelium_${stamp}_${n}.db`);
  try {
    await driver.execute({ sql: 'VACUUM INTO ?', args: [file] });
  } catch (err) {
    await unlink(file).catch(() => undefined);
    throw err;
  }
  await chmod(file, FILE_MODE);
  const problem = verifyBackup(file);
  if (problem) {
    await unlink(file).catch(() => undefined);
    throw new Error(`backup failed verification: ${problem}`);
  }
  const all = (await readdir(dir)).filter((f) => /^mycelium_\d{8}_\d{6}(_\d+)?\.db$/.test(f)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - retention))) await unlink(join(dir, old)).catch(() => undefined);
  return { file, bytes: (await stat(file)).size };
}

/** `mycelium_*.db` files in DATA_DIR/backups, newest first; a missing folder is an empty list. */
export async function listBackups(dataDir: string) {
  const dir = join(dataDir, 'backups');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((f) => /^mycelium_.*\.db$/.test(f));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out = await Promise.all(names.map(async (name) => {
    const st = await stat(join(dir, name));
    return { name, bytes: st.size, created: st.mtime };
  }));
  return out.sort((a, b) => b.created.getTime() - a.created.getTime() || b.name.localeCompare(a.name));
}

/** null when the file is a sound SQLite database, else what is wrong with it. */
export function verifyBackup(file: string): string | null {
  try {
    const copy = new Database(file, { readonly: true });
    try {
      const rows = copy.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
      const verdict = rows.map((r) => r.integrity_check).join('; ');
      return verdict === 'ok' ? null : verdict;
    } finally {
      copy.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** Creates `p` empty and private; false when it already exists. */
async function reserve(p: string) {
  try {
    await (await open(p, 'wx', FILE_MODE)).close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}
