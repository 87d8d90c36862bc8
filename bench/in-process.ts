/**
 * CPU time per agent call, in process (issue 11): the app built as the Node adapter builds it
 * (`createNodeRuntime` + `createApp` on a SQLite file seeded like bench/coordination.ts), called with
 * `app.fetch(new Request(...))` one request after the other; `process.cpuUsage()` around N calls gives
 * µs of CPU per call — no sockets, no load generator, so a busy machine moves it far less than req/s.
 * The bare Hono + one-upsert floor (bench/floor-app.ts) is measured the same way beside it.
 *
 *   npx tsx bench/in-process.ts                       # this tree: heartbeat, work poll, 404, floor
 *   BENCH_BASE=<commit> npx tsx bench/in-process.ts   # A/B: that commit against this tree, alternating rounds
 *   BENCH_N=3000 BENCH_ROUNDS=7 BENCH_ONLY=heartbeat,work npx tsx bench/in-process.ts
 *   BENCH_BASE=<commit> BENCH_ONLY=claim,context npx tsx bench/in-process.ts   # the hot writes (claims: at most
 *                                                      # the ~720 claimable tasks per round, each a first claim)
 *   BENCH_HISTORY=1000000 BENCH_BASE=<commit> npx tsx bench/in-process.ts   # growth of the logs, A/B
 *   BENCH_CPU_PROF=/tmp/prof.cpuprofile npx tsx bench/in-process.ts   # a CPU profile of the measured rounds only
 *
 * BENCH_BASE exports the commit (`git archive`) to a temporary folder with this tree's node_modules
 * linked and its generated assets built, and loads both apps in this one process: each round runs every
 * scenario on A then B (the next round B then A), so both see the same machine within seconds.
 * Bounded: N calls per scenario per round; temporary folders are removed at the end.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EventEmitter } from 'node:events';
import { IncomingMessage } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import Database from 'libsql';
import { floorApp } from './floor-app.js';
import { seedDatabase, type BenchAgent } from './seed.js';

const N = Number(process.env.BENCH_N ?? 2_000);
const WARMUP = Math.min(N, 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Past events (and a third as many messages) over the last 30 days (bench/seed.ts). */
const HISTORY = Number(process.env.BENCH_HISTORY ?? 0);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',').map((x) => x.trim())) : null;
const HERE = resolve(import.meta.dirname, '..');
const ADMIN = 'b'.repeat(40);
const temps: string[] = [];

type Fetch = (req: Request, env?: any) => Response | Promise<Response>;
interface Tree {
  label: string;
  fetch: Fetch;
  agents: BenchAgent[];
  /** Open, unassigned, unblocked tasks (each claimable once) and the agents of each project. */
  claimable: { id: number; project: string }[];
  byProject: Map<string, BenchAgent[]>;
  /** Puts every claimable task back in the pool (outside the timed calls). */
  reopen(): void;
  /** While true, the heartbeat and work services answer with the last real answer they gave. */
  stub: { on: boolean };
  close(): Promise<void>;
}

/**
 * Replaces `method` of a service class by a switch: the real method (remembering its answer), or,
 * while `stub.on`, that remembered answer without touching the database — so a scenario can measure
 * what a request pays around its route's own work (pipeline, auth, contract, answer).
 */
function stubbable(proto: Record<string, unknown>, method: string, stub: { on: boolean }) {
  const real = proto[method] as (...a: unknown[]) => Promise<unknown>;
  let answer: unknown;
  proto[method] = async function (this: unknown, ...args: unknown[]) {
    if (stub.on && answer !== undefined) return answer;
    answer = await real.apply(this, args);
    return answer;
  };
}

/** A folder holding `commit` as exported files, with this tree's dependencies and generated assets. */
function exportCommit(commit: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-bench-base-'));
  temps.push(dir);
  execFileSync('sh', ['-c', `git -C "${HERE}" archive "${commit}" | tar -x -C "${dir}"`]);
  symlinkSync(join(HERE, 'node_modules'), join(dir, 'node_modules'));
  execFileSync(process.execPath, ['scripts/gen-dashboard.mjs'], { cwd: dir, stdio: 'ignore' });
  return dir;
}

