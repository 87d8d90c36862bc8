import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildWorker } from '../../scripts/build-worker.mjs';
import { startHranaServer, type HranaServer } from '../../dev/hrana-server.js';
import { PLUGIN_NAMES } from '../../worker/src/plugins/registry.generated.js';
import { pluginDbVar } from '../../worker/src/worker-runtime.js';
import { FALLBACK_POLL_MS } from '../../worker/src/domain/events/hub.js';

/**
 * Issue 16 "push without polling": on Workers the EventHub Durable Object feeds every open stream.
 * Idle streams cost the database one safety read per second for the whole instance (not one poll
 * loop per stream), a write reaches the streams at once, and when the last client leaves all
 * reads stop. Counted on the libSQL server the Worker talks to.
 */
const ADMIN = 'a'.repeat(40);
let dir: string;
let core: HranaServer;
const others: HranaServer[] = [];
let mf: Miniflare;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-hub-'));
  const bundle = await buildWorker(join(dir, 'worker.js'));
  mkdirSync(join(dir, 'plugins'));
  core = await startHranaServer({ dbPath: join(dir, 'core.db') });
  const pluginBindings: Record<string, string> = {};
  for (const n of PLUGIN_NAMES) {
    const s = await startHranaServer({ dbPath: join(dir, 'plugins', `${n}.db`) });
    others.push(s);
    pluginBindings[pluginDbVar(n)] = s.url;
  }
  mf = new Miniflare({
    modules: true,
    modulesRoot: dir,
    scriptPath: bundle,
    compatibilityDate: '2025-07-01',
    bindings: {
      ADMIN_KEY: ADMIN,
      JWT_SECRET: 'j'.repeat(40),
      LIBSQL_URL: core.url,
      LOG_LEVEL: 'error',
      TRUST_PROXY: 'true',
      ...pluginBindings,
    },
    durableObjects: { EVENT_HUB: 'EventHub' },
  });
  await mf.ready;
});
afterAll(async () => {
  await mf?.dispose();
  await core?.close();
  for (const s of others) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface OpenStream {
  text: () => string;
  close: () => Promise<void>;
}

async function openStream(ip: string): Promise<OpenStream> {
  const res = await mf.dispatchFetch('http://localhost/api/mycelium/events/stream?type=hub.test', {
    headers: { 'X-Admin-Key': ADMIN, 'X-Forwarded-For': ip },
  });
  expect(res.status).toBe(200);
  const reader = (res.body as unknown as ReadableStream<Uint8Array>).getReader();
  const dec = new TextDecoder();
  let text = '';
  let done = false;
  const pump = (async () => {
    while (!done) {
      const r = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (r.done) break;
      text += dec.decode(r.value, { stream: true });
    }
  })();
  return {
    text: () => text,
    async close() {
      done = true;
      await reader.cancel().catch(() => undefined);
      await pump;
    },
  };
}

async function until(pred: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(20);
  return pred();
}

describe('EventHub Durable Object (issue 16)', () => {
  it('10 idle streams cost one safety read a second in all; a write reaches every stream; the last leaving stops all reads', async () => {
    await mf.dispatchFetch('http://localhost/health');
    const streams = await Promise.all(Array.from({ length: 10 }, (_, i) => openStream(`203.0.113.${i + 1}`)));
    await sleep(300);

    core.resetStats();
    const idleMs = 3000;
    await sleep(idleMs);
    const idleReads = core.stats.pipelines;
    // Per-stream polling (the fallback without a hub) would be ~10 streams × 2.5/s × 3 s = 75.
    expect(idleReads).toBeLessThanOrEqual(Math.ceil(idleMs / FALLBACK_POLL_MS) + 2);

    const posted = await mf.dispatchFetch('http://localhost/api/mycelium/events', {
      method: 'POST',
      headers: { 'X-Admin-Key': ADMIN, 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.99' },
      body: JSON.stringify({ type: 'hub.test', summary: 'pushed' }),
    });
    expect(posted.status).toBe(200);
    expect(await until(() => streams.every((s) => s.text().includes('"summary":"pushed"')), 1500)).toBe(true);

    for (const s of streams) await s.close();
    // A stream learns its client left on the hub's next write to it (at most a tick or two).
    await sleep(3 * FALLBACK_POLL_MS + 500);
    core.resetStats();
    await sleep(2 * FALLBACK_POLL_MS + 200);
    expect(core.stats.pipelines).toBe(0);
  }, 30_000);
});
