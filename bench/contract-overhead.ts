/**
 * What the route contracts cost on the two hottest agent calls (issue 15: "heartbeat and work poll
 * no slower"): the in-process CPU time of a whole request next to the time its contract spends
 * validating the input and shaping the answer, measured on the same answers in the same process.
 *
 *   npx tsx bench/contract-overhead.ts
 *
 * Bounded: 2,000 requests per call, an in-process app (no sockets), a temporary data folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeRuntime } from '../node-adapter/runtime.js';
import { loadApp } from './load-app.js';
import { loadConfig } from '../worker/src/config.js';
import { HeartbeatAnswer, HeartbeatBody } from '../worker/src/domain/heartbeat/schema.js';
import { WorkAnswer, WorkQuery } from '../worker/src/domain/work/schema.js';
import { consoleLogger } from '../worker/src/runtime.js';

const { createApp, prepareDatabase } = await loadApp();

const N = 2_000;
const ADMIN = 'b'.repeat(40);
const dir = mkdtempSync(join(tmpdir(), 'mycelium-contract-bench-'));
const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
const runtime = createNodeRuntime({
  config: loadConfig({ ADMIN_KEY: ADMIN, JWT_SECRET: 'j'.repeat(40), DATA_DIR: dir }),
  log: quiet,
});
await prepareDatabase(runtime);
const { app } = createApp(runtime);
const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
  const res = await app.request(`/api/mycelium${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': '127.0.0.1', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as unknown;
};

const reg = (await call(
  'POST',
  '/admin/agents',
  { 'X-Admin-Key': ADMIN },
  { id: 'bench', name: 'bench', project_id: 'p' },
)) as {
  api_key: string;
};
const agent = { 'X-Agent-Key': reg.api_key };
for (let i = 0; i < 20; i++)
  await call(
    'POST',
    '/tasks',
    { 'X-Admin-Key': ADMIN },
    { title: `t${i}`, project_id: 'p', assignee: 'bench', priority: i % 3 ? 'normal' : 'high' },
  );

const hbBody = { status: 'busy', working_on: 'benchmarking' };
async function timeRequests(fn: () => Promise<unknown>) {
  for (let i = 0; i < 200; i++) await fn(); // warm-up
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / N;
}
function timeShape(fn: () => unknown) {
  for (let i = 0; i < 2_000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N * 5; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / (N * 5);
}

const hbAnswer = await call('POST', '/agents/heartbeat', agent, hbBody);
const workAnswer = await call('GET', '/work/bench', agent);
// The answers must pass their schemas, or the timing below measures a failure path.
if (!HeartbeatAnswer.safeParse(hbAnswer).success || !WorkAnswer.safeParse(workAnswer).success)
  throw new Error('an answer does not match its schema');
const queued = (workAnswer as { queue: unknown[] }).queue.length;
const rows = [
  {
    call: 'POST /agents/heartbeat',
    request: await timeRequests(() => call('POST', '/agents/heartbeat', agent, hbBody)),
    contract: timeShape(() => {
      HeartbeatBody.safeParse(hbBody);
      HeartbeatAnswer.safeParse(hbAnswer);
    }),
  },
  {
    call: `GET /work/:agentId (${queued} queued items)`,
    request: await timeRequests(() => call('GET', '/work/bench', agent)),
    contract: timeShape(() => {
      WorkQuery.safeParse({});
      WorkAnswer.safeParse(workAnswer);
    }),
  },
];
console.log('| call | CPU µs per request (whole) | contract µs (input + answer) | share |');
console.log('|---|---:|---:|---:|');
for (const r of rows)
  console.log(
    `| ${r.call} | ${r.request.toFixed(0)} | ${r.contract.toFixed(1)} | ${((100 * r.contract) / r.request).toFixed(1)} % |`,
  );
await runtime.close();
rmSync(dir, { recursive: true, force: true });
