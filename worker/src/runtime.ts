import type { Config } from './config.js';
import type { Db } from './db/db.js';
import type { Argon2idDerive } from './auth/passwords.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** Opaque byte storage (uploads, artifacts): a folder on Node, R2 on Workers. */
export interface BlobStore {
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  delete(key: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/** What the portable app needs from wherever it runs. Built by an adapter, passed to createApp. */
export interface Runtime {
  kind: 'node' | 'workers';
  config: Config;
  db: Db;
  /** Each plugin's own database (a separate SQLite file on Node, its own libSQL database on Workers). */
  pluginDb(name: string): Promise<Db>;
  blobs: BlobStore;
  clock: Clock;
  log: Logger;
  /** Keeps background work (webhooks, hooks) alive after the response on Workers; fire-and-forget on Node. */
  waitUntil(p: Promise<unknown>): void;
  /** The TCP peer address of a request, when the adapter knows it (used when proxies are not trusted). */
  peerAddress(req: Request, env: unknown): string | undefined;
  /** Online, verified copy of the database (Node only). */
  backup?(): Promise<{ file: string; bytes: number }>;
  /** Backups on disk, newest first (Node only; `GET /admin/backups`). */
  listBackups?(): Promise<{ name: string; bytes: number; created: Date }[]>;
  /** Process start time, for uptime. */
  startedAt: number;
  /**
   * Optional DNS lookup (all A/AAAA addresses) for the SSRF guard; where present, names that
   * resolve to internal addresses are refused (http/ssrf.ts). Absent on Workers.
   */
  resolveHost?(hostname: string): Promise<string[]>;
  /**
   * argon2id off the request thread (Node: a worker_threads pool with a bounded queue, so password
   * checks cannot starve other requests). Absent on Workers: hashing stays in the isolate.
   */
  argon2id?: Argon2idDerive;
  /** Resident memory in MB where the runtime can tell. */
  memoryUsageMb(): number;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** One-line logger: `<iso> <level> <msg> k=v …`, to console (stdout/stderr on Node, tail on Workers). */
export function consoleLogger(level: LogLevel = 'info', sink: Pick<Console, 'log' | 'error'> = console): Logger {
  const write = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const extra = fields
      ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
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
