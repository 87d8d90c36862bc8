import type { Config } from './config.js';
import type { Db } from './db/db.js';
import type { MyceliumEvent } from './domain/events/bus.js';
import type { HubStreamRequest } from './domain/events/hub.js';
import type { Argon2idDerive } from './auth/passwords.js';
import type { VoicePort } from './domain/voice/hub.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A stored blob as listed by `BlobStore.list` (for sweeps of blobs without a row). */
export interface BlobInfo {
  key: string;
  size: number;
  /** When the blob was last written (file mtime on Node, R2 `uploaded`). */
  uploaded: Date;
}

/** Thrown by `putStream` past its size limit; nothing of the blob is left behind. */
export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`blob exceeds ${maxBytes} bytes`);
  }
}

/**
 * Opaque byte storage (uploads, artifacts): a folder on Node, R2 on Workers. Keys are always
 * chosen by the server (`<area>/<id or uuid>`), never taken from a client, so a key cannot
 * name anything outside the store.
 */
export interface BlobStore {
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
  /**
   * Streams `data` into `key`, at most `maxBytes` (else BlobTooLargeError). The blob appears
   * whole or not at all: a failed or refused upload leaves nothing under `key`.
   */
  putStream(key: string, data: ReadableStream<Uint8Array>, maxBytes: number): Promise<{ size: number }>;
  /** The blob as a stream with its size, or null when absent. */
  getStream(key: string): Promise<{ body: ReadableStream<Uint8Array>; size: number } | null>;
  /** Every blob whose key starts with `prefix` (sweeps compare these with the rows that own them). */
  list(prefix: string): Promise<BlobInfo[]>;
}

/**
 * The file-drone tunnel (spec 05 §11): where the drones' sockets live. In-process on Node; on
 * Workers a Durable Object. Errors are `TunnelError`s (no drone → 503, failure → 504).
 */
export interface FileDroneTunnel {
  status(droneId?: string): Promise<Record<string, unknown>>;
  request(droneId: string | undefined, type: string, params: Record<string, unknown>): Promise<unknown>;
  download(
    droneId: string | undefined,
    type: 'file_download' | 'folder_download',
    params: Record<string, unknown>,
  ): Promise<Response>;
}

export interface Clock {
  now(): Date;
}

/**
 * One live place that pushes committed events to open streams (a Durable Object on Workers). Where a
 * runtime has none, each stream reads the events table by cursor itself (Node: cheap local reads,
 * and it works across processes).
 */
export interface EventHubPort {
  open(req: HubStreamRequest): Promise<Response>;
  /** A write committed; `live` are the events that have no row (liveness). */
  wake(live: MyceliumEvent[]): Promise<void>;
}

/**
 * What the portable app needs from wherever it runs. Built by an adapter, passed to createApp.
 * Differences between Node and Workers are capability fields (`lifetime`, `crossRequestWake`,
 * `remoteDb`, optional ports), never a runtime name to branch on.
 */
export interface Runtime {
  config: Config;
  db: Db;
  /** Each plugin's own database (a separate SQLite file on Node, its own libSQL database on Workers). */
  pluginDb(name: string): Promise<Db>;
  /**
   * Why plugin `name` cannot have its database here, or null when it can. Node always can (a file in
   * DATA_DIR); Workers needs a `PLUGIN_DB_URL_<NAME>` binding, and enabling a plugin without one is
   * refused rather than left to fail every request it guards.
   */
  pluginDbProblem(name: string): string | null;
  blobs: BlobStore;
  /** Absent where the runtime has no place for the drones' sockets (the routes answer 501). */
  fileDrones?: FileDroneTunnel;
  /** Where `/voice` peers live (Node: in process; Workers: the VOICE_HUB Durable Object); absent → 501. */
  voice?: VoicePort;
  clock: Clock;
  log: Logger;
  /** Keeps background work (webhooks, hooks) alive after the response on Workers; fire-and-forget on Node. */
  waitUntil(p: Promise<unknown>): void;
  /** The TCP peer address of a request, when the adapter knows it (used when proxies are not trusted). */
  peerAddress(req: Request, env: unknown): string | undefined;
  /**
   * Reads the body of a request the adapter itself received, chunk by chunk (`onChunk` may throw to
   * stop), when that is cheaper than `req.body` (Node: straight from the IncomingMessage). Undefined
   * when it cannot (absent, or a request it did not receive): the pipeline then reads `req.body`.
   */
  readBody?(req: Request, onChunk: (chunk: Uint8Array) => void): Promise<void> | undefined;
  /**
   * SHA-256 of a short text as hex, synchronously, where the adapter has a native digest (Node:
   * `node:crypto`, ~1 µs for an agent key against ~3 µs for the portable JS one; issue 11: every
   * agent call hashes its key). Absent → `sha256HexSync` (auth/crypto.ts). Same digest either way.
   */
  sha256Hex?(text: string): string;
  /** Online, verified copy of the database (Node only). */
  backup?(): Promise<{ file: string; bytes: number }>;
  /** Backups on disk, newest first (Node only; `GET /admin/backups`). */
  listBackups?(): Promise<{ name: string; bytes: number; created: Date }[]>;
  /** Process start time (Node) or isolate start time (Workers), for uptime. */
  startedAt: number;
  /**
   * What `startedAt` measures: a process that lives until it is stopped (Node), or an isolate the
   * platform starts and evicts at will (Workers), whose age says nothing about the service's uptime.
   */
  lifetime: 'process' | 'isolate';
  /**
   * Whether one request may resume work another request awaits (resolve its promise). Node: yes.
   * workerd refuses it, so there each request waits only on its own I/O and timers.
   */
  crossRequestWake: boolean;
  /**
   * Each database call is a network round trip (libSQL over HTTP on Workers): reads a call issues
   * together are worth sending as one batch. Absent on Node, where the file is local.
   */
  remoteDb?: boolean;
  /**
   * How long background work may run after its response (Workers keep a request's waitUntil alive
   * ~30 s); absent where it runs until done (Node).
   */
  backgroundBudgetMs?: number;
  /**
   * Optional DNS lookup (all A/AAAA addresses) for the SSRF guard; where present, names that
   * resolve to internal addresses are refused (http/ssrf.ts). Absent on Workers.
   */
  resolveHost?(hostname: string): Promise<string[]>;
  /** Present where streams are fed by push instead of per-stream polling (Workers with EVENT_HUB). */
  eventHub?: EventHubPort;
  /**
   * Optional fetch whose connections are pinned: the DNS answer the socket connects to is the
   * one checked against the SSRF guard (Node: a custom lookup on the HTTP agent). Absent on
   * Workers, where the platform's fetch resolves and connects (see SECURITY.md).
   */
  pinnedFetch?: typeof fetch;
  /**
   * argon2id off the request thread (Node: a worker_threads pool with a bounded queue, so password
   * checks cannot starve other requests). Absent on Workers: hashing stays in the isolate.
   */
  argon2id?: Argon2idDerive;
  /** Resident memory in MB, or null where the runtime cannot measure it (Workers). */
  memoryUsageMb(): number | null;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One-line logger: `<iso> <level> <msg> k=v …`, to console (stdout/stderr on Node, tail on Workers). */
export function consoleLogger(level: LogLevel = 'info', sink: Pick<Console, 'log' | 'error'> = console): Logger {
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const extra = fields
      ? ' ' +
        Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ')
      : '';
    const line = `${new Date().toISOString()} ${lvl.toUpperCase()} ${msg}${extra}`;
    if (lvl === 'error' || lvl === 'warn') sink.error(line);
    else sink.log(line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

export const systemClock: Clock = { now: () => new Date() };
