import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildWorker } from '../../scripts/build-worker.mjs';
import { startHranaServer, type HranaServer } from '../../dev/hrana-server.js';
import { PLUGIN_NAMES } from '../../worker/src/plugins/registry.generated.js';
import { pluginDbVar } from '../../worker/src/worker-runtime.js';

/**
 * Workers request budgets (issue 16, ARCHITECTURE "Workers budgets are design limits"): every request,
 * on a cold isolate or a warm one, makes at most 50 libSQL subrequests and never has more than 6 in
 * flight. Counted on the libSQL servers the Worker talks to (core and every plugin database): a count
 * of requests is a structural property of the code, not a timing.
 */
const SUBREQUEST_LIMIT = 50;
const IN_FLIGHT_LIMIT = 6;
/**
 * Issue 11: an agent's hot calls are one libSQL pipeline request each — their reads, and reads and
 * writes, composed into one batch. Counted without the work a committed event starts in the
 * background after the answer: the webhook outbox drain (webhooks/service.ts onEvent) and the plugin
 * host's read of hook flags (plugins/host.ts dispatch; for the shared per-process caches of issue 11),
 * at most one of each.
 */
const HOT_CALL_CEILINGS: Record<string, number> = { 'work poll': 1, 'task claim': 1, 'context put': 1, boot: 2 };
const isEventBackground = (sql: string[]) =>
  sql.length > 0 &&
  (sql.every((q) => /FROM webhook_deliveries WHERE state = 'pending'/.test(q)) ||
    sql.every((q) => /^SELECT name, enabled FROM plugins/.test(q)));
const ADMIN = 'a'.repeat(40);
/**
 * Boot: its own two batches — reads keyed by agent and project, then the savepoint diff, the writes
 * with the agent_boot event, the reads that must see them and the work queue's statements (spec 02
 * §3.4). Counted, like the hot calls above, without the background work its committed event starts.
 */
const BOOT_CEILING = 2;

let dir: string;
let bundle: string;
let servers: HranaServer[] = [];
let bindings: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-budget-'));
  bundle = await buildWorker(join(dir, 'worker.js'));
  mkdirSync(join(dir, 'plugins'));
  const core = await startHranaServer({ dbPath: join(dir, 'core.db'), responseDelayMs: 5 });
  const plugins = await Promise.all(
    PLUGIN_NAMES.map((n) => startHranaServer({ dbPath: join(dir, 'plugins', `${n}.db`), responseDelayMs: 5 })),
  );
  servers = [core, ...plugins];
  bindings = {
    ADMIN_KEY: ADMIN,
    JWT_SECRET: 'j'.repeat(40),
    LIBSQL_URL: core.url,
    LOG_LEVEL: 'error',
    TRUST_PROXY: 'true',
    ...Object.fromEntries(PLUGIN_NAMES.map((n, i) => [pluginDbVar(n), plugins[i].url])),
  };
});
afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const isolate = () =>
  new Miniflare({ modules: true, modulesRoot: dir, scriptPath: bundle, compatibilityDate: '2025-07-01', bindings });

function resetAll() {
  for (const s of servers) s.resetStats();
}
const usage = () => ({
  subrequests: servers.reduce((n, s) => n + s.stats.pipelines, 0),
  inFlight: Math.max(...servers.map((s) => s.stats.maxInFlight)),
  background: servers.reduce((n, s) => n + s.stats.pipelineSql.filter(isEventBackground).length, 0),
});

/**
 * Waits until the libSQL servers have been idle — nothing in flight, no new pipeline — for 250 ms
 * (at most 5 s). A fixed pause was too short on a loaded machine: a background read arriving late was
 * counted against the next call.
 */
async function quiet() {
  const seen = () => servers.reduce((n, s) => n + s.stats.pipelines, 0);
  const busy = () => servers.some((s) => s.stats.inFlight > 0);
  const until = Date.now() + 5_000;
  let last = seen();
  let stableSince = Date.now();
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 25));
    const now = seen();
    if (now !== last || busy()) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 250) return;
  }
}

