import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, chmodSync, statSync, writeFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { killServerProcesses, startServerProcess as start, type ServerProcess } from '../support/server-process.js';

/**
 * The real `npm start` entry as a child process: first-run secrets, data-folder modes,
 * restart persistence, production refusal, graceful shutdown.
 */
const dirs: string[] = [];
afterAll(() => {
  killServerProcesses();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'mycelium-srv-'));
  dirs.push(d);
  return d;
}

async function stop(s: ServerProcess) {
  s.child.kill('SIGTERM');
  return s.exited;
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('Node server (npm start)', () => {
  it('first run with no env: generates and persists secrets, prints the admin key once; data 0700, files 0600; state survives a restart', async () => {
    const dataDir = join(tempDir(), 'data');
    const first = await start({ DATA_DIR: dataDir });
    const key = first.stdout().match(/Admin key \(shown once\): (\S+)/)?.[1];
    expect(key).toMatch(/^myc_admin_[0-9a-f]{48}$/);
    const reg = await fetch(`${first.url}/api/mycelium/admin/agents`, {
      method: 'POST',
      headers: { 'X-Admin-Key': key!, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: 'survivor', name: 'S', project_id: 'p' }),
    });
    expect(reg.status).toBe(200);
    const agentKey = (await reg.json()).api_key;
    expect(
      (await fetch(`${first.url}/api/mycelium/agents/survivor`, { headers: { 'X-Agent-Key': agentKey } })).status,
    ).toBe(200);
    expect(
      (await fetch(`${first.url}/api/mycelium/agents`, { headers: { 'X-Agent-Key': `dvk_${'0'.repeat(48)}` } })).status,
    ).toBe(403);

    // P-08 / P-09: WAL on, directory 0700, every file 0600
    expect(mode(dataDir)).toBe(0o700);
    for (const f of readdirSync(dataDir)) {
      const p = join(dataDir, f);
      if (statSync(p).isFile()) expect(mode(p), f).toBe(0o600);
    }
    expect(existsSync(join(dataDir, 'mycelium.db-wal'))).toBe(true);
    expect(await stop(first)).toBe(0);
    const db = new Database(join(dataDir, 'mycelium.db'));
    expect((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode).toBe('wal');
    db.close();

    const second = await start({ DATA_DIR: dataDir });
    expect(second.stdout()).not.toContain('Admin key (shown once)');
    const again = await fetch(`${second.url}/api/mycelium/agents/survivor`, { headers: { 'X-Admin-Key': key! } });
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe('survivor');
    expect(await stop(second)).toBe(0);
  }, 60_000);

  it('P-09: an existing folder with loose modes is tightened at start', async () => {
    const dataDir = join(tempDir(), 'loose');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'mycelium.db'), '');
    chmodSync(join(dataDir, 'mycelium.db'), 0o644);
    const s = await start({ DATA_DIR: dataDir });
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(join(dataDir, 'mycelium.db'))).toBe(0o600);
    expect(mode(join(dataDir, 'secrets.json'))).toBe(0o600);
    expect(await stop(s)).toBe(0);
  }, 30_000);

  it('P-09 / REL-14: a SIGTERM sent the moment the ready line appears still shuts down cleanly (exit 0), every time', async () => {
    // The ready line used to be printed before the signal handlers existed, so a SIGTERM in that
    // window killed the process outright (exit code null). Several rounds make the race visible.
    for (let round = 0; round < 5; round++) {
      const s = await start({
        DATA_DIR: join(tempDir(), `early-${round}`),
        ADMIN_KEY: 'k'.repeat(40),
        JWT_SECRET: 'j'.repeat(40),
      });
      s.child.kill('SIGTERM');
      expect(await s.exited, `round ${round}`).toBe(0);
      expect(s.stdout()).toContain('SIGTERM received');
    }
  }, 90_000);

  it('SEC-02: in production a missing or weak secret is fatal (exit 1, FATAL on stderr)', async () => {
    const cases: Record<string, string>[] = [
      { NODE_ENV: 'production', DATA_DIR: join(tempDir(), 'd') },
      { NODE_ENV: 'production', DATA_DIR: join(tempDir(), 'd'), ADMIN_KEY: 'x'.repeat(40) },
      { NODE_ENV: 'production', DATA_DIR: join(tempDir(), 'd'), ADMIN_KEY: 'short', JWT_SECRET: 'y'.repeat(40) },
      { DATA_DIR: join(tempDir(), 'd'), JWT_SECRET: 'change-this-secret-in-production' },
    ];
    for (const env of cases) {
      const err = await start(env).then(
        () => null,
        (e) => e as { code: number; err: string },
      );
      expect(err, JSON.stringify(env)).not.toBeNull();
      expect(err!.code).toBe(1);
      expect(err!.err).toContain('FATAL');
    }
  }, 60_000);

  it('production with strong secrets starts and prints no key', async () => {
    const s = await start({
      NODE_ENV: 'production',
      DATA_DIR: join(tempDir(), 'prod'),
      ADMIN_KEY: 'a'.repeat(40),
      JWT_SECRET: 'b'.repeat(40),
    });
    expect(s.stdout()).not.toContain('Admin key');
    const h = await fetch(`${s.url}/health`);
    expect(h.status).toBe(200);
    expect(await stop(s)).toBe(0);
  }, 30_000);

  it('REL-14: SIGTERM finishes in-flight requests and exits 0, the database closed cleanly', async () => {
    const dataDir = join(tempDir(), 'term');
    const s = await start({ DATA_DIR: dataDir, ADMIN_KEY: 'k'.repeat(40), JWT_SECRET: 'j'.repeat(40) });
    const inflight = fetch(`${s.url}/api/mycelium/studio/users`, {
      method: 'POST',
      headers: { 'X-Admin-Key': 'k'.repeat(40), 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'late', password: 'a long password', display_name: 'Late' }),
    });
    await new Promise((r) => setTimeout(r, 30));
    s.child.kill('SIGTERM');
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(await s.exited).toBe(0);
    expect(s.stdout()).toContain('SIGTERM received');
    const db = new Database(join(dataDir, 'mycelium.db'));
    expect(
      (db.prepare("SELECT COUNT(*) AS n FROM studio_users WHERE username = 'late'").get() as { n: number }).n,
    ).toBe(1);
    db.close();
  }, 30_000);
});
