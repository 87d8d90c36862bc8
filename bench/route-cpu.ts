/**
 * CPU per call of the hot agent writes and the work poll, in process (issue 11): the app built as
 * the Node adapter builds it, a database seeded like bench/coordination.ts (50 agents in 5
 * projects, 1,000 tasks, plans, bugs, one message and one request per agent), `app.fetch` called
 * sequentially, background work (webhook outbox drains, hooks) awaited after every call so it is
 * counted, and `process.cpuUsage()` around each round. No sockets: what is left is our code and
 * SQLite, the part of a request a route can change.
 *
 *   npx tsx bench/route-cpu.ts                        # 3 rounds of 1,500 calls per route
 *   BENCH_CALLS=3000 BENCH_ROUNDS=5 npx tsx bench/route-cpu.ts
 *   BENCH_ONLY=claim,context npx tsx bench/route-cpu.ts
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/route-cpu.ts
 *   BENCH_FRAMES=1 npx tsx bench/route-cpu.ts         # + WAL pages written per call (commit size)
 *   BENCH_AUTOCKPT=10000 npx tsx bench/route-cpu.ts   # another wal_autocheckpoint on the app's connection
 *   BENCH_CONCURRENCY=16 npx tsx bench/route-cpu.ts  # 16 calls in flight (group commit shares commits)
 *   BENCH_KEEP=1 npx tsx bench/route-cpu.ts           # keep the data folder (replay statements on it)
 *   BENCH_AGENTS=10000 BENCH_ONLY=boot npx tsx bench/route-cpu.ts   # growth: calls rotate over the first 50
 *   BENCH_HISTORY=1000000 npx tsx bench/route-cpu.ts  # growth: a month of events and messages already held
 *   BENCH_HISTORY=200000 BENCH_ONLY=messages,messages_to,threads,events npx tsx bench/route-cpu.ts   # the agent-facing listings
 *   BENCH_STMTS=1 BENCH_ONLY=work npx tsx bench/route-cpu.ts    # + wall µs per call of each SQL statement, costliest first
 *   BENCH_STMTS=1 BENCH_STMTS_DUMP=/tmp/s.json BENCH_KEEP=1 …   # + the statements with their last arguments, as JSON
 *
 * Bounded: a fixed number of calls, a temporary data folder removed at the end. Rounds of the
 * routes are interleaved so a neighbour's load spreads over all of them; the minimum of the
 * rounds is reported beside the median (the least disturbed measurement).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { CORE_DB_FILE, createNodeRuntime } from '../node-adapter/runtime.js';
import { createApp, prepareDatabase } from '../worker/src/app.js';
import { loadConfig } from '../worker/src/config.js';
import { consoleLogger } from '../worker/src/runtime.js';
import { type BenchAgent, seedDatabase } from './seed.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 1_500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Calls in flight at once (default 1: one after the other, background work awaited after each). */
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const TASKS = Number(process.env.BENCH_TASKS ?? 1_000);
/** Past events (and a third as many messages) over the last 30 days: growth of the append-only logs. */
const HISTORY = Number(process.env.BENCH_HISTORY ?? 0);
/** The agents the calls rotate over (the seed gives the first 50 work and mail; the rest are the crowd). */
const ACTIVE = Math.min(AGENTS, 50);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : null;
const ADMIN = `bench_admin_${randomBytes(24).toString('hex')}`;

const dir = mkdtempSync(join(tmpdir(), 'mycelium-route-cpu-'));
const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
const runtime = createNodeRuntime({
  config: loadConfig({ ADMIN_KEY: ADMIN, JWT_SECRET: randomBytes(32).toString('hex'), DATA_DIR: dir }),
  log: quiet,
});
await prepareDatabase(runtime);
// The same shape of data as bench/coordination.ts seeds (one seed for every bench), written before
// the app starts: its start-up writes hold a group commit open until the end of their turn.
const { agents, claimable } = seedDatabase(join(dir, CORE_DB_FILE), { agents: AGENTS, tasks: TASKS, history: HISTORY });
const { app } = createApp(runtime);
const byProject = new Map<string, BenchAgent[]>();
for (const a of agents) byProject.set(a.project, [...(byProject.get(a.project) ?? []), a]);

