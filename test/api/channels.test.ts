import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let a: { id: string; key: string };
let b: { id: string; key: string };
let c: { id: string; key: string };
let generalId = 0;
beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'ch-a', 'p1');
  b = await registerAgent(t, 'ch-b', 'p1');
  c = await registerAgent(t, 'ch-c', 'p2');
  generalId = (await t.db.get<any>("SELECT id FROM channels WHERE slug = 'general'")).id;
});
afterAll(async () => t?.close());

describe('channels CRUD', () => {
  it('creates with members, 409 on a duplicate slug with the existing id, emits channel_created', async () => {
    const r = await t.call('POST', '/channels', {
      agentKey: a.key,
      body: {
        name: '#design',
        slug: 'design',
        description: 'UI <talk>',
        members: [{ user_id: 'ch-a' }, { user_id: 'ch-b' }],
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, id: expect.any(Number), name: '#design', slug: 'design' });
    const dup = await t.call('POST', '/channels', {
      agentKey: c.key,
      body: { name: 'x', slug: 'design', members: [{ user_id: 'ch-c' }] },
    });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ error: 'Channel slug already exists', channel_id: r.body.id });
    // A refused create never seats its members in the existing channel.
    expect(
      await t.db.get("SELECT 1 FROM channel_members WHERE channel_id = ? AND user_id = 'ch-c'", [r.body.id]),
    ).toBeUndefined();
    const squat = await t.call('POST', '/channels', {
      agentKey: c.key,
      body: { name: 'x', slug: 'dm-ch-a-ch-b', members: [{ user_id: 'ch-c' }] },
    });
    expect(squat.status).toBe(400);
    expect(
      (await t.call('POST', '/channels', { agentKey: c.key, body: { name: 'x', slug: 'team-core' } })).status,
    ).toBe(400);
    const got = await t.call('GET', `/channels/${r.body.id}`, { agentKey: c.key });
    expect(got.status).toBe(200);
    expect(got.body.description).toBe('UI <talk>');
    expect(got.body.created_by).toBe('ch-a');
    expect(got.body.member_count).toBe(2);
    expect(got.body.members.map((m: any) => m.user_id)).toEqual(['ch-a', 'ch-b']);
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'channel_created' ORDER BY id DESC LIMIT 1");
    expect(JSON.parse(ev.data)).toEqual({ channel_id: r.body.id });
  });

  it('validates input', async () => {
    expect((await t.call('POST', '/channels', { agentKey: a.key, body: { name: 'x' } })).body.error).toBe(
      'name and slug are required',
    );
    const badType = await t.call('POST', '/channels', { agentKey: a.key, body: { name: 'x', slug: 'x1', type: 'dm' } });
    expect(badType.status).toBe(400);
    expect(badType.body.code).toBe('invalid_enum');
    expect((await t.call('POST', '/channels', { agentKey: a.key, body: { name: 'x', slug: 'Bad Slug' } })).status).toBe(
      400,
    );
    expect((await t.call('GET', '/channels/1abc', { agentKey: a.key })).status).toBe(404);
    expect((await t.call('GET', '/channels/99999', { agentKey: a.key })).body.error).toBe('Channel not found');
    const badStatus = await t.call('PUT', `/channels/${generalId}`, { admin: true, body: { status: 'gone' } });
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.field).toBe('status');
  });

  it('lists active channels oldest first; status=all includes archived', async () => {
    const r = await t.call('POST', '/channels', { agentKey: a.key, body: { name: '#old', slug: 'old' } });
    const arch = await t.call('PUT', `/channels/${r.body.id}`, { agentKey: a.key, body: { status: 'archived' } });
    expect(arch.body).toEqual({ ok: true, id: r.body.id });
    const list = await t.call('GET', '/channels', { agentKey: a.key });
    expect(list.body.map((x: any) => x.slug)).not.toContain('old');
    expect(list.body[0].slug).toBe('general');
    const all = await t.call('GET', '/channels?status=all', { agentKey: a.key });
    expect(all.body.map((x: any) => x.slug)).toContain('old');
  });

  it('W8: only the creator, channel admins and instance admins may rename or manage members', async () => {
    const r = await t.call('POST', '/channels', { agentKey: a.key, body: { name: '#mgmt', slug: 'mgmt' } });
    const byOther = await t.call('PUT', `/channels/${r.body.id}`, { agentKey: b.key, body: { name: 'hijacked' } });
    expect(byOther.status).toBe(403);
    const addOther = await t.call('POST', `/channels/${r.body.id}/members`, {
      agentKey: b.key,
      body: { user_id: 'ch-c' },
    });
    expect(addOther.status).toBe(403);
    const selfJoin = await t.call('POST', `/channels/${r.body.id}/members`, {
      agentKey: b.key,
      body: { user_id: 'ch-b' },
    });
    expect(selfJoin.body).toEqual({ ok: true, added: true, channel_id: r.body.id, user_id: 'ch-b' });
    const again = await t.call('POST', `/channels/${r.body.id}/members`, {
      agentKey: b.key,
      body: { user_id: 'ch-b' },
    });
    expect(again.body.added).toBe(false);
    const selfAdmin = await t.call('POST', `/channels/${r.body.id}/members`, {
      agentKey: c.key,
      body: { user_id: 'ch-c', role: 'admin' },
    });
    expect(selfAdmin.status).toBe(403);
    const byCreator = await t.call('POST', `/channels/${r.body.id}/members`, {
      agentKey: a.key,
      body: { user_id: 'ch-c' },
    });
    expect(byCreator.body.added).toBe(true);
    const kick = await t.call('DELETE', `/channels/${r.body.id}/members/ch-c`, { agentKey: b.key });
    expect(kick.status).toBe(403);
    const leave = await t.call('DELETE', `/channels/${r.body.id}/members/ch-b`, { agentKey: b.key });
    expect(leave.body).toEqual({ ok: true, removed: true });
    const renameGeneral = await t.call('PUT', `/channels/${generalId}`, {
      agentKey: a.key,
      body: { name: 'mine now' },
    });
    expect(renameGeneral.status).toBe(403);
  });

  it('#general and #admin are delete-protected; DELETE is admin only and cascades members', async () => {
    expect((await t.call('DELETE', `/channels/${generalId}`, { admin: true })).body).toEqual({
      error: 'Cannot delete protected channel',
    });
    const adminCh = await t.db.get<any>("SELECT id FROM channels WHERE slug = 'admin'");
    expect((await t.call('DELETE', `/channels/${adminCh.id}`, { admin: true })).status).toBe(403);
    const r = await t.call('POST', '/channels', {
      agentKey: a.key,
      body: { name: '#tmp', slug: 'tmp', members: [{ user_id: 'ch-a' }] },
    });
    expect((await t.call('DELETE', `/channels/${r.body.id}`, { agentKey: a.key })).status).toBe(401);
    const d = await t.call('DELETE', `/channels/${r.body.id}`, { admin: true });
    expect(d.body).toEqual({ ok: true, deleted: r.body.id });
    expect(await t.db.get('SELECT 1 FROM channel_members WHERE channel_id = ?', [r.body.id])).toBeUndefined();
    expect((await t.call('DELETE', `/channels/${r.body.id}`, { admin: true })).status).toBe(404);
  });
});