/** The app of the tree at `root`, on a fresh seeded data folder, as the Node adapter builds it. */
async function loadTree(label: string, root: string): Promise<Tree> {
  const mod = <T>(p: string): Promise<T> => import(pathToFileURL(join(root, p)).href);
  if (root === HERE) execFileSync(process.execPath, ['scripts/gen-dashboard.mjs'], { cwd: root, stdio: 'ignore' });
  const appMod = await mod<typeof import('../worker/src/app.js')>('worker/src/app.ts');
  const { createNodeRuntime, CORE_DB_FILE } =
    await mod<typeof import('../node-adapter/runtime.js')>('node-adapter/runtime.ts');
  const { loadConfig } = await mod<typeof import('../worker/src/config.js')>('worker/src/config.ts');
  const { consoleLogger } = await mod<typeof import('../worker/src/runtime.js')>('worker/src/runtime.ts');
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-bench-inproc-'));
  temps.push(dir);
  const runtime = createNodeRuntime({
    config: loadConfig({ ADMIN_KEY: ADMIN, JWT_SECRET: 'j'.repeat(40), DATA_DIR: dir, LOG_LEVEL: 'error' }),
    log: consoleLogger('error', { log: () => undefined, error: () => undefined }),
  });
  await appMod.prepareDatabase(runtime);
  const { agents, claimable } = seedDatabase(join(dir, CORE_DB_FILE), { agents: 50, tasks: 1_000, history: HISTORY });
  const byProject = new Map<string, BenchAgent[]>();
  for (const a of agents) byProject.set(a.project, [...(byProject.get(a.project) ?? []), a]);
  // A connection of the bench's own for reopening claimed tasks (WAL: the app's stays open beside it).
  const reset = new Database(join(dir, CORE_DB_FILE));
  reset.exec('PRAGMA busy_timeout = 5000');
  const reopenSql = `UPDATE tasks SET status = 'open', assignee = NULL, lease_token = NULL WHERE id IN (${claimable.map((t) => t.id).join(',')})`;
  const stub = { on: false };
  const hb = await mod<typeof import('../worker/src/domain/heartbeat/service.js')>(
    'worker/src/domain/heartbeat/service.ts',
  );
  const work = await mod<typeof import('../worker/src/domain/work/service.js')>('worker/src/domain/work/service.ts');
  stubbable(hb.HeartbeatService.prototype as never, 'beat', stub);
  stubbable(work.WorkService.prototype as never, 'getWork', stub);
  const { app } = appMod.createApp(runtime);
  // As node-adapter/server.ts hands it to serve() (older trees: the app's fetch as it is).
  const receive = (runtime as { receive?: (f: Fetch) => Fetch }).receive;
  const fetch = receive ? receive(app.fetch) : app.fetch;
  return {
    label,
    fetch,
    agents,
    claimable,
    byProject,
    reopen: () => {
      // A background write's group may still be open on the app's connection (group commit): commit
      // it first, or this connection would wait on a lock only this same thread can release.
      (runtime.db as unknown as { driver?: { commitNow?(): void } }).driver?.commitNow?.();
      reset.prepare(reopenSql).run();
    },
    stub,
    close: async () => {
      reset.close();
      await runtime.close();
    },
  };
}

/**
 * One request through @hono/node-server's own listener (`getRequestListener`, what `serve()` runs per
 * request), so the app sees what it sees in production — the adapter's lightweight Request and
 * Response, the body as a stream, the peer address on `env.incoming.socket` — with the socket
 * replaced by an in-memory message and a sink for the answer. Resolves with the status once the
 * answer has been written.
 */
function call(fetch: Fetch, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const listener = listenerOf(fetch);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const all: Record<string, string> = { host: '127.0.0.1', ...headers };
  if (data) {
    all['content-type'] = 'application/json';
    all['content-length'] = String(data.length);
  }
  const rawHeaders = Object.entries(all).flat();
  return async () => {
    // A real IncomingMessage (the adapter and node-adapter/request-body.ts check for one), fed by hand.
    const incoming = new IncomingMessage({ remoteAddress: '127.0.0.1', encrypted: false } as never);
    Object.assign(incoming, { method, url: path, headers: all, rawHeaders });
    if (data) incoming.push(data);
    incoming.push(null);
    incoming.complete = true;
    const outgoing = new Sink();
    await listener(incoming as never, outgoing as never);
    await outgoing.done;
    return outgoing.status;
  };
}

