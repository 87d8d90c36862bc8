/**
 * Load benchmark of the coordination hot paths against a live Node server on loopback:
 * heartbeat, work poll, boot, context put and task claim, with a realistic database (50 agents,
 * 1,000 tasks by default), side by side with the floor (bench/floor-server.ts) in the same run.
 *
 *   npx tsx bench/coordination.ts            # defaults: 16 connections, 8 s per scenario
 *   BENCH_CONNECTIONS=32 BENCH_SECONDS=5 npx tsx bench/coordination.ts
 *   BENCH_TASKS=100000 BENCH_AGENTS=10000 npx tsx bench/coordination.ts   # growth
 *   BENCH_HISTORY=1000000 npx tsx bench/coordination.ts   # growth: a month of events and messages held
 *   BENCH_ONLY=heartbeat,boot npx tsx bench/coordination.ts               # some scenarios (+ the floor)
 *   BENCH_SERVER_NODE_ARGS=--trace-gc BENCH_SERVER_STDOUT=/tmp/gc.log npx tsx bench/coordination.ts   # GC pauses
 *   BENCH_SERVER=tsx npx tsx bench/coordination.ts   # the sources through tsx instead of the bundle
 *   BENCH_LOAD=wrk npx tsx bench/coordination.ts     # wrk generates the load (as issue 11 measured; needs wrk)
 *
 * The server runs in its own process — the esbuild bundle `npm start` and the Docker image run
 * (dist/server.mjs, built first), the floor bundled the same way — so the load generator
 * does not share its event loop. The generator is N concurrent loops over one keep-alive
 * http.Agent; each loop sends the next request when the previous answer arrived (closed loop).
 * Everything is bounded: each scenario stops after its duration (claims: when the pool of
 * unclaimed tasks is empty), and a watchdog kills everything after 5 minutes (10 with BENCH_FLOOR_EACH=1).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import Database from 'libsql';
import { CORE_DB_FILE } from '../node-adapter/runtime.js';
import { build } from 'esbuild';
import { buildServer, ESM_REQUIRE_BANNER, SERVER_EXTERNALS } from '../scripts/build-server.mjs';
import { genDashboard } from '../scripts/gen-dashboard.mjs';
import { type BenchAgent, seedDatabase } from './seed.js';
import { type LoadRequest, type LoadRun, runWrk, wrkAvailable } from './wrk-load.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_MS = 1_000;
const AGENTS = Number(process.env.BENCH_AGENTS ?? 50);
const TASKS = Number(process.env.BENCH_TASKS ?? 1_000);
/** Past events (and a third as many messages) over the last 30 days: growth of the append-only logs. */
const HISTORY = Number(process.env.BENCH_HISTORY ?? 0);
/** Open tasks the claim scenario can take (warm-up included): the seed's, topped up before it runs. */
const CLAIM_POOL = Number(process.env.BENCH_CLAIM_POOL ?? 20_000);
/**
 * The server as production runs it (`npm start`, the Docker image): the esbuild bundle of
 * scripts/build-server.mjs, built first. BENCH_SERVER=tsx runs the sources through tsx instead,
 * which is slower on the hot calls (bench/README.md; among other things its transform keeps
 * function names with a `__name` call each time a function is created, closures included).
 */
const BUNDLE = process.env.BENCH_SERVER !== 'tsx';
/** Scenario keys: heartbeat, work, boot, context, claim; unset = all. The floor always runs. */
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : null;
const wanted = (key: string) => !ONLY || ONLY.has(key);
const ADMIN_KEY = `bench_admin_${randomBytes(24).toString('hex')}`;

// Twice as long when the floor runs between scenarios (BENCH_FLOOR_EACH).
const WATCHDOG_MINUTES = process.env.BENCH_FLOOR_EACH === '1' ? 10 : 5;
const watchdog = setTimeout(() => {
  console.error(`bench: watchdog fired after ${WATCHDOG_MINUTES} minutes, aborting`);
  server?.kill('SIGKILL');
  floor?.kill('SIGKILL');
  process.exit(2);
}, WATCHDOG_MINUTES * 60_000);

let server: ChildProcess | undefined;
let floor: ChildProcess | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-bench-'));

