import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('savepoints (spec 02 §3.7)', () => {
  it('latest / list / diff, self-or-admin', async () => {
    const a = await registerAgent(t, 'sp-a', 'sp');
    const b = await registerAgent(t, 'sp-b', 'sp');
    expect((await t.call('GET', `/agents/${a.id}/savepoint`, { agentKey: a.key })).body).toEqual({
      has_savepoint: false,
    });
    expect((await t.call('GET', `/agents/${a.id}/savepoint/diff`, { agentKey: a.key })).body).toEqual({
      has_savepoint: false,
    });
    await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { session_id: 'S', working_on: 'one', state_snapshot: { progress: ['x'] } },
    });
    await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { session_id: 'S', working_on: 'two', state_snapshot: '{"progress":["y"]}' },
    });
    const latest = await t.call('GET', `/agents/${a.id}/savepoint`, { agentKey: a.key });
    expect(latest.body).toMatchObject({
      agent_id: a.id,
      session_id: 'S',
      working_on: 'two',
      state_snapshot: '{"progress":["y"]}',
      messages_acked: '[]',
      context_versions: '{}',
    });
    expect(latest.body.has_savepoint).toBeUndefined();
    const list = await t.call('GET', `/agents/${a.id}/savepoints?limit=1`, { agentKey: a.key });
    expect(list.body).toHaveLength(1);
    expect(Object.keys(list.body[0]).sort()).toEqual([
      'agent_id',
      'created_at',
      'heartbeat_at',
      'id',
      'notes',
      'session_id',
      'working_on',
    ]);
    const forbidden = await t.call('GET', `/agents/${a.id}/savepoints`, { agentKey: b.key });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('Can only access your own savepoints');
    const diff = await t.call('GET', `/agents/${a.id}/savepoint/diff`, { admin: true });
    expect(diff.body).toMatchObject({
      has_savepoint: true,
      was_working_on: 'two',
      previous_state: { progress: ['y'] },
    });
    expect(Object.keys(diff.body.summary).sort()).toEqual([
      'bugs',
      'context',
      'drone_jobs',
      'events',
      'messages',
      'plans',
      'tasks',
      'time_since',
    ]);
  });

  it("diff never shows another project's context, tasks or plans (W23)", async () => {
    const a = await registerAgent(t, 'sp-scope', 'mine');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 hour') WHERE agent_id = ?", [a.id]);
    await t.db.run(
      "INSERT INTO context_keys (namespace, key, data) VALUES ('theirs', 'secret', '{\"token\":\"x\"}'), ('mine', 'notes', '{}')",
    );
    await t.db.run(
      "INSERT INTO tasks (title, project_id, requester) VALUES ('their task', 'theirs', 'x'), ('my task', 'mine', 'x')",
    );
    await t.db.run("INSERT INTO plans (title, project_id) VALUES ('their plan', 'theirs')");
    const d = await t.call('GET', `/agents/${a.id}/savepoint/diff`, { agentKey: a.key });
    expect(d.body.changes.context_changed.map((c: { namespace: string }) => c.namespace)).toEqual(['mine']);
    expect(d.body.changes.tasks_changed.map((c: { title: string }) => c.title)).toEqual(['my task']);
    expect(d.body.changes.plans_changed).toEqual([]);
  });

  it("the diff's rows are the areas' wire rows, in boot as in GET …/diff: a task's lease token never shows", async () => {
    const a = await registerAgent(t, 'sp-lease', 'sp-lease');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 hour') WHERE agent_id = ?", [a.id]);
    const task = await t.db.get<{ id: number }>(
      "INSERT INTO tasks (title, project_id, requester) VALUES ('leased', 'sp-lease', 'x') RETURNING id",
    );
    const claim = await t.call('POST', `/tasks/${task!.id}/claim`, { agentKey: a.key, body: {} });
    expect(claim.status).toBe(200);
    expect(typeof claim.body.lease_token).toBe('string');
    const diff = (await t.call('GET', `/agents/${a.id}/savepoint/diff`, { agentKey: a.key })).body;
    const boot = (await t.call('GET', `/boot/${a.id}`, { agentKey: a.key })).body.savepoint;
    for (const d of [diff, boot]) {
      const rows = d.changes.tasks_changed as Record<string, unknown>[];
      expect(rows.map((r) => r.title)).toEqual(['leased']);
      expect(rows[0].assignee).toBe(a.id);
      expect(rows[0]).not.toHaveProperty('lease_token');
      expect(JSON.stringify(d)).not.toContain(claim.body.lease_token);
    }
    // The same row in both, and the same keys as GET /tasks/:id shows.
    expect(boot.changes.tasks_changed).toEqual(diff.changes.tasks_changed);
    const shown = (await t.call('GET', `/tasks/${task!.id}`, { agentKey: a.key })).body;
    expect(Object.keys(boot.changes.tasks_changed[0]).sort()).toEqual(Object.keys(shown.task ?? shown).sort());
  });

  it('a savepoint marks where the events and messages logs stood, and its diff starts there (issue 11)', async () => {
    const a = await registerAgent(t, 'sp-mark', 'sp-mark');
    const b = await registerAgent(t, 'sp-mark-b', 'sp-mark');
    const send = (content: string) =>
      t.call('POST', '/messages', { agentKey: b.key, body: { to: a.id, content, msg_type: 'info' } });
    expect((await send('before the savepoint')).status).toBe(200);
    const hb = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'marked' } });
    expect(hb.status).toBe(200);
    const logs = await t.db.get<{ e: number; m: number }>(
      'SELECT (SELECT MAX(id) FROM events) AS e, (SELECT MAX(id) FROM messages) AS m',
    );
    const sp = await t.db.get<{ id: number; events_mark: number; messages_mark: number }>(
      'SELECT id, events_mark, messages_mark FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC LIMIT 1',
      [a.id],
    );
    // The marks are the logs' ends as the heartbeat's savepoint saw them: the message before it,
    // and every event up to the heartbeat's own (which may follow it in the same commit).
    expect(Number(sp!.messages_mark)).toBe(Number(logs!.m));
    expect(Number(sp!.events_mark)).toBeGreaterThan(0);
    expect(Number(sp!.events_mark)).toBeLessThanOrEqual(Number(logs!.e));
    // The marks are bookkeeping: the wire row is the spec's.
    const wire = await t.call('GET', `/agents/${a.id}/savepoint`, { agentKey: a.key });
    expect(Object.keys(wire.body).sort()).toEqual([
      'agent_id',
      'context_versions',
      'created_at',
      'heartbeat_at',
      'id',
      'messages_acked',
      'notes',
      'session_id',
      'state_snapshot',
      'working_on',
    ]);
    // An hour earlier by its clock: by time alone, what was written before it would be "since".
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 hour') WHERE id = ?", [sp!.id]);
    expect((await send('after the savepoint')).status).toBe(200);
    await t.db.run("INSERT INTO events (type, agent, project_id, summary) VALUES ('sp.mark', ?, 'sp-mark', 'after')", [
      a.id,
    ]);
    const since = (await t.db.get<{ at: string }>('SELECT heartbeat_at AS at FROM agent_savepoints WHERE id = ?', [
      sp!.id,
    ]))!.at;
    // The rule, brute force: the agent's events and its project's by others, after `since` (≤ 50).
    const brute = async (fromId: number) =>
      Number(
        (await t.db.get<{ n: number }>(
          `SELECT MIN(50, COUNT(*)) AS n FROM events WHERE id > ? AND created_at > ?
             AND (agent = ? OR (project_id = 'sp-mark' AND agent IS NOT ?))`,
          [fromId, since, a.id, a.id],
        ))!.n,
      );
    const diffOf = async () => (await t.call('GET', `/agents/${a.id}/savepoint/diff`, { agentKey: a.key })).body;
    const contents = (d: { changes: { new_messages: { content: string }[] } }) =>
      d.changes.new_messages.map((m) => m.content);
    const marked = await diffOf();
    expect(contents(marked)).toEqual(['after the savepoint']);
    expect(marked.changes.events_since).toBe(await brute(Number(sp!.events_mark)));
    expect(marked.changes.events_since).toBeGreaterThan(0);
    // A row written before migration 0032 has no marks: the range is searched by time, so what came
    // before the savepoint but is stamped after its (moved) clock is in it too.
    await t.db.run('UPDATE agent_savepoints SET events_mark = NULL, messages_mark = NULL WHERE id = ?', [sp!.id]);
    const unmarked = await diffOf();
    expect(contents(unmarked)).toEqual(['before the savepoint', 'after the savepoint']);
    expect(unmarked.changes.events_since).toBe(await brute(0));
    expect(unmarked.changes.events_since).toBeGreaterThan(marked.changes.events_since);
    // A heartbeat with nothing new moves the same row's time, and its marks with it.
    const before = Number((await t.db.get<{ e: number }>('SELECT MAX(id) AS e FROM events'))!.e);
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'marked' } });
    const moved = await t.db.get<{ id: number; events_mark: number; messages_mark: number }>(
      'SELECT id, events_mark, messages_mark FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC LIMIT 1',
      [a.id],
    );
    expect(Number(moved!.id)).toBe(Number(sp!.id));
    expect(Number(moved!.events_mark)).toBeGreaterThanOrEqual(before);
    expect(Number(moved!.messages_mark)).toBe(Number(sp!.messages_mark) + 1);
  });

  it('notes: admin only, 400 without text, 404 without savepoint; POST returns the inserted id (W22)', async () => {
    const a = await registerAgent(t, 'sp-notes', 'sp');
    expect(
      (await t.call('PUT', `/agents/${a.id}/savepoint/notes`, { admin: true, body: { notes: 'x' } })).body.error,
    ).toBe('No savepoint found for agent');
    expect((await t.call('PUT', `/agents/${a.id}/savepoint/notes`, { admin: true, body: {} })).body.error).toBe(
      'notes required',
    );
    expect(
      (await t.call('PUT', `/agents/${a.id}/savepoint/notes`, { agentKey: a.key, body: { notes: 'x' } })).status,
    ).toBe(401);
    const p = await t.call('POST', `/agents/${a.id}/savepoint`, { admin: true, body: { notes: 'handoff' } });
    expect(p.status).toBe(200);
    const row = await t.db.get<{ id: number; notes: string }>(
      'SELECT id, notes FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC',
      [a.id],
    );
    expect(p.body).toEqual({ ok: true, savepoint_id: row!.id });
    expect(row!.notes).toBe('handoff');
    const n = await t.call('PUT', `/agents/${a.id}/savepoint/notes`, { admin: true, body: { notes: 'updated' } });
    expect(n.body).toEqual({ ok: true, savepoint_id: row!.id });
    expect(
      (await t.db.get<{ summary: string }>(
        "SELECT summary FROM events WHERE type = 'savepoint_notes' ORDER BY id DESC",
      ))!.summary,
    ).toBe(`Admin left notes for ${a.id}: updated`);
    expect((await t.call('POST', '/agents/nobody/savepoint', { admin: true, body: {} })).status).toBe(404);
  });
});