/** The parts of http.ServerResponse the adapter uses. */
class Sink extends EventEmitter {
  status = 0;
  writable = true;
  writableFinished = false;
  headersSent = false;
  private finish!: () => void;
  readonly done = new Promise<void>((r) => (this.finish = r));
  writeHead(status: number) {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  write() {
    return true;
  }
  flushHeaders() {}
  end() {
    this.writable = false;
    this.writableFinished = true;
    this.emit('finish');
    this.emit('close');
    this.finish();
    return this;
  }
  destroy() {
    this.end();
  }
}

const listeners = new Map<Fetch, ReturnType<typeof getRequestListener>>();
function listenerOf(fetch: Fetch) {
  let l = listeners.get(fetch);
  if (!l) {
    l = getRequestListener(fetch);
    listeners.set(fetch, l);
  }
  return l;
}

interface Scenario {
  key: string;
  name: string;
  /** Run with the route's service answering from memory (see `stubbable`). */
  stubbed?: boolean;
  /** One-shot calls on the tree's claimable tasks (`Tree.reopen` before each run, at most that many). */
  claims?: boolean;
  /** The i-th request against one tree. */
  request(t: Tree, i: number): () => Promise<number>;
  status: number;
}

const agentOf = (t: Tree, i: number) => t.agents[i % 50];
const SCENARIOS: Scenario[] = [
  {
    key: 'heartbeat',
    name: 'POST /agents/heartbeat (busy)',
    status: 200,
    request: (t, i) =>
      call(
        t.fetch,
        'POST',
        '/api/mycelium/agents/heartbeat',
        { 'x-agent-key': agentOf(t, i).key },
        { status: 'busy', working_on: `task ${i % 7}`, session_id: 'bench', state_snapshot: '{"progress":["x"]}' },
      ),
  },
  {
    key: 'work',
    name: 'GET /work/:id',
    status: 200,
    request: (t, i) =>
      call(t.fetch, 'GET', `/api/mycelium/work/${agentOf(t, i).id}`, { 'x-agent-key': agentOf(t, i).key }),
  },
  {
    // Slim boot (the default variant): every section, its writes and the work queue it embeds.
    key: 'boot',
    name: 'GET /boot/:id (slim)',
    status: 200,
    request: (t, i) =>
      call(t.fetch, 'GET', `/api/mycelium/boot/${agentOf(t, i).id}`, { 'x-agent-key': agentOf(t, i).key }),
  },
  {
    key: 'heartbeat-stub',
    name: "POST /agents/heartbeat, service stubbed (all but the route's own work)",
    status: 200,
    stubbed: true,
    request: (t, i) =>
      call(
        t.fetch,
        'POST',
        '/api/mycelium/agents/heartbeat',
        { 'x-agent-key': agentOf(t, i).key },
        { status: 'busy', working_on: `task ${i % 7}`, session_id: 'bench', state_snapshot: '{"progress":["x"]}' },
      ),
  },
  {
    key: 'work-stub',
    name: 'GET /work/:id, service stubbed',
    status: 200,
    stubbed: true,
    request: (t, i) =>
      call(t.fetch, 'GET', `/api/mycelium/work/${agentOf(t, i).id}`, { 'x-agent-key': agentOf(t, i).key }),
  },
  {
    key: 'context',
    name: 'PUT /context/keys/:ns/:key (replace)',
    status: 200,
    request: (t, i) =>
      call(
        t.fetch,
        'PUT',
        `/api/mycelium/context/keys/${agentOf(t, i).id}/note-${i % 10}`,
        { 'x-agent-key': agentOf(t, i).key },
        { data: `value ${i}` },
      ),
  },
  {
    // Each call is a first, winning claim: the pool is reopened before the warm-up and before the
    // measured calls, which are at most as many as there are claimable tasks.
    key: 'claim',
    name: 'POST /tasks/:id/claim (won)',
    status: 200,
    claims: true,
    request: (t, i) => {
      const task = t.claimable[i % t.claimable.length];
      const owners = t.byProject.get(task.project)!;
      return call(
        t.fetch,
        'POST',
        `/api/mycelium/tasks/${task.id}/claim`,
        { 'x-agent-key': owners[i % owners.length].key },
        {},
      );
    },
  },
  {
    key: 'notfound',
    name: 'GET unknown path → 404 (pipeline + routing only)',
    status: 404,
    request: (t) => call(t.fetch, 'GET', '/api/mycelium/no-such-route', {}),
  },
];

/** µs of process CPU per call over N sequential calls (after a warm-up), and the wall time. */
async function measure(
  make: (i: number) => () => Promise<number>,
  want: number,
  oneShot?: { count: number; reset: () => void },
) {
  oneShot?.reset();
  for (let i = 0; i < Math.min(WARMUP, oneShot?.count ?? WARMUP); i++) {
    const s = await make(i)();
    if (s !== want) throw new Error(`warm-up call answered ${s}, expected ${want}`);
  }
  oneShot?.reset();
  const n = Math.min(N, oneShot?.count ?? N);
  const fns = Array.from({ length: n }, (_, i) => make(i));
  const t0 = process.cpuUsage();
  const w0 = performance.now();
  for (const f of fns) await f();
  const d = process.cpuUsage(t0);
  return { cpu: (d.user + d.system) / n, wall: ((performance.now() - w0) * 1000) / n };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const trees: Tree[] = [];
  if (process.env.BENCH_BASE)
    trees.push(await loadTree(`base ${process.env.BENCH_BASE}`, exportCommit(process.env.BENCH_BASE)));
  trees.push(await loadTree('this tree', HERE));
  const floorDir = mkdtempSync(join(tmpdir(), 'mycelium-bench-floor-'));
  temps.push(floorDir);
  const floor = floorApp(floorDir);

  const scenarios = SCENARIOS.filter((s) => !ONLY || ONLY.has(s.key));
  const cpu = new Map<string, number[]>();
  const wall = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
  const profiler = process.env.BENCH_CPU_PROF ? new Session() : null;
  const post = (method: string, params?: object) =>
    new Promise<any>((ok, fail) => profiler!.post(method, params, (err, res) => (err ? fail(err) : ok(res))));
  // Round 0 warms the JIT up and is not counted.
  for (let r = -1; r < ROUNDS; r++) {
    if (r === 0 && profiler) {
      profiler.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 100 });
      await post('Profiler.start');
    }
    const order = r % 2 === 1 ? [...trees].reverse() : trees;
    const f = await measure(
      (i) =>
        call(
          floor.app.fetch,
          'POST',
          '/api/mycelium/agents/heartbeat',
          { 'x-agent-key': `a${i % 50}` },
          { status: 'busy', working_on: `task ${i % 7}` },
        ),
      200,
    );
    if (r >= 0) {
      add(cpu, 'floor', f.cpu);
      add(wall, 'floor', f.wall);
    }
    for (const s of scenarios)
      for (const t of order) {
        t.stub.on = !!s.stubbed;
        const oneShot = s.claims ? { count: t.claimable.length, reset: t.reopen } : undefined;
        const m = await measure((i) => s.request(t, i), s.status, oneShot).finally(() => (t.stub.on = false));
        if (r < 0) continue;
        add(cpu, `${t.label}|${s.key}`, m.cpu);
        add(wall, `${t.label}|${s.key}`, m.wall);
      }
    process.stderr.write(r < 0 ? 'warm-up round done\n' : `round ${r + 1}/${ROUNDS} done\n`);
  }

  if (profiler) {
    const { profile } = await post('Profiler.stop');
    writeFileSync(process.env.BENCH_CPU_PROF!, JSON.stringify(profile));
    profiler.disconnect();
  }
  const floorCpu = median(cpu.get('floor')!);
  console.log(
    `\n${N} calls per scenario per round, ${ROUNDS} rounds, medians; 50 agents, 1,000 tasks, ${HISTORY} past events\n`,
  );
  console.log('| call | code | CPU µs / call | wall µs / call | floor / ours (CPU) | CPU µs per round |');
  console.log('|---|---|---:|---:|---:|---|');
  console.log(
    `| floor: bare Hono + one upsert | — | ${floorCpu.toFixed(0)} | ${median(wall.get('floor')!).toFixed(0)} | 1 | ${cpu
      .get('floor')!
      .map((x) => x.toFixed(0))
      .join(', ')} |`,
  );
  for (const s of scenarios)
    for (const t of trees) {
      const xs = cpu.get(`${t.label}|${s.key}`)!;
      const c = median(xs);
      console.log(
        `| ${s.name} | ${t.label} | ${c.toFixed(0)} | ${median(wall.get(`${t.label}|${s.key}`)!).toFixed(0)} | ${(floorCpu / c).toFixed(2)} | ${xs.map((x) => x.toFixed(0)).join(', ')} |`,
      );
    }
  for (const t of trees) await t.close();
  floor.close();
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const d of temps) rmSync(d, { recursive: true, force: true });
  });
