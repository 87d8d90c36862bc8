/**
 * One test harness, two runtimes. API tests call `startTarget()` and talk HTTP to whatever it
 * returns; the vitest project decides which runtime that is (MYCELIUM_TEST_RUNTIME):
 *  - node:   the real Hono app on the Node runtime, a fresh SQLite file per target;
 *  - worker: the bundled Worker (dist/worker.js) inside workerd via Miniflare, its database
 *            reached over the libSQL HTTP protocol (dev/hrana-server.ts) on a fresh file.
 * `t.db` opens the same database file directly, for assertions about what was stored.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Db } from '../../worker/src/db/db.js';
import type { Clock } from '../../worker/src/runtime.js';
import { CORE_DB_FILE } from '../../node-adapter/data-dir.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { startHranaServer } from '../../dev/hrana-server.js';
import { PLUGIN_NAMES } from '../../worker/src/plugins/registry.generated.js';
import { pluginDbVar } from '../../worker/src/worker-runtime.js';

export type RuntimeName = 'node' | 'worker';
export const RUNTIME: RuntimeName = process.env.MYCELIUM_TEST_RUNTIME === 'worker' ? 'worker' : 'node';

export interface CallOptions {
  body?: unknown;
  /** Raw body (sent as is). */
  raw?: BodyInit;
  headers?: Record<string, string>;
  admin?: boolean;
  agentKey?: string;
  token?: string;
  ip?: string;
}

export interface CallResult<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export interface Target {
  runtime: RuntimeName;
  adminKey: string;
  jwtSecret: string;
  dataDir: string;
  /** Direct handle on the same database, for assertions. */
  db: Db;
  /** A real HTTP address (worker targets: workerd's socket), for clients that need one (WebSockets). */
  httpUrl?: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  call<T = any>(method: string, path: string, opts?: CallOptions): Promise<CallResult<T>>;
  /** Waits for background work (event subscribers) to finish. */
  settle(): Promise<void>;
  /** One periodic maintenance pass: Node's timer body, or the Worker's cron trigger (`scheduled`). Resolves when it is done. */
  scheduled(): Promise<void>;
  close(): Promise<void>;
}

export interface TargetOptions {
  env?: Record<string, string>;
  /** Node only: a controllable clock. */
  clock?: Clock;
  /** Node only: the DNS resolver behind the SSRF guard and pinned connections. */
  resolver?: (hostname: string) => Promise<string[]>;
}

const API = '/api/mycelium';

export async function startTarget(opts: TargetOptions = {}): Promise<Target> {
  return RUNTIME === 'worker' ? startWorkerTarget(opts) : startNodeTarget(opts);
}

function secrets() {
  return { adminKey: `test_admin_${randomBytes(20).toString('hex')}`, jwtSecret: randomBytes(32).toString('hex') };
}

function makeCall(fetchFn: Target['fetch'], adminKey: string): Target['call'] {
  return async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.admin) headers['X-Admin-Key'] = adminKey;
    if (o.agentKey) headers['X-Agent-Key'] = o.agentKey;
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    headers['X-Forwarded-For'] ??= o.ip ?? '203.0.113.7';
    let body: BodyInit | undefined = o.raw;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const url =
      path.startsWith('/api/') || path.startsWith('/health') || !path.startsWith('/') ? path : `${API}${path}`;
    const res = await fetchFn(url, { method, headers, body });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, body: parsed as any, text, headers: res.headers };
  };
}

