import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type StartOptions } from '../../node-adapter/server.js';

/**
 * The server entry (`node-adapter/index.ts` through tsx, or the built bundle) as a child process on a free
 * loopback port, for tests that need a real process: first-run secrets, signals, kill -9, floods.
 * Resolves once the ready line is printed; rejects (with the exit code and both outputs) when the
 * process exits first or says nothing within 20 s.
 */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  port: number;
  stdout: () => string;
  stderr: () => string;
  /** The exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

export interface StartFailure extends Error {
  code: number | null;
  out: string;
  err: string;
}

const started: ChildProcess[] = [];

export interface StartProcessOptions {
  /** A built bundle to run with plain node (scripts/build-server.mjs) instead of the TypeScript entry. */
  bundle?: string;
}

export function startServerProcess(
  env: Record<string, string>,
  opts: StartProcessOptions = {},
): Promise<ServerProcess> {
  const args = opts.bundle ? [opts.bundle] : ['--import', 'tsx', 'node-adapter/index.ts'];
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 20 s\nstdout:${out}\nstderr:${err}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/Mycelium (http:\/\/localhost:(\d+))/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], port: Number(m[2]), stdout: () => out, stderr: () => err, exited });
      }
    });
    child.stderr!.on('data', (d) => {
      err += d;
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`exited ${code} before start\nstdout:${out}\nstderr:${err}`), { code, out, err }));
    });
  });
}

/** For afterAll: ends every server process a test file started and left running. */
export function killServerProcesses(): void {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
}

/**
 * The real Node server started in this process on a fresh data folder and a free loopback port,
 * with a generated admin key; `stop()` shuts it down and removes the folder.
 */
export async function startLocalServer(
  name: string,
  opts: Omit<StartOptions, 'env' | 'out'> = {},
): Promise<{ server: RunningServer; adminKey: string; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), `mycelium-${name}-`));
  const adminKey = `${name}_admin_${randomBytes(24).toString('hex')}`;
  const server = await startServer({
    ...opts,
    env: {
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      ADMIN_KEY: adminKey,
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'error',
    },
    out: () => undefined,
  });
  return {
    server,
    adminKey,
    stop: async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