describe('channel messages, read markers, unread', () => {
  it('members post and read; agents that are not members cannot (membership enforced)', async () => {
    const ch = await t.call('POST', '/channels', {
      agentKey: a.key,
      body: { name: '#team-x', slug: 'x-chat', members: [{ user_id: 'ch-a' }, { user_id: 'ch-b' }] },
    });
    const post = await t.call('POST', `/channels/${ch.body.id}/messages`, {
      agentKey: a.key,
      body: { content: 'hello <world>', metadata: { k: 1 } },
    });
    expect(post.status).toBe(200);
    expect(post.body).toEqual({ ok: true, id: expect.any(Number), channel_id: ch.body.id });
    const row = await t.db.get<any>('SELECT * FROM messages WHERE id = ?', [post.body.id]);
    expect(row).toMatchObject({
      from_agent: 'ch-a',
      to_agent: null,
      channel_id: ch.body.id,
      msg_type: 'message',
      status: 'sent',
      content: 'hello <world>',
      metadata: '{"k":1}',
    });
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'channel_message' ORDER BY id DESC LIMIT 1");
    expect(ev.summary).toBe('ch-a posted in #team-x');
    expect(JSON.parse(ev.data)).toEqual({ channel_id: ch.body.id, message_id: post.body.id });
    expect(
      (await t.call('POST', `/channels/${ch.body.id}/messages`, { agentKey: c.key, body: { content: 'let me in' } }))
        .status,
    ).toBe(403);
    expect((await t.call('GET', `/channels/${ch.body.id}/messages`, { agentKey: c.key })).body).toEqual({
      error: 'Access denied',
    });
    const read = await t.call('GET', `/channels/${ch.body.id}/messages`, { agentKey: b.key });
    expect(read.body.map((m: any) => m.content)).toEqual(['hello <world>']);
    expect(
      (await t.call('POST', `/channels/${ch.body.id}/messages`, { agentKey: a.key, body: { content: '   ' } })).body
        .error,
    ).toBe('content is required');
    expect(
      (await t.call('POST', `/channels/${ch.body.id}/messages`, { agentKey: a.key, body: { content: 5 } })).status,
    ).toBe(400);
  });

  it('pages with before/after, newest first', async () => {
    const ch = await t.call('POST', '/channels', {
      admin: true,
      body: { name: '#paging', slug: 'paging', members: [{ user_id: 'ch-a' }] },
    });
    const ids: number[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        (await t.call('POST', `/channels/${ch.body.id}/messages`, { agentKey: a.key, body: { content: `m${i}` } })).body
          .id,
      );
    const page = await t.call('GET', `/channels/${ch.body.id}/messages?limit=2`, { agentKey: a.key });
    expect(page.body.map((m: any) => m.content)).toEqual(['m3', 'm2']);
    const before = await t.call('GET', `/channels/${ch.body.id}/messages?before=${ids[2]}`, { agentKey: a.key });
    expect(before.body.map((m: any) => m.content)).toEqual(['m1', 'm0']);
    const after = await t.call('GET', `/channels/${ch.body.id}/messages?after=${ids[2]}`, { agentKey: a.key });
    expect(after.body.map((m: any) => m.content)).toEqual(['m3']);
    expect((await t.call('GET', `/channels/${ch.body.id}/messages?before=x`, { agentKey: a.key })).status).toBe(400);
  });

  it('unread counts posts after the read marker; PUT /read defaults to the newest post', async () => {
    const ch = await t.call('POST', '/channels', {
      admin: true,
      body: { name: '#unread', slug: 'unread-test', members: [{ user_id: 'ch-a' }, { user_id: 'ch-b' }] },
    });
    const m1 = await t.call('POST', `/channels/${ch.body.id}/messages`, { agentKey: a.key, body: { content: 'one' } });
    await t.call('POST', `/channels/${ch.body.id}/messages`, { agentKey: a.key, body: { content: 'two' } });
    const u = await t.call('GET', '/channels/unread', { agentKey: b.key });
    expect(u.body[String(ch.body.id)]).toEqual({ name: '#unread', slug: 'unread-test', unread: 2 });
    expect(u.body[String(generalId)]).toBeDefined();
    const part = await t.call('PUT', `/channels/${ch.body.id}/read`, {
      agentKey: b.key,
      body: { message_id: m1.body.id },
    });
    expect(part.body).toEqual({ ok: true, channel_id: ch.body.id, last_read_message_id: m1.body.id });
    expect((await t.call('GET', '/channels/unread', { agentKey: b.key })).body[String(ch.body.id)].unread).toBe(1);
    const all = await t.call('PUT', `/channels/${ch.body.id}/read`, { agentKey: b.key, body: {} });
    expect(all.body.last_read_message_id).toBeGreaterThan(m1.body.id);
    expect((await t.call('GET', '/channels/unread', { agentKey: b.key })).body[String(ch.body.id)].unread).toBe(0);
    expect((await t.call('GET', '/channels/unread', { agentKey: c.key })).body[String(ch.body.id)]).toBeUndefined();
    expect(
      (await t.call('PUT', `/channels/${ch.body.id}/read`, { agentKey: b.key, body: { message_id: 'x' } })).status,
    ).toBe(400);
  });
});

