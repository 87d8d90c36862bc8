import { NoInput, type PluginApi, z } from '../../worker/src/plugins/sdk.js';

/**
 * Misbehaves on purpose, so the host's containment can be shown on a live server: a route that
 * throws, one that rejects, a task_created hook that throws/rejects/hangs per config, and a
 * setup that throws when `fail_at_load` is set. Ships disabled.
 */
export async function setup(api: PluginApi) {
  if ((await api.config.get('fail_at_load')) === 'true') throw new Error('fault-injection: configured to fail at load');

  // Admin-only: a diagnostic, not something agents should be able to poke. None takes input.
  const admin = { auth: 'admin' as const, query: NoInput };
  api.get('/ping', () => ({ ok: true, plugin: api.name }), {
    ...admin,
    response: z.object({ ok: z.boolean(), plugin: z.string() }),
  });
  api.get(
    '/throw',
    () => {
      throw new Error('fault-injection: synchronous throw');
    },
    admin,
  );
  api.get(
    '/reject',
    async () => {
      await Promise.resolve();
      throw new TypeError('fault-injection: async rejection');
    },
    admin,
  );
  api.get(
    '/hook-runs',
    async () => {
      const rows = await api.db.all<{ event_id: number; event_type: string }>(
        'SELECT event_id, event_type FROM fault_hook_runs ORDER BY id',
      );
      return { runs: rows };
    },
    { ...admin, response: z.object({ runs: z.array(z.object({ event_id: z.number(), event_type: z.string() })) }) },
  );

  api.on('task_created', async (ev) => {
    await api.db.run('INSERT INTO fault_hook_runs (event_id, event_type) VALUES (?, ?)', [ev.id, ev.type]);
    const mode = await api.config.get('hook_mode');
    if (mode === 'throw') throw new Error('fault-injection: hook throws');
    if (mode === 'reject') return Promise.reject(new Error('fault-injection: hook rejects'));
    if (mode === 'hang') await new Promise(() => undefined);
  });
}