/** Sends one request, waits for its background work, and returns what it cost. */
async function measure(mf: Miniflare, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  await quiet(); // whatever the previous request (or a setup call) started has ended
  resetAll();
  const res = await mf.dispatchFetch(`http://localhost/api/mycelium${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.9', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  // Background work (events to hooks, webhooks) runs under the request's waitUntil; let it finish
  // before the next call's count starts, or a slow machine spills it into the next window.
  await quiet();
  return { status: res.status, text, ...usage() };
}

describe('Workers request budgets (issue 16)', () => {
  it('cold isolate: the first request (a boot) and the warm hot calls each stay within 50 subrequests and 6 in flight', async () => {
    // Set-up isolate: schema, an agent with work, then gone.
    const setup = isolate();
    const reg = await setup.dispatchFetch('http://localhost/api/mycelium/admin/agents', {
      method: 'POST',
      headers: { 'X-Admin-Key': ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'ada', name: 'Ada', project_id: 'apollo', capabilities: ['code'] }),
    });
    const key = ((await reg.json()) as { api_key: string }).api_key;
    for (let i = 0; i < 5; i++) {
      await setup.dispatchFetch('http://localhost/api/mycelium/tasks', {
        method: 'POST',
        headers: { 'X-Admin-Key': ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify({ title: `t${i}`, project_id: 'apollo' }),
      });
    }
    await setup.dispose();

    const mf = isolate();
    try {
      const agent = { 'X-Agent-Key': key };
      const report: Record<string, { subrequests: number; inFlight: number; background: number }> = {};
      const cold = await measure(mf, 'GET', '/boot/ada', agent);
      expect(cold.status, cold.text).toBe(200);
      report['cold: GET /boot'] = cold;

      const calls: [string, string, string, Record<string, string>, unknown?][] = [
        ['boot', 'GET', '/boot/ada', agent],
        ['heartbeat', 'POST', '/agents/heartbeat', agent, { agent_id: 'ada', status: 'online' }],
        ['work poll', 'GET', '/work/ada', agent],
        ['context put', 'PUT', '/context/keys/ada/note', agent, { data: 'hello' }],
        ['task create', 'POST', '/tasks', agent, { title: 'budgeted', project_id: 'apollo' }],
        ['message', 'POST', '/messages', agent, { to_agent: 'ada', content: 'hi' }],
        ['events', 'GET', '/events?limit=50', agent],
      ];
      for (const [name, method, path, headers, body] of calls) {
        const r = await measure(mf, method, path, headers, body);
        expect(r.status, `${name}: ${r.text}`).toBeLessThan(300);
        report[name] = r;
      }
      const tasks = await mf.dispatchFetch('http://localhost/api/mycelium/tasks?status=open', { headers: agent });
      const open = (await tasks.json()) as { tasks?: { id: number }[] } | { id: number }[];
      const list = Array.isArray(open) ? open : (open.tasks ?? []);
      const claim = await measure(mf, 'POST', `/tasks/${list[0].id}/claim`, agent, {});
      expect(claim.status, claim.text).toBe(200);
      report['task claim'] = claim;

      // The cron trigger is an invocation with the same budget.
      await quiet();
      resetAll();
      const worker = (await mf.getWorker()) as unknown as {
        scheduled(o: { cron: string; scheduledTime: Date }): Promise<unknown>;
      };
      await worker.scheduled({ cron: '* * * * *', scheduledTime: new Date() });
      report['cron (maintenance)'] = usage();

      console.log(
        'Workers libSQL subrequests per request (max in flight):\n' +
          Object.entries(report)
            .map(
              ([k, v]) =>
                `  ${k.padEnd(18)} ${String(v.subrequests).padStart(3)} (${v.inFlight})` +
                (v.background ? ` incl. ${v.background} background (outbox drain, plugin flags)` : ''),
            )
            .join('\n'),
      );
      for (const [name, r] of Object.entries(report)) {
        expect(r.subrequests, `${name} subrequests`).toBeLessThanOrEqual(SUBREQUEST_LIMIT);
        expect(r.inFlight, `${name} in flight`).toBeLessThanOrEqual(IN_FLIGHT_LIMIT);
      }
      for (const [name, ceiling] of Object.entries(HOT_CALL_CEILINGS)) {
        const r = report[name];
        expect(r.subrequests - r.background, `${name}: pipeline requests of the call itself`).toBeLessThanOrEqual(
          ceiling,
        );
        expect(r.background, `${name}: background reads after its event`).toBeLessThanOrEqual(2);
      }
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});

/**
 * Hot agent calls in pipeline requests (issue 11, ARCHITECTURE "an agent's hot call is one pipeline
 * request, boot at most two"): counted on the test libSQL server, warm isolate. A batch of reads,
 * or of reads and writes, is one request.
 */
const ROUND_TRIPS: Record<string, number> = {
  'heartbeat (busy)': 2,
  'heartbeat (idle, dispatch pass)': 2,
  'heartbeat (same state again)': 2,
  'boot (slim)': BOOT_CEILING,
  'boot (smart)': BOOT_CEILING,
  'boot (verbose)': BOOT_CEILING,
};

describe('Workers round trips per hot call (issue 11)', () => {
  it('heartbeat (busy, repeated, idle) ≤ 2 libSQL pipeline requests (1 measured); boot (slim, smart, verbose) ≤ 2', async () => {
    const setup = isolate();
    const reg = await setup.dispatchFetch('http://localhost/api/mycelium/admin/agents', {
      method: 'POST',
      headers: { 'X-Admin-Key': ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'rt-bee', name: 'Bee', project_id: 'apollo', capabilities: ['code'] }),
    });
    const key = ((await reg.json()) as { api_key: string }).api_key;
    for (const body of [
      { title: 'held by bee', project_id: 'apollo', assignee: 'rt-bee' },
      { title: 'open one', project_id: 'apollo' },
    ])
      await setup.dispatchFetch('http://localhost/api/mycelium/tasks', {
        method: 'POST',
        headers: { 'X-Admin-Key': ADMIN, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    await setup.dispatchFetch('http://localhost/api/mycelium/messages', {
      method: 'POST',
      headers: { 'X-Admin-Key': ADMIN, 'Content-Type': 'application/json' },
      body: JSON.stringify({ to_agent: 'rt-bee', content: 'unread news' }),
    });
    await setup.dispose();

    const mf = isolate();
    try {
      const agent = { 'X-Agent-Key': key };
      // Warm the isolate (key cache, plugin state, calibration block) with a first boot.
      const first = await measure(mf, 'GET', '/boot/rt-bee', agent);
      expect(first.status, first.text).toBe(200);
      const busy = { status: 'busy', working_on: 'task 1', session_id: 's', state_snapshot: { step: 1 } };
      const calls: [string, string, string, unknown?][] = [
        ['heartbeat (busy)', 'POST', '/agents/heartbeat', busy],
        ['heartbeat (same state again)', 'POST', '/agents/heartbeat', busy],
        ['heartbeat (idle, dispatch pass)', 'POST', '/agents/heartbeat', { status: 'online', working_on: '' }],
        ['boot (slim)', 'GET', '/boot/rt-bee'],
        ['boot (smart)', 'GET', '/boot/rt-bee?smart=true'],
        ['boot (verbose)', 'GET', '/boot/rt-bee?verbose=true'],
      ];
      const report: Record<string, number> = {};
      for (const [name, method, path, body] of calls) {
        const r = await measure(mf, method, path, agent, body);
        expect(r.status, `${name}: ${r.text}`).toBe(200);
        // The call's own requests; the event's background work (outbox drain, plugin flags) is at most two.
        expect(r.background, `${name}: background reads after its event`).toBeLessThanOrEqual(2);
        report[name] = r.subrequests - r.background;
      }
      console.log(
        'libSQL pipeline requests per hot call (warm isolate):\n' +
          Object.entries(report)
            .map(([k, v]) => `  ${k.padEnd(32)} ${v} (ceiling ${ROUND_TRIPS[k]})`)
            .join('\n'),
      );
      for (const [name, n] of Object.entries(report)) expect(n, name).toBeLessThanOrEqual(ROUND_TRIPS[name]);
    } finally {
      await mf.dispose();
    }
  }, 60_000);
});
