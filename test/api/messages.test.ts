import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('POST /messages', () => {
  it('content is required: a payload in `body` alone is a 400, nothing stored', async () => {
    const a = await registerAgent(t, 'msg-ada', 'm');
    const before = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM messages');
    const r = await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: 'x', body: 'hello' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('content is required');
    const wrongType = await t.call('POST', '/messages', { agentKey: a.key, body: { content: { text: 'x' } } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toBe('content must be a string');
    const after = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM messages');
    expect(after!.n).toBe(before!.n);
  });

  it('stores the authenticated sender, never body.from; validates priority and msg_type', async () => {
    const a = await registerAgent(t, 'msg-from', 'm');
    const r = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: {
        to_agent: 'msg-x',
        content: 'hi',
        from: 'someone-else',
        from_agent: 'other',
        priority: 'urgent',
        thread_id: 'th1',
      },
    });
    expect(r.status).toBe(200);
    const row = await t.db.get<{ from_agent: string; priority: string; status: string; thread_id: string }>(
      'SELECT * FROM messages WHERE id = ?',
      [r.body.id],
    );
    expect(row).toMatchObject({ from_agent: a.id, priority: 'urgent', status: 'sent', thread_id: 'th1' });
    const pr = await t.call('POST', '/messages', { agentKey: a.key, body: { content: 'x', priority: 'mega' } });
    expect(pr.status).toBe(400);
    expect(pr.body).toMatchObject({ code: 'invalid_enum', field: 'priority', allowed: ['urgent', 'normal', 'fyi'] });
    const ty = await t.call('POST', '/messages', { agentKey: a.key, body: { content: 'x', msg_type: 'chat' } });
    expect(ty.status).toBe(400);
    expect(ty.body.field).toBe('msg_type');
  });

  it('emits message_sent and message_received with the summaries SSE clients match', async () => {
    const a = await registerAgent(t, 'msg-ev-a', 'm');
    const r = await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: 'msg-ev-b', content: 'ping' } });
    const sent = await t.db.get<{ summary: string; data: string; agent: string }>(
      "SELECT * FROM events WHERE type = 'message_sent' ORDER BY id DESC",
    );
    expect(sent).toMatchObject({ agent: a.id, summary: `${a.id} sent message to msg-ev-b` });
    expect(JSON.parse(sent!.data)).toEqual({ message_id: r.body.id });
    const recv = await t.db.get<{ summary: string; agent: string }>(
      "SELECT * FROM events WHERE type = 'message_received' ORDER BY id DESC",
    );
    expect(recv).toMatchObject({ agent: 'msg-ev-b', summary: `${a.id} → msg-ev-b` });
    const bc = await t.call('POST', '/messages', { agentKey: a.key, body: { content: 'all hands' } });
    const general = await t.db.get<{ id: number }>("SELECT id FROM channels WHERE slug = 'general'");
    expect(
      await t.db.get<{ channel_id: number; to_agent: null }>('SELECT * FROM messages WHERE id = ?', [bc.body.id]),
    ).toMatchObject({ channel_id: general!.id, to_agent: null });
  });

  it('SEC-11: an agent cannot send a directive even with from:"__admin__"; admin and operators can', async () => {
    const a = await registerAgent(t, 'sec11-agent', 'm');
    const r = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to: 'x', content: 'stop', msg_type: 'directive', from: '__admin__' },
    });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('Only admin or operators can send directives');
    const admin = await t.call('POST', '/messages', {
      admin: true,
      headers: { 'X-Acting-As': 'ops-lead' },
      body: { to: 'x', content: 'stop', msg_type: 'directive' },
    });
    expect(admin.status).toBe(200);
    expect(typeof admin.body.id).toBe('number');
    expect(
      (await t.db.get<{ from_agent: string }>('SELECT from_agent FROM messages WHERE id = ?', [admin.body.id]))!
        .from_agent,
    ).toBe('ops-lead');
    const op = await createOperator(t, 'sec11-op', 'operator');
    expect(
      (
        await t.call('POST', '/messages', {
          token: op.token,
          body: { to: 'x', content: 'pause', msg_type: 'directive' },
        })
      ).status,
    ).toBe(200);
    const member = await createOperator(t, 'sec11-member', 'member');
    expect(
      (
        await t.call('POST', '/messages', {
          token: member.token,
          body: { to: 'x', content: 'pause', msg_type: 'directive' },
        })
      ).status,
    ).toBe(403);
  });
});

