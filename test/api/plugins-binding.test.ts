import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

/**
 * Issue 16: on Workers a plugin needs its own libSQL database binding. Enabling one without it is
 * refused with a 400 that names the binding, instead of answering 200 and then failing every write
 * the plugin guards. On Node a plugin's database is a file in DATA_DIR, so enabling always works.
 */
let t: Target;
beforeAll(async () => {
  // The Worker target binds every plugin's database; this one is started without guardrails'.
  t = await startTarget({ env: { PLUGIN_DB_URL_GUARDRAILS: '' } });
});
afterAll(() => t?.close());

describe('plugins and their database bindings (issue 16)', () => {
  it('enabling a plugin whose database binding is missing is refused by name; guarded writes keep working', async () => {
    const en = await t.call('PUT', '/plugins/guardrails/enable', { admin: true });
    const installed = await t.call('POST', '/plugins/install', { admin: true, body: { name: 'guardrails' } });
    if (t.runtime === 'worker') {
      expect(en.status).toBe(400);
      expect(en.body).toEqual({
        error:
          'Plugin guardrails cannot be enabled: the PLUGIN_DB_URL_GUARDRAILS binding is not set (plugin guardrails needs its own libSQL database)',
      });
      expect(installed.status).toBe(400);
      expect(installed.body.error).toContain('PLUGIN_DB_URL_GUARDRAILS');
      const row = await t.db.get<{ enabled: number }>("SELECT enabled FROM plugins WHERE name = 'guardrails'");
      expect(Number(row?.enabled)).toBe(0);
      expect(
        await t.db.get("SELECT COUNT(*) AS n FROM events WHERE type IN ('plugin_enabled', 'plugin_installed')"),
      ).toEqual({ n: 0 });
    } else {
      expect(en.status).toBe(200);
      expect(en.body).toMatchObject({ enabled: 1, loaded: true });
    }
    // Either way the guarded core writes answer as usual.
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'still writable' } });
    expect(task.status).toBe(200);
  });

  it('GET /admin/health names an enabled plugin that cannot serve, with the reason (issue 16)', async () => {
    const before = await t.call('GET', '/admin/health', { admin: true });
    expect(before.status).toBe(200);
    expect(before.body.plugins_unavailable).toEqual([]);
    // A plugin enabled while its load fails (on Workers this is also what a lost binding looks like).
    await t.call('PUT', '/plugins/fault-injection/config', { admin: true, body: { fail_at_load: true } });
    const en = await t.call('PUT', '/plugins/fault-injection/enable', { admin: true });
    expect(en.body.loaded).toBe(false);
    const after = await t.call('GET', '/admin/health', { admin: true });
    expect(after.body.plugins_unavailable).toEqual([
      { name: 'fault-injection', error: 'fault-injection: configured to fail at load' },
    ]);
    // The patrol preview keeps its own keys beside it.
    expect(after.body).toHaveProperty('stale_agents');
  });

  it('a plugin with its binding enables as before', async () => {
    const en = await t.call('PUT', '/plugins/cost-tracker/enable', { admin: true });
    expect(en.status).toBe(200);
    expect(en.body).toMatchObject({ ok: true, enabled: 1, loaded: true });
  });
});