describe('DMs', () => {
  it('SEC-20: a DM is created once, visible and readable only to its two members and admins', async () => {
    const dm = await t.call('POST', '/channels/dm', { agentKey: a.key, body: { user_id: 'ch-b', user_type: 'agent' } });
    expect(dm.status).toBe(200);
    expect(dm.body.channel.slug).toBe('dm-ch-a-ch-b');
    expect(dm.body.channel.type).toBe('dm');
    const again = await t.call('POST', '/channels/dm', {
      agentKey: b.key,
      body: { target: 'ch-a', user_type: 'agent' },
    });
    expect(again.body.channel_id).toBe(dm.body.channel_id);
    const id = dm.body.channel_id;
    await t.call('POST', `/channels/${id}/messages`, { agentKey: a.key, body: { content: 'psst' } });
    expect((await t.call('GET', `/channels/${id}/messages`, { agentKey: b.key })).body[0].content).toBe('psst');
    expect((await t.call('GET', `/channels/${id}/messages`, { agentKey: c.key })).status).toBe(403);
    expect((await t.call('GET', `/channels/${id}`, { agentKey: c.key })).status).toBe(403);
    expect((await t.call('GET', `/channels/${id}/members`, { agentKey: c.key })).status).toBe(403);
    expect(
      (await t.call('POST', `/channels/${id}/messages`, { agentKey: c.key, body: { content: 'hi' } })).status,
    ).toBe(403);
    // W8: nobody can join a DM or pull the other party out, and ?member= reveals nothing.
    expect(
      (await t.call('POST', `/channels/${id}/members`, { agentKey: c.key, body: { user_id: 'ch-c' } })).status,
    ).toBe(403);
    expect((await t.call('DELETE', `/channels/${id}/members/ch-b`, { agentKey: a.key })).status).toBe(403);
    const listed = await t.call('GET', '/channels?member=ch-a&type=dm', { agentKey: c.key });
    expect(listed.body).toEqual([]);
    const mine = await t.call('GET', '/channels?type=dm', { agentKey: a.key });
    expect(mine.body.map((x: any) => x.id)).toEqual([id]);
    expect((await t.call('GET', `/channels/${id}/messages`, { admin: true })).status).toBe(200);
    const op = await createOperator(t, 'ch-op', 'operator');
    expect((await t.call('GET', `/channels/${id}/messages`, { token: op.token })).status).toBe(403);
  });

  it('refuses a DM with yourself and requires user_id', async () => {
    expect((await t.call('POST', '/channels/dm', { agentKey: a.key, body: {} })).body.error).toBe(
      'user_id is required',
    );
    expect((await t.call('POST', '/channels/dm', { agentKey: a.key, body: { user_id: 'ch-a' } })).status).toBe(400);
  });
});