async function startNodeTarget(opts: TargetOptions): Promise<Target> {
  // Loaded here, not at the top: a worker-project file never starts a Node target and would pay
  // for importing the whole app anyway (about 2.5 s per file).
  const [{ loadConfig }, { createApp, prepareDatabase }, { maintenance }, { consoleLogger }, { createNodeRuntime }] =
    await Promise.all([
      import('../../worker/src/config.js'),
      import('../../worker/src/app.js'),
      import('../../worker/src/maintenance.js'),
      import('../../worker/src/runtime.js'),
      import('../../node-adapter/runtime.js'),
    ]);
  const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-test-'));
  const { adminKey, jwtSecret } = secrets();
  const config = loadConfig({ ADMIN_KEY: adminKey, JWT_SECRET: jwtSecret, DATA_DIR: dataDir, ...opts.env });
  const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
  const runtime = createNodeRuntime({
    config,
    log: process.env.MYCELIUM_TEST_LOG ? consoleLogger('debug') : quiet,
    clock: opts.clock,
    resolver: opts.resolver,
  });
  await prepareDatabase(runtime);
  const { app, ctx } = createApp(runtime);
  // Start-up work (the plugin host's boot and its registry writes) is done before a test begins, so
  // a test that records or counts statements sees only its own (writes commit per event-loop turn).
  await runtime.settle();
  const fetchFn = async (path: string, init?: RequestInit) => {
    const req = new Request(`http://localhost${path}`, init);
    return app.fetch(req, { incoming: { socket: { remoteAddress: '127.0.0.1' } } });
  };
  return {
    runtime: 'node',
    adminKey,
    jwtSecret,
    dataDir,
    db: runtime.db,
    fetch: fetchFn,
    call: makeCall(fetchFn, adminKey),
    settle: () => runtime.settle(),
    async scheduled() {
      await maintenance(ctx);
      await runtime.settle();
    },
    async close() {
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startWorkerTarget(opts: TargetOptions): Promise<Target> {
  const { Miniflare } = await import('miniflare');
  const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-wtest-'));
  const dbPath = join(dataDir, CORE_DB_FILE);
  const { adminKey, jwtSecret } = secrets();
  const hrana = await startHranaServer({ dbPath });
  // Each plugin has its own database: one more libSQL server per bundled plugin, at the same
  // path the Node runtime uses (DATA_DIR/plugins/<name>.db), bound as PLUGIN_DB_URL_<NAME>.
  mkdirSync(join(dataDir, 'plugins'), { recursive: true });
  const pluginServers = await Promise.all(
    PLUGIN_NAMES.map((n) => startHranaServer({ dbPath: join(dataDir, 'plugins', `${n}.db`) })),
  );
  const pluginBindings = Object.fromEntries(PLUGIN_NAMES.map((n, i) => [pluginDbVar(n), pluginServers[i].url]));
  const mf = new Miniflare({
    modules: true,
    scriptPath: process.env.MYCELIUM_WORKER_BUNDLE ?? join(process.cwd(), 'dist/worker.js'),
    compatibilityDate: '2025-07-01',
    bindings: {
      ADMIN_KEY: adminKey,
      JWT_SECRET: jwtSecret,
      LIBSQL_URL: hrana.url,
      LOG_LEVEL: 'error',
      ...pluginBindings,
      ...opts.env,
    },
    // Uploads and artifacts: Miniflare's in-memory R2, bound as in wrangler.toml.
    r2Buckets: ['BLOBS'],
    // Durable Objects as in wrangler.toml: event streams are fed by EventHub; the file-drone
    // tunnel's sockets live in FileDroneHubObject, /voice peers in VoiceHubObject.
    durableObjects: { EVENT_HUB: 'EventHub', FILE_DRONES: 'FileDroneHubObject', VOICE_HUB: 'VoiceHubObject' },
  });
  const httpUrl = (await mf.ready).toString().replace(/\/$/, '');
  const direct = new Db(new SqliteFileDriver(dbPath));
  const fetchFn = async (path: string, init?: RequestInit) => {
    // Cloudflare's edge sets CF-Connecting-IP to the client's address; tests name their client
    // with X-Forwarded-For, so play the edge's part unless the test sets the header itself.
    const headers = new Headers(init?.headers);
    const forwarded = headers.get('x-forwarded-for');
    if (!headers.has('cf-connecting-ip') && forwarded) headers.set('cf-connecting-ip', forwarded.split(',')[0].trim());
    const res = await mf.dispatchFetch(`http://localhost${path}`, { ...init, headers } as never);
    return res as unknown as Response;
  };
  return {
    runtime: 'worker',
    adminKey,
    jwtSecret,
    dataDir,
    db: direct,
    httpUrl,
    fetch: fetchFn,
    call: makeCall(fetchFn, adminKey),
    // Background work runs under the request's waitUntil; a short pause lets it finish.
    settle: () => new Promise((r) => setTimeout(r, 50)),
    async scheduled() {
      // Miniflare resolves once the handler and its waitUntil work have finished.
      const worker = (await mf.getWorker()) as unknown as {
        scheduled(o: { cron: string; scheduledTime: Date }): Promise<unknown>;
      };
      await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date() });
    },
    async close() {
      await mf.dispose();
      await direct.close();
      await hrana.close();
      for (const ps of pluginServers) await ps.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
