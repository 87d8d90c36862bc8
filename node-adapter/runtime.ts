import { mkdir, readFile, writeFile, unlink, readdir, stat, chmod, open, rename } from 'node:fs/promises';
import { chmodSync, createReadStream, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { lookup } from 'node:dns/promises';
import Database from 'libsql';
import type { Config } from '../worker/src/config.js';
import { Db } from '../worker/src/db/db.js';
import { inProcessEventHub } from '../worker/src/domain/events/hub.js';
import {
  BlobTooLargeError,
  consoleLogger,
  systemClock,
  type BlobInfo,
  type BlobStore,
  type Clock,
  type Logger,
  type Runtime,
} from '../worker/src/runtime.js';
import { SqliteFileDriver } from './sqlite-driver.js';
import { createPinnedFetch, type Resolver } from './pinned-fetch.js';
import { CORE_DB_FILE, DIR_MODE, ensurePrivateDir, FILE_MODE } from './data-dir.js';
import { FileDroneHub } from '../worker/src/domain/file-server/hub.js';
import { VoiceHub } from '../worker/src/domain/voice/hub.js';
import { createPasswordPool } from './password-pool.js';
import { incomingBodies } from './request-body.js';

// Re-exported: the many callers that name it with the runtime keep doing so.
export { CORE_DB_FILE } from './data-dir.js';

export interface NodeRuntimeOptions {
  config: Config;
  log?: Logger;
  clock?: Clock;
  /** DNS for the SSRF guard and pinned outbound connections (tests inject a rebinding resolver). */
  resolver?: Resolver;
}

const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/** Node runtime: SQLite files in DATA_DIR, blobs in a folder, timers, online backups. */
export function createNodeRuntime({
  config,
  log = consoleLogger(config.logLevel),
  clock = systemClock,
  resolver = systemResolver,
}: NodeRuntimeOptions) {
  const dataDir = config.dataDir;
  const driver = new SqliteFileDriver(join(dataDir, CORE_DB_FILE), config.sqliteSynchronous, {
    backgroundCheckpoints: true,
    onCheckpointError: (message) => log.warn('wal checkpoint failed', { message }),
  });
  const db = new Db(driver);
  const pluginDbs = new Map<string, Db>();
  const pending = new Set<Promise<unknown>>();
  const passwords = createPasswordPool();

  // The file drones' sockets live in this process (spec 05 §11); server.ts attaches them.
  const fileDroneHub = new FileDroneHub();
  // So do the /voice peers (spec 01 §1.10); server.ts attaches their sockets.
  const voiceHub = new VoiceHub();

  const bodies = incomingBodies();

  const runtime: Runtime & {
    /** Wraps the app's fetch for `serve()`, so `readBody` can read what the adapter received. */
    receive: typeof bodies.wrap;
    close(): Promise<void>;
    settle(): Promise<void>;
    fileDroneHub: FileDroneHub;
    voiceHub: VoiceHub;
  } = {
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
    fileDrones: fileDroneHub,
    fileDroneHub,
    voice: voiceHub,
    voiceHub,
    clock,
    log,
    waitUntil(p) {
      const tracked = p
        .catch((err) => log.error('background task failed', { error: (err as Error).message }))
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    peerAddress(_req, env) {
      const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
      return incoming?.socket?.remoteAddress;
    },
    readBody: bodies.read,
    sha256Hex: (text) => createHash('sha256').update(text).digest('hex'),
    receive: bodies.wrap,
    backup: () => backupDatabase(driver, dataDir, config.backupRetention, clock),
    listBackups: () => listBackups(dataDir),
    // The SSRF guard refuses names that resolve to internal addresses (spec 07 SEC-32).
    resolveHost: resolver,
    // Connections go to the addresses the guard checked, resolved once per connect (issue 17).
    pinnedFetch: createPinnedFetch(resolver, config.webhookAllowLoopback),
    // Password hashing on worker threads with a bounded queue: logins cannot starve requests.
    argon2id: passwords.derive,
    startedAt: clock.now().getTime(),
    lifetime: 'process',
    crossRequestWake: true,
    eventHub: inProcessEventHub(db),
    pluginDbProblem: () => null,
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

/**
 * Blobs as files under DATA_DIR/blobs: directories 0700, files 0600. Keys are server-chosen
 * (`<area>/<uuid>`); the pattern check is a second fence, not the first. Streaming writes go to
 * a `.part-` file beside the target and are renamed into place, so a blob is whole or absent; a
 * crash mid-write leaves only a `.part-` file, which the blob sweep removes (it has no row).
 */
export function folderBlobs(dir: string): BlobStore {
  const path = (key: string) => {
    if (!/^[A-Za-z0-9._/-]+$/.test(key) || key.split('/').some((s) => s === '..' || s === '' || s === '.')) {
      throw new Error(`invalid blob key: ${key}`);
    }
    return join(dir, key);
  };
  const ensureParent = (p: string) => mkdir(dirname(p), { recursive: true, mode: DIR_MODE });
  const ignoreMissing = (err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  };
  return {
    async put(key, data) {
      const p = path(key);
      await ensureParent(p);
      await writeFile(p, data, { mode: FILE_MODE });
    },
    async get(key) {
      try {
        return new Uint8Array(await readFile(path(key)));
      } catch (err) {
        ignoreMissing(err);
        return null;
      }
    },
    async delete(key) {
      await unlink(path(key)).catch(ignoreMissing);
    },
    async putStream(key, data, maxBytes) {
      const p = path(key);
      await ensureParent(p);
      const tmp = `${p}.part-${randomUUID()}`;
      const fh = await open(tmp, 'wx', FILE_MODE);
      const reader = data.getReader();
      let size = 0;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.length;
          if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
          await fh.write(value);
        }
        await fh.close();
        await rename(tmp, p);
        return { size };
      } catch (err) {
        await reader.cancel().catch(() => undefined);
        await fh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
    },
    async getStream(key) {
      const p = path(key);
      try {
        const st = await stat(p);
        if (!st.isFile()) return null;
        return { body: Readable.toWeb(createReadStream(p)) as ReadableStream<Uint8Array>, size: st.size };
      } catch (err) {
        ignoreMissing(err);
        return null;
      }
    },
    async list(prefix) {
      const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const out: BlobInfo[] = [];
      const walk = async (rel: string) => {
        let entries;
        try {
          entries = await readdir(join(dir, rel), { withFileTypes: true });
        } catch (err) {
          ignoreMissing(err);
          return;
        }
        for (const e of entries) {
          const key = `${rel}${e.name}`;
          if (e.isDirectory()) await walk(`${key}/`);
          else if (e.isFile() && key.startsWith(prefix)) {
            const st = await stat(join(dir, key)).catch(() => null);
            if (st) out.push({ key, size: st.size, uploaded: st.mtime });
          }
        }
      };
      await walk(base);
      return out;
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
  for (const old of all.slice(0, Math.max(0, all.length - retention)))
    await unlink(join(dir, old)).catch(() => undefined);
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
  const out = await Promise.all(
    names.map(async (name) => {
      const st = await stat(join(dir, name));
      return { name, bytes: st.size, created: st.mtime };
    }),
  );
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
