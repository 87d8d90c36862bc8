import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

// Review gaps across areas: limiter keying, message ownership, error triage scope, context-key delete.
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('agent-write limiter (spec 01 §1.5)', () => {
  it('REL-24: keyed by agent id, not the raw key: the 31st POST /messages is 429, another agent is unaffected, rotating the key does not reset the window', async () => {
    const a = await registerAgent(t, 'rl-a', 'rl');
    const b = await registerAgent(t, 'rl-b', 'rl');
    for (let i = 0; i < 30; i++) {
      const r = await t.call('POST', '/messages', { agentKey: a.key, body: { to_agent: b.id, content: `m${i}` } });
      expect(r.status, `message ${i}`).toBe(200);
    }
    const over = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'one too many' },
    });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(
      (await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'still fine' } })).status,
    ).toBe(200);
    const rotated = await t.call('PUT', `/admin/agents/${a.id}/key`, { admin: true });
    expect(rotated.status).toBe(200);
    const afterRotate = await t.call('POST', '/messages', {
      agentKey: rotated.body.api_key,
      body: { to_agent: b.id, content: 'new key, same agent' },
    });
    expect(afterRotate.status).toBe(429);
    // The same window covers the agent's other creates (one limiter, one key).
    expect(
      (await t.call('POST', '/tasks', { agentKey: rotated.body.api_key, body: { title: 'blocked too' } })).status,
    ).toBe(429);
  });

  it('REL-24: humans are limited too, by client IP, on POST /tasks', async () => {
    const ip = '203.0.113.77';
    for (let i = 0; i < 30; i++) {
      expect(
        (await t.call('POST', '/tasks', { admin: true, ip, body: { title: `t${i}`, project_id: 'rl' } })).status,
        `task ${i}`,
      ).toBe(200);
    }
    const over = await t.call('POST', '/tasks', { admin: true, ip, body: { title: 'over', project_id: 'rl' } });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBeTruthy();
    expect(
      (
        await t.call('POST', '/tasks', {
          admin: true,
          ip: '203.0.113.78',
          body: { title: 'other ip', project_id: 'rl' },
        })
      ).status,
    ).toBe(200);
  });
});

describe('message ack/resolve ownership', () => {
  it('spec 03 W9 / SEC-20: a non-admin operator who is neither party gets 403; a party operator and an admin operator may', async () => {
    const a = await registerAgent(t, 'w9-a', 'w9');
    const b = await registerAgent(t, 'w9-b', 'w9');
    const bystander = await createOperator(t, 'w9-bystander', 'operator');
    const sender = await createOperator(t, 'w9-sender', 'operator');
    const boss = await createOperator(t, 'w9-boss', 'admin');
    const m = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to_agent: b.id, content: 'please', msg_type: 'request' },
    });
    const ack = await t.call('PUT', `/messages/${m.body.id}/ack`, { token: bystander.token });
    expect(ack.status).toBe(403);
    expect(ack.body).toEqual({ error: 'Only the recipient or the sender can change this message' });
    const res = await t.call('PUT', `/messages/${m.body.id}/resolve`, {
      token: bystander.token,
      body: { response: 'no' },
    });
    expect(res.status).toBe(403);
    expect((await t.db.get<{ status: string }>('SELECT status FROM messages WHERE id = ?', [m.body.id]))!.status).toBe(
      'sent',
    );
    // A broadcast has no recipient: a non-admin operator may not ack it for everyone.
    const bc = await t.call('POST', '/messages', { agentKey: a.key, body: { content: 'all hands' } });
    expect((await t.call('PUT', `/messages/${bc.body.id}/ack`, { token: bystander.token })).status).toBe(403);
    const own = await t.call('POST', '/messages', {
      token: sender.token,
      body: { to_agent: b.id, content: 'from a human' },
    });
    expect((await t.call('PUT', `/messages/${own.body.id}/ack`, { token: sender.token })).body).toEqual({
      ok: true,
      id: own.body.id,
      status: 'acknowledged',
    });
    const byBoss = await t.call('PUT', `/messages/${m.body.id}/resolve`, { token: boss.token });
    expect(byBoss.body).toMatchObject({ ok: true, id: m.body.id, status: 'resolved' });
  });
});

