import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Issue 11 made the heartbeat write only what changed (status, working_on/last_heartbeat, the
 * savepoint as one upsert, the prune as a trigger) and read its facts, inbox and approvals in fewer
 * statements. These tests pin that every skipped write still happens when something did change,
 * and that the folded reads answer as before (spec 02 §3.3), on both runtimes.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

type Agent = { id: string; key: string };
const beat = (a: Agent, body: Record<string, unknown>) =>
  t.call('POST', '/agents/heartbeat', { agentKey: a.key, body });
const agentRow = async (id: string) =>
  (await t.db.get<{ status: string; working_on: string; last_heartbeat: string }>(
    'SELECT status, working_on, last_heartbeat FROM agents WHERE id = ?',
    [id],
  ))!;
const savepoints = (id: string) =>
  t.db.all<{ id: number; working_on: string; session_id: string | null; notes: string | null; heartbeat_at: string }>(
    'SELECT id, working_on, session_id, notes, heartbeat_at FROM agent_savepoints WHERE agent_id = ? ORDER BY id',
    [id],
  );

describe('the agent row: only what changed is written, and every change is', () => {
  it('a repeated status is kept, a new one is written at once, an operator pause survives (REL-17)', async () => {
    const a = await registerAgent(t, 'hbw-status', 'hbw');
    await beat(a, { status: 'busy', working_on: 'x' });
    await beat(a, { status: 'busy', working_on: 'x' });
    expect((await agentRow(a.id)).status).toBe('busy');
    // Within the same second as the beats above: the change is not lost.
    await beat(a, { status: 'idle', working_on: 'x' });
    expect((await agentRow(a.id)).status).toBe('idle');
    await beat(a, { status: 'offline' });
    expect((await agentRow(a.id)).status).toBe('offline');
    await t.db.run("UPDATE agents SET status = 'paused' WHERE id = ?", [a.id]);
    await beat(a, { status: 'busy', working_on: 'y' });
    const row = await agentRow(a.id);
    expect(row.status).toBe('paused');
    expect(row.working_on).toBe('y');
  });

  it('working_on changes within one second are written; a later beat moves last_heartbeat', async () => {
    const a = await registerAgent(t, 'hbw-working', 'hbw');
    await beat(a, { status: 'busy', working_on: 'first' });
    await beat(a, { status: 'busy', working_on: 'second' });
    expect((await agentRow(a.id)).working_on).toBe('second');
    await beat(a, { status: 'busy', working_on: '' });
    expect((await agentRow(a.id)).working_on).toBe('');
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-1 hour') WHERE id = ?", [a.id]);
    const old = (await agentRow(a.id)).last_heartbeat;
    await beat(a, { status: 'busy', working_on: '' });
    const now = (await agentRow(a.id)).last_heartbeat;
    expect(now > old).toBe(true);
    const fresh = await t.db.get<{ fresh: number }>(
      "SELECT last_heartbeat >= datetime('now', '-1 minute') AS fresh FROM agents WHERE id = ?",
      [a.id],
    );
    expect(Number(fresh!.fresh)).toBe(1);
  });
});

