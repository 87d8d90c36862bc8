import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('calibration profiles (spec 02 §3.10)', () => {
  it('lists the seeded platform profiles; platform layers are immutable and cannot be created (W35)', async () => {
    const a = await registerAgent(t, 'cal-agent', 'cal');
    const list = await t.call('GET', '/profiles?layer=platform', { admin: true });
    expect(list.body.count).toBe(3);
    expect(list.body.profiles.map((p: { id: string }) => p.id)).toEqual([
      'default-admin',
      'default-agent',
      'default-drone',
    ]);
    expect(list.body.profiles[1].rules.honesty).toMatchObject({ severity: 'critical' });
    expect((await t.call('GET', '/profiles', { agentKey: a.key })).status).toBe(401);
    expect((await t.call('PUT', '/profiles/default-agent', { admin: true, body: { rules: {} } })).body.error).toBe(
      'Cannot modify platform-layer profiles',
    );
    expect((await t.call('DELETE', '/profiles/default-agent', { admin: true })).body.error).toBe(
      'Cannot delete platform-layer profiles',
    );
    const sneaky = await t.call('POST', '/profiles', { admin: true, body: { id: 'sneaky', layer: 'platform' } });
    expect(sneaky.status).toBe(403);
    expect(await t.db.get("SELECT 1 FROM node_profiles WHERE id = 'sneaky'")).toBeUndefined();
  });

  it('CRUD with events; resolve merges the chain and keeps platform-critical rules critical', async () => {
    const a = await registerAgent(t, 'cal-ada', 'cal');
    expect((await t.call('POST', '/profiles', { admin: true, body: {} })).body.error).toBe('id is required');
    const c = await t.call('POST', '/profiles', {
      admin: true,
      body: {
        id: 'customer-agent',
        rules: { honesty: { severity: 'low', description: 'team says' }, tests: { severity: 'high' } },
        md_checkpoints: '["Team anchor"]',
      },
    });
    expect(c.status).toBe(201);
    expect(c.body).toMatchObject({
      id: 'customer-agent',
      layer: 'customer',
      node_type: 'agent',
      md_checkpoints: ['Team anchor'],
    });
    expect((await t.call('POST', '/profiles', { admin: true, body: { id: 'customer-agent' } })).body.error).toBe(
      'Profile already exists: customer-agent',
    );
    await t.call('POST', '/profiles', { admin: true, body: { id: a.id, layer: 'agent', repo_list: ['repo-a'] } });
    const r = await t.call('GET', `/profiles/resolve/${a.id}`, { admin: true });
    expect(r.body.layers_applied.map((l: { id: string }) => l.id)).toEqual(['default-agent', 'customer-agent', a.id]);
    expect(r.body.rules.honesty).toMatchObject({ severity: 'critical', description: 'team says' });
    expect(r.body.rules.tests).toMatchObject({ severity: 'high' });
    expect(r.body.md_checkpoints).toEqual(['mycelium_boot', 'No guessing', 'No silent failures', 'Team anchor']);
    expect(r.body.repo_list).toEqual(['repo-a']);
    const u = await t.call('PUT', '/profiles/customer-agent', {
      admin: true,
      body: { md_blocklist: ['forbidden-tool'] },
    });
    expect(u.body.md_blocklist).toEqual(['forbidden-tool']);
    expect((await t.call('PUT', '/profiles/customer-agent', { admin: true, body: { rules: [] } })).status).toBe(400);
    const d = await t.call('DELETE', '/profiles/customer-agent', { admin: true });
    expect(d.body).toMatchObject({ ok: true, deleted: { id: 'customer-agent' } });
    expect((await t.call('GET', '/profiles/customer-agent', { admin: true })).status).toBe(404);
    const evs = await t.db.all<{ type: string }>("SELECT type FROM events WHERE type LIKE 'profile_%' ORDER BY id");
    expect(evs.map((e) => e.type)).toEqual([
      'profile_created',
      'profile_created',
      'profile_updated',
      'profile_deleted',
    ]);
  });

  it('boot calibration reports drift from the md_report of the latest savepoint', async () => {
    const a = await registerAgent(t, 'cal-drift', 'cal');
    await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: {
        working_on: 'x',
        state_snapshot: { md_report: { anchors_present: ['mycelium_boot'], blocklist_found: [] } },
      },
    });
    const boot = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(boot.body.calibration.status).toBe('drifted');
    expect(boot.body.calibration.drift.map((d: { rule: string; detail: string }) => `${d.rule}:${d.detail}`)).toEqual([
      'md_checkpoint_missing:No guessing',
      'md_checkpoint_missing:No silent failures',
    ]);
    const stored = await t.db.get<{ data: string }>(
      "SELECT data FROM context_keys WHERE namespace = ? AND key = 'md_report'",
      [a.id],
    );
    expect(JSON.parse(stored!.data)).toEqual({ anchors_present: ['mycelium_boot'], blocklist_found: [] });
  });
});

describe('stored calibration block', () => {
  it('boot stores <agent>/standup; a heartbeat rebuilds it only when missing or 6 h old', async () => {
    const a = await registerAgent(t, 'cal-standup', 'cal');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    const first = await t.db.get<{ data: string; version: number }>(
      "SELECT data, version FROM context_keys WHERE namespace = ? AND key = 'standup'",
      [a.id],
    );
    expect(JSON.parse(first!.data)).toMatchObject({ status: 'aligned', profile_chain: [{ id: 'default-agent' }] });
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    expect(
      (await t.db.get<{ version: number }>("SELECT version FROM context_keys WHERE namespace = ? AND key = 'standup'", [
        a.id,
      ]))!.version,
    ).toBe(first!.version);
    await t.db.run(
      "UPDATE context_keys SET updated_at = datetime('now', '-7 hours') WHERE namespace = ? AND key = 'standup'",
      [a.id],
    );
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    expect(
      (await t.db.get<{ version: number }>("SELECT version FROM context_keys WHERE namespace = ? AND key = 'standup'", [
        a.id,
      ]))!.version,
    ).toBe(first!.version + 1);
    await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(
      (await t.db.get<{ version: number }>("SELECT version FROM context_keys WHERE namespace = ? AND key = 'standup'", [
        a.id,
      ]))!.version,
    ).toBe(first!.version + 2);
  });
});
