import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agent: { id: string; key: string };
let op: { token: string };

beforeAll(async () => {
  t = await startTarget();
  agent = await registerAgent(t, 'cfg-agent', 'p1');
  op = await createOperator(t, 'cfg-op', 'operator');
});
afterAll(async () => t?.close());

const put = (key: string, value: unknown) => t.call('PUT', `/admin/config/${key}`, { admin: true, body: { value } });

describe('instance config', () => {
  it('lists the seeded keys ordered by key for admins', async () => {
    const r = await t.call('GET', '/admin/config', { admin: true });
    expect(r.status).toBe(200);
    const keys = r.body.map((x: { key: string }) => x.key);
    expect(keys).toEqual([...keys].sort());
    expect(keys).toEqual(expect.arrayContaining(['admin_agent_id', 'admin_status', 'instance_mode', 'risk_tiers']));
    expect(r.body[0]).toEqual({
      key: expect.any(String),
      value: expect.any(String),
      updated_at: expect.any(String),
      updated_by: expect.any(String),
    });
    const one = await t.call('GET', '/admin/config/admin_status', { agentKey: agent.key });
    expect(one.body).toEqual({ key: 'admin_status', value: 'coordinator' });
    expect((await t.call('GET', '/admin/config/nope', { admin: true })).body).toEqual({
      error: 'Config key not found',
    });
  });

  it('SEC-56: sensitive and unknown keys are hidden from agents and non-admin operators', async () => {
    expect((await put('sleep_mode_log', { tasks_completed: [{ id: 1, title: 'private' }] })).status).toBe(200);
    expect((await put('webhook_signing_secret', 'hunter2')).status).toBe(200);
    expect((await put('custom_note', 'internal')).status).toBe(200);
    for (const who of [{ agentKey: agent.key }, { token: op.token }]) {
      const list = await t.call('GET', '/admin/config', who);
      const keys = list.body.map((x: { key: string }) => x.key);
      expect(keys).toContain('admin_status');
      expect(keys).not.toContain('sleep_mode_log');
      expect(keys).not.toContain('webhook_signing_secret');
      expect(keys).not.toContain('custom_note');
      expect(list.text).not.toContain('hunter2');
      expect((await t.call('GET', '/admin/config/webhook_signing_secret', who)).status).toBe(404);
    }
    const admin = await t.call('GET', '/admin/config/webhook_signing_secret', { admin: true });
    expect(admin.body.value).toBe('hunter2');
  });

  it('weak spot 26: known keys are typed and validated; nothing is written on a bad value', async () => {
    const bad: [string, unknown, RegExp][] = [
      ['admin_status', 'melted', /admin_status|value/],
      ['risk_tiers', { deploy: 'extreme' }, /deploy|must be one of/],
      ['risk_tiers', 'not json', /value/],
      ['patrol_stale_agent_minutes', -5, /at least 1/],
      ['patrol_stale_agent_minutes', 'abc', /number/],
      ['patrol_enabled', 'maybe', /value|must be/],
      ['smart_boot_max_keys', 1.5, /integer/],
      ['instance_url', 'javascript:alert(1)', /URL/],
      ['sleep_mode', { active: 'yes' }, /active/],
    ];
    for (const [key, value, msg] of bad) {
      const r = await put(key, value);
      expect(r.status, `${key}=${JSON.stringify(value)}`).toBe(400);
      expect(r.body.error).toMatch(msg);
    }
    expect(
      (await t.db.get<{ value: string }>("SELECT value FROM instance_config WHERE key = 'admin_status'"))?.value,
    ).toBe('coordinator');
    expect((await t.call('PUT', '/admin/config/instance_mode', { admin: true, body: {} })).body).toEqual({
      error: 'value required',
    });
    expect((await t.call('PUT', '/admin/config/bad%20key', { admin: true, body: { value: 'x' } })).status).toBe(400);
  });

  it('stores strings verbatim and other values JSON-encoded; accepts JSON text for typed keys', async () => {
    expect((await put('patrol_stale_task_minutes', '45')).body).toEqual({
      key: 'patrol_stale_task_minutes',
      value: '45',
    });
    expect((await put('patrol_stale_request_minutes', 90)).body.value).toBe('90');
    const tiers = await put('risk_tiers', JSON.stringify({ deploy: 'high' }));
    expect(tiers.body.value).toBe('{"deploy":"high"}');
    expect((await put('patrol_enabled', false)).body.value).toBe('false');
    const row = await t.db.get<{ updated_by: string }>(
      "SELECT updated_by FROM instance_config WHERE key = 'patrol_enabled'",
    );
    expect(row?.updated_by).toBe('__system__');
    await put('risk_tiers', {
      plan_create: 'low',
      deploy: 'medium',
      git_push: 'medium',
      delete: 'medium',
      external_comm: 'high',
      money_action: 'critical',
    });
  });

  it('setting admin_status to frozen is the kill switch: admin_frozen / admin_unfrozen events', async () => {
    const before = await t.db.get<{ id: number }>('SELECT COALESCE(MAX(id), 0) AS id FROM events');
    expect((await put('admin_status', 'frozen')).status).toBe(200);
    expect((await put('admin_status', 'frozen')).status).toBe(200);
    expect((await put('admin_status', 'coordinator')).status).toBe(200);
    const evs = await t.db.all<{ type: string }>('SELECT type FROM events WHERE id > ? ORDER BY id', [before!.id]);
    expect(evs.map((e) => e.type)).toEqual([
      'config_changed',
      'admin_frozen',
      'config_changed',
      'config_changed',
      'admin_unfrozen',
    ]);
  });

  it('only admins write config', async () => {
    const a = await t.call('PUT', '/admin/config/admin_status', { agentKey: agent.key, body: { value: 'frozen' } });
    expect(a.status).toBe(401);
    const o = await t.call('PUT', '/admin/config/admin_status', { token: op.token, body: { value: 'frozen' } });
    expect(o.status).toBe(403);
    expect(
      (await t.db.get<{ value: string }>("SELECT value FROM instance_config WHERE key = 'admin_status'"))?.value,
    ).toBe('coordinator');
  });
});
