#!/usr/bin/env node
// A tiny Mycelium drone worker: heartbeat, claim, run, report. No dependencies (Node 18+).
//
// It runs TEMPLATE jobs only, and never through a shell: the server renders each job's admin-defined
// template into an argument vector (`command_argv`) and this worker execs exactly that vector, so no
// value queued by an agent can become shell syntax. Jobs without an argument vector (raw admin
// commands) and jobs that need setup steps are reported as failed instead of being run.
//
//   MYCELIUM_URL=http://localhost:3002 MYCELIUM_DRONE_KEY=dvk_… DRONE_CAPABILITIES=cpu node examples/drone-worker.mjs
//
// Environment:
//   MYCELIUM_URL         server base URL (default http://localhost:3002)
//   MYCELIUM_DRONE_KEY   the drone's agent key (from POST /api/mycelium/admin/agents, project_id "drone")
//   DRONE_CAPABILITIES   comma-separated, e.g. "cpu,gpu" (the server also checks the registered list)
//   DRONE_HOME           reported as the drone's home; job workspaces live under it (default: your home)
//   POLL_SECONDS         seconds between claims when idle (default 15)
//   JOB_TIMEOUT_SECONDS  a job still running after this long is killed and reported failed (default 7200)
//   --once               exit after one job has been run and reported

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir, hostname, platform, userInfo } from 'node:os';
import { join } from 'node:path';

const BASE = `${(process.env.MYCELIUM_URL ?? 'http://localhost:3002').replace(/\/$/, '')}/api/mycelium`;
const KEY = process.env.MYCELIUM_DRONE_KEY;
const CAPS = (process.env.DRONE_CAPABILITIES ?? 'cpu')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const HOME = process.env.DRONE_HOME ?? homedir();
const POLL_MS = Number(process.env.POLL_SECONDS ?? 15) * 1000;
const JOB_TIMEOUT_MS = Number(process.env.JOB_TIMEOUT_SECONDS ?? 7200) * 1000;
const ONCE = process.argv.includes('--once');
const VERSION = 'example-1';

if (!KEY) {
  console.error('MYCELIUM_DRONE_KEY is required');
  process.exit(2);
}

async function api(method, path, body) {
  const res = await fetch(BASE + path, {
    method,
    headers: { 'X-Agent-Key': KEY, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${data?.error ?? text}`);
  return data;
}

/** What the server needs to render templates for this machine (spec: state_snapshot.system_info). */
function systemInfo() {
  return {
    os: platform() === 'win32' ? 'windows' : platform(),
    home: HOME,
    username: userInfo().username,
    hostname: hostname(),
    worker_version: VERSION,
  };
}

const heartbeat = (status, workingOn = '') =>
  api('POST', '/agents/heartbeat', {
    status,
    working_on: workingOn,
    state_snapshot: { system_info: systemInfo(), worker_version: VERSION, capabilities: CAPS },
  });

/** Downloads one artifact into the workspace and checks it against the server's SHA-256. */
async function fetchArtifact(name, dir) {
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || /^\.+$/.test(name)) throw new Error(`refusing artifact name ${name}`);
  const res = await fetch(`${BASE}/drones/artifacts/${encodeURIComponent(name)}`, { headers: { 'X-Agent-Key': KEY } });
  if (!res.ok) throw new Error(`artifact ${name}: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  const want = res.headers.get('x-artifact-sha256');
  const got = createHash('sha256').update(bytes).digest('hex');
  if (want && want !== got) throw new Error(`artifact ${name}: sha256 mismatch`);
  await writeFile(join(dir, name), bytes);
}

/** Runs the argument vector with no shell; resolves with exit code and output. */
function run(argv, cwd) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, shell: false, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), JOB_TIMEOUT_MS);
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-100_000)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-100_000)));
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: stderr + String(err.message) });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function runJob(job) {
  const input = JSON.parse(job.input_data || '{}');
  const argv = JSON.parse(job.command_argv || '[]');
  const fail = (error_type, message, extra = {}) =>
    api('PUT', `/drones/jobs/${job.id}`, {
      status: 'failed',
      error: message,
      result_data: { error_type, message, ...extra },
    });
  if (!Array.isArray(argv) || argv.length === 0)
    return fail('unsupported', 'This worker runs template jobs only (no command_argv).');
  if (Array.isArray(input.setup_steps) && input.setup_steps.length)
    return fail('unsupported', 'This worker does not run setup steps (they need a shell).');
  const dir = input.workspace_dir || join(HOME, '.mycelium', 'workspaces', `job-${job.id}`);
  try {
    await mkdir(dir, { recursive: true });
    for (const name of input.artifacts ?? []) await fetchArtifact(name, dir);
  } catch (err) {
    return fail('setup', err.message, { phase: 'artifacts' });
  }
  await heartbeat('busy', `job #${job.id}: ${job.title}`);
  const r = await run(argv, dir);
  if (r.code === 0)
    return api('PUT', `/drones/jobs/${job.id}`, { status: 'done', result_data: { stdout: r.stdout, exit_code: 0 } });
  return fail('exit_code', `exited with ${r.code}`, { stdout: r.stdout, stderr: r.stderr });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  for (;;) {
    try {
      await heartbeat('online');
      const claim = await api('POST', '/drones/claim', { capabilities: CAPS });
      if (claim.job) {
        console.log(`claimed job #${claim.job.id}: ${claim.job.title}`);
        await runJob(claim.job);
        console.log(`reported job #${claim.job.id}`);
        if (ONCE) return;
        continue;
      }
      if (claim.skipped) console.log(`skipped job #${claim.skipped.job_id}: ${claim.skipped.reason}`);
    } catch (err) {
      // A frozen instance (503) or a network blip: wait and try again.
      console.error(String(err.message ?? err));
    }
    await sleep(POLL_MS);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
