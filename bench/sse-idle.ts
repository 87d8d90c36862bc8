/**
 * Database requests per minute made by idle SSE clients (issue 16), on each runtime:
 *  - Node: the real app on @hono/node-server, its core database wrapped to count statements;
 *  - Workers: the bundle in workerd (Miniflare), libSQL over HTTP to the Hrana dev server, counted
 *    there — with the EventHub Durable Object bound (production) and without (fallback polling).
 *
 *   npx tsx bench/sse-idle.ts                 # 100 clients, 10 s measured after a 3 s settle
 *   BENCH_CLIENTS=20 BENCH_SECONDS=5 npx tsx bench/sse-idle.ts
 *
 * Bounded: every client and server is closed at the end; a watchdog exits after 3 minutes.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Miniflare } from 'miniflare';
import { loadConfig } from '../worker/src/config.js';
import { loadApp } from './load-app.js';
import { Db } from '../worker/src/db/db.js';
import type { DbDriver } from '../worker/src/db/types.js';
import { consoleLogger } from '../worker/src/runtime.js';
import { inProcessEventHub } from '../worker/src/domain/events/hub.js';
import { createNodeRuntime, CORE_DB_FILE } from '../node-adapter/runtime.js';
import { SqliteFileDriver } from '../node-adapter/sqlite-driver.js';
import { buildWorker } from '../scripts/build-worker.mjs';
import { startHranaServer, type HranaServer } from '../dev/hrana-server.js';
import { PLUGIN_NAMES } from '../worker/src/plugins/registry.generated.js';
import { pluginDbVar } from '../worker/src/worker-runtime.js';

const { createApp, prepareDatabase } = await loadApp();

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SETTLE_MS = 3_000;
const ADMIN = `bench_admin_${randomBytes(20).toString('hex')}`;
const JWT = randomBytes(32).toString('hex');

const watchdog = setTimeout(() => {
  console.error('bench: watchdog fired after 3 minutes');
  process.exit(2);
}, 180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Opens N streams (5 per client address, the per-IP cap) and returns a function that closes them. */
async function openClients(origin: string, n: number) {
  const aborts: AbortController[] = [];
  for (let i = 0; i < n; i++) {
    const ac = new AbortController();
    aborts.push(ac);
    const res = await fetch(`${origin}/api/mycelium/events/stream`, {
      headers: { 'X-Admin-Key': ADMIN, 'X-Forwarded-For': `198.51.100.${Math.floor(i / 5) + 1}` },
      signal: ac.signal,
    });
    if (res.status !== 200) throw new Error(`stream ${i}: ${res.status} ${await res.text()}`);
    // Drain in the background so the server never blocks on a full buffer.
    void (async () => {
      const reader = res.body!.getReader();
      for (;;) {
        const r = await reader.read().catch(() => ({ done: true }));
        if (r.done) break;
      }
    })();
  }
  return () => {
    for (const a of aborts) a.abort();
  };
}

async function measureNode(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-sse-bench-'));
  const config = loadConfig({
    ADMIN_KEY: ADMIN,
    JWT_SECRET: JWT,
    DATA_DIR: dataDir,
    TRUST_PROXY: 'true',
    LOG_LEVEL: 'error',
  });
  const runtime = createNodeRuntime({ config, log: consoleLogger('error') });
  let statements = 0;
  const inner = new SqliteFileDriver(join(dataDir, CORE_DB_FILE));
  const counting: DbDriver = {
    execute: (s) => {
      statements++;
      return inner.execute(s);
    },
    batch: (s) => {
      statements += s.length;
      return inner.batch(s);
    },
    transaction: (fn) =>
      inner.transaction((tx) =>
        fn({
          execute: (s) => {
            statements++;
            return tx.execute(s);
          },
        }),
      ),
    close: () => inner.close(),
  };
  const countedDb = new Db(counting);
  (runtime as { db: Db }).db = countedDb;
  runtime.eventHub = inProcessEventHub(countedDb);
  await prepareDatabase(runtime);
  const { app } = createApp(runtime);
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const close = await openClients(`http://127.0.0.1:${port}`, CLIENTS);
  await sleep(SETTLE_MS);
  const before = statements;
  await sleep(SECONDS * 1000);
  const perMinute = ((statements - before) * 60) / SECONDS;
  close();
  await sleep(300);
  server.close();
  await runtime.close();
  rmSync(dataDir, { recursive: true, force: true });
  return perMinute;
}

async function measureWorker(withHub: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-sse-wbench-'));
  const bundle = await buildWorker(join(dir, 'worker.js'));
  mkdirSync(join(dir, 'plugins'));
  const core = await startHranaServer({ dbPath: join(dir, 'core.db') });
  const plugins: HranaServer[] = [];
  const bindings: Record<string, string> = {
    ADMIN_KEY: ADMIN,
    JWT_SECRET: JWT,
    LIBSQL_URL: core.url,
    LOG_LEVEL: 'error',
    TRUST_PROXY: 'true',
  };
  for (const n of PLUGIN_NAMES) {
    const s = await startHranaServer({ dbPath: join(dir, 'plugins', `${n}.db`) });
    plugins.push(s);
    bindings[pluginDbVar(n)] = s.url;
  }
  const mf = new Miniflare({
    modules: true,
    modulesRoot: dir,
    scriptPath: bundle,
    compatibilityDate: '2025-07-01',
    bindings,
    ...(withHub ? { durableObjects: { EVENT_HUB: 'EventHub' } } : {}),
  });
  const url = await mf.ready;
  await fetch(new URL('/health', url));
  const close = await openClients(url.origin, CLIENTS);
  await sleep(SETTLE_MS);
  core.resetStats();
  await sleep(SECONDS * 1000);
  const perMinute = (core.stats.pipelines * 60) / SECONDS;
  close();
  await mf.dispose();
  await core.close();
  for (const p of plugins) await p.close();
  rmSync(dir, { recursive: true, force: true });
  return perMinute;
}

const node = await measureNode();
const hub = await measureWorker(true);
const polling = await measureWorker(false);
clearTimeout(watchdog);

console.log(
  `\n${CLIENTS} idle SSE clients, database requests per minute (measured over ${SECONDS} s after a ${SETTLE_MS / 1000} s settle)\n`,
);
console.log('| runtime | how streams are fed | database requests / min |');
console.log('|---|---|---:|');
console.log(
  `| Node | the in-process hub, woken by the bus; one safety read every 400 ms per process | ${Math.round(node)} statements |`,
);
console.log(
  `| Workers, EVENT_HUB bound | Durable Object pushes; one safety read a second per instance | ${Math.round(hub)} libSQL requests |`,
);
console.log(
  `| Workers, no EVENT_HUB | each stream polls libSQL by cursor (fallback) | ${Math.round(polling)} libSQL requests |`,
);
process.exit(0);