describe('privacy and ownership (SEC-20)', () => {
  it('a third agent cannot read a DM through GET /messages filters', async () => {
    const a = await registerAgent(t, 'sec20-a', 'm');
    const b = await registerAgent(t, 'sec20-b', 'm');
    const c = await registerAgent(t, 'sec20-c', 'm');
    const dm = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'secret for b' },
    });
    const byTo = await t.call('GET', `/messages?to=${b.id}`, { agentKey: c.key });
    expect(byTo.status).toBe(200);
    expect(byTo.body.map((m: { id: number }) => m.id)).not.toContain(dm.body.id);
    const byFrom = await t.call('GET', `/messages?from=${a.id}`, { agentKey: c.key });
    expect(byFrom.body.map((m: { id: number }) => m.id)).not.toContain(dm.body.id);
    const mine = await t.call('GET', `/messages?to=${b.id}`, { agentKey: b.key });
    expect(mine.body.map((m: { id: number }) => m.id)).toContain(dm.body.id);
    const dmRow = await t.db.get<{ channel_id: number }>('SELECT channel_id FROM messages WHERE id = ?', [dm.body.id]);
    const dmChannel = await t.db.get<{ type: string }>('SELECT type FROM channels WHERE id = ?', [dmRow!.channel_id]);
    expect(dmChannel!.type).toBe('dm');
    expect((await t.call('GET', `/messages?channel_id=${dmRow!.channel_id}`, { agentKey: c.key })).body).toEqual([]);
    const admin = await t.call('GET', `/messages?from=${a.id}`, { admin: true });
    expect(admin.body.map((m: { id: number }) => m.id)).toContain(dm.body.id);
    const ch = await t.db.get<{ id: number }>(
      "INSERT INTO channels (name, slug, type, created_by) VALUES ('DM', 'dm-sec20', 'dm', 'x') RETURNING id",
    );
    await t.db.run('INSERT INTO channel_members (channel_id, user_id) VALUES (?, ?), (?, ?)', [
      ch!.id,
      a.id,
      ch!.id,
      b.id,
    ]);
    await t.call('POST', '/messages', { agentKey: a.key, body: { channel_id: ch!.id, content: 'in the dm channel' } });
    const byChannel = await t.call('GET', `/messages?channel_id=${ch!.id}`, { agentKey: c.key });
    expect(byChannel.body).toEqual([]);
    const intrude = await t.call('POST', '/messages', {
      agentKey: c.key,
      body: { channel_id: ch!.id, content: 'let me in' },
    });
    expect(intrude.status).toBe(403);
  });

  it('only the recipient, the sender, admins and operators may ack or resolve', async () => {
    const a = await registerAgent(t, 'own-a', 'm');
    const b = await registerAgent(t, 'own-b', 'm');
    const c = await registerAgent(t, 'own-c', 'm');
    const m = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'do it', msg_type: 'request' },
    });
    const ackC = await t.call('PUT', `/messages/${m.body.id}/ack`, { agentKey: c.key });
    expect(ackC.status).toBe(403);
    const resC = await t.call('PUT', `/messages/${m.body.id}/resolve`, { agentKey: c.key, body: { response: 'no' } });
    expect(resC.status).toBe(403);
    expect((await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [m.body.id]))!.status).toBe(
      'sent',
    );
    const res = await t.call('PUT', `/messages/${m.body.id}/resolve`, { agentKey: b.key, body: { response: 'done' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: true, id: m.body.id, status: 'resolved' });
    const reply = await t.db.get<{ from_agent: string; to_agent: string; content: string }>(
      'SELECT * FROM messages WHERE id = ?',
      [res.body.response_id],
    );
    expect(reply).toMatchObject({ from_agent: b.id, to_agent: a.id, content: 'done' });
    const row = await t.db.get<{ resolved_by: string; resolved_at: string }>('SELECT * FROM messages WHERE id = ?', [
      m.body.id,
    ]);
    expect(row!.resolved_by).toBe(b.id);
    expect(row!.resolved_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect((await t.call('PUT', '/messages/999999/ack', { agentKey: a.key })).status).toBe(404);
    expect((await t.call('PUT', '/messages/1abc/ack', { agentKey: a.key })).status).toBe(404);
  });

  it('acking a broadcast hides it for that agent only', async () => {
    const a = await registerAgent(t, 'bc-a', 'm');
    const b = await registerAgent(t, 'bc-b', 'm');
    const c = await registerAgent(t, 'bc-c', 'm');
    const bc = await t.call('POST', '/messages', { agentKey: a.key, body: { content: 'broadcast!' } });
    const ack = await t.call('PUT', `/messages/${bc.body.id}/ack`, { agentKey: b.key });
    expect(ack.body).toEqual({ ok: true, id: bc.body.id, status: 'acknowledged' });
    expect((await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [bc.body.id]))!.status).toBe(
      'sent',
    );
    const hbB = await t.call('POST', '/agents/heartbeat', { agentKey: b.key, body: { working_on: 'x' } });
    expect((hbB.body.inbox?.messages ?? []).map((m: { id: number }) => m.id)).not.toContain(bc.body.id);
    const hbC = await t.call('POST', '/agents/heartbeat', { agentKey: c.key, body: { working_on: 'x' } });
    expect(hbC.body.inbox.messages.map((m: { id: number }) => m.id)).toContain(bc.body.id);
  });
});

