import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('POST /agents/heartbeat', () => {
  it('defaults to online with empty working_on, writes a savepoint, answers slim', async () => {
    const a = await registerAgent(t, 'hb-ada', 'hb');
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, pending: 0, wake: false });
    const row = await t.db.get<{ status: string; working_on: string; last_heartbeat: string }>(
      'SELECT status, working_on, last_heartbeat FROM agents WHERE id = ?',
      [a.id],
    );
    expect(row).toMatchObject({ status: 'online', working_on: '' });
    expect(row!.last_heartbeat).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const sp = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM agent_savepoints WHERE agent_id = ?', [a.id]);
    expect(Number(sp!.n)).toBe(1);
    // Liveness pings are not history.
    const ev = await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'agent_heartbeat'");
    expect(Number(ev!.n)).toBe(0);
  });

  it('rejects an unknown status with invalid_enum and writes nothing', async () => {
    const a = await registerAgent(t, 'hb-enum', 'hb');
    const r = await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { status: 'sleeping', working_on: 'x' },
    });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({
      code: 'invalid_enum',
      field: 'status',
      value: 'sleeping',
      allowed: ['online', 'offline', 'idle', 'busy'],
    });
    const row = await t.db.get<{ status: string; last_heartbeat: string | null }>(
      'SELECT status, last_heartbeat FROM agents WHERE id = ?',
      [a.id],
    );
    expect(row).toMatchObject({ status: 'offline', last_heartbeat: null });
    const bad = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: { x: 1 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('working_on must be a string');
  });

  it('accepts state_snapshot and messages_acked as JSON strings (MCP) and stores the snapshot', async () => {
    const a = await registerAgent(t, 'hb-json', 'hb');
    const r = await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: {
        session_id: 's1',
        working_on: 'task 4',
        state_snapshot: JSON.stringify({ progress: ['a'] }),
        messages_acked: '[1,2]',
        runtime: 'claude-code',
      },
    });
    expect(r.status).toBe(200);
    const sp = await t.db.get<{
      session_id: string;
      state_snapshot: string;
      messages_acked: string;
      working_on: string;
    }>('SELECT * FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC', [a.id]);
    expect(sp).toMatchObject({ session_id: 's1', working_on: 'task 4', messages_acked: '[1,2]' });
    expect(JSON.parse(sp!.state_snapshot)).toEqual({ progress: ['a'] });
    expect((await t.db.get<{ runtime: string }>('SELECT runtime FROM agents WHERE id = ?', [a.id]))!.runtime).toBe(
      'claude-code',
    );
    const garbage = await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { state_snapshot: '{not json', messages_acked: 'nope' },
    });
    expect(garbage.status).toBe(200);
  });

  it('an agent cannot change its own agent_type through the heartbeat (spec 02 W19)', async () => {
    const d = await registerAgent(t, 'hb-drone', 'drone', { agent_type: 'drone' });
    await t.call('POST', '/agents/heartbeat', { agentKey: d.key, body: { agent_type: 'agent' } });
    expect(
      (await t.db.get<{ agent_type: string }>('SELECT agent_type FROM agents WHERE id = ?', [d.id]))!.agent_type,
    ).toBe('drone');
  });

  it('inbox: regular messages delivered once, requests and directives repeat with wake', async () => {
    const a = await registerAgent(t, 'hb-inbox', 'hb');
    const b = await registerAgent(t, 'hb-sender', 'hb');
    const m = await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'hello' } });
    expect(m.status).toBe(200);
    const r1 = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'busy with x' } });
    expect(r1.body.pending).toBe(1);
    expect(r1.body.wake).toBe(false);
    expect(r1.body.inbox.messages).toHaveLength(1);
    expect(r1.body.inbox.messages[0]).toMatchObject({
      id: m.body.id,
      from_agent: b.id,
      to_agent: a.id,
      content: 'hello',
      msg_type: 'message',
      priority: 'normal',
    });
    const r2 = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'busy with x' } });
    expect(r2.body).toEqual({ ok: true, pending: 0, wake: false });

    const req = await t.call('POST', '/requests', {
      agentKey: b.key,
      body: { to_agent: a.id, content: 'need a hand' },
    });
    const dir = await t.call('POST', '/messages', {
      admin: true,
      headers: { 'X-Acting-As': 'boss' },
      body: { to_agent: a.id, content: 'stop now', msg_type: 'directive' },
    });
    expect(dir.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'busy with x' } });
      expect(r.body.pending).toBe(2);
      expect(r.body.wake).toBe(true);
      expect(r.body.inbox.requests.map((x: { id: number }) => x.id)).toEqual([req.body.id]);
      expect(r.body.inbox.directives.map((x: { id: number }) => x.id)).toEqual([dir.body.id]);
      expect(r.body.inbox.directives[0].from_agent).toBe('boss');
    }
  });

  it('messages_acked marks messages read', async () => {
    const a = await registerAgent(t, 'hb-ack', 'hb');
    const b = await registerAgent(t, 'hb-ack-s', 'hb');
    const m = await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'fyi' } });
    await t.call('POST', '/agents/heartbeat', {
      agentKey: a.key,
      body: { working_on: 'w', messages_acked: JSON.stringify([m.body.id]) },
    });
    const read = await t.db.get('SELECT 1 AS ok FROM message_reads WHERE message_id = ? AND agent_id = ?', [
      m.body.id,
      a.id,
    ]);
    expect(read).toBeTruthy();
  });

  it('channel posts reach only members; another pair’s DM never reaches a third agent (spec 02 W25)', async () => {
    const a = await registerAgent(t, 'hb-priv-a', 'hb');
    const b = await registerAgent(t, 'hb-priv-b', 'hb');
    const c = await registerAgent(t, 'hb-priv-c', 'hb');
    const ch = await t.db.get<{ id: number }>(
      "INSERT INTO channels (name, slug, type, created_by) VALUES ('#secret', 'secret-hb', 'team', 'x') RETURNING id",
    );
    await t.db.run('INSERT INTO channel_members (channel_id, user_id) VALUES (?, ?), (?, ?)', [
      ch!.id,
      a.id,
      ch!.id,
      b.id,
    ]);
    const post = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { channel_id: ch!.id, content: 'members only' },
    });
    expect(post.status).toBe(200);
    await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: b.id, content: 'just for b' } });
    const rc = await t.call('POST', '/agents/heartbeat', { agentKey: c.key, body: { working_on: 'w' } });
    const seen = (rc.body.inbox?.messages ?? []).map((m: { content: string }) => m.content);
    expect(seen).not.toContain('members only');
    expect(seen).not.toContain('just for b');
    const rb = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { working_on: 'w' } });
    expect(rb.body.inbox.messages.map((m: { content: string }) => m.content).sort()).toEqual([
      'just for b',
      'members only',
    ]);
  });

  it('admin key + agent_id acts on behalf; unknown agent is 404 (spec 02 W20)', async () => {
    const a = await registerAgent(t, 'hb-behalf', 'hb');
    const ok = await t.call('POST', '/agents/heartbeat', {
      admin: true,
      body: { agent_id: a.id, status: 'busy', working_on: 'x' },
    });
    expect(ok.status).toBe(200);
    expect((await t.db.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [a.id]))!.status).toBe('busy');
    const ghost = await t.call('POST', '/agents/heartbeat', { admin: true, body: { agent_id: 'ghost-agent' } });
    expect(ghost.status).toBe(404);
    expect(ghost.body.error).toBe('Agent not found');
    expect(await t.db.get("SELECT 1 FROM agent_savepoints WHERE agent_id = 'ghost-agent'")).toBeUndefined();
    const noKey = await t.call('POST', '/agents/heartbeat', { body: {} });
    expect(noKey.status).toBe(401);
  });

  it('prunes savepoints to the newest 100 per agent', async () => {
    const a = await registerAgent(t, 'hb-prune', 'hb');
    await t.db.run(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
       INSERT INTO agent_savepoints (agent_id, working_on) SELECT ?, 'old' FROM n`,
      [a.id],
    );
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'newest' } });
    const rows = await t.db.all<{ working_on: string }>(
      'SELECT working_on FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC',
      [a.id],
    );
    expect(rows).toHaveLength(100);
    expect(rows[0].working_on).toBe('newest');
  });
});

describe('operator-set states survive heartbeats (REL-17)', () => {
  it('REL-17: a paused agent stays paused when it heartbeats online; the heartbeat still stamps liveness', async () => {
    const d = await registerAgent(t, 'rel17-drone', 'drone', { agent_type: 'drone' });
    await t.db.run("UPDATE agents SET status = 'paused', working_on = 'Paused (GPU released)' WHERE id = ?", [d.id]);
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: d.key, body: { status: 'online' } });
    expect(r.status).toBe(200);
    const row = await t.db.get<{ status: string; last_heartbeat: string | null }>(
      'SELECT status, last_heartbeat FROM agents WHERE id = ?',
      [d.id],
    );
    expect(row!.status).toBe('paused');
    expect(row!.last_heartbeat).not.toBeNull();
    expect((await t.call('GET', `/agents/${d.id}`, { admin: true })).body.status).toBe('paused');
  });
});

describe('PUT /admin/agents/:id/heartbeat and presence (REL-07)', () => {
  it('sets status on behalf, validates, 404s unknown agents', async () => {
    const a = await registerAgent(t, 'ahb-ada', 'hb');
    const r = await t.call('PUT', `/admin/agents/${a.id}/heartbeat`, {
      admin: true,
      body: { status: 'idle', working_on: '' },
    });
    expect(r.body).toEqual({ ok: true, agent: a.id, status: 'idle' });
    const bad = await t.call('PUT', `/admin/agents/${a.id}/heartbeat`, { admin: true, body: { status: 'nap' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_enum');
    const missing = await t.call('PUT', '/admin/agents/nobody/heartbeat', { admin: true, body: {} });
    expect(missing.status).toBe(404);
    const asAgent = await t.call('PUT', `/admin/agents/${a.id}/heartbeat`, { agentKey: a.key, body: {} });
    expect(asAgent.status).toBe(401);
  });

  it('REL-07: a stale stored online reads offline; a heartbeat brings a retired agent back', async () => {
    const a = await registerAgent(t, 'rel07', 'hb');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect((await t.call('GET', `/agents/${a.id}`, { admin: true })).body.status).toBe('online');
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-2 hours') WHERE id = ?", [a.id]);
    const stale = await t.call('GET', `/agents/${a.id}`, { admin: true });
    expect(stale.body.status).toBe('offline');
    expect((await t.db.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [a.id]))!.status).toBe(
      'online',
    );
    const ret = await t.call('PUT', `/agents/${a.id}`, { admin: true, body: { status: 'retired' } });
    expect(ret.status).toBe(200);
    expect((await t.call('GET', `/agents/${a.id}`, { admin: true })).body.status).toBe('retired');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: {} });
    expect((await t.call('GET', `/agents/${a.id}`, { admin: true })).body.status).toBe('online');
  });
});

describe('the news window (issue 11: an inbox read costs what is open, not the mail history)', () => {
  it('regular messages older than the window are history; requests stay until handled', async () => {
    const a = await registerAgent(t, 'hb-window', 'hb');
    const s = await registerAgent(t, 'hb-window-s', 'hb');
    const send = (content: string) =>
      t.call('POST', '/messages', { agentKey: s.key, body: { to_agent: a.id, content } });
    // Written in time order (ids follow time), then dated: eight days, six days, now.
    const old = await send('last week but one');
    const oldReq = await t.call('POST', '/requests', { agentKey: s.key, body: { to_agent: a.id, content: 'waiting' } });
    await t.db.run("UPDATE messages SET created_at = datetime('now', '-8 days') WHERE id IN (?, ?)", [
      old.body.id,
      oldReq.body.id,
    ]);
    const recent = await send('six days ago');
    await t.db.run("UPDATE messages SET created_at = datetime('now', '-6 days') WHERE id = ?", [recent.body.id]);
    const fresh = await send('just now');
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    expect(r.status).toBe(200);
    expect(r.body.inbox.messages.map((m: { id: number }) => m.id)).toEqual([fresh.body.id, recent.body.id]);
    expect(r.body.inbox.requests.map((m: { id: number }) => m.id)).toEqual([oldReq.body.id]);
    // Delivered once; the old one is still there to read.
    const again = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    expect(again.body.inbox?.messages ?? []).toEqual([]);
    const mail = await t.call('GET', `/messages?to=${a.id}`, { agentKey: a.key });
    expect(mail.body.map((m: { id: number }) => m.id)).toContain(old.body.id);
  });
});

describe('the read-up-to mark (issue 11: the unread read starts after what was all delivered)', () => {
  it('moves only when a heartbeat delivered everything, and new mail after it still arrives', async () => {
    const a = await registerAgent(t, 'hb-mark', 'hb');
    const s = await registerAgent(t, 'hb-mark-s', 'hb');
    const sent: number[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await t.call('POST', '/messages', { agentKey: s.key, body: { to_agent: a.id, content: `m${i}` } });
      sent.push(r.body.id);
    }
    const mark = async () =>
      Number(
        (await t.db.get<{ r: number }>('SELECT read_to AS r FROM inbox_marks WHERE agent_id = ?', [a.id]))?.r ?? 0,
      );
    const beat = async () =>
      ((await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } })).body.inbox
        ?.messages ?? []) as { id: number }[];
    // 20 of 25: there may be more, so the mark stays where it was.
    expect((await beat()).map((m) => m.id)).toEqual(sent.slice(5).reverse());
    expect(await mark()).toBe(0);
    // The last 5: everything delivered, the mark moves to the newest message.
    expect((await beat()).map((m) => m.id)).toEqual(sent.slice(0, 5).reverse());
    const newest = Number((await t.db.get<{ m: number }>('SELECT MAX(id) AS m FROM messages'))!.m);
    expect(await mark()).toBe(newest);
    expect(await beat()).toEqual([]);
    // Mail after the mark arrives as before.
    const later = await t.call('POST', '/messages', { agentKey: s.key, body: { to_agent: a.id, content: 'later' } });
    expect((await beat()).map((m) => m.id)).toEqual([later.body.id]);
    expect(await mark()).toBe(later.body.id);
  });

  it('slim boot moves it too when it delivered everything (to the newest message it saw)', async () => {
    const a = await registerAgent(t, 'hb-bmark', 'hb');
    const s = await registerAgent(t, 'hb-bmark-s', 'hb');
    const mark = async () =>
      Number(
        (await t.db.get<{ r: number }>('SELECT read_to AS r FROM inbox_marks WHERE agent_id = ?', [a.id]))?.r ?? 0,
      );
    const boot = async () =>
      ((await t.call('GET', `/boot/${a.id}`, { agentKey: a.key })).body.inbox?.messages ?? []) as { id: number }[];
    const send = async (n: number) => {
      const ids: number[] = [];
      for (let i = 0; i < n; i++)
        ids.push(
          (await t.call('POST', '/messages', { agentKey: s.key, body: { to_agent: a.id, content: `b${i}` } })).body.id,
        );
      return ids;
    };
    // 22 unread: boot delivers 20 and leaves the mark, since there may be more.
    const first = await send(22);
    expect((await boot()).map((m) => m.id)).toEqual(first.slice(2).reverse());
    expect(await mark()).toBe(0);
    // The last 2: all delivered, the mark moves to the newest message.
    expect((await boot()).map((m) => m.id)).toEqual(first.slice(0, 2).reverse());
    expect(await mark()).toBe(first[21]);
    // Later mail still arrives, by boot and by heartbeat alike.
    const [later] = await send(1);
    expect((await boot()).map((m) => m.id)).toEqual([later]);
    expect(await mark()).toBe(later);
    const [last] = await send(1);
    const beat = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    expect(beat.body.inbox.messages.map((m: { id: number }) => m.id)).toEqual([last]);
  });
});

// Last in the file: its broadcasts would otherwise reach agents registered by later tests.
describe('broadcast history', () => {
  it('broadcasts from before an agent existed are history, not inbox items', async () => {
    const old = await t.call('POST', '/messages', { admin: true, body: { content: 'ancient news' } });
    await t.db.run("UPDATE messages SET created_at = datetime('now', '-1 hour') WHERE id = ?", [old.body.id]);
    const fresh = await t.call('POST', '/messages', { admin: true, body: { content: 'fresh news' } });
    const a = await registerAgent(t, 'hb-newcomer', 'hb');
    await t.db.run("UPDATE agents SET created_at = datetime('now', '-1 minute') WHERE id = ?", [a.id]);
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    const ids = (r.body.inbox?.messages ?? []).map((m: { id: number }) => m.id);
    expect(ids).toContain(fresh.body.id);
    expect(ids).not.toContain(old.body.id);
  });
});

describe('approvals in the heartbeat (spec 02 §3.3 step 13)', () => {
  it('lists the agent’s own pending approvals', async () => {
    const a = await registerAgent(t, 'hb-appr', 'hb');
    const ap = await t.call('POST', '/approvals', {
      agentKey: a.key,
      body: { action_type: 'deploy', title: 'ship v2', payload: { v: 2 }, project_id: 'hb' },
    });
    expect(ap.status).toBe(200);
    const r = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x' } });
    expect(r.body.approvals.map((x: { title: string; status: string }) => `${x.title}:${x.status}`)).toEqual([
      'ship v2:pending',
    ]);
    const other = await registerAgent(t, 'hb-appr-2', 'hb');
    const r2 = await t.call('POST', '/agents/heartbeat', { agentKey: other.key, body: { working_on: 'x' } });
    expect(r2.body.approvals).toBeUndefined();
  });
});
