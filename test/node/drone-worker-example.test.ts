import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startServer, type RunningServer } from '../../node-adapter/server.js';
import { consoleLogger } from '../../worker/src/runtime.js';

/**
 * The README's example worker (examples/drone-worker.mjs) against a live Node server: it
 * registers nothing itself, heartbeats, claims one template job, downloads its artifact, runs
 * the argument vector without a shell and reports the result (spec 05 §1.2, SEC-25).
 */
let server: RunningServer;
let dir: string;
const adminKey = `test_admin_${randomBytes(16).toString('hex')}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-drone-worker-'));
  const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
  server = await startServer({
    env: {
      DATA_DIR: join(dir, 'data'),
      ADMIN_KEY: adminKey,
      JWT_SECRET: randomBytes(32).toString('hex'),
      PORT: '0',
      HOST: '127.0.0.1',
    },
    out: () => undefined,
    log: quiet,
  });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function admin(method: string, path: string, body?: unknown, raw?: FormData) {
  const res = await fetch(`${server.url}/api/mycelium${path}`, {
    method,
    headers: { 'X-Admin-Key': adminKey, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: raw ?? (body ? JSON.stringify(body) : undefined),
  });
  return { status: res.status, body: await res.json() };
}

function runWorker(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['examples/drone-worker.mjs', '--once'], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('examples/drone-worker.mjs', () => {
  it('runs one template job end to end: the value stays one argument, nothing goes through a shell', async () => {
    const reg = await admin('POST', '/admin/agents', {
      id: 'example-drone',
      name: 'Example drone',
      project_id: 'drone',
      capabilities: ['cpu'],
    });
    expect(reg.status).toBe(200);
    const script = 'console.log(JSON.stringify(process.argv.slice(2)));\n';
    const f = new FormData();
    f.append('file', new Blob([script]), 'echo-args.mjs');
    expect((await admin('POST', '/drones/artifacts', undefined, f)).status).toBe(200);
    const tpl = await admin('POST', '/drones/templates', {
      id: 'echo',
      requires: ['cpu'],
      min_disk_gb: 0,
      artifacts: ['echo-args.mjs'],
      command_template: 'node echo-args.mjs --message "{{message}}" --n {{n}}',
    });
    expect(tpl.status).toBe(200);
    const message = "it's (fine), really";
    const job = await admin('POST', '/drones/jobs/from-template', {
      template_id: 'echo',
      input_data: { message, n: 3 },
    });
    expect(job.status).toBe(200);

    const run = await runWorker({
      MYCELIUM_URL: server.url,
      MYCELIUM_DRONE_KEY: reg.body.api_key,
      DRONE_CAPABILITIES: 'cpu',
      DRONE_HOME: join(dir, 'home'),
      POLL_SECONDS: '0.2',
    });
    expect(run.code, run.out).toBe(0);
    const done = await admin('GET', `/drones/jobs/${job.body.id}`);
    expect(done.body).toMatchObject({ status: 'done', drone_id: 'example-drone' });
    const result = JSON.parse(done.body.result_data);
    expect(result.exit_code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(['--message', message, '--n', '3']);
  }, 60_000);
});