function startServerProcess(): Promise<number> {
  return new Promise((resolve, reject) => {
    // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server (issue 11: profile first).
    const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const entry = BUNDLE ? ['dist/server.mjs'] : ['--import', 'tsx', 'node-adapter/index.ts'];
    const child = spawn(process.execPath, [...nodeArgs, ...entry], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        ADMIN_KEY,
        JWT_SECRET: randomBytes(32).toString('hex'),
        LOG_LEVEL: 'error',
        NODE_ENV: 'development',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server = child;
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      if (process.env.BENCH_SERVER_STDOUT) appendFileSync(process.env.BENCH_SERVER_STDOUT, b);
      out += b.toString();
      const m = out.match(/Mycelium http:\/\/[^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (b: Buffer) => process.stderr.write(`[server] ${b}`));
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
}

/** With BENCH_SERVER=bundle the floor is plain JavaScript too (esbuild, as the server's bundle): like for like. */
let floorBundle: string | undefined;
async function bundleFloor(): Promise<string> {
  // Beside the server's bundle, so Node finds `libsql` in this checkout's node_modules.
  const outfile = join('dist', 'bench-floor-server.mjs');
  await build({
    entryPoints: ['bench/floor-server.ts'],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: SERVER_EXTERNALS,
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'warning',
  });
  return outfile;
}

/** The floor server in its own process, as ours is (bench/floor-server.ts). */
function startFloorProcess(): Promise<number> {
  return new Promise((resolve, reject) => {
    const entry = floorBundle ? [floorBundle] : ['--import', 'tsx', 'bench/floor-server.ts'];
    const child = spawn(process.execPath, [...entry, dataDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    floor = child;
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = out.match(/floor http:\/\/[^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (b: Buffer) => process.stderr.write(`[floor] ${b}`));
    child.on('exit', (code) => reject(new Error(`floor server exited early (${code}): ${out}`)));
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
let port = 0;
let floorPort = 0;

function request(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  to = port,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port: to,
        method,
        path: `/api/mycelium${path}`,
        agent,
        headers: {
          ...headers,
          ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

/** A scenario's run (the counts and latencies either generator measures) with its server's CPU. */
interface Result extends LoadRun {
  name: string;
  /** Requests per second of the serving process's own CPU time (user + system): survives a shared, busy machine. */
  perCpuSecond: number;
}

/**
 * CPU time a process has used, in ms (Linux /proc; 0 elsewhere). On a machine shared with other
 * work, wall-clock req/s moves with the neighbours; requests per CPU-second of the server moves far
 * less, so the bench reports both (issue 11).
 */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return 0;
  }
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * BENCH_LOAD=wrk: wrk generates the load (bench/wrk-load.ts), as issue 11 measured; default: the
 * Node loops below. Both report the same columns.
 */
const WRK = process.env.BENCH_LOAD === 'wrk';
/** Distinct requests a repeating scenario hands wrk (it cycles through them). */
const WRK_CYCLE = 3_500;

/**
 * Closed-loop load on port `to`: CONNECTIONS loops; `next(i)` describes the i-th request or returns
 * null when the scenario is exhausted (`oneShot`: each request may be sent once, e.g. a claim).
 */
async function scenario(
  name: string,
  next: (i: number) => LoadRequest | null,
  opts: { to?: number; pid?: number; oneShot?: boolean } = {},
): Promise<Result> {
  const { to = port, pid = server?.pid, oneShot = false } = opts;
  if (WRK) return wrkScenario(name, next, to, pid, oneShot);
  const send = (r: LoadRequest) => request(r.method, r.path, r.headers, r.body, to);
  const until = Date.now() + WARMUP_MS;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      let i = c;
      while (Date.now() < until) {
        const r = next(i);
        if (!r) return;
        await send(r);
        i += CONNECTIONS;
      }
    }),
  );
  const lat: number[] = [];
  let errors = 0;
  let seq = 0;
  const start = performance.now();
  const cpu0 = cpuMs(pid);
  const end = start + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const r = next(seq++);
        if (!r) return;
        const t0 = performance.now();
        const status = await send(r);
        lat.push(performance.now() - t0);
        if (status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const cpu = (cpuMs(pid) - cpu0) / 1000;
  lat.sort((a, b) => a - b);
  return {
    name,
    requests: lat.length,
    seconds: elapsed,
    rps: lat.length / elapsed,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    errors,
    perCpuSecond: cpu > 0 ? lat.length / cpu : 0,
  };
}

/**
 * The same scenario with wrk: the requests are listed first (a repeating scenario's first
 * WRK_CYCLE; a one-shot scenario's all), a one-second warm-up run, then the measured run. A one-shot
 * list is not reused: the measured run starts after what the warm-up sent (wrk wraps around at the
 * end of a list, and those repeats count as errors when the server refuses them).
 */
async function wrkScenario(
  name: string,
  next: (i: number) => LoadRequest | null,
  to: number,
  pid: number | undefined,
  oneShot: boolean,
): Promise<Result> {
  const reqs: LoadRequest[] = [];
  for (let i = 0; oneShot || i < WRK_CYCLE; i++) {
    const r = next(i);
    if (!r) break;
    reqs.push({ ...r, path: `/api/mycelium${r.path}` });
  }
  const warm = await runWrk(reqs, to, CONNECTIONS, WARMUP_MS / 1000);
  const measured = oneShot ? reqs.slice(Math.min(reqs.length - 1, warm.requests + CONNECTIONS)) : reqs;
  const cpu0 = cpuMs(pid);
  const run = await runWrk(measured, to, CONNECTIONS, SECONDS);
  const cpu = (cpuMs(pid) - cpu0) / 1000;
  return { name, ...run, perCpuSecond: cpu > 0 ? run.requests / cpu : 0 };
}

interface Row extends Result {
  floor?: number;
  floorCpu?: number;
  /** BENCH_FLOOR_EACH: the floor's req/s this row is divided by (the mean of the runs around it). */
  floorRps?: number;
}

/** Re-measure the floor after every scenario and divide each by the floor runs on either side of it. */
const FLOOR_EACH = process.env.BENCH_FLOOR_EACH === '1';

async function main() {
  // The server imports the embedded dashboard and docs, build output a fresh clone lacks.
  if (WRK && !wrkAvailable()) throw new Error('BENCH_LOAD=wrk needs wrk on PATH (Debian: apt-get install wrk)');
  genDashboard();
  if (BUNDLE) {
    await buildServer();
    floorBundle = await bundleFloor();
  }
  floorPort = await startFloorProcess();
  port = await startServerProcess();
  // The server runs its first maintenance pass (incl. a backup) 2 s after start: let it pass.
  await new Promise((r) => setTimeout(r, 3_500));
  const { agents, claimable } = seedDatabase(join(dataDir, CORE_DB_FILE), {
    agents: AGENTS,
    tasks: TASKS,
    history: HISTORY,
  });
  // The agents the load cycles through: the first 50 (the busy ones), however many are registered.
  const pick = (i: number) => agents[i % Math.min(agents.length, 50)];
  const results: (Row | null)[] = [];

  const runFloor = () =>
    scenario(
      'floor: bare Hono + one SQLite upsert',
      (i) => ({
        method: 'POST',
        path: '/agents/heartbeat',
        headers: { 'x-agent-key': pick(i).id },
        body: { status: 'busy', working_on: `task ${i % 7}` },
      }),
      { to: floorPort, pid: floor?.pid },
    );
  const floorResult = await runFloor();
  results.push(floorResult);
  // The machine's speed drifts within a run (a shared VM): with BENCH_FLOOR_EACH each scenario is
  // bracketed by two floor runs and divided by their mean.
  let lastFloor = floorResult;
  const vsFloor = async (r: Result): Promise<Row> => {
    let rps = floorResult.rps;
    let cpu = floorResult.perCpuSecond;
    if (FLOOR_EACH) {
      const after = await runFloor();
      rps = (lastFloor.rps + after.rps) / 2;
      cpu = (lastFloor.perCpuSecond + after.perCpuSecond) / 2;
      lastFloor = after;
    }
    return { ...r, floor: r.rps / rps, floorCpu: cpu ? r.perCpuSecond / cpu : undefined, floorRps: rps };
  };

  if (wanted('heartbeat'))
    results.push(
      await vsFloor(
        await scenario('heartbeat (busy)', (i) => ({
          method: 'POST',
          path: '/agents/heartbeat',
          headers: { 'x-agent-key': pick(i).key },
          body: {
            status: 'busy',
            working_on: `task ${i % 7}`,
            session_id: 'bench',
            state_snapshot: '{"progress":["x"]}',
          },
        })),
      ),
    );
  if (wanted('heartbeat'))
    results.push(
      await vsFloor(
        await scenario('heartbeat (idle → dispatch pass)', (i) => ({
          method: 'POST',
          path: '/agents/heartbeat',
          headers: { 'x-agent-key': pick(i).key },
          body: { status: 'online', working_on: '' },
        })),
      ),
    );
  if (wanted('work'))
    results.push(
      await vsFloor(
        await scenario('work poll GET /work/:id', (i) => {
          const a = pick(i);
          return { method: 'GET', path: `/work/${a.id}`, headers: { 'x-agent-key': a.key } };
        }),
      ),
    );
  if (wanted('boot'))
    results.push(
      await vsFloor(
        await scenario('boot GET /boot/:id (slim)', (i) => {
          const a = pick(i);
          return { method: 'GET', path: `/boot/${a.id}`, headers: { 'x-agent-key': a.key } };
        }),
      ),
    );
  if (wanted('context'))
    results.push(
      await vsFloor(
        await scenario('context put PUT /context/keys/:ns/:key', (i) => {
          const a = pick(i);
          return {
            method: 'PUT',
            path: `/context/keys/${a.id}/note-${i % 10}`,
            headers: { 'x-agent-key': a.key },
            body: { data: `value ${i}` },
          };
        }),
      ),
    );
  if (wanted('claim')) {
    // Claims consume the pool of open unassigned tasks: every request is a first claim that wins.
    // The idle-heartbeat scenario's dispatch passes hand open tasks to idle agents (with 10,000
    // registered agents, thousands are idle): claim only what is still unassigned, or each of
    // those is a 409 "already claimed" — a correct answer, but not the call this scenario measures.
    const still = new Database(join(dataDir, CORE_DB_FILE), { readonly: true } as never);
    const open = new Set(
      (
        still.prepare("SELECT id FROM tasks WHERE status = 'open' AND COALESCE(assignee, '') = ''").all() as {
          id: number;
        }[]
      ).map((r) => Number(r.id)),
    );
    still.close();
    const dispatched = claimable.length;
    claimable.splice(0, claimable.length, ...claimable.filter((c) => open.has(c.id)));
    if (claimable.length < dispatched)
      console.log(
        `claim: ${dispatched - claimable.length} of ${dispatched} claimable tasks were auto-dispatched before`,
      );
    // The seed's few hundred open tasks last well under a second of claims, JIT warm-up included:
    // the pool is topped up with fresh open tasks of the same projects (written now, after the
    // other scenarios, so they change nothing the others measured), for a warm-up and a full run.
    const topUp = new Database(join(dataDir, CORE_DB_FILE));
    topUp.exec('PRAGMA busy_timeout = 5000');
    const add = topUp.prepare(
      "INSERT INTO tasks (title, description, project_id, requester, priority, blocked_by) VALUES (?, 'claim pool', ?, 'bench-admin', 'normal', '[]') RETURNING id",
    );
    topUp.exec('BEGIN IMMEDIATE');
    for (let i = claimable.length; i < CLAIM_POOL; i++) {
      const project = `proj-${i % 5}`;
      claimable.push({ id: Number((add.get(`Claim ${i}`, project) as { id: number }).id), project });
    }
    topUp.exec('COMMIT');
    topUp.close();
    const byProject = new Map<string, BenchAgent[]>();
    for (const a of agents) byProject.set(a.project, [...(byProject.get(a.project) ?? []), a]);
    let taken = 0;
    results.push(
      await vsFloor(
        await scenario(
          'task claim POST /tasks/:id/claim',
          (i) => {
            const t = claimable[taken++];
            if (!t) return null;
            const owners = byProject.get(t.project)!;
            const a = owners[i % owners.length];
            return { method: 'POST', path: `/tasks/${t.id}/claim`, headers: { 'x-agent-key': a.key }, body: {} };
          },
          { oneShot: true },
        ),
      ),
    );
  }

  console.log(
    `\n${AGENTS} agents (load from the first ${Math.min(AGENTS, 50)}), ${TASKS} tasks, ${HISTORY} past events, ${CONNECTIONS} connections, ${SECONDS} s per scenario (claims: from a pool of ${claimable.length} open tasks); server and floor: ${BUNDLE ? 'esbuild bundles' : 'sources through tsx'}; load: ${WRK ? 'wrk, one thread' : 'Node loops'}\n`,
  );
  const each = FLOOR_EACH ? ' floor req/s (runs around it) |' : '';
  console.log(
    `| scenario | requests | req/s | p50 ms | p99 ms | non-200 | ours / floor | req per CPU-s | ours / floor (CPU) |${each}`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|${FLOOR_EACH ? '---:|' : ''}`);
  for (const r of results) {
    if (!r) continue;
    const ratio = r.floor === undefined ? '1' : r.floor.toFixed(2);
    const floorRps = FLOOR_EACH ? ` ${r.floorRps === undefined ? '–' : r.floorRps.toFixed(0)} |` : '';
    console.log(
      `| ${r.name} | ${r.requests} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.errors} | ${ratio} | ${r.perCpuSecond.toFixed(0)} | ${r.floorCpu === undefined ? (r.floor === undefined ? '1' : '–') : r.floorCpu.toFixed(2)} |${floorRps}`,
    );
  }
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    agent.destroy();
    server?.kill('SIGTERM');
    floor?.kill('SIGTERM');
    clearTimeout(watchdog);
    setTimeout(() => rmSync(dataDir, { recursive: true, force: true }), 500);
  });
