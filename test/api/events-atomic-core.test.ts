import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent, whileEventFails } from '../support/fixtures.js';

/**
 * Events are atomic with their writes in the core services too (issue 17): skills, widgets,
 * feedback, team chat, team settings, studio users, calibration profiles, webhooks, message
 * replies and admin cleanup used to commit the row and write the event after it. Each case makes
 * the event's INSERT fail (what a crash between the two would leave) and checks the row did not
 * change; then the same call succeeds and leaves exactly one event that names what it wrote.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
  await t.call('GET', '/agents', { admin: true }); // the Worker migrates on its first request
});
afterAll(() => t.close());

const count = async (sql: string, args: unknown[] = []) =>
  Number((await t.db.get<{ n: number }>(sql, args as never[]))!.n);
const eventsOf = (type: string) =>
  t.db.all<{ data: string; summary: string; agent: string }>(
    'SELECT data, summary, agent FROM events WHERE type = ? ORDER BY id',
    [type],
  );

describe('core writes commit with their events (issue 17)', () => {
  it('skills: no skill and no install without skill_created / skill_installed; a duplicate writes no event', async () => {
    const body = { id: 'ea-skill', name: 'EA skill' };
    await whileEventFails(t, 'skill_created', async () => {
      expect((await t.call('POST', '/skills', { admin: true, body })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM skills WHERE id = 'ea-skill'")).toBe(0);
    expect((await t.call('POST', '/skills', { admin: true, body })).status).toBe(201);
    expect((await t.call('POST', '/skills', { admin: true, body })).status).toBe(409);
    expect((await eventsOf('skill_created')).filter((e) => JSON.parse(e.data).skill_id === 'ea-skill')).toHaveLength(1);

    const a = await registerAgent(t, 'ea-skiller', 'ea');
    await whileEventFails(t, 'skill_installed', async () => {
      expect((await t.call('POST', '/skills/ea-skill/install', { agentKey: a.key, body: {} })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM agent_skills WHERE agent_id = 'ea-skiller'")).toBe(0);
    expect(await count("SELECT install_count AS n FROM skills WHERE id = 'ea-skill'")).toBe(0);
    expect((await t.call('POST', '/skills/ea-skill/install', { agentKey: a.key, body: {} })).status).toBe(200);
    expect(await count("SELECT install_count AS n FROM skills WHERE id = 'ea-skill'")).toBe(1);
    expect((await eventsOf('skill_installed')).filter((e) => e.agent === 'ea-skiller')).toHaveLength(1);
  });

  it('feedback, widgets and team chat: no row without its event; the event names the new id', async () => {
    const before = await count('SELECT COUNT(*) AS n FROM feedback');
    await whileEventFails(t, 'feedback_submitted', async () => {
      expect((await t.call('POST', '/feedback', { admin: true, body: { rating: 4 } })).status).toBe(500);
    });
    expect(await count('SELECT COUNT(*) AS n FROM feedback')).toBe(before);
    const fb = await t.call('POST', '/feedback', { admin: true, body: { rating: 4, entity_type: 'task' } });
    expect(fb.status).toBe(201);
    const fbEvents = (await eventsOf('feedback_submitted')).filter((e) => JSON.parse(e.summary).id === fb.body.id);
    expect(fbEvents).toHaveLength(1);
    expect(JSON.parse(fbEvents[0].summary)).toEqual({ id: fb.body.id, rating: 4, entity_type: 'task', agent_id: '' });

    const a = await registerAgent(t, 'ea-widgeteer', 'ea');
    await whileEventFails(t, 'widget_created', async () => {
      expect((await t.call('POST', '/widgets', { agentKey: a.key, body: { title: 'W' } })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM widgets WHERE agent_id = 'ea-widgeteer'")).toBe(0);
    const w = await t.call('POST', '/widgets', { agentKey: a.key, body: { title: 'W' } });
    expect(w.status).toBe(201);
    expect((await eventsOf('widget_created')).map((e) => JSON.parse(e.data))).toContainEqual({
      widget_id: w.body.id,
      widget_type: 'status',
    });

    const op = await createOperator(t, 'ea-chatter');
    const lines = () =>
      count("SELECT COUNT(*) AS n FROM messages WHERE msg_type = 'chat' AND from_agent = '__user:ea-chatter'");
    await whileEventFails(t, 'team_chat_message', async () => {
      expect((await t.call('POST', '/team-chat', { token: op.token, body: { content: 'hi' } })).status).toBe(500);
    });
    expect(await lines()).toBe(0);
    const chat = await t.call('POST', '/team-chat', { token: op.token, body: { content: 'hi' } });
    expect(chat.status).toBe(200);
    expect(await lines()).toBe(1);
    expect((await eventsOf('team_chat_message')).map((e) => JSON.parse(e.data))).toContainEqual({
      message_id: chat.body.id,
    });
  });

  it('team settings: neither a new value nor a delete without team_settings_updated; deleting nothing writes no event', async () => {
    const put = (v: string) => t.call('PUT', '/team-settings/brand/ea_color', { admin: true, body: { value: v } });
    const value = async () =>
      (
        await t.db.get<{ value: string }>(
          "SELECT value FROM team_settings WHERE section = 'brand' AND key = 'ea_color'",
        )
      )?.value;
    const mine = async () =>
      (await eventsOf('team_settings_updated')).filter((e) => JSON.parse(e.data).key === 'ea_color');

    await whileEventFails(t, 'team_settings_updated', async () => {
      expect((await put('red')).status).toBe(500);
    });
    expect(await value()).toBeUndefined();
    expect((await put('red')).status).toBe(200);
    await whileEventFails(t, 'team_settings_updated', async () => {
      expect((await put('blue')).status).toBe(500);
      expect((await t.call('DELETE', '/team-settings/brand/ea_color', { admin: true })).status).toBe(500);
    });
    expect(await value()).toBe('red');
    expect(await mine()).toHaveLength(1);
    expect((await t.call('DELETE', '/team-settings/brand/ea_color', { admin: true })).status).toBe(200);
    expect(await value()).toBeUndefined();
    expect((await t.call('DELETE', '/team-settings/brand/ea_color', { admin: true })).status).toBe(200);
    expect((await mine()).map((e) => e.summary)).toEqual([
      'Team setting brand.ea_color updated',
      'Team setting brand.ea_color deleted',
    ]);
  });

  it('webhooks: create, update and delete each commit with their event; a missing webhook writes none', async () => {
    const body = { agent_id: '__global__', url: 'https://93.184.216.34/ea', events: ['ea_never'] };
    const hooks = () => count("SELECT COUNT(*) AS n FROM webhooks WHERE url LIKE 'https://93.184.216.34/ea%'");
    await whileEventFails(t, 'webhook_created', async () => {
      expect((await t.call('POST', '/webhooks', { admin: true, body })).status).toBe(500);
    });
    expect(await hooks()).toBe(0);
    const created = await t.call('POST', '/webhooks', { admin: true, body });
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    const mine = async (type: string) =>
      (await eventsOf(type)).filter((e) => JSON.parse(e.data).webhook_id === id).map((e) => e.summary);
    expect(await mine('webhook_created')).toEqual([`Webhook #${id} created (routing __global__)`]);

    await whileEventFails(t, 'webhook_updated', async () => {
      const r = await t.call('PUT', `/webhooks/${id}`, { admin: true, body: { url: 'https://93.184.216.34/ea2' } });
      expect(r.status).toBe(500);
    });
    expect((await t.db.get<{ url: string }>('SELECT url FROM webhooks WHERE id = ?', [id]))!.url).toBe(
      'https://93.184.216.34/ea',
    );
    expect((await t.call('PUT', `/webhooks/${id}`, { admin: true, body: { active: false } })).status).toBe(200);
    expect(await mine('webhook_updated')).toHaveLength(1);

    await whileEventFails(t, 'webhook_deleted', async () => {
      expect((await t.call('DELETE', `/webhooks/${id}`, { admin: true })).status).toBe(500);
    });
    expect(await hooks()).toBe(1);
    expect((await t.call('DELETE', `/webhooks/${id}`, { admin: true })).status).toBe(200);
    expect(await hooks()).toBe(0);
    expect((await t.call('DELETE', `/webhooks/${id}`, { admin: true })).status).toBe(404);
    expect((await t.call('PUT', `/webhooks/${id}`, { admin: true, body: { active: true } })).status).toBe(404);
    expect(await mine('webhook_deleted')).toHaveLength(1);
    expect(await mine('webhook_updated')).toHaveLength(1);
  });

  it('studio users and calibration profiles: no row without its event; a refused write records none', async () => {
    const user = { username: 'ea-user', password: 'correct horse battery', display_name: 'EA', role: 'member' };
    await whileEventFails(t, 'user_created', async () => {
      expect((await t.call('POST', '/studio/users', { admin: true, body: user })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM studio_users WHERE username = 'ea-user'")).toBe(0);
    const u = await t.call('POST', '/studio/users', { admin: true, body: user });
    expect(u.status).toBe(200);
    expect((await t.call('POST', '/studio/users', { admin: true, body: user })).status).toBe(409);
    expect(
      (await eventsOf('user_created')).map((e) => JSON.parse(e.data)).filter((d) => d.user_id === u.body.id),
    ).toEqual([{ user_id: u.body.id, role: 'member' }]);

    const profileEvents = async (type: string) =>
      (await eventsOf(type)).filter((e) => JSON.parse(e.data).profile_id === 'ea-prof');
    await whileEventFails(t, 'profile_created', async () => {
      expect((await t.call('POST', '/profiles', { admin: true, body: { id: 'ea-prof', rules: {} } })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM node_profiles WHERE id = 'ea-prof'")).toBe(0);
    expect((await t.call('POST', '/profiles', { admin: true, body: { id: 'ea-prof', rules: {} } })).status).toBe(201);
    expect((await t.call('POST', '/profiles', { admin: true, body: { id: 'ea-prof' } })).status).toBe(409);
    expect(await profileEvents('profile_created')).toHaveLength(1);
    await whileEventFails(t, 'profile_updated', async () => {
      const r = await t.call('PUT', '/profiles/ea-prof', { admin: true, body: { rules: { a: { description: 'x' } } } });
      expect(r.status).toBe(500);
    });
    expect((await t.db.get<{ rules: string }>("SELECT rules FROM node_profiles WHERE id = 'ea-prof'"))!.rules).toBe(
      '{}',
    );
    await whileEventFails(t, 'profile_deleted', async () => {
      expect((await t.call('DELETE', '/profiles/ea-prof', { admin: true })).status).toBe(500);
    });
    expect(await count("SELECT COUNT(*) AS n FROM node_profiles WHERE id = 'ea-prof'")).toBe(1);
    expect((await t.call('DELETE', '/profiles/ea-prof', { admin: true })).status).toBe(200);
    expect(await profileEvents('profile_updated')).toHaveLength(0);
    expect(await profileEvents('profile_deleted')).toHaveLength(1);
  });

  it('messages: a resolve with a reply is all or nothing; message_received names the reply', async () => {
    const a = await registerAgent(t, 'ea-asker', 'ea');
    const b = await registerAgent(t, 'ea-answerer', 'ea');
    const req = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'question?', msg_type: 'request' },
    });
    expect(req.status).toBe(200);
    const id = req.body.id as number;
    const status = async () =>
      (await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [id]))!.status;
    const replies = () => count("SELECT COUNT(*) AS n FROM messages WHERE from_agent = 'ea-answerer'");
    const before = await status();
    await whileEventFails(t, 'message_received', async () => {
      const r = await t.call('PUT', `/messages/${id}/resolve`, { agentKey: b.key, body: { response: 'answer' } });
      expect(r.status).toBe(500);
    });
    expect(await status()).toBe(before);
    expect(await replies()).toBe(0);
    const ok = await t.call('PUT', `/messages/${id}/resolve`, { agentKey: b.key, body: { response: 'answer' } });
    expect(ok.status).toBe(200);
    expect(await status()).toBe('resolved');
    expect(await replies()).toBe(1);
    const received = (await eventsOf('message_received'))
      .map((e) => JSON.parse(e.data))
      .filter((d) => d.in_reply_to === id);
    expect(received).toEqual([
      { message_id: ok.body.response_id, from: 'ea-answerer', msg_type: 'message', in_reply_to: id },
    ]);
    expect((await eventsOf('request_resolved')).filter((e) => JSON.parse(e.data).message_id === id)).toHaveLength(1);
  });

  it('requests: resolving over PUT /requests/:id leaves the request open when request_resolved cannot be written', async () => {
    const a = await registerAgent(t, 'ea-rq-a', 'ea');
    const b = await registerAgent(t, 'ea-rq-b', 'ea');
    const r = await t.call('POST', '/requests', { agentKey: a.key, body: { to_agent: b.id, content: 'please' } });
    expect(r.status).toBe(200);
    const id = r.body.id as number;
    const status = async () =>
      (await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [id]))!.status;
    const before = await status();
    await whileEventFails(t, 'request_resolved', async () => {
      const res = await t.call('PUT', `/requests/${id}`, { agentKey: b.key, body: { status: 'resolved' } });
      expect(res.status).toBe(500);
    });
    expect(await status()).toBe(before);
    expect((await t.call('PUT', `/requests/${id}`, { agentKey: b.key, body: { status: 'resolved' } })).status).toBe(
      200,
    );
    expect(await status()).toBe('resolved');
    expect((await eventsOf('request_resolved')).filter((e) => JSON.parse(e.data).message_id === id)).toHaveLength(1);
  });

  it('admin cleanup: nothing is deleted without admin_cleanup, whose counts match what was deleted', async () => {
    await t.db.run(
      "INSERT INTO events (type, agent, summary, data, created_at) VALUES ('ea_old', 'x', 'old', '{}', datetime('now', '-400 days'))",
    );
    const old = () => count("SELECT COUNT(*) AS n FROM events WHERE type = 'ea_old'");
    await whileEventFails(t, 'admin_cleanup', async () => {
      expect((await t.call('POST', '/admin/cleanup', { admin: true, body: {} })).status).toBe(500);
    });
    expect(await old()).toBe(1);
    const before = (await eventsOf('admin_cleanup')).length;
    const r = await t.call('POST', '/admin/cleanup', { admin: true, body: {} });
    expect(r.status).toBe(200);
    expect(await old()).toBe(0);
    const evs = await eventsOf('admin_cleanup');
    expect(evs).toHaveLength(before + 1);
    const last = evs[evs.length - 1];
    expect(JSON.parse(last.data)).toEqual({
      messages_archived: r.body.messages_archived,
      events_archived: r.body.events_archived,
      webhooks_archived: r.body.webhooks_archived,
      savepoints_pruned: r.body.savepoints_pruned,
    });
    expect(r.body.events_archived).toBeGreaterThanOrEqual(1);
    expect(last.summary).toBe(
      `Cleanup: ${r.body.messages_archived} messages, ${r.body.events_archived} events, ${r.body.webhooks_archived} webhook deliveries, ${r.body.savepoints_pruned} savepoints pruned`,
    );
  });

  it('spend: a spend that crosses a warning level is not stored without its budget_warning, whose summary matches', async () => {
    const a = await registerAgent(t, 'ea-spender', 'ea-spend');
    await t.call('PUT', '/spend/budgets', {
      admin: true,
      body: { scope: 'agent', scope_id: a.id, limit_usd: 10, warn_pct: 50, hard_stop: false, period: 'total' },
    });
    const pay = (cost: number) => t.call('POST', '/spend', { agentKey: a.key, body: { cost_usd: cost, source: 'x' } });
    const rows = () => count("SELECT COUNT(*) AS n FROM agent_spend WHERE agent_id = 'ea-spender'");
    expect((await pay(2.5)).status).toBe(200);
    await whileEventFails(t, 'budget_warning', async () => {
      expect((await pay(3)).status).toBe(500);
    });
    expect(await rows()).toBe(1);
    const ok = await pay(3);
    expect(ok.status).toBe(200);
    expect(ok.body.budget_warnings).toEqual([expect.objectContaining({ spent_usd: 5.5, limit_usd: 10 })]);
    expect(await rows()).toBe(2);
    const evs = (await eventsOf('budget_warning')).filter((e) => e.agent === 'ea-spender');
    expect(evs.map((e) => e.summary)).toEqual(['agent ea-spender has spent $5.5 of $10 (total)']);
    expect(
      JSON.parse(
        (await t.db.get<{ data: string }>(
          "SELECT data FROM events WHERE type = 'budget_warning' AND agent = 'ea-spender'",
        ))!.data,
      ),
    ).toMatchObject({ scope_id: 'ea-spender', spent_usd: 5.5, limit_usd: 10 });
    // Below the next level: no event.
    expect((await pay(1)).body.budget_warnings).toBeUndefined();
    expect((await eventsOf('budget_warning')).filter((e) => e.agent === 'ea-spender')).toHaveLength(1);
  });

  it('stale requests: the maintenance close and its request_resolved events are one batch', async () => {
    await t.db.run(
      "INSERT INTO messages (from_agent, to_agent, content, msg_type, status, priority, project_id, created_at) VALUES ('ea-old-a', 'ea-old-b', 'old ask', 'request', 'pending', 'normal', 'ea-p', datetime('now', '-4 days'))",
    );
    const row = () =>
      t.db.get<{ id: number; status: string }>("SELECT id, status FROM messages WHERE from_agent = 'ea-old-a'");
    const again = () => t.db.run("DELETE FROM maintenance_runs WHERE job = 'stale_requests'");
    await again();
    await whileEventFails(t, 'request_resolved', async () => {
      await t.scheduled();
    });
    expect((await row())!.status).toBe('pending');
    await again();
    await t.scheduled();
    const { id, status } = (await row())!;
    expect(status).toBe('resolved');
    const evs = await t.db.all<{ data: string; project_id: string; summary: string }>(
      "SELECT data, project_id, summary FROM events WHERE type = 'request_resolved' AND json_extract(data, '$.message_id') = ?",
      [id],
    );
    expect(evs).toEqual([
      {
        data: JSON.stringify({ message_id: id, auto: true }),
        project_id: 'ea-p',
        summary: `System auto-resolved request #${id} (pending over 72 hours)`,
      },
    ]);
  });
});
