import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDevVars } from '../../dev/worker.js';

/**
 * `npm run dev:worker` as a newcomer runs it (issue 16): the Worker bundle in workerd against local
 * libSQL servers it starts itself, secrets generated into a 0600 vars file, the admin key printed
 * once, the API usable (register an agent, see the event over SSE), and a second start reusing both.
 */
const dir = mkdtempSync(join(tmpdir(), 'mycelium-devw-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  origin: string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function startDevWorker(): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/worker.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      DEV_WORKER_PORT: '0',
      DEV_WORKER_DIR: join(dir, 'data'),
      DEV_WORKER_VARS: join(dir, '.dev.vars'),
      DEV_WORKER_BUNDLE: join(dir, 'worker.js'),
      DEV_WORKER_WATCH: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 40 s\nstdout:${out}\nstderr:${err}`)), 40_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m && /Admin key/.test(out)) {
        clearTimeout(timer);
        resolve({ child, origin: m[1], stdout: () => out, exited });
      }
    });
    child.stderr!.on('data', (d) => (err += d));
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}\nstdout:${out}\nstderr:${err}`));
    });
  });
}

async function stop(s: Started) {
  s.child.kill('SIGTERM');
  return s.exited;
}

/** Reads an SSE stream until `predicate` matches the text so far (or the time runs out). */
async function readStreamUntil(url: string, headers: Record<string, string>, predicate: (t: string) => boolean) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  let text = '';
  try {
    const res = await fetch(url, { headers, signal: ac.signal });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    while (!predicate(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } catch {
    // aborted: return what arrived
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return text;
}

describe('npm run dev:worker (issue 16)', () => {
  it('parses .dev.vars as dotenv: comments, quotes, blank lines', () => {
    expect(parseDevVars('# c\nA=1\n\nB="two words"\nC=\'x\'\n  D = spaced  \nnot a line\n')).toEqual({
      A: '1',
      B: 'two words',
      C: 'x',
      D: 'spaced',
    });
  });

  it('first run: generates secrets (0600), prints the admin key once, serves the API from workerd; second run reuses them', async () => {
    const first = await startDevWorker();
    const vars = parseDevVars(readFileSync(join(dir, '.dev.vars'), 'utf8'));
    expect(vars.ADMIN_KEY).toMatch(/^myc_admin_[0-9a-f]{48}$/);
    expect(vars.JWT_SECRET.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir, '.dev.vars')).mode & 0o777).toBe(0o600);
    expect(first.stdout()).toContain(vars.ADMIN_KEY);

    const health = await fetch(`${first.origin}/health`);
    expect(health.status).toBe(200);
    expect((await health.json()).db_ok).toBe(true);

    const reg = await fetch(`${first.origin}/api/mycelium/admin/agents`, {
      method: 'POST',
      headers: { 'X-Admin-Key': vars.ADMIN_KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'ada', name: 'Ada', project_id: 'apollo' }),
    });
    expect(reg.status).toBe(200);
    expect((await reg.json()).api_key).toMatch(/^dvk_/);

    const sse = await readStreamUntil(
      `${first.origin}/api/mycelium/events/stream?since=0`,
      { 'X-Admin-Key': vars.ADMIN_KEY },
      (t) => t.includes('agent_registered'),
    );
    expect(sse).toContain('"type":"agent_registered"');
    expect(sse).toContain('ada');
    // Miniflare's own exit hook ends the process with 128+15 on SIGTERM; either way it stops by itself.
    expect([0, 143]).toContain(await stop(first));

    // Same data folder and secrets: the agent is still there, the key is not printed again.
    const second = await startDevWorker();
    expect(second.stdout()).not.toContain(vars.ADMIN_KEY);
    expect(parseDevVars(readFileSync(join(dir, '.dev.vars'), 'utf8'))).toEqual(vars);
    const agent = await fetch(`${second.origin}/api/mycelium/agents/ada`, {
      headers: { 'X-Admin-Key': vars.ADMIN_KEY },
    });
    expect(agent.status).toBe(200);
    expect((await agent.json()).id).toBe('ada');
    await stop(second);
  }, 90_000);
});
