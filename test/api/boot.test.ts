import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('GET /boot/:agentId', () => {
  it('agent key only, own id only', async () => {
    const a = await registerAgent(t, 'boot-a', 'bt');
    const b = await registerAgent(t, 'boot-b', 'bt');
    const other = await t.call('GET', `/boot/${a.id}`, { agentKey: b.key });
    expect(other.status).toBe(403);
    expect(other.body.error).toBe('Agent key does not match agent ID');
    expect((await t.call('GET', `/boot/${a.id}`, { admin: true })).status).toBe(401);
  });

  it('slim payload: every section, counts, auto-heartbeat, profile session, agent_boot event', async () => {
    const a = await registerAgent(t, 'boot-slim', 'bt', { capabilities: ['code'] });
    const b = await registerAgent(t, 'boot-peer', 'bt');
    await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { working_on: 'peer work' } });
    await t.db.run("INSERT INTO tasks (title, project_id, requester, assignee) VALUES ('t1', 'bt', 'x', ?)", [a.id]);
    await t.db.run("INSERT INTO bugs (title, description, project_id) VALUES ('b1', 'd', 'bt')");
    await t.db.run("INSERT INTO plans (title, project_id, status) VALUES ('p1', 'bt', 'active')");
    await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'welcome' } });
    const r = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(r.status).toBe(200);
    const body = r.body;
    for (const k of [
      'agent',
      'role_contract',
      'counts',
      'work_queue',
      'pending_directives',
      'pending_requests',
      'other_agents',
      'inbox',
      'crash_recovery',
      'calibration',
      'sleep_mode',
      'autonomous_mode',
      'operators_available',
      'enforcement_rules_active',
      'server_time',
      'savepoint',
      'changes_since_last',
      'profile',
    ]) {
      expect(body, k).toHaveProperty(k);
    }
    expect(body.agent).toEqual({ id: a.id, role: '', project: 'bt', capabilities: ['code'] });
    expect(body.role_contract).toMatchObject({
      agent_id: a.id,
      role: 'agent',
      project_id: 'bt',
      capabilities: ['code'],
      responsibilities: [],
      constraints: [],
    });
    expect(body.counts).toEqual({
      directives: 0,
      requests: 0,
      messages_unread: 1,
      tasks_mine: 1,
      bugs_open: 1,
      plans_active: 1,
    });
    expect(body.work_queue[0]).toEqual({ type: 'task', id: expect.any(Number), title: 't1' });
    expect(body.other_agents).toContainEqual({ id: b.id, status: 'online', working_on: 'peer work' });
    expect(body.inbox.messages[0].content).toBe('welcome');
    expect(body.crash_recovery).toBeNull();
    expect(body.calibration.status).toBe('aligned');
    expect(body.calibration.drift).toContainEqual({
      level: 'info',
      rule: 'md_report_missing',
      detail: expect.any(String),
    });
    expect(body.sleep_mode).toEqual({ active: false });
    expect(body.savepoint).toEqual({ has_savepoint: false });
    expect(body.changes_since_last).toBe('No changes since last session.');
    expect(body.server_time).toMatch(/Z$/);
    expect(body.profile.session_count).toBe(1);
    const row = await t.db.get<{ status: string; last_heartbeat: string }>(
      'SELECT status, last_heartbeat FROM agents WHERE id = ?',
      [a.id],
    );
    expect(row!.status).toBe('online');
    expect(
      (await t.db.get<{ summary: string }>("SELECT summary FROM events WHERE type = 'agent_boot' AND agent = ?", [
        a.id,
      ]))!.summary,
    ).toBe(`${a.id} booted`);
    // Delivered once.
    const again = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(again.body.inbox).toBeUndefined();
    expect(again.body.profile.session_count).toBe(2);
  });

  it("other_agents: presence derived as on GET /agents/:id (spec 02 §2.3), whatever the heartbeat's spelling", async () => {
    const me = await registerAgent(t, 'boot-pres-me', 'bt-pres');
    const peers: Record<string, string | null> = {
      'boot-pres-fresh': "datetime('now', '-14 minutes', '-50 seconds')",
      'boot-pres-stale': "datetime('now', '-15 minutes', '-10 seconds')",
      'boot-pres-iso-fresh': "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 minute')",
      'boot-pres-iso-stale': "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-20 minutes')",
      'boot-pres-frac': "strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 minutes')",
      'boot-pres-garbage': "'not a time'",
      // Shaped like the stored format, but no instant: derivePresence cannot read it.
      'boot-pres-hour29': "strftime('%Y-%m-%d', 'now') || ' 29:00:00'",
      'boot-pres-never': null,
    };
    for (const [id, hb] of Object.entries(peers)) {
      await registerAgent(t, id, 'bt-pres');
      await t.db.run(
        `UPDATE agents SET status = 'busy', working_on = 'w', last_heartbeat = ${hb ?? 'NULL'} WHERE id = ?`,
        [id],
      );
    }
    await registerAgent(t, 'boot-pres-paused', 'bt-pres');
    await t.db.run("UPDATE agents SET status = 'paused', last_heartbeat = datetime('now') WHERE id = ?", [
      'boot-pres-paused',
    ]);
    const r = await t.call('GET', `/boot/${me.id}`, { agentKey: me.key });
    expect(r.status).toBe(200);
    const seen = new Map<string, { status: string; working_on: string }>(
      r.body.other_agents.map((o: { id: string; status: string; working_on: string }) => [o.id, o]),
    );
    const expected: Record<string, string> = {
      'boot-pres-fresh': 'busy',
      'boot-pres-stale': 'offline',
      'boot-pres-iso-fresh': 'busy',
      'boot-pres-iso-stale': 'offline',
      'boot-pres-frac': 'busy',
      'boot-pres-garbage': 'offline',
      'boot-pres-hour29': 'offline',
      'boot-pres-never': 'offline',
      'boot-pres-paused': 'paused',
    };
    for (const [id, status] of Object.entries(expected)) {
      expect(seen.get(id), id).toEqual({ id, status, working_on: id === 'boot-pres-paused' ? '' : 'w' });
      // The same derivation as the agent's own record.
      expect((await t.call('GET', `/agents/${id}`, { admin: true })).body.status, id).toBe(status);
    }
    // Only the documented fields, in created order; never the caller itself.
    expect(Object.keys(seen.get('boot-pres-frac')!)).toEqual(['id', 'status', 'working_on']);
    expect(seen.has(me.id)).toBe(false);
    const ids = r.body.other_agents.map((o: { id: string }) => o.id);
    expect(ids.indexOf('boot-pres-fresh')).toBeLessThan(ids.indexOf('boot-pres-paused'));
  });

  it('auto-heartbeat: an online agent only moves last_heartbeat; offline comes back online, paused stays paused (REL-17)', async () => {
    const a = await registerAgent(t, 'boot-hb', 'bt');
    await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    await t.db.run(
      "UPDATE agents SET working_on = 'keep me', last_heartbeat = datetime('now', '-10 minutes') WHERE id = ?",
      [a.id],
    );
    const fresh = "last_heartbeat >= datetime('now', '-1 minute')";
    const row = () =>
      t.db.get<{ status: string; working_on: string; fresh: number }>(
        `SELECT status, working_on, ${fresh} AS fresh FROM agents WHERE id = ?`,
        [a.id],
      );
    await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(await row()).toEqual({ status: 'online', working_on: 'keep me', fresh: 1 });
    const boots = () =>
      t.db.all<{ data: string }>("SELECT data FROM events WHERE type = 'agent_boot' AND agent = ? ORDER BY id", [a.id]);
    expect(JSON.parse((await boots()).at(-1)!.data)).toEqual({});

    await t.db.run(
      "UPDATE agents SET status = 'offline', last_heartbeat = datetime('now', '-10 minutes') WHERE id = ?",
      [a.id],
    );
    await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(await row()).toEqual({ status: 'online', working_on: 'keep me', fresh: 1 });
    expect(JSON.parse((await boots()).at(-1)!.data)).toEqual({ previous_status: 'offline', new_status: 'online' });

    await t.db.run(
      "UPDATE agents SET status = 'paused', last_heartbeat = datetime('now', '-10 minutes') WHERE id = ?",
      [a.id],
    );
    const paused = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(paused.status).toBe(200);
    expect(await row()).toEqual({ status: 'paused', working_on: 'keep me', fresh: 1 });
  });

  it("slim work_queue is the first 5 of the agent's queue (GET /work/:id), the unassigned buckets only when there is room", async () => {
    const few = await registerAgent(t, 'boot-q-few', 'bt-q');
    const many = await registerAgent(t, 'boot-q-many', 'bt-q');
    await t.db.run("INSERT INTO tasks (title, project_id, requester, assignee) VALUES ('few-1', 'bt-q', 'x', ?)", [
      few.id,
    ]);
    for (let i = 1; i <= 6; i++)
      await t.db.run("INSERT INTO tasks (title, project_id, requester, assignee) VALUES (?, 'bt-q', 'x', ?)", [
        `many-${i}`,
        many.id,
      ]);
    await t.db.run("INSERT INTO bugs (title, description, project_id) VALUES ('free bug', 'd', 'bt-q')");
    const top5 = async (a: { id: string; key: string }) =>
      (await t.call('GET', `/work/${a.id}`, { agentKey: a.key })).body.queue
        .slice(0, 5)
        .map((i: { type: string; id: number; title: string }) => ({ type: i.type, id: i.id, title: i.title }));

    const f = await t.call('GET', `/boot/${few.id}`, { agentKey: few.key });
    expect(f.body.work_queue[0]).toMatchObject({ type: 'task', title: 'few-1' });
    expect(f.body.work_queue).toContainEqual({ type: 'bug_unassigned', id: expect.any(Number), title: 'free bug' });
    expect(f.body.work_queue).toEqual(await top5(few));

    const m = await t.call('GET', `/boot/${many.id}`, { agentKey: many.key });
    expect(m.body.work_queue).toHaveLength(5);
    expect(m.body.work_queue.every((i: { type: string }) => i.type === 'task')).toBe(true);
    expect(m.body.work_queue).toEqual(await top5(many));
  });

  it('crash recovery: stale heartbeat with working_on → detected with the latest savepoint; fresh → null', async () => {
    const a = await registerAgent(t, 'boot-crash', 'bt');
    await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { working_on: 'refactor X', state_snapshot: { claimed_item: { type: 'task', id: 3 } } },
    });
    const fresh = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(fresh.body.crash_recovery).toBeNull();
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-16 minutes') WHERE id = ?", [a.id]);
    const r = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(r.body.crash_recovery).toMatchObject({
      detected: true,
      stale_minutes: 16,
      was_working_on: 'refactor X',
      recovery_notes: null,
    });
    expect(JSON.parse(r.body.crash_recovery.recovery_state)).toEqual({ claimed_item: { type: 'task', id: 3 } });
  });

  it('savepoint diff and changes_since_last are a string; admin notes survive heartbeats until a boot shows them (W21, W24)', async () => {
    const a = await registerAgent(t, 'boot-notes', 'bt-notes');
    const b = await registerAgent(t, 'boot-notes-b', 'bt-notes');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'w' } });
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 minute') WHERE agent_id = ?", [
      a.id,
    ]);
    const n = await t.call('PUT', `/agents/${a.id}/savepoint/notes`, {
      admin: true,
      body: { notes: 'check the flaky test' },
    });
    expect(n.status).toBe(200);
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'w' } });
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 minute') WHERE agent_id = ?", [
      a.id,
    ]);
    await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'news' } });
    const r = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
    expect(r.body.savepoint).toMatchObject({ has_savepoint: true, notes: 'check the flaky test', was_working_on: 'w' });
    expect(r.body.savepoint.summary.messages).toBe(1);
    expect(r.body.changes_since_last).toBe('1 new message since last session.');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'w' } });
    const sp = await t.call('GET', `/agents/${a.id}/savepoint`, { agentKey: a.key });
    expect(sp.body.notes).toBeNull();
  });

  it('pending directives (direct and broadcast, oldest first) and requests: as the heartbeat delivers them, re-delivered until handled', async () => {
    const a = await registerAgent(t, 'boot-dir', 'bt-dir');
    const b = await registerAgent(t, 'boot-dir-b', 'bt-dir');
    const direct = (content: string) =>
      t.call('POST', '/messages', {
        admin: true,
        headers: { 'X-Acting-As': 'boss' },
        body: { to_agent: a.id, content, msg_type: 'directive' },
      });
    const d1 = await direct('first');
    const all = await t.call('POST', '/messages', {
      admin: true,
      body: { content: 'everyone', msg_type: 'directive' },
    });
    const d2 = await direct('second');
    const req = await t.call('POST', '/requests', { agentKey: b.key, body: { to_agent: a.id, content: 'help?' } });
    for (const r of [d1, all, d2, req]) expect(r.status).toBe(200);

    for (let i = 0; i < 2; i++) {
      const r = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
      expect(r.status).toBe(200);
      const ids = r.body.inbox.directives.map((d: { id: number }) => d.id);
      expect(ids.filter((id: number) => [d1.body.id, all.body.id, d2.body.id].includes(id))).toEqual([
        d1.body.id,
        all.body.id,
        d2.body.id,
      ]);
      expect(r.body.inbox.directives[0]).toMatchObject({
        id: d1.body.id,
        from_agent: 'boss',
        content: 'first',
        msg_type: 'directive',
      });
      expect(r.body.pending_directives[0]).toEqual({ id: d1.body.id, from: 'boss', content: 'first' });
      expect(r.body.counts.directives).toBe(ids.length);
      expect(r.body.pending_requests).toEqual([{ id: req.body.id, from: b.id, content: 'help?' }]);
      expect(r.body.work_queue[0]).toEqual({ type: 'request', id: req.body.id, title: `Request from ${b.id}` });
      // The same lists as the heartbeat's inbox.
      const hb = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
      expect(hb.body.inbox.directives).toEqual(r.body.inbox.directives);
      expect(hb.body.inbox.requests).toEqual(r.body.inbox.requests);
    }
    await t.db.run("UPDATE messages SET status = 'resolved' WHERE id = ?", [all.body.id]);
  });

  it("boot drops the agent's expired ephemeral keys, and only those; with none expired nothing is dropped", async () => {
    const a = await registerAgent(t, 'boot-eph', 'bt-eph');
    const b = await registerAgent(t, 'boot-eph-b', 'bt-eph');
    const put = (ns: string, key: string, category: string, expires: string | null) =>
      t.db.run(
        'INSERT INTO context_keys (namespace, key, data, category, expires_at, project_id) VALUES (?, ?, ?, ?, ?, ?)',
        [ns, key, '"v"', category, expires, 'bt-eph'],
      );
    const keys = async (ns: string) =>
      (
        await t.db.all<{ key: string }>(
          "SELECT key FROM context_keys WHERE namespace = ? AND key != 'standup' ORDER BY key",
          [ns],
        )
      ).map((r) => r.key);
    await put(a.id, 'live', 'ephemeral', '2999-01-01 00:00:00');
    await put(a.id, 'durable-past', 'durable', '2000-01-01 00:00:00');
    // Nothing expired: every key stays.
    expect((await t.call('GET', `/boot/${a.id}`, { agentKey: a.key })).status).toBe(200);
    expect(await keys(a.id)).toEqual(['durable-past', 'live']);

    await put(a.id, 'gone', 'ephemeral', '2000-01-01 00:00:00');
    await put(b.id, 'not-mine', 'ephemeral', '2000-01-01 00:00:00');
    expect((await t.call('GET', `/boot/${a.id}`, { agentKey: a.key })).status).toBe(200);
    expect(await keys(a.id)).toEqual(['durable-past', 'live']);
    expect(await keys(b.id)).toEqual(['not-mine']);
  });

  it('verbose: task and bug rows are shown as their areas show them, never with a lease token', async () => {
    const a = await registerAgent(t, 'boot-v-lease', 'bt-v-lease');
    const mine = await t.db.get<{ id: number }>(
      "INSERT INTO tasks (title, project_id, requester) VALUES ('mine', 'bt-v-lease', 'x') RETURNING id",
    );
    const claim = await t.call('POST', `/tasks/${mine!.id}/claim`, { agentKey: a.key, body: {} });
    expect(typeof claim.body.lease_token).toBe('string');
    // Rows holding a token while in the lists verbose boot shows: awaiting approval, an open bug.
    await t.db.run(
      "INSERT INTO tasks (title, project_id, requester, needs_approval, lease_token) VALUES ('awaiting', 'bt-v-lease', 'x', 1, 'task-token-secret')",
    );
    await t.db.run(
      "INSERT INTO bugs (title, description, project_id, status, lease_token) VALUES ('open bug', 'd', 'bt-v-lease', 'open', 'bug-token-secret')",
    );
    const v = await t.call('GET', `/boot/${a.id}?verbose=true`, { agentKey: a.key });
    expect(v.status).toBe(200);
    expect(v.body.tasks.map((r: { title: string }) => r.title)).toEqual(['mine']);
    expect(v.body.approval_queue.map((r: { title: string }) => r.title)).toContain('awaiting');
    expect(v.body.open_bugs.map((r: { title: string }) => r.title)).toContain('open bug');
    for (const row of [...v.body.tasks, ...v.body.approval_queue, ...v.body.open_bugs])
      expect(row).not.toHaveProperty('lease_token');
    const text = JSON.stringify(v.body);
    for (const token of [claim.body.lease_token, 'task-token-secret', 'bug-token-secret'])
      expect(text).not.toContain(token);
    // The same keys as the task's own route shows.
    const shown = (await t.call('GET', `/tasks/${mine!.id}`, { agentKey: a.key })).body;
    expect(Object.keys(v.body.tasks[0]).sort()).toEqual(Object.keys(shown.task ?? shown).sort());
  });

  it('verbose and smart variants', async () => {
    const a = await registerAgent(t, 'boot-verbose', 'bt');
    const v = await t.call('GET', `/boot/${a.id}?verbose=true&smart=true`, { agentKey: a.key });
    for (const k of [
      'agent',
      'project',
      'work_queue',
      'tasks',
      'pending_requests',
      'new_messages',
      'pending_directives',
      'other_agents',
      'recent_events',
      'open_bugs',
      'plans',
      'channels',
      'unread_counts',
      'team_agents',
      'since_last_session',
      'calibration',
      'savepoint',
    ]) {
      expect(v.body, k).toHaveProperty(k);
    }
    expect(v.body.agent.api_key_hash).toBeUndefined();
    expect(Array.isArray(v.body.plugins)).toBe(true);
    expect(v.body.changes_since_last).toBeUndefined();
    expect(
      (await t.db.get<{ summary: string }>(
        "SELECT summary FROM events WHERE type = 'agent_boot' AND agent = ? ORDER BY id DESC",
        [a.id],
      ))!.summary,
    ).toBe(`${a.id} booted (verbose)`);
    const s = await t.call('GET', `/boot/${a.id}?smart=true`, { agentKey: a.key });
    expect(s.body.context_meta).toMatchObject({ method: 'keyword+access', max_keys: 20 });
    expect(Array.isArray(s.body.context_keys)).toBe(true);
  });
});