describe('threads and bulk delete', () => {
  it('lists threads visible to the caller', async () => {
    const a = await registerAgent(t, 'th-a', 'm');
    const c = await registerAgent(t, 'th-c', 'm');
    await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: 'th-b', content: 'one', thread_id: 'design-1' },
    });
    await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: 'th-b', content: 'two', thread_id: 'design-1' },
    });
    const mine = await t.call('GET', '/messages/threads', { agentKey: a.key });
    expect(mine.body.find((x: { thread_id: string }) => x.thread_id === 'design-1')).toMatchObject({
      message_count: 2,
      last_sender: a.id,
    });
    const theirs = await t.call('GET', '/messages/threads', { agentKey: c.key });
    expect(theirs.body.find((x: { thread_id: string }) => x.thread_id === 'design-1')).toBeUndefined();
  });

  it('threads: the ones with the newest visible messages, counted over visible messages only, found past a long thread (issue 11, growth)', async () => {
    const me = await registerAgent(t, 'thr-me', 'm');
    const peer = await registerAgent(t, 'thr-peer', 'm');
    const shut = await t.db.get<{ id: number }>(
      "INSERT INTO channels (name, slug, created_by) VALUES ('thr out', 'thr-out', 'x') RETURNING id",
    );
    // 8 threads over time, mixed with mail outside threads, others' DMs and a closed channel's
    // posts; then 150 newer messages of one thread, so the others lie past several walk batches.
    let sec = 0;
    const at = () => new Date(Date.UTC(2026, 6, 1) + ++sec * 1000).toISOString().slice(0, 19).replace('T', ' ');
    const put = (from: string, to: string | null, thread: string | null, channel: number | null = null) =>
      t.db.run(
        'INSERT INTO messages (from_agent, to_agent, channel_id, thread_id, content, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        [from, to, channel, thread, 'thr', at()],
      );
    for (let i = 0; i < 120; i++) {
      const th = `thr-${i % 8}`;
      if (i % 4 === 0) await put(me.id, peer.id, th);
      else if (i % 4 === 1) await put(peer.id, me.id, th);
      else if (i % 4 === 2)
        await put(peer.id, 'thr-third', i % 8 === 2 ? 'thr-hidden' : th); // not mine
      else await put(peer.id, null, i % 8 === 3 ? 'thr-closed' : th, i % 8 === 3 ? shut!.id : null);
      await put(peer.id, me.id, null);
    }
    for (let i = 0; i < 150; i++) await put(i % 2 ? me.id : peer.id, i % 2 ? peer.id : me.id, 'thr-long');
    const rows = await t.db.all<{
      id: number;
      thread_id: string;
      from_agent: string;
      to_agent: string | null;
      channel_id: number | null;
      created_at: string;
    }>(
      "SELECT id, thread_id, from_agent, to_agent, channel_id, created_at FROM messages WHERE thread_id IS NOT NULL AND msg_type != 'chat' ORDER BY created_at, id",
    );
    const member = new Set(
      (await t.db.all<{ channel_id: number }>('SELECT channel_id FROM channel_members WHERE user_id = ?', [me.id])).map(
        (r) => r.channel_id,
      ),
    );
    const byThread = new Map<string, { message_count: number; last_message_at: string; last_sender: string }>();
    for (const m of rows) {
      const visible =
        m.from_agent === me.id ||
        m.to_agent === me.id ||
        (m.to_agent === null && (m.channel_id === null || member.has(m.channel_id)));
      if (!visible) continue;
      const cur = byThread.get(m.thread_id) ?? { message_count: 0, last_message_at: '', last_sender: '' };
      byThread.set(m.thread_id, {
        message_count: cur.message_count + 1,
        last_message_at: m.created_at,
        last_sender: m.from_agent,
      });
    }
    const want = [...byThread].sort((a, b) => (a[1].last_message_at < b[1].last_message_at ? 1 : -1));
    // Another pair's DMs and a closed channel's posts make no thread of mine.
    expect(want.map(([th]) => th).sort()).toEqual(['thr-0', 'thr-1', 'thr-4', 'thr-5', 'thr-7', 'thr-long']);
    for (const limit of [1, 3, 5, 20]) {
      const r = await t.call('GET', `/messages/threads?limit=${limit}`, { agentKey: me.key });
      expect(r.status).toBe(200);
      expect(r.body).toEqual(want.slice(0, limit).map(([thread_id, v]) => ({ thread_id, ...v })));
    }
  });

  it('admin bulk delete needs a filter, escapes LIKE wildcards and removes read marks', async () => {
    const a = await registerAgent(t, 'bulk-a', 'm');
    const none = await t.call('DELETE', '/messages/bulk', { admin: true });
    expect(none.status).toBe(400);
    expect(none.body.error).toBe('Specify at least one filter: from, to, content_like');
    const m1 = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: 'bulk-b', content: '100% spam' },
    });
    await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: 'bulk-b', content: '100 spam' } });
    await t.db.run("INSERT INTO message_reads (message_id, agent_id) VALUES (?, 'bulk-b')", [m1.body.id]);
    const del = await t.call('DELETE', `/messages/bulk?content_like=${encodeURIComponent('0% s')}`, { admin: true });
    expect(del.body).toEqual({ deleted: 1 });
    expect(await t.db.get('SELECT 1 FROM message_reads WHERE message_id = ?', [m1.body.id])).toBeUndefined();
    expect((await t.call('DELETE', '/messages/bulk?from=x', { agentKey: a.key })).status).toBe(401);
  });
});

