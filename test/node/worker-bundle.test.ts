import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildWorker } from '../../scripts/build-worker.mjs';
import { startHranaServer } from '../../dev/hrana-server.js';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';

/** The Workers entry as deployed: the esbuild bundle in workerd, fetch and the cron trigger. */
let dir: string;
let bundle: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-bundle-'));
  bundle = await buildWorker(join(dir, 'worker.js'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Worker bundle', () => {
  it('contains no Node built-ins', () => {
    const code = readFileSync(bundle, 'utf8');
    expect(code).not.toMatch(/from\s*["']node:/);
    expect(code).not.toMatch(/require\(["'](fs|path|child_process|node:[a-z_]+)["']\)/);
  });

  it('answers 503 with a JSON error (not a crash) when its secrets are missing', async () => {
    const mf = new Miniflare({
      modules: true,
      modulesRoot: dir,
      scriptPath: bundle,
      compatibilityDate: '2025-07-01',
      bindings: { LIBSQL_URL: 'http://127.0.0.1:9' },
    });
    try {
      const res = await mf.dispatchFetch('http://localhost/health');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: 'Server is not configured' });
    } finally {
      await mf.dispose();
    }
  });

  it('the cron trigger runs the same maintenance as the Node timer', async () => {
    const dbPath = join(dir, 'cron.db');
    const hrana = await startHranaServer({ dbPath });
    const mf = new Miniflare({
      modules: true,
      modulesRoot: dir,
      scriptPath: bundle,
      compatibilityDate: '2025-07-01',
      bindings: { ADMIN_KEY: 'a'.repeat(40), JWT_SECRET: 'b'.repeat(40), LIBSQL_URL: hrana.url, LOG_LEVEL: 'error' },
    });
    const db = new Db(new SqliteFileDriver(dbPath));
    try {
      const worker = (await mf.getWorker()) as unknown as {
        scheduled(o: { cron: string; scheduledTime: Date }): Promise<unknown>;
      };
      await worker.scheduled({ cron: '*/5 * * * *', scheduledTime: new Date() });
      const runs = await db.all<{ job: string }>('SELECT job FROM maintenance_runs ORDER BY job');
      expect(runs.map((r) => r.job)).toContain('password_reset_cleanup');
      const health = await mf.dispatchFetch('http://localhost/health');
      expect(((await health.json()) as { db_ok: boolean }).db_ok).toBe(true);
    } finally {
      await mf.dispose();
      await db.close();
      await hrana.close();
    }
  });
});