describe('the savepoint upsert (spec 02 §3.3 step 6, W21)', () => {
  it('an identical beat adds no row but moves heartbeat_at; any change adds one; pending notes are carried', async () => {
    const a = await registerAgent(t, 'hbw-sp', 'hbw');
    const same = { status: 'busy', working_on: 'w', session_id: 's1', state_snapshot: { step: 1 } };
    await beat(a, same);
    expect(await savepoints(a.id)).toHaveLength(1);
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 hour') WHERE agent_id = ?", [a.id]);
    await beat(a, same);
    const [only] = await savepoints(a.id);
    expect(await savepoints(a.id)).toHaveLength(1);
    const moved = await t.db.get<{ fresh: number }>(
      "SELECT heartbeat_at >= datetime('now', '-1 minute') AS fresh FROM agent_savepoints WHERE id = ?",
      [only.id],
    );
    expect(Number(moved!.fresh)).toBe(1);

    await beat(a, { ...same, state_snapshot: { step: 2 } });
    await beat(a, { ...same, state_snapshot: { step: 2 }, session_id: 's2' });
    await beat(a, { ...same, state_snapshot: { step: 2 }, session_id: 's2', messages_acked: [999999] });
    expect((await savepoints(a.id)).map((s) => s.session_id)).toEqual(['s1', 's1', 's2', 's2']);

    const n = await t.call('PUT', `/agents/${a.id}/savepoint/notes`, { admin: true, body: { notes: 'hand-off' } });
    expect(n.status).toBe(200);
    const next = { ...same, working_on: 'after notes' };
    await beat(a, next);
    let rows = await savepoints(a.id);
    expect(rows).toHaveLength(5);
    expect(rows[4]).toMatchObject({ working_on: 'after notes', notes: 'hand-off' });
    // Same beat again: the carried notes compare equal, so no new row.
    await beat(a, next);
    expect(await savepoints(a.id)).toHaveLength(5);
    // A boot shows the notes; the next beat stops carrying them and writes a row without them.
    expect((await t.call('GET', `/boot/${a.id}`, { agentKey: a.key })).status).toBe(200);
    await beat(a, next);
    rows = await savepoints(a.id);
    expect(rows).toHaveLength(6);
    expect(rows[5]).toMatchObject({ working_on: 'after notes', notes: null });
  });

  it('every savepoint insert keeps the agent’s newest 100, the admin POST included', async () => {
    const a = await registerAgent(t, 'hbw-keep', 'hbw');
    const other = await registerAgent(t, 'hbw-keep-other', 'hbw');
    await beat(other, { working_on: 'untouched' });
    await t.db.run(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 130)
       INSERT INTO agent_savepoints (agent_id, working_on) SELECT ?, 'old ' || i FROM n`,
      [a.id],
    );
    let rows = await savepoints(a.id);
    expect(rows).toHaveLength(100);
    expect(rows[0].working_on).toBe('old 31');
    const p = await t.call('POST', `/agents/${a.id}/savepoint`, { admin: true, body: { notes: 'from admin' } });
    expect(p.status).toBe(200);
    rows = await savepoints(a.id);
    expect(rows).toHaveLength(100);
    expect(rows[99]).toMatchObject({ id: p.body.savepoint_id, notes: 'from admin' });
    expect(rows[0].working_on).toBe('old 32');
    expect(await savepoints(other.id)).toHaveLength(1);
  });
});

describe('the folded reads answer as before (spec 02 §3.3 steps 10, 13)', () => {
  it('directives oldest first, requests and messages newest first, each delivered message marked once', async () => {
    const a = await registerAgent(t, 'hbw-inbox', 'hbw');
    const b = await registerAgent(t, 'hbw-inbox-from', 'hbw');
    const send = async (path: string, body: Record<string, unknown>, admin = false) => {
      const r = await t.call('POST', path, admin ? { admin: true, body } : { agentKey: b.key, body });
      expect(r.status).toBe(200);
      return r.body.id as number;
    };
    const m1 = await send('/messages', { to_agent: a.id, content: 'm1' });
    const m2 = await send('/messages', { to_agent: a.id, content: 'm2' });
    const m3 = await send('/messages', { to_agent: a.id, content: 'm3', priority: 'urgent' });
    const q1 = await send('/requests', { to_agent: a.id, content: 'q1' });
    const q2 = await send('/requests', { to_agent: a.id, content: 'q2' });
    const d1 = await send('/messages', { to_agent: a.id, content: 'd1', msg_type: 'directive' }, true);
    const d2 = await send('/messages', { to_agent: a.id, content: 'd2', msg_type: 'directive' }, true);
    const r = await beat(a, { working_on: 'x' });
    expect(r.status).toBe(200);
    expect(r.body.pending).toBe(7);
    expect(r.body.wake).toBe(true);
    expect(r.body.inbox.messages.map((m: { id: number }) => m.id)).toEqual([m3, m2, m1]);
    expect(r.body.inbox.messages[0]).toEqual({
      id: m3,
      from_agent: b.id,
      to_agent: a.id,
      content: 'm3',
      msg_type: 'message',
      priority: 'urgent',
      project_id: expect.toBeOneOf([null, expect.any(String)]),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
    });
    expect(r.body.inbox.requests.map((m: { id: number }) => m.id)).toEqual([q2, q1]);
    expect(Object.keys(r.body.inbox.requests[0]).sort()).toEqual(
      ['content', 'created_at', 'from_agent', 'id', 'msg_type', 'priority', 'project_id'].sort(),
    );
    expect(r.body.inbox.directives.map((m: { id: number }) => m.id)).toEqual([d1, d2]);
    const marks = await t.db.all<{ message_id: number }>(
      'SELECT message_id FROM message_reads WHERE agent_id = ? ORDER BY message_id',
      [a.id],
    );
    expect(marks.map((m) => Number(m.message_id))).toEqual([m1, m2, m3]);
    const again = await beat(a, { working_on: 'x' });
    expect(again.body.inbox.messages).toEqual([]);
    expect(again.body.pending).toBe(4);
  });

  it('a broadcast directive acked in a beat is not delivered by that beat', async () => {
    const a = await registerAgent(t, 'hbw-ack-dir', 'hbw-solo');
    const d = await t.call('POST', '/messages', {
      admin: true,
      body: { content: 'everyone stop', msg_type: 'directive' },
    });
    expect(d.status).toBe(200);
    const first = await beat(a, { working_on: 'x' });
    expect(first.body.inbox.directives.map((m: { id: number }) => m.id)).toContain(d.body.id);
    const acked = await beat(a, { working_on: 'x', messages_acked: [d.body.id] });
    expect((acked.body.inbox?.directives ?? []).map((m: { id: number }) => m.id)).not.toContain(d.body.id);
    await t.db.run("UPDATE messages SET status = 'resolved' WHERE id = ?", [d.body.id]);
  });

  it('approvals newest first with their fields; the kill switch answers admin_status', async () => {
    const a = await registerAgent(t, 'hbw-appr', 'hbw');
    const ids: number[] = [];
    for (const title of ['first', 'second']) {
      const ap = await t.call('POST', '/approvals', {
        agentKey: a.key,
        body: { action_type: 'deploy', title, payload: {}, project_id: 'hbw' },
      });
      expect(ap.status).toBe(200);
      ids.push(ap.body.id);
    }
    const r = await beat(a, { working_on: 'x' });
    expect(r.body.approvals.map((x: { id: number }) => x.id)).toEqual([ids[1], ids[0]]);
    expect(r.body.approvals[0]).toMatchObject({
      id: ids[1],
      action_type: 'deploy',
      title: 'second',
      status: 'pending',
    });
    expect(Object.keys(r.body.approvals[0]).sort()).toEqual(
      ['action_type', 'created_at', 'decided_at', 'id', 'project_id', 'risk_tier', 'status', 'title'].sort(),
    );
    await t.db.run("INSERT OR REPLACE INTO instance_config (key, value) VALUES ('admin_status', 'frozen')");
    try {
      const f = await beat(a, { working_on: '' });
      expect(f.status).toBe(200);
      expect(f.body.admin_status).toBe('frozen');
      expect(f.body.auto_dispatched).toBeUndefined();
    } finally {
      await t.db.run("DELETE FROM instance_config WHERE key = 'admin_status'");
    }
    expect((await beat(a, { working_on: 'x' })).body.admin_status).toBeUndefined();
  });
});