describe('guardrails on messages and requests (spec 03 §0.3, W21)', () => {
  it('a block rule on message_sent sees the resolved recipient from to_agent; request_created rules block requests', async () => {
    const a = await registerAgent(t, 'gr-a', 'm');
    const en = await t.call('PUT', '/plugins/guardrails/enable', { admin: true });
    expect(en.status).toBe(200);
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-dm-to-boss',
        trigger_event: 'message_sent',
        enforcement: 'block',
        conditions: { type: 'custom', checks: [{ field: 'to_agent', op: 'eq', value: 'boss' }] },
      },
    });
    expect(rule.status).toBe(200);
    const blocked = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: 'boss', content: 'hey boss' },
    });
    expect(blocked.status).toBe(403);
    expect(blocked.body.error).toBe('Blocked by guardrail: no-dm-to-boss');
    expect(await t.db.get("SELECT 1 FROM messages WHERE content = 'hey boss'")).toBeUndefined();
    expect(
      (await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: 'someone', content: 'fine' } })).status,
    ).toBe(200);
    await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-requests',
        trigger_event: 'request_created',
        enforcement: 'block',
        conditions: { type: 'custom', checks: [{ field: 'agent', op: 'eq', value: a.id }] },
      },
    });
    const req = await t.call('POST', '/requests', {
      agentKey: a.key,
      body: { to_agent: 'someone', content: 'please' },
    });
    expect(req.status).toBe(403);
    expect(req.body.error).toBe('Blocked by guardrail: no-requests');
  });
});

