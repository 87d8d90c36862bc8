import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('sleep mode (spec 01 §5.3, 02 §3.8)', () => {
  it('on → state, auto-away, log; dispatches are logged; off → everyone back, agents told, morning summary', async () => {
    const a = await registerAgent(t, 'sl-ada', 'sl'); // first request: the Worker migrates its DB lazily
    await t.db.run(
      "INSERT INTO operators (id, display_name, status, availability) VALUES ('op-sleepy', 'Sleepy', 'active', 'available'), ('op-idle', 'Idle Ivy', 'active', 'available')",
    );
    await t.db.run("UPDATE agents SET operator_id = 'op-sleepy' WHERE id = ?", [a.id]);
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });

    const bad = await t.call('PUT', '/admin/sleep', { admin: true, body: { action: 'nap' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('action must be on or off');
    const wake = await t.call('PUT', '/admin/sleep', {
      admin: true,
      body: { action: 'on', auto_wake_at: '2030-01-01T00:00:00Z' },
    });
    expect(wake.status).toBe(400);

    const on = await t.call('PUT', '/admin/sleep', {
      admin: true,
      headers: { 'X-Acting-As': 'Sleepy' },
      body: { action: 'on', operator_id: 'op-sleepy', directive: 'keep shipping' },
    });
    expect(on.status).toBe(200);
    expect(on.body.sleep_mode).toMatchObject({
      active: true,
      directive: 'keep shipping',
      approval_policy: 'queue_high',
      started_by: 'Sleepy',
    });
    expect(on.body.auto_away_operators).toEqual(['op-idle']);
    expect(
      (await t.db.get<{ availability: string }>("SELECT availability FROM operators WHERE id = 'op-sleepy'"))!
        .availability,
    ).toBe('sleeping');
    const ev = await t.db.get<{ data: string }>("SELECT data FROM events WHERE type = 'sleep_mode_on'");
    expect(JSON.parse(ev!.data)).toEqual({ directive: 'keep shipping' });

    const g = await t.call('GET', '/admin/sleep', { agentKey: a.key });
    expect(g.body).toMatchObject({ sleep_mode: { active: true }, autonomous: true, available_operators: 0 });
    expect(g.body.log).toMatchObject({ dispatches: [], messages_sent: 0 });

    // A dispatch while asleep is recorded in the log.
    const b = await registerAgent(t, 'sl-bob', 'sl');
    const tid = Number(
      (await t.db.get<{ id: number }>(
        "INSERT INTO tasks (title, project_id, requester) VALUES ('night job', 'sl', 'x') RETURNING id",
      ))!.id,
    );
    const hb = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: {} });
    expect(hb.body.auto_dispatched).toEqual([{ agent: b.id, type: 'task', id: tid, title: 'night job' }]);
    await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'night note' } });
    const log = (await t.call('GET', '/admin/sleep', { admin: true })).body.log;
    expect(log.messages_sent).toBe(1);
    expect(log.dispatches).toHaveLength(1);
    expect(log.dispatches[0]).toMatchObject({ agent: b.id, id: tid, time: expect.stringMatching(/Z$/) });

    const off = await t.call('PUT', '/admin/sleep', {
      admin: true,
      headers: { 'X-Acting-As': 'Sleepy' },
      body: { action: 'off', operator_id: 'op-sleepy' },
    });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ ok: true, sleep_mode: { active: false }, was_override: false });
    expect(off.body.slept_since).toMatch(/Z$/);
    expect(off.body.morning_summary).toMatchObject({
      dispatches: 1,
      messages_sent: 1,
      steps_completed: [],
      approvals_queued: [],
    });
    // Awake again: messages are no longer counted.
    await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'day note' } });
    expect((await t.call('GET', '/admin/sleep', { admin: true })).body.log.messages_sent).toBe(1);
    const ops = await t.db.all<{ id: string; availability: string }>(
      "SELECT id, availability FROM operators WHERE id IN ('op-sleepy','op-idle') ORDER BY id",
    );
    expect(ops).toEqual([
      { id: 'op-idle', availability: 'available' },
      { id: 'op-sleepy', availability: 'available' },
    ]);
    const notices = await t.db.all<{ content: string }>(
      "SELECT content FROM messages WHERE from_agent = '__system__' AND to_agent = ? ORDER BY id",
      [a.id],
    );
    expect(notices.map((n) => n.content)[0]).toBe('Sleep mode ended. Human operators are available again.');
    expect(notices.some((n) => n.content.startsWith("Good morning! Here's what happened while you were away:"))).toBe(
      true,
    );
    expect((await t.call('PUT', '/admin/sleep', { agentKey: a.key, body: { action: 'on' } })).status).toBe(401);
  });
});
