import { loadConfig, type Env } from './config.js';
import { Db } from './db/db.js';
import { LibsqlHttpDriver } from './db/libsql-http-driver.js';
import { consoleLogger, systemClock, type BlobStore, type Runtime } from './runtime.js';
import { eventHubClient, type DurableObjectNamespaceLike } from './event-hub.js';

/** Minimal shape of an R2 bucket binding (only what the blob store uses). */
interface R2BucketLike {
  put(key: string, value: Uint8Array): Promise<unknown>;
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
  delete(key: string): Promise<void>;
}

export type WorkerEnv = Env & { BLOBS?: R2BucketLike; EVENT_HUB?: DurableObjectNamespaceLike };

/** Name of the binding holding a plugin's own libSQL URL, e.g. PLUGIN_DB_URL_COST_TRACKER. */
export const pluginDbVar = (name: string) => `PLUGIN_DB_URL_${name.toUpperCase().replace(/-/g, '_')}`;
export const pluginDbTokenVar = (name: string) => `PLUGIN_DB_TOKEN_${name.toUpperCase().replace(/-/g, '_')}`;

/**
 * Workers runtime: libSQL over HTTP, R2 for blobs, background work collected per isolate and
 * handed to the request's `waitUntil` by the entry point.
 */
export function createWorkerRuntime(env: WorkerEnv) {
  const config = loadConfig(env);
  if (!config.libsqlUrl) throw new Error('LIBSQL_URL is not set');
  const log = consoleLogger(config.logLevel);
  const pending = new Set<Promise<unknown>>();
  const pluginDbs = new Map<string, Db>();

  const runtime: Runtime & { drain(): Promise<void> } = {
    kind: 'workers',
    config,
    db: new Db(new LibsqlHttpDriver(config.libsqlUrl, config.libsqlAuthToken)),
    async pluginDb(name) {
      let db = pluginDbs.get(name);
      if (!db) {
        const url = env[pluginDbVar(name)];
        if (typeof url !== 'string' || !url) throw new Error(`${pluginDbVar(name)} is not set: plugin ${name} has no database`);
        const token = env[pluginDbTokenVar(name)];
        db = new Db(new LibsqlHttpDriver(url, typeof token === 'string' ? token : config.libsqlAuthToken));
        pluginDbs.set(name, db);
      }
      return db;
    },
    pluginDbProblem(name) {
      const url = env[pluginDbVar(name)];
      return typeof url === 'string' && url ? null : `the ${pluginDbVar(name)} binding is not set (plugin ${name} needs its own libSQL database)`;
    },
    blobs: r2Blobs(env.BLOBS),
    clock: systemClock,
    log,
    waitUntil(p) {
      const tracked: Promise<unknown> = p
        .catch((err) => log.error('background task failed', { error: (err as Error).message }))
        .finally(() => pending.delete(tracked));
      pending.add(tracked);
    },
    peerAddress(req) {
      return req.headers.get('cf-connecting-ip') ?? undefined;
    },
    startedAt: Date.now(),
    lifetime: 'isolate',
    eventHub: env.EVENT_HUB ? eventHubClient(env.EVENT_HUB) : undefined,
    memoryUsageMb: () => null,
    async drain() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
  return runtime;
}

function r2Blobs(bucket: R2BucketLike | undefined): BlobStore {
  const need = () => {
    if (!bucket) throw new Error('BLOBS (R2 bucket) binding is not configured');
    return bucket;
  };
  return {
    async put(key, data) {
      await need().put(key, data);
    },
    async get(key) {
      const obj = await need().get(key);
      return obj ? new Uint8Array(await obj.arrayBuffer()) : null;
    },
    async delete(key) {
      await need().delete(key);
    },
  };
}