describe('error-monitor triage scope', () => {
  const SECRET = 'whsec_review_gaps';
  const sentry = (id: string) => ({
    action: 'created',
    data: { issue: { id, title: `Err ${id}`, metadata: { value: 'boom' }, permalink: `https://sentry.example/${id}` } },
  });

  it('spec 06 W3: PUT /errors/events/:id — agents only for errors of their project (linked bug, else default_project); humans for any', async () => {
    expect((await t.call('PUT', '/plugins/error-monitor/enable', { admin: true })).body).toMatchObject({
      loaded: true,
    });
    await t.call('PUT', '/plugins/error-monitor/config', {
      admin: true,
      body: { webhook_secret: SECRET, default_project: 'em-home' },
    });
    const linked = await t.call('POST', '/errors/webhook/sentry', {
      headers: { 'X-Webhook-Secret': SECRET },
      body: sentry('501'),
    });
    expect(linked.status).toBe(200);
    const home = await registerAgent(t, 'em-home-agent', 'em-home');
    const outsider = await registerAgent(t, 'em-outsider', 'em-away');
    const id = linked.body.error_id;
    const bugId = (await t.call('GET', `/errors/events/${id}`, { admin: true })).body.bug_id;
    expect(bugId).toEqual(expect.any(Number));

    const denied = await t.call('PUT', `/errors/events/${id}`, { agentKey: outsider.key, body: { status: 'muted' } });
    expect(denied.status).toBe(403);
    expect(denied.body.error).toBe(`Agent ${outsider.id} cannot access resources in project em-home`);
    expect((await t.call('GET', `/errors/events/${id}`, { admin: true })).body.status).toBe('open');

    const muted = await t.call('PUT', `/errors/events/${id}`, { agentKey: home.key, body: { status: 'muted' } });
    expect(muted.status).toBe(200);
    expect(muted.body.error).toMatchObject({ id, status: 'muted', bug_id: bugId });

    // Re-linking to a bug of another project needs scope there too.
    const foreign = await t.call('POST', '/bugs', {
      agentKey: outsider.key,
      body: { title: 'away bug', description: 'd', project_id: 'em-away' },
    });
    expect(foreign.status).toBe(200);
    const relink = await t.call('PUT', `/errors/events/${id}`, {
      agentKey: home.key,
      body: { bug_id: foreign.body.id },
    });
    expect(relink.status).toBe(403);
    expect((await t.call('GET', `/errors/events/${id}`, { admin: true })).body.bug_id).toBe(bugId);

    const op = await createOperator(t, 'em-op', 'operator');
    expect(
      (await t.call('PUT', `/errors/events/${id}`, { token: op.token, body: { status: 'resolved' } })).status,
    ).toBe(200);

    // An unlinked error belongs to default_project.
    await t.call('PUT', '/plugins/error-monitor/config', { admin: true, body: { auto_file_threshold: 5 } });
    const loose = await t.call('POST', '/errors/webhook/sentry', {
      headers: { 'X-Webhook-Secret': SECRET },
      body: sentry('502'),
    });
    expect((await t.call('GET', `/errors/events/${loose.body.error_id}`, { admin: true })).body.bug_id).toBeNull();
    expect(
      (
        await t.call('PUT', `/errors/events/${loose.body.error_id}`, {
          agentKey: outsider.key,
          body: { status: 'muted' },
        })
      ).status,
    ).toBe(403);
    expect(
      (await t.call('PUT', `/errors/events/${loose.body.error_id}`, { agentKey: home.key, body: { status: 'muted' } }))
        .status,
    ).toBe(200);
  });
});

describe('context key delete', () => {
  it('spec 04 C9: owners may delete their keys; others 403; reserved namespaces admin-only; missing key 404', async () => {
    const alpha = await registerAgent(t, 'c9-alpha', 'c9a');
    const bravo = await registerAgent(t, 'c9-bravo', 'c9b');
    expect(
      (await t.call('PUT', '/context/keys/notes/plan', { agentKey: alpha.key, body: { data: { v: 1 } } })).status,
    ).toBe(200);

    const stranger = await t.call('DELETE', '/context/keys/notes/plan', { agentKey: bravo.key });
    expect(stranger.status).toBe(403);
    expect(stranger.body.error).toBe(`Agent ${bravo.id} cannot access resources in project c9a`);
    const op = await createOperator(t, 'c9-op', 'operator');
    const human = await t.call('DELETE', '/context/keys/notes/plan', { token: op.token });
    expect(human.status).toBe(403);
    expect(human.body.error).toBe('Only admins or the owning agent can delete a context key');
    expect((await t.call('GET', '/context/keys/notes/plan', { agentKey: alpha.key })).status).toBe(200);

    expect((await t.call('DELETE', '/context/keys/notes/plan', { agentKey: alpha.key })).body).toEqual({
      ok: true,
      deleted: 'notes:plan',
    });
    expect((await t.call('GET', '/context/keys/notes/plan', { agentKey: alpha.key })).status).toBe(404);
    const again = await t.call('DELETE', '/context/keys/notes/plan', { agentKey: alpha.key });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: 'Context key not found' });
    expect((await t.call('DELETE', '/context/keys/notes/never', { admin: true })).body).toEqual({
      error: 'Context key not found',
    });

    expect(
      (await t.call('PUT', '/context/keys/mycelium/setting', { admin: true, body: { data: 'x', shared: true } }))
        .status,
    ).toBe(200);
    const reserved = await t.call('DELETE', '/context/keys/mycelium/setting', { agentKey: alpha.key });
    expect(reserved.status).toBe(403);
    expect(reserved.body.error).toBe('Namespace mycelium is reserved for admins');
    expect((await t.call('DELETE', '/context/keys/mycelium/setting', { admin: true })).body).toEqual({
      ok: true,
      deleted: 'mycelium:setting',
    });
  });
});
