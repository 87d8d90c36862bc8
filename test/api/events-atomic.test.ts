import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { whileEventFails } from '../support/fixtures.js';

/**
 * Events are atomic with their writes everywhere (issue 17): areas that used to commit their change
 * and write the event after it (orgs, teams, projects, channels, context, concepts, operators,
 * savepoints) now write both in one batch. Proven the way a crash between the two would show: the
 * event's INSERT is made to fail, and the change must not be there either. Then, with the event
 * working again, the same request succeeds and its event names what it wrote.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
  await t.call('GET', '/agents', { admin: true }); // the Worker migrates on its first request
});
afterAll(() => t.close());

/** Makes every insert of one event type fail, as a crash between the write and its event would. */
const failing = (type: string, fn: () => Promise<void>) => whileEventFails(t, type, fn);
const count = async (sql: string, args: unknown[] = []) =>
  Number((await t.db.get<{ n: number }>(sql, args as never[]))!.n);
const eventsOf = (type: string) =>
  t.db.all<{ data: string; summary: string }>('SELECT data, summary FROM events WHERE type = ? ORDER BY id', [type]);

describe('events commit with their writes (issue 17)', () => {
  it('orgs, teams and projects: no row without its *_created event', async () => {
    await failing('org_created', async () => {
      expect((await t.call('POST', '/orgs', { admin: true, body: { id: 'ea-org', name: 'EA' } })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM organizations WHERE id = 'ea-org'")).toBe(0);
    expect((await t.call('POST', '/orgs', { admin: true, body: { id: 'ea-org', name: 'EA' } })).status).toBe(200);
    expect((await eventsOf('org_created')).map((e) => JSON.parse(e.data))).toContainEqual({ org_id: 'ea-org' });

    await failing('team_created', async () => {
      const r = await t.call('POST', '/teams', { admin: true, body: { id: 'ea-team', org_id: 'ea-org', name: 'T' } });
      expect(r.status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM teams WHERE id = 'ea-team'")).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM channels WHERE slug = 'team-ea-team'")).toBe(0);
    const team = await t.call('POST', '/teams', { admin: true, body: { id: 'ea-team', org_id: 'ea-org', name: 'T' } });
    expect(team.status).toBe(200);
    expect(await count("SELECT COUNT(*) AS n FROM channels WHERE slug = 'team-ea-team'")).toBe(1);
    // A duplicate is refused without a second event.
    expect(
      (await t.call('POST', '/teams', { admin: true, body: { id: 'ea-team', org_id: 'ea-org', name: 'T' } })).status,
    ).toBe(409);
    expect((await eventsOf('team_created')).filter((e) => JSON.parse(e.data).team_id === 'ea-team')).toHaveLength(1);

    await failing('project_created', async () => {
      expect((await t.call('POST', '/projects', { admin: true, body: { id: 'ea-proj', name: 'P' } })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM projects WHERE id = 'ea-proj'")).toBe(0);
  });

  it('channels: a channel and a post are never stored without channel_created / channel_message; the event names the new id', async () => {
    await failing('channel_created', async () => {
      const r = await t.call('POST', '/channels', { admin: true, body: { name: 'EA', slug: 'ea-chan' } });
      expect(r.status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM channels WHERE slug = 'ea-chan'")).toBe(0);
    const ch = await t.call('POST', '/channels', { admin: true, body: { name: 'EA', slug: 'ea-chan' } });
    expect(ch.status).toBe(200);
    expect((await eventsOf('channel_created')).map((e) => JSON.parse(e.data))).toContainEqual({
      channel_id: ch.body.id,
    });

    const before = await count('SELECT COUNT(*) AS n FROM messages WHERE channel_id = ?', [ch.body.id]);
    await failing('channel_message', async () => {
      const r = await t.call('POST', `/channels/${ch.body.id}/messages`, { admin: true, body: { content: 'lost?' } });
      expect(r.status).toBe(500);
    });
    expect(await count('SELECT COUNT(*) AS n FROM messages WHERE channel_id = ?', [ch.body.id])).toBe(before);
    const post = await t.call('POST', `/channels/${ch.body.id}/messages`, { admin: true, body: { content: 'kept' } });
    expect(post.status).toBe(200);
    expect((await eventsOf('channel_message')).map((e) => JSON.parse(e.data))).toContainEqual({
      channel_id: ch.body.id,
      message_id: post.body.id,
    });
  });

  it('context keys: neither a new key nor a new version without its context_key_updated event', async () => {
    await failing('context_key_updated', async () => {
      const r = await t.call('PUT', '/context/keys/ea-ns/k1', { admin: true, body: { data: { v: 1 } } });
      expect(r.status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM context_keys WHERE namespace = 'ea-ns'")).toBe(0);
    expect((await t.call('PUT', '/context/keys/ea-ns/k1', { admin: true, body: { data: { v: 1 } } })).status).toBe(200);
    await failing('context_key_updated', async () => {
      const r = await t.call('PUT', '/context/keys/ea-ns/k1', { admin: true, body: { data: { v: 2 } } });
      expect(r.status).toBe(500);
    });
    const row = await t.db.get<{ version: number; data: string }>(
      "SELECT version, data FROM context_keys WHERE namespace = 'ea-ns' AND key = 'k1'",
    );
    expect(row).toMatchObject({ version: 1 });
    expect(JSON.parse(row!.data)).toEqual({ v: 1 });
    expect(await count("SELECT COUNT(*) AS n FROM context_history WHERE namespace = 'ea-ns'")).toBe(0);
    const ok = await t.call('PUT', '/context/keys/ea-ns/k1', { admin: true, body: { data: { v: 2 } } });
    expect(ok.body).toMatchObject({ ok: true, version: 2 });
    const evs = (await eventsOf('context_key_updated')).map((e) => JSON.parse(e.data));
    expect(evs.filter((d) => d.namespace === 'ea-ns')).toEqual([
      { namespace: 'ea-ns', key: 'k1', version: 1 },
      { namespace: 'ea-ns', key: 'k1', version: 2 },
    ]);
  });

  it('concepts and operators: no row without its event', async () => {
    await failing('concept_created', async () => {
      expect((await t.call('POST', '/concepts', { admin: true, body: { name: 'ea-concept' } })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM concepts WHERE name = 'ea-concept'")).toBe(0);
    const c = await t.call('POST', '/concepts', { admin: true, body: { name: 'ea-concept' } });
    expect(c.status).toBe(200);
    expect((await eventsOf('concept_created')).map((e) => JSON.parse(e.data))).toContainEqual({
      concept_id: c.body.id,
    });

    await failing('operator_created', async () => {
      const r = await t.call('POST', '/operators', { admin: true, body: { id: 'ea-op', display_name: 'EA Op' } });
      expect(r.status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM operators WHERE id = 'ea-op'")).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM channel_members WHERE user_id = 'ea-op'")).toBe(0);
  });
});
