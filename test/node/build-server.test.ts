import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildServer } from '../../scripts/build-server.mjs';
import { killServerProcesses, startServerProcess } from '../support/server-process.js';
import { callTool, mcpClient } from '../support/mcp-client.js';
import type { Target } from '../support/target.js';

/**
 * Issue 11 "Memory and start": production runs compiled JavaScript. The esbuild bundle
 * (scripts/build-server.mjs) is built into a folder of its own inside the repository (so `libsql`
 * resolves from node_modules as it does for dist/), started with plain `node` and
 * NODE_ENV=production, and driven through the calls that load code lazily: the argon2 worker
 * thread (operator login), the MCP SDK (a tool call) and undici (a webhook delivery).
 */
const root = join(import.meta.dirname, '../..');
const outdir = join(root, 'dist', `test-bundle-${process.pid}`);
const dirs: string[] = [outdir];
let bundle = '';
let runtimeImports: string[] = [];
let receiver: Server | undefined;

beforeAll(async () => {
  ({ outfile: bundle, runtimeImports } = await buildServer(outdir));
}, 60_000);

afterAll(async () => {
  killServerProcesses();
  if (receiver) await new Promise((r) => receiver!.close(r));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('compiled server (issue 11)', () => {
  it('the bundle is self-contained: its worker-thread files beside it, and at run time it imports only Node built-ins and libsql', () => {
    expect(existsSync(join(outdir, 'argon2-worker.mjs'))).toBe(true);
    expect(existsSync(join(outdir, 'checkpoint-worker.mjs'))).toBe(true);
    const builtins = new Set(builtinModules);
    const packages = runtimeImports.filter((s) => !s.startsWith('node:') && !builtins.has(s));
    // libsql (native) is the one package node_modules must hold; bufferutil and utf-8-validate are
    // ws's optional accelerators, required inside try/catch (absent, ws uses its JavaScript code).
    expect(packages).toEqual(['bufferutil', 'libsql', 'utf-8-validate']);
    // The native driver stays a plain import resolved by Node at run time (no TypeScript loader either).
    const code = readFileSync(bundle, 'utf8');
    expect(code.includes('from"libsql"')).toBe(true);
    expect(code.includes('tsx')).toBe(false);
    // What loads on first use is a chunk of its own, not source V8 holds from the start (RSS after
    // start): the docs page's assets (Swagger UI, ~1.9 MB) are not in the entry file.
    expect(code.includes('SwaggerUIBundle')).toBe(false);
    const docs = readdirSync(join(outdir, 'chunks')).filter((f) => /^assets\.generated-.*\.mjs$/.test(f));
    expect(docs.some((f) => readFileSync(join(outdir, 'chunks', f), 'utf8').includes('SwaggerUIBundle'))).toBe(true);
  });

  it('runs with plain node under NODE_ENV=production: /health, an agent heartbeat, an operator login, an MCP tool call, a webhook delivery and a WebSocket upgrade', async () => {
    const got: { path: string; body: string }[] = [];
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        got.push({ path: req.url ?? '', body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
    const hookPort = (receiver.address() as AddressInfo).port;

    const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-bundle-'));
    dirs.push(dataDir);
    const adminKey = `bundle_admin_${'a'.repeat(40)}`;
    const s = await startServerProcess(
      {
        NODE_ENV: 'production',
        DATA_DIR: dataDir,
        ADMIN_KEY: adminKey,
        JWT_SECRET: 'j'.repeat(48),
        MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${hookPort}`,
      },
      { bundle },
    );
    const api = (path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) =>
      fetch(`${s.url}/api/mycelium${path}`, {
        method: init.method ?? 'GET',
        headers: { 'Content-Type': 'application/json', ...init.headers },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
    const admin = { 'X-Admin-Key': adminKey };

    const health = await fetch(`${s.url}/health`);
    expect(health.status).toBe(200);
    expect(s.stdout()).not.toContain('Admin key (shown once)');

    const reg = await api('/admin/agents', {
      method: 'POST',
      headers: admin,
      body: { id: 'bundled', name: 'B', project_id: 'p' },
    });
    expect(reg.status).toBe(200);
    const agentKey = (await reg.json()).api_key as string;
    const beat = await api('/agents/heartbeat', {
      method: 'POST',
      headers: { 'X-Agent-Key': agentKey },
      body: { status: 'busy', working_on: 'bundling' },
    });
    expect(beat.status).toBe(200);
    const row = await (await api('/agents/bundled', { headers: admin })).json();
    expect(row.working_on).toBe('bundling');

    // argon2id runs on a worker thread loaded from dist/argon2-worker.mjs.
    const user = await api('/studio/users', {
      method: 'POST',
      headers: admin,
      body: { username: 'ada', password: 'a long passphrase', display_name: 'Ada', role: 'admin' },
    });
    expect(user.status).toBe(200);
    const login = await api('/studio/login', {
      method: 'POST',
      body: { username: 'ada', password: 'a long passphrase' },
    });
    expect(login.status).toBe(200);
    expect(typeof (await login.json()).token).toBe('string');

    // The MCP SDK is loaded on the first MCP request.
    const target = { fetch: (p: string, init?: RequestInit) => fetch(`${s.url}${p}`, init) } as unknown as Target;
    const mcp = await mcpClient(target, { 'X-Agent-Key': agentKey });
    const work = await callTool(mcp, 'mycelium_get_work');
    expect(work.isError, work.text).toBe(false);
    expect(work.text.length).toBeGreaterThan(0);
    await mcp.close();

    // undici (pinned outbound connections) is loaded on the first webhook delivery.
    const hook = await api('/webhooks', {
      method: 'POST',
      headers: admin,
      body: { agent_id: '__global__', url: `http://127.0.0.1:${hookPort}/hook`, events: ['custom.bundled'] },
    });
    expect(hook.status).toBe(200);
    const ev = await api('/events', {
      method: 'POST',
      headers: admin,
      body: { type: 'custom.bundled', data: { n: 1 } },
    });
    expect(ev.status).toBe(200);
    const deadline = Date.now() + 15_000;
    while (!got.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(got[0]?.path).toBe('/hook');
    expect(JSON.parse(got[0].body)).toMatchObject({ event: 'custom.bundled', data: { n: 1 } });

    // `ws` (CommonJS, a chunk of its own) is loaded on the first upgrade: the file-drone tunnel
    // accepts the socket and closes it with its own refusal code (no credentials), not 1006.
    const socket = new WebSocket(`${s.url.replace('http', 'ws')}/ws/file-drone`);
    const closed = await new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    expect(closed).toBe(4401);

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.stderr()).not.toMatch(/ERROR|FATAL|Cannot find/);
  }, 60_000);

  it('`npm start` in one command with no configuration: builds, starts, prints the admin key once, answers /health', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'mycelium-npm-start-')), 'data');
    dirs.push(join(dataDir, '..'));
    // Only what a shell always has, plus a data folder and port that keep the run out of ./data and :3002.
    const child = spawn('npm', ['start'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? tmpdir(),
        DATA_DIR: dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: npm, the shell and node end together
    });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start within 45 s\n${out}\n${err}`)), 45_000);
        child.stdout!.on('data', (d) => {
          out += d;
          const m = out.match(/Mycelium (http:\/\/localhost:\d+)/);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        exited.then((code) => reject(new Error(`npm start exited ${code}\n${out}\n${err}`)));
      });
      expect(out).toMatch(/Admin key \(shown once\): myc_admin_[0-9a-f]{48}/);
      expect(out).toContain('node dist/server.mjs');
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
    await exited;
  }, 60_000);
});
