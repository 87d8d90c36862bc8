import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { startTarget, type Target } from '../support/target.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

describe('plugin load failure', () => {
  it('REL-12 / W13: a plugin that throws at load is marked failed, its routes answer 503, and the server and other plugins keep serving', async () => {
    const cfg = await t.call('PUT', '/plugins/fault-injection/config', { admin: true, body: { fail_at_load: true } });
    expect(cfg.status).toBe(200);
    const en = await t.call('PUT', '/plugins/fault-injection/enable', { admin: true });
    expect(en.status).toBe(200);
    expect(en.body).toMatchObject({
      ok: true,
      enabled: 1,
      loaded: false,
      load_error: 'fault-injection: configured to fail at load',
    });
    const r = await t.call('GET', '/plugins/fault-injection/ping', { admin: true });
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: 'Plugin fault-injection failed to load' });
    const detail = await t.call('GET', '/plugins/fault-injection', { admin: true });
    expect(detail.body).toMatchObject({ loaded: false, enabled: 1, hooks: [], mcp_tools: [], routes: [] });
    // Its hook was never registered: a task_created event does not reach it, and the write succeeds.
    expect((await t.call('POST', '/tasks', { admin: true, body: { title: 'after a failed load' } })).status).toBe(200);
    await t.settle();
    const fdb = new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', 'fault-injection.db')));
    try {
      // Migrations ran (they come before setup) but nothing the failed setup staged is live.
      expect(await fdb.get('SELECT COUNT(*) AS n FROM fault_hook_runs')).toEqual({ n: 0 });
    } finally {
      await fdb.close();
    }
    expect((await t.call('GET', '/health')).status).toBe(200);
    expect((await t.call('GET', '/workflows', { admin: true })).status).toBe(200);
  });
});
