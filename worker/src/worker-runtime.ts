import { loadConfig, type Env } from './config.js';
import { Db } from './db/db.js';
import { LibsqlHttpDriver } from './db/libsql-http-driver.js';
import {
  BlobTooLargeError,
  consoleLogger,
  systemClock,
  type BlobInfo,
  type BlobStore,
  type Runtime,
} from './runtime.js';
import { unavailable } from './http/errors.js';
import { durableObjectTunnel } from './file-drone-object.js';
import { eventHubClient, type DurableObjectNamespaceLike } from './event-hub.js';
import { durableObjectVoice } from './voice-object.js';

/** Minimal shape of an R2 bucket binding (only what the blob store uses). */
interface R2ObjectLike {
  key: string;
  size: number;
  uploaded: Date;
}
interface R2MultipartUploadLike {
  uploadPart(partNumber: number, value: Uint8Array): Promise<{ partNumber: number; etag: string }>;
  complete(parts: { partNumber: number; etag: string }[]): Promise<unknown>;
  abort(): Promise<void>;
}
interface R2BucketLike {
  put(key: string, value: Uint8Array): Promise<unknown>;
  get(
    key: string,
  ): Promise<(R2ObjectLike & { body: ReadableStream<Uint8Array>; arrayBuffer(): Promise<ArrayBuffer> }) | null>;
  delete(key: string): Promise<void>;
  list(o: {
    prefix: string;
    cursor?: string;
    limit?: number;
  }): Promise<{ objects: R2ObjectLike[]; truncated: boolean; cursor?: string }>;
  createMultipartUpload(key: string): Promise<R2MultipartUploadLike>;
}

export type WorkerEnv = Env & {
  BLOBS?: R2BucketLike;
  EVENT_HUB?: DurableObjectNamespaceLike;
  FILE_DRONES?: Parameters<typeof durableObjectTunnel>[0];
  VOICE_HUB?: Parameters<typeof durableObjectVoice>[0];
};

/** Name of the binding holding a plugin's own libSQL URL, e.g. PLUGIN_DB_URL_COST_TRACKER. */
export const pluginDbVar = (name: string) => `PLUGIN_DB_URL_${name.toUpperCase().replace(/-/g, '_')}`;
const pluginDbTokenVar = (name: string) => `PLUGIN_DB_TOKEN_${name.toUpperCase().replace(/-/g, '_')}`;

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

  const fileDrones = env.FILE_DRONES ? durableObjectTunnel(env.FILE_DRONES) : undefined;
  const voice = env.VOICE_HUB ? durableObjectVoice(env.VOICE_HUB) : undefined;

  const runtime: Runtime & {
    drain(): Promise<void>;
    fileDroneTunnel?: typeof fileDrones;
    voiceHub?: typeof voice;
  } = {
    config,
    db: new Db(new LibsqlHttpDriver(config.libsqlUrl, config.libsqlAuthToken)),
    async pluginDb(name) {
      let db = pluginDbs.get(name);
      if (!db) {
        const url = env[pluginDbVar(name)];
        if (typeof url !== 'string' || !url)
          throw new Error(`${pluginDbVar(name)} is not set: plugin ${name} has no database`);
        const token = env[pluginDbTokenVar(name)];
        db = new Db(new LibsqlHttpDriver(url, typeof token === 'string' ? token : config.libsqlAuthToken));
        pluginDbs.set(name, db);
      }
      return db;
    },
    pluginDbProblem(name) {
      const url = env[pluginDbVar(name)];
      return typeof url === 'string' && url
        ? null
        : `the ${pluginDbVar(name)} binding is not set (plugin ${name} needs its own libSQL database)`;
    },
    blobs: r2Blobs(env.BLOBS),
    fileDrones,
    fileDroneTunnel: fileDrones,
    voice,
    voiceHub: voice,
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
    crossRequestWake: false,
    remoteDb: true,
    backgroundBudgetMs: 30_000,
    eventHub: env.EVENT_HUB ? eventHubClient(env.EVENT_HUB) : undefined,
    memoryUsageMb: () => null,
    async drain() {
      while (pending.size) await Promise.allSettled([...pending]);
    },
  };
  return runtime;
}

/**
 * R2 needs a known length for a streamed put, and an upload's length is known only at its end.
 * So bytes are gathered into equal parts (R2 requires every part but the last to be the same
 * size) and sent as a multipart upload; a blob smaller than one part is a single put. Memory
 * stays at one part per upload; an upload past its limit is aborted and leaves nothing.
 */
const R2_PART_BYTES = 8 * 1024 * 1024;

function r2Blobs(bucket: R2BucketLike | undefined, partBytes = R2_PART_BYTES): BlobStore {
  const need = () => {
    if (!bucket) throw unavailable('File storage is not configured: bind an R2 bucket as BLOBS (see wrangler.toml)');
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
    async putStream(key, data, maxBytes) {
      const b = need();
      const reader = data.getReader();
      let part = new Uint8Array(partBytes);
      let fill = 0;
      let size = 0;
      let upload: R2MultipartUploadLike | null = null;
      const parts: { partNumber: number; etag: string }[] = [];
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.length;
          if (size > maxBytes) throw new BlobTooLargeError(maxBytes);
          let off = 0;
          while (off < value.length) {
            const n = Math.min(partBytes - fill, value.length - off);
            part.set(value.subarray(off, off + n), fill);
            fill += n;
            off += n;
            if (fill === partBytes) {
              upload ??= await b.createMultipartUpload(key);
              parts.push(await upload.uploadPart(parts.length + 1, part));
              part = new Uint8Array(partBytes);
              fill = 0;
            }
          }
        }
        if (!upload) {
          await b.put(key, part.slice(0, fill));
        } else {
          if (fill > 0) parts.push(await upload.uploadPart(parts.length + 1, part.slice(0, fill)));
          await upload.complete(parts);
        }
        return { size };
      } catch (err) {
        await reader.cancel().catch(() => undefined);
        if (upload) await upload.abort().catch(() => undefined);
        throw err;
      }
    },
    async getStream(key) {
      const obj = await need().get(key);
      return obj ? { body: obj.body, size: obj.size } : null;
    },
    async list(prefix) {
      const out: BlobInfo[] = [];
      let cursor: string | undefined;
      do {
        const page = await need().list({ prefix, cursor, limit: 1000 });
        for (const o of page.objects) out.push({ key: o.key, size: o.size, uploaded: new Date(o.uploaded) });
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor);
      return out;
    },
  };
}