describe('review fixes: operator privacy, since, atomic send', () => {
  const ids = (r: { body: { id: number }[] }) => r.body.map((m) => m.id);

  it('SEC-20: a non-admin operator reads no agent↔agent DM through GET /messages or /messages/threads; its own traffic and broadcasts it does, admins everything', async () => {
    const a = await registerAgent(t, 'opv-a', 'm');
    const b = await registerAgent(t, 'opv-b', 'm');
    const op = await createOperator(t, 'opv-op', 'operator');
    const boss = await createOperator(t, 'opv-boss', 'admin');
    const dm = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'between us', thread_id: 'opv-secret' },
    });
    const dmChannel = (await t.db.get<{ channel_id: number }>('SELECT channel_id FROM messages WHERE id = ?', [
      dm.body.id,
    ]))!.channel_id;
    // A broadcast-shaped post inside the DM channel is still the DM's.
    const inDm = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { channel_id: dmChannel, content: 'also between us' },
    });
    const bc = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { content: 'hello everyone', thread_id: 'opv-public' },
    });
    const mine = await t.call('POST', '/messages', {
      token: op.token,
      body: { to_agent: a.id, content: 'from the operator', thread_id: 'opv-mine' },
    });
    expect([dm.status, inDm.status, bc.status, mine.status]).toEqual([200, 200, 200, 200]);

    const seen = ids(await t.call('GET', `/messages?from=${a.id}`, { token: op.token }));
    expect(seen).not.toContain(dm.body.id);
    expect(seen).not.toContain(inDm.body.id);
    expect(seen).toContain(bc.body.id);
    expect(ids(await t.call('GET', `/messages?to=${a.id}`, { token: op.token }))).toContain(mine.body.id);
    expect((await t.call('GET', `/messages?channel_id=${dmChannel}`, { token: op.token })).body).toEqual([]);
    const intrude = await t.call('POST', '/messages', {
      token: op.token,
      body: { channel_id: dmChannel, content: 'let me in' },
    });
    expect(intrude.status).toBe(403);
    expect(intrude.body.error).toBe('Not a member of this channel');
    const threads = (await t.call('GET', '/messages/threads?limit=500', { token: op.token })).body.map(
      (x: { thread_id: string }) => x.thread_id,
    );
    expect(threads).not.toContain('opv-secret');
    expect(threads).toEqual(expect.arrayContaining(['opv-public', 'opv-mine']));
    // A hidden DM in a thread the operator sees does not leak its sender as last_sender.
    await t.call('POST', '/messages', {
      agentKey: b.key,
      body: { to_agent: a.id, content: 'hidden reply', thread_id: 'opv-mine' },
    });
    const mixed = (await t.call('GET', '/messages/threads?limit=500', { token: op.token })).body.find(
      (x: { thread_id: string }) => x.thread_id === 'opv-mine',
    );
    expect(mixed).toMatchObject({ message_count: 1, last_sender: 'opv-op' });

    const all = ids(await t.call('GET', `/messages?channel_id=${dmChannel}`, { token: boss.token }));
    expect(all).toEqual(expect.arrayContaining([dm.body.id, inDm.body.id]));
    expect(
      (await t.call('GET', '/messages/threads?limit=500', { token: boss.token })).body.map(
        (x: { thread_id: string }) => x.thread_id,
      ),
    ).toContain('opv-secret');
  });

  it("an agent's listing is every message it may see, newest first, for any page and filter, even written out of time order (issue 11, growth)", async () => {
    const me = await registerAgent(t, 'lst-me', 'm');
    const peer = await registerAgent(t, 'lst-peer', 'm');
    const mine = await t.db.get<{ id: number }>(
      "INSERT INTO channels (name, slug, created_by) VALUES ('lst in', 'lst-in', 'x') RETURNING id",
    );
    const theirs = await t.db.get<{ id: number }>(
      "INSERT INTO channels (name, slug, created_by) VALUES ('lst out', 'lst-out', 'x') RETURNING id",
    );
    await t.db.run('INSERT INTO channel_members (channel_id, user_id) VALUES (?, ?), (?, ?)', [
      mine!.id,
      me.id,
      theirs!.id,
      peer.id,
    ]);
    // 180 rows of history: mail both ways, other agents' mail, broadcasts in and out of channels,
    // requests; times mostly rising with the id, every 7th written a day before (a clock stepped
    // back), every 5th sharing its second with the one before.
    const kinds = ['message', 'request', 'info'];
    let sec = 0;
    for (let i = 0; i < 180; i++) {
      const [from, to, channel] = [
        [me.id, peer.id, null],
        [peer.id, me.id, null],
        [peer.id, 'lst-third', null],
        [peer.id, null, null],
        [peer.id, null, mine!.id],
        [peer.id, null, theirs!.id],
        [me.id, null, theirs!.id],
      ][i % 7];
      if (i % 5) sec++;
      const when = new Date(Date.UTC(2026, 5, 1) + (i % 7 === 6 ? sec - 86_400 : sec) * 1000);
      await t.db.run(
        'INSERT INTO messages (from_agent, to_agent, channel_id, content, msg_type, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        [from, to, channel, `lst ${i}`, kinds[i % 3], when.toISOString().slice(0, 19).replace('T', ' ')],
      );
    }
    const memberOf = await t.db.all<{ channel_id: number }>(
      'SELECT channel_id FROM channel_members WHERE user_id = ?',
      [me.id],
    );
    const member = new Set(memberOf.map((r) => r.channel_id));
    expect(member.has(mine!.id) && !member.has(theirs!.id)).toBe(true);
    const all = await t.db.all<{
      id: number;
      from_agent: string;
      to_agent: string | null;
      channel_id: number | null;
      msg_type: string;
      created_at: string;
    }>("SELECT id, from_agent, to_agent, channel_id, msg_type, created_at FROM messages WHERE msg_type != 'chat'");
    const visible = all
      .filter(
        (m) =>
          m.from_agent === me.id ||
          m.to_agent === me.id ||
          (m.to_agent === null && (m.channel_id === null || member.has(m.channel_id))),
      )
      .sort((a, b) => (a.created_at === b.created_at ? b.id - a.id : a.created_at < b.created_at ? 1 : -1));
    expect(visible.length).toBeGreaterThan(120);
    const cases: [string, (m: (typeof visible)[number]) => boolean][] = [
      ['', () => true],
      [`to=${me.id}`, (m) => m.to_agent === me.id || m.to_agent === null],
      [`from=${me.id}`, (m) => m.from_agent === me.id],
      [`from=${peer.id}`, (m) => m.from_agent === peer.id],
      ['msg_type=request', (m) => m.msg_type === 'request'],
      ['since=2026-06-01T00:01:00Z', (m) => m.created_at > '2026-06-01 00:01:00'],
    ];
    for (const [query, keep] of cases) {
      const want = visible.filter(keep).map((m) => m.id);
      for (const [limit, offset] of [
        [10, 0],
        [10, 10],
        [25, 40],
        [500, 0],
      ]) {
        const r = await t.call('GET', `/messages?limit=${limit}&offset=${offset}${query ? `&${query}` : ''}`, {
          agentKey: me.key,
        });
        expect(r.status).toBe(200);
        expect(
          r.body.map((m: { id: number }) => m.id),
          `${query} ${limit}/${offset}`,
        ).toEqual(want.slice(offset, offset + limit));
      }
    }
  });

  it('since is an instant parsed like GET /events (ISO with zone or not, DB form); garbage is a 400', async () => {
    const a = await registerAgent(t, 'since-a', 'm');
    const m = await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: 'since-b', content: 'timed' } });
    const created = (await t.db.get<{ created_at: string }>('SELECT created_at FROM messages WHERE id = ?', [
      m.body.id,
    ]))!.created_at;
    const at = Date.parse(`${created.replace(' ', 'T')}Z`);
    const before = new Date(at - 1000).toISOString();
    const got = await t.call('GET', `/messages?from=${a.id}&since=${encodeURIComponent(before)}`, { admin: true });
    expect(got.status).toBe(200);
    expect(ids(got)).toContain(m.body.id);
    // One second after, written in +02:00: excluded although "later" as text.
    const after = `${new Date(at + 1000 + 2 * 3_600_000).toISOString().slice(0, 19)}+02:00`;
    const later = await t.call('GET', `/messages?from=${a.id}&since=${encodeURIComponent(after)}`, { admin: true });
    expect(ids(later)).not.toContain(m.body.id);
    expect(
      ids(await t.call('GET', `/messages?from=${a.id}&since=${encodeURIComponent(created)}`, { admin: true })),
    ).not.toContain(m.body.id);
    const bad = await t.call('GET', '/messages?since=yesterday', { admin: true });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/since/);
  });

  it('a message whose events cannot be written is not stored either (one atomic write)', async () => {
    const a = await registerAgent(t, 'atom-a', 'm');
    await t.db.run(
      "CREATE TRIGGER atom_probe BEFORE INSERT ON events WHEN NEW.type = 'message_sent' AND NEW.agent = 'atom-a' BEGIN SELECT RAISE(ABORT, 'probe'); END",
    );
    try {
      const r = await t.call('POST', '/messages', {
        agentKey: a.key,
        body: { to_agent: 'atom-b', content: 'atomic probe' },
      });
      expect(r.status).toBeGreaterThanOrEqual(500);
      expect(await t.db.get("SELECT id FROM messages WHERE from_agent = 'atom-a'")).toBeUndefined();
    } finally {
      await t.db.run('DROP TRIGGER atom_probe');
    }
    const ok = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: 'atom-b', content: 'now it works' },
    });
    expect(ok.status).toBe(200);
    expect(
      await t.db.get("SELECT id FROM events WHERE type = 'message_sent' AND data LIKE ?", [
        `%"message_id":${ok.body.id}%`,
      ]),
    ).toBeDefined();
  });
});
