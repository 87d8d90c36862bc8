import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agent: { id: string; key: string };
beforeAll(async () => {
  t = await startTarget();
  agent = await registerAgent(t, 'op-agent', 'p1');
});
afterAll(async () => t?.close());

describe('operators roster', () => {
  it('admin creates; duplicates 409; required fields 400; operator_created emitted; joins #general and #admin', async () => {
    const r = await t.call('POST', '/operators', {
      admin: true,
      body: { id: 'alice', display_name: 'Alice', email: 'alice@example.com', responsibilities: 'ops' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      id: 'alice',
      display_name: 'Alice',
      role: 'member',
      status: 'active',
      availability: 'available',
      email: 'alice@example.com',
    });
    expect(
      (await t.call('POST', '/operators', { admin: true, body: { id: 'alice', display_name: 'A2' } })).body,
    ).toEqual({ error: 'Operator already exists' });
    expect((await t.call('POST', '/operators', { admin: true, body: { id: 'x' } })).body.error).toBe(
      'id and display_name required',
    );
    expect(
      (await t.call('POST', '/operators', { admin: true, body: { id: 'y', display_name: 'Y', email: 'not-an-email' } }))
        .status,
    ).toBe(400);
    expect(
      (await t.call('POST', '/operators', { admin: true, body: { id: 'z', display_name: 'Z', studio_user_id: 999 } }))
        .status,
    ).toBe(400);
    expect(
      (await t.call('POST', '/operators', { agentKey: agent.key, body: { id: 'q', display_name: 'Q' } })).status,
    ).toBe(401);
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'operator_created'");
    expect(ev.summary).toBe('Operator alice created');
    const seats = await t.db.all<any>(
      "SELECT c.slug, m.role FROM channel_members m JOIN channels c ON c.id = m.channel_id WHERE m.user_id = 'alice' ORDER BY c.slug",
    );
    expect(seats).toEqual([
      { slug: 'admin', role: 'admin' },
      { slug: 'general', role: 'admin' },
    ]);
  });

  it('SEC-56: agents never see operator e-mail; humans do', async () => {
    const asAgent = await t.call('GET', '/operators', { agentKey: agent.key });
    expect(asAgent.status).toBe(200);
    expect(asAgent.body.length).toBeGreaterThan(0);
    expect(asAgent.body.every((o: any) => !('email' in o))).toBe(true);
    expect(asAgent.text).not.toContain('alice@example.com');
    const one = await t.call('GET', '/operators/alice', { agentKey: agent.key });
    expect(one.body.email).toBeUndefined();
    const asAdmin = await t.call('GET', '/operators/alice', { admin: true });
    expect(asAdmin.body.email).toBe('alice@example.com');
    expect((await t.call('GET', '/operators/nobody', { admin: true })).body).toEqual({ error: 'Operator not found' });
  });

  it('admin updates (validated) and deletes, with events and 404s', async () => {
    const u = await t.call('PUT', '/operators/alice', {
      admin: true,
      body: { role: 'lead', away_message: 'back at 5' },
    });
    expect(u.body).toMatchObject({ role: 'lead', away_message: 'back at 5' });
    expect((await t.call('PUT', '/operators/alice', { admin: true, body: { availability: 'gone' } })).status).toBe(400);
    expect((await t.call('PUT', '/operators/nobody', { admin: true, body: { role: 'x' } })).status).toBe(404);
    await t.call('POST', '/operators', { admin: true, body: { id: 'bob', display_name: 'Bob' } });
    expect((await t.call('DELETE', '/operators/bob', { admin: true })).body).toEqual({ ok: true });
    expect((await t.call('DELETE', '/operators/bob', { admin: true })).status).toBe(404);
    expect(await t.db.get("SELECT 1 FROM channel_members WHERE user_id = 'bob'")).toBeUndefined();
    const types = (await t.db.all<any>("SELECT type FROM events WHERE type LIKE 'operator_%'")).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['operator_updated', 'operator_deleted']));
  });

  it("availability: validated; an operator may set their own but not another's; autonomy flips emit events and notify agents", async () => {
    const carol = await createOperator(t, 'carol', 'operator');
    await t.call('POST', '/operators', {
      admin: true,
      body: { id: 'carol-op', display_name: 'Carol', studio_user_id: carol.id },
    });
    const twice = await t.call('POST', '/operators', {
      admin: true,
      body: { id: 'carol-2', display_name: 'Carol 2', studio_user_id: carol.id },
    });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toBe(`Studio user ${carol.id} is already linked to operator carol-op`);
    // carol's login was just seen (the login touches last_seen), so she makes the network non-autonomous.
    await t.db.run("UPDATE studio_users SET last_seen = datetime('now') WHERE id = ?", [carol.id]);
    await t.db.run("UPDATE agents SET status = 'online' WHERE id = 'op-agent'");
    const bad = await t.call('PUT', '/operators/carol-op/availability', {
      token: carol.token,
      body: { availability: 'asleep' },
    });
    expect(bad.body).toEqual({ error: 'availability must be available, away, or sleeping' });
    const other = await t.call('PUT', '/operators/alice/availability', {
      token: carol.token,
      body: { availability: 'away' },
    });
    expect(other.status).toBe(403);
    expect(
      (await t.call('PUT', '/operators/carol-op/availability', { agentKey: agent.key, body: { availability: 'away' } }))
        .status,
    ).toBe(403);

    const away = await t.call('PUT', '/operators/carol-op/availability', {
      token: carol.token,
      body: { availability: 'away', message: 'lunch' },
    });
    expect(away.status).toBe(200);
    expect(away.body).toMatchObject({ availability: 'away', away_message: 'lunch' });
    expect(away.body.last_seen_at).toMatch(/^\d{4}-\d{2}-\d{2} /);
    expect(await t.db.get("SELECT 1 FROM events WHERE type = 'autonomous_mode_on'")).toBeDefined();

    const back = await t.call('PUT', '/operators/carol-op/availability', {
      admin: true,
      body: { availability: 'available' },
    });
    expect(back.body.away_message).toBe('');
    expect(await t.db.get("SELECT 1 FROM events WHERE type = 'autonomous_mode_off'")).toBeDefined();
    const notice = await t.db.get<any>(
      "SELECT * FROM messages WHERE to_agent = 'op-agent' AND msg_type = 'info' ORDER BY id DESC LIMIT 1",
    );
    expect(notice).toMatchObject({
      from_agent: '__system__',
      content: 'Operator Carol is back. Human operators available.',
    });
    const avail = await t.db.all<any>("SELECT summary FROM events WHERE type = 'operator_availability' ORDER BY id");
    expect(avail.map((e) => e.summary)).toEqual(['Carol is now away', 'Carol is now available']);
    expect(
      (await t.call('PUT', '/operators/nobody/availability', { admin: true, body: { availability: 'away' } })).body,
    ).toEqual({ error: 'Operator not found' });
  });
});
