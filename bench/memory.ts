/**
 * Memory of the Node server (issue 11: RSS after start ≤ 100 MB with the default plugins). Builds the
 * production bundle (scripts/build-server.mjs, as `npm start` does), starts it as a child process on
 * loopback with a fresh data folder, and reports its resident set size:
 *   - after start: 5 s after the ready line (the first maintenance pass, at 2 s, included);
 *   - after N requests: a closed loop of agent calls (heartbeat, work poll, boot, context put) from 20
 *     registered agents at 16 connections, then again after 5 s and 40 s idle.
 * RSS is read from /proc/<pid>/status (VmRSS, and VmHWM: the peak) and, from inside the process, as
 * `process.memoryUsage().rss` via /health's `memory_usage_mb`.
 *
 *   npx tsx bench/memory.ts                        # bundle, 5,000 requests
 *   BENCH_ENTRY=tsx npx tsx bench/memory.ts        # the TypeScript entry through tsx (the old `npm start`)
 *   BENCH_REQUESTS=20000 npx tsx bench/memory.ts
 *   BENCH_RESTART=1 npx tsx bench/memory.ts        # measure a second start on the same (migrated) folder
 *   BENCH_NODE_ARGS='--max-semi-space-size=8' npx tsx bench/memory.ts   # V8 flags for the server
 *
 * Bounded: a watchdog kills everything after 3 minutes; the data folder is removed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { buildServer } from '../scripts/build-server.mjs';
import { genDashboard } from '../scripts/gen-dashboard.mjs';

const ENTRY = process.env.BENCH_ENTRY === 'tsx' ? 'tsx' : 'bundle';
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 5_000);
const RESTART = process.env.BENCH_RESTART === '1';
const CONNECTIONS = 16;
const AGENTS = 20;
const ADMIN_KEY = `bench_admin_${randomBytes(24).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-bench-mem-'));
let server: ChildProcess | undefined;

const watchdog = setTimeout(() => {
  console.error('bench: watchdog fired after 3 minutes, aborting');
  server?.kill('SIGKILL');
  process.exit(2);
}, 3 * 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(): Promise<{ child: ChildProcess; port: number }> {
  // The tsx entry imports the embedded dashboard and docs (build output; the bundle build makes them too).
  if (ENTRY === 'tsx') genDashboard();
  const args = ENTRY === 'tsx' ? ['--import', 'tsx', 'node-adapter/index.ts'] : [(await buildServer()).outfile];
  if (process.env.BENCH_NODE_ARGS) args.unshift(...process.env.BENCH_NODE_ARGS.split(' '));
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH ?? '',
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      ADMIN_KEY,
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = out.match(/Mycelium http:\/\/[^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    child.stderr!.on('data', (b: Buffer) => process.stderr.write(`[server] ${b}`));
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
  return { child, port };
}

/** VmRSS and VmHWM of a process, in MB. */
function procRss(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(status.match(new RegExp(`${k}:\\s+(\\d+)`))?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
function request(port: number, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...headers,
          ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function sample(label: string, pid: number, port: number) {
  const health = await request(port, 'GET', '/health', {});
  const inside = (JSON.parse(health.body) as { memory_usage_mb: number }).memory_usage_mb;
  const { rss, peak } = procRss(pid);
  return { label, rss, peak, inside };
}

async function main() {
  let { child, port } = await start();
  if (RESTART) {
    await sleep(3_000);
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    ({ child, port } = await start());
  }
  await sleep(5_000);
  const rows = [
    await sample(RESTART ? 'after start (second start, migrated folder)' : 'after start', child.pid!, port),
  ];

  const admin = { 'x-admin-key': ADMIN_KEY };
  const agents: { id: string; key: string }[] = [];
  for (let i = 0; i < AGENTS; i++) {
    const id = `mem-${i}`;
    const r = await request(port, 'POST', '/api/mycelium/admin/agents', admin, {
      id,
      name: id,
      project_id: `p${i % 4}`,
    });
    if (r.status !== 200) throw new Error(`register ${id}: ${r.status} ${r.body}`);
    agents.push({ id, key: (JSON.parse(r.body) as { api_key: string }).api_key });
  }
  for (let i = 0; i < 100; i++)
    await request(port, 'POST', '/api/mycelium/tasks', admin, { title: `Task ${i}`, project_id: `p${i % 4}` });

  const calls = [
    (a: { id: string; key: string }, i: number) =>
      request(
        port,
        'POST',
        '/api/mycelium/agents/heartbeat',
        { 'x-agent-key': a.key },
        {
          status: 'busy',
          working_on: `task ${i % 7}`,
          session_id: 's',
          state_snapshot: '{"progress":["x"]}',
        },
      ),
    (a: { id: string; key: string }) => request(port, 'GET', `/api/mycelium/work/${a.id}`, { 'x-agent-key': a.key }),
    (a: { id: string; key: string }) => request(port, 'GET', `/api/mycelium/boot/${a.id}`, { 'x-agent-key': a.key }),
    (a: { id: string; key: string }, i: number) =>
      request(
        port,
        'PUT',
        `/api/mycelium/context/keys/${a.id}/note-${i % 10}`,
        { 'x-agent-key': a.key },
        {
          data: `value ${i}`,
        },
      ),
  ];
  let seq = 0;
  let failures = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      for (let i = seq++; i < REQUESTS; i = seq++) {
        const r = await calls[i % calls.length](agents[i % AGENTS], i);
        if (r.status !== 200) failures++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  rows.push(await sample(`after ${REQUESTS} requests`, child.pid!, port));
  await sleep(5_000);
  rows.push(await sample(`after ${REQUESTS} requests + 5 s idle`, child.pid!, port));
  // V8's memory reducer shrinks the heap once the process has been idle for a while (~30 s).
  await sleep(35_000);
  rows.push(await sample(`after ${REQUESTS} requests + 40 s idle`, child.pid!, port));

  console.log(
    `\nentry: ${ENTRY === 'tsx' ? 'node --import tsx node-adapter/index.ts' : 'node dist/server.mjs'}, default plugins, ${REQUESTS} requests (heartbeat, work poll, boot, context put; ${AGENTS} agents, ${CONNECTIONS} connections) in ${secs.toFixed(1)} s, non-200: ${failures}\n`,
  );
  console.log('| moment | RSS MB (/proc VmRSS) | peak MB (VmHWM) | process.memoryUsage().rss MB |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.label} | ${r.rss.toFixed(1)} | ${r.peak.toFixed(1)} | ${r.inside} |`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    agent.destroy();
    server?.kill('SIGTERM');
    clearTimeout(watchdog);
    await sleep(500);
    rmSync(dataDir, { recursive: true, force: true });
  });
