import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase, type MyceliumApp } from '../../worker/src/app.js';
import { maintenance } from '../../worker/src/maintenance.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import { createNodeRuntime, verifyBackup } from '../../node-adapter/runtime.js';

/**
 * Node-only: backups are files in DATA_DIR (spec 07 REL-23), and the governance area's
 * periodic jobs (health patrol, context purge) run through `maintenance()`.
 */
let dataDir: string;
let runtime: ReturnType<typeof createNodeRuntime>;
let app: MyceliumApp;
let adminKey: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'mycelium-backups-'));
  adminKey = `test_admin_${randomBytes(20).toString('hex')}`;
  const config = loadConfig({ ADMIN_KEY: adminKey, JWT_SECRET: randomBytes(32).toString('hex'), DATA_DIR: dataDir });
  runtime = createNodeRuntime({
    config,
    log: consoleLogger('error', { log: () => undefined, error: () => undefined }),
  });
  await prepareDatabase(runtime);
  app = createApp(runtime);
});
afterAll(async () => {
  await runtime.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const call = async (method: string, path: string, body?: unknown) => {
  const res = await app.app.fetch(
    new Request(`http://localhost/api/mycelium${path}`, {
      method,
      headers: { 'X-Admin-Key': adminKey, 'Content-Type': 'application/json', 'X-Forwarded-For': '203.0.113.5' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { incoming: { socket: { remoteAddress: '127.0.0.1' } } },
  );
  return { status: res.status, body: (await res.json()) as any };
};

describe('backups', () => {
  it('REL-23: POST /admin/backups writes a 0600 copy that passes an integrity check; a corrupted copy fails it', async () => {
    await runtime.db.run("INSERT INTO context (project_id, data) VALUES ('p', '{\"k\":1}')");
    const r = await call('POST', '/admin/backups');
    expect(r.status).toBe(200);
    const file = join(dataDir, 'backups', r.body.name);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'backups')).mode & 0o777).toBe(0o700);
    expect(verifyBackup(file)).toBeNull();
    const listed = await call('GET', '/admin/backups');
    expect(listed.body.backups.map((b: { name: string }) => b.name)).toContain(r.body.name);
    // Corrupt the copy: the verifier reports it.
    const bytes = readFileSync(file);
    bytes.fill(0x41, 0, 100);
    writeFileSync(file, bytes);
    expect(verifyBackup(file)).not.toBeNull();
  });
});

describe('governance maintenance jobs', () => {
  it('the 5-minute health patrol runs from maintenance unless patrol_enabled is false', async () => {
    await runtime.db.run(
      "INSERT INTO agents (id, name, project_id, api_key_hash, status, last_heartbeat) VALUES ('m-stale', 'm', 'p', 'h1', 'online', '2020-01-01 00:00:00')",
    );
    await call('PUT', '/admin/config/patrol_enabled', { value: 'false' });
    const patrol = app.ctx.jobs.filter((j) => j.name === 'health_patrol');
    expect(patrol).toHaveLength(1);
    await maintenance(app.ctx, patrol);
    expect((await runtime.db.get<{ status: string }>("SELECT status FROM agents WHERE id = 'm-stale'"))?.status).toBe(
      'online',
    );
    await call('PUT', '/admin/config/patrol_enabled', { value: 'true' });
    await runtime.db.run("DELETE FROM maintenance_runs WHERE job = 'health_patrol'");
    const report = await maintenance(app.ctx, patrol);
    expect(report.ran).toEqual(['health_patrol']);
    expect((await runtime.db.get<{ status: string }>("SELECT status FROM agents WHERE id = 'm-stale'"))?.status).toBe(
      'offline',
    );
  });

  it('context purge deletes expired keys and history older than 90 days', async () => {
    await runtime.db.run(
      `INSERT INTO context_keys (namespace, key, data, expires_at) VALUES ('n', 'gone', '1', '2001-01-01T00:00:00.000Z'), ('n', 'kept', '1', '2999-01-01T00:00:00.000Z'), ('n', 'forever', '1', NULL)`,
    );
    await runtime.db.run(
      "INSERT INTO context_history (namespace, key, data, changed_at) VALUES ('n', 'kept', 'old', datetime('now', '-91 days')), ('n', 'kept', 'recent', datetime('now', '-1 day'))",
    );
    const job = app.ctx.jobs.filter((j) => j.name === 'context_purge');
    const report = await maintenance(app.ctx, job);
    expect(report.ran).toEqual(['context_purge']);
    const keys = await runtime.db.all<{ key: string }>(
      "SELECT key FROM context_keys WHERE namespace = 'n' ORDER BY key",
    );
    expect(keys.map((k) => k.key)).toEqual(['forever', 'kept']);
    const hist = await runtime.db.all<{ data: string }>("SELECT data FROM context_history WHERE namespace = 'n'");
    expect(hist.map((h) => h.data)).toEqual(['recent']);
  });
});