async function call(method: string, path: string, key: string, body?: unknown): Promise<number> {
  const res = await app.fetch(
    new Request(`http://127.0.0.1/api/mycelium${path}`, {
      method,
      headers: {
        'x-agent-key': key,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  await res.arrayBuffer();
  return res.status;
}

/** A claimed task goes back to the pool between rounds (outside the timed part). */
const reset = new Database(join(dir, CORE_DB_FILE));
reset.exec('PRAGMA busy_timeout = 5000');
function reopenClaimable() {
  const ids = claimable.map((t) => t.id);
  reset
    .prepare(`UPDATE tasks SET status = 'open', assignee = NULL, lease_token = NULL WHERE id IN (${ids.join(',')})`)
    .run();
}

const routes: Record<string, (i: number) => Promise<number>> = {
  heartbeat_busy: (i) => {
    const a = agents[i % ACTIVE];
    return call('POST', '/agents/heartbeat', a.key, {
      status: 'busy',
      working_on: `task ${i % 7}`,
      session_id: 'bench',
      state_snapshot: '{"progress":["x"]}',
    });
  },
  heartbeat_idle: (i) => {
    const a = agents[i % ACTIVE];
    return call('POST', '/agents/heartbeat', a.key, { status: 'online', working_on: '' });
  },
  work: (i) => {
    const a = agents[i % ACTIVE];
    return call('GET', `/work/${a.id}`, a.key);
  },
  // Slim boot (the default variant): every section, its writes and the work queue it embeds.
  boot: (i) => {
    const a = agents[i % ACTIVE];
    return call('GET', `/boot/${a.id}`, a.key);
  },
  context: (i) => {
    const a = agents[i % ACTIVE];
    return call('PUT', `/context/keys/${a.id}/note-${i % 10}`, a.key, { data: `value ${i}` });
  },
  // The agent-facing listings (issue 11, growth: with BENCH_HISTORY they must not read the history).
  messages: (i) => {
    const a = agents[i % ACTIVE];
    return call('GET', '/messages', a.key);
  },
  messages_to: (i) => {
    const a = agents[i % ACTIVE];
    return call('GET', `/messages?to=${a.id}`, a.key);
  },
  events: (i) => {
    const a = agents[i % ACTIVE];
    return call('GET', '/events', a.key);
  },
  threads: (i) => {
    const a = agents[i % ACTIVE];
    return call('GET', '/messages/threads', a.key);
  },
  claim: (i) => {
    const t = claimable[i % claimable.length];
    const owners = byProject.get(t.project)!;
    return call('POST', `/tasks/${t.id}/claim`, owners[i % owners.length].key, {});
  },
};

/** The app's own connection (WAL frames written per call, BENCH_FRAMES=1). */
const coreDriver = (runtime.db as unknown as { driver: { db: Database.Database; commitNow(): void } }).driver;
const core = coreDriver.db;
const FRAMES = process.env.BENCH_FRAMES === '1';
if (process.env.BENCH_AUTOCKPT) core.exec(`PRAGMA wal_autocheckpoint = ${Number(process.env.BENCH_AUTOCKPT)}`);
const frames = new Map<string, number>();

/**
 * BENCH_STMTS=1: the driver's one place that runs a statement, timed per SQL text (wall µs, so it
 * counts SQLite's own work and the native boundary, not what the route does with the rows).
 */
const stmtTimes = new Map<string, { us: number; n: number; args?: unknown; samples: number[] }>();
/** Per statement, the first this many timings are kept for the median (a GC pause inflates a mean). */
const SAMPLES_KEPT = 20_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
if (process.env.BENCH_STMTS === '1') {
  const driver = coreDriver as unknown as { runSync(s: { sql: string }): unknown };
  const run = driver.runSync.bind(driver);
  driver.runSync = (s) => {
    const t0 = process.hrtime.bigint();
    try {
      return run(s);
    } finally {
      const e = stmtTimes.get(s.sql) ?? { us: 0, n: 0, samples: [] };
      e.args = (s as { args?: unknown }).args;
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      e.us += us;
      if (e.samples.length < SAMPLES_KEPT) e.samples.push(us);
      e.n++;
      stmtTimes.set(s.sql, e);
    }
  };
}

async function round(name: string, n: number): Promise<number> {
  const fn = routes[name];
  if (name === 'claim') {
    coreDriver.commitNow(); // a background write's group may be open: this connection would wait on it
    reopenClaimable();
  }
  if (FRAMES) {
    coreDriver.commitNow();
    core.exec('PRAGMA wal_autocheckpoint = 0');
    core.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
  }
  // Claims: one pass over the pool per round at most (each must be a first, winning claim).
  const count = name === 'claim' ? Math.min(n, claimable.length) : n;
  let bad = 0;
  const t0 = process.cpuUsage();
  if (CONCURRENCY > 1) {
    // C loops in flight at once, as concurrent connections are: their writes can share a commit.
    let next = 0;
    const loop = async () => {
      for (let i = next++; i < count; i = next++) if ((await fn(i)) !== 200) bad++;
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, loop));
    await runtime.settle();
  } else
    for (let i = 0; i < count; i++) {
      const status = await fn(i);
      if (status !== 200) bad++;
      await runtime.settle();
    }
  const d = process.cpuUsage(t0);
  if (FRAMES) {
    coreDriver.commitNow();
    const r = core.prepare('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number };
    core.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
    frames.set(name, r.log / count);
    core.exec('PRAGMA wal_autocheckpoint = 1000');
  }
  if (bad) throw new Error(`${name}: ${bad} of ${count} calls did not answer 200`);
  return (d.user + d.system) / count;
}

const names = Object.keys(routes).filter((k) => !ONLY || [...ONLY].some((w) => k.includes(w)));
for (const n of names) await round(n, 200); // warm-up: JIT, statement cache
// Pages per call are read off the WAL's frame count: the background checkpoint thread would reset
// the log under the count, so it stops here (the connection's own threshold is off meanwhile).
if (FRAMES) await (coreDriver as unknown as { checkpointer?: { close(): Promise<void> } }).checkpointer?.close();
const samples = new Map<string, number[]>(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) for (const n of names) samples.get(n)!.push(await round(n, CALLS));

console.log(`\n${CALLS} calls per round, ${ROUNDS} rounds, CPU µs per call (user + system, incl. background work)\n`);
console.log('| route | min | median | rounds |');
console.log('|---|---:|---:|---|');
for (const [n, s] of samples) {
  const sorted = [...s].sort((a, b) => a - b);
  console.log(
    `| ${n} | ${sorted[0].toFixed(0)} | ${sorted[Math.floor(sorted.length / 2)].toFixed(0)} | ${s.map((x) => x.toFixed(0)).join(', ')} |`,
  );
}
if (FRAMES) for (const [n, f] of frames) console.log(`${n}: ${f.toFixed(1)} WAL frames (pages) written per call`);
if (stmtTimes.size) {
  const calls = ROUNDS * CALLS + 200 * names.length;
  console.log(
    `\nSQL statements, wall µs per call of the routes run (${calls} calls), costliest first; then µs per execution: mean, median`,
  );
  for (const [sql, e] of [...stmtTimes].sort((a, b) => b[1].us - a[1].us).slice(0, 25))
    console.log(
      `${(e.us / calls).toFixed(1).padStart(7)} µs  ${(e.us / e.n).toFixed(1).padStart(6)} µs each, median ${median(e.samples).toFixed(1).padStart(6)}  ${sql.replace(/\s+/g, ' ').slice(0, 100)}`,
    );
  // The statements with their last call's arguments, to replay on a kept data folder (BENCH_KEEP=1).
  if (process.env.BENCH_STMTS_DUMP)
    writeFileSync(
      process.env.BENCH_STMTS_DUMP,
      JSON.stringify(
        [...stmtTimes].map(([sql, e]) => ({
          sql,
          args: e.args,
          us_each: e.us / e.n,
          median: median(e.samples),
          n: e.n,
        })),
      ),
    );
}
reset.close();
await runtime.close();
if (process.env.BENCH_KEEP === '1') console.log(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
