import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import { CORE_EVENT_TYPES } from '../../worker/src/domain/events/catalogue.js';

let t: Target;
let a: { id: string; key: string };
let b: { id: string; key: string };
beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'ev-a', 'pa');
  b = await registerAgent(t, 'ev-b', 'pb');
});
afterAll(async () => t?.close());

describe('POST /events', () => {
  it('stores a custom event as the caller with an escaped summary and returns {id}', async () => {
    const r = await t.call('POST', '/events', {
      agentKey: a.key,
      body: { type: 'custom', project: 'pa', summary: `<b>"hi"</b> & 'x'`, data: { n: 1 } },
    });
    expect(r.status).toBe(200);
    expect(typeof r.body.id).toBe('number');
    const row = await t.db.get<any>('SELECT * FROM events WHERE id = ?', [r.body.id]);
    expect(row.agent).toBe('ev-a');
    expect(row.project_id).toBe('pa');
    expect(row.summary).toBe('&lt;b&gt;&quot;hi&quot;&lt;/b&gt; &amp; &#39;x&#39;');
    expect(JSON.parse(row.data)).toEqual({ n: 1 });
  });

  it('defaults type to custom', async () => {
    const r = await t.call('POST', '/events', { agentKey: a.key, body: {} });
    expect(r.status).toBe(200);
    const row = await t.db.get<any>('SELECT type, data FROM events WHERE id = ?', [r.body.id]);
    expect(row.type).toBe('custom');
    expect(row.data).toBe('{}');
  });

  it('SEC-43: an agent may not forge core event types (400, nothing stored)', async () => {
    const before = await t.db.get<any>('SELECT COUNT(*) AS n FROM events');
    for (const type of ['approval_approved', 'task_done', 'admin_frozen', 'health_patrol', 'bug_fixed']) {
      const r = await t.call('POST', '/events', { agentKey: a.key, body: { type, summary: 'x' } });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe(`Event type ${type} is reserved`);
    }
    const after = await t.db.get<any>('SELECT COUNT(*) AS n FROM events');
    expect(after.n).toBe(before.n);
  });

  it('the catalogue is one list that POST /events checks: every entry is refused for a non-admin operator', async () => {
    const op = await createOperator(t, 'ev-op', 'operator');
    expect(CORE_EVENT_TYPES.length).toBeGreaterThan(100);
    for (const type of ['channel_message', 'feedback_submitted', 'webhook_created']) {
      expect(CORE_EVENT_TYPES).toContain(type);
      const r = await t.call('POST', '/events', { token: op.token, body: { type } });
      expect(r.status).toBe(400);
    }
  });

  it('rejects wrong types naming the field', async () => {
    const r1 = await t.call('POST', '/events', { agentKey: a.key, body: { type: 42 } });
    expect(r1.status).toBe(400);
    expect(r1.body.error).toMatch(/^type/);
    const r2 = await t.call('POST', '/events', { agentKey: a.key, body: { summary: { x: 1 } } });
    expect(r2.status).toBe(400);
    expect(r2.body.error).toMatch(/^summary/);
  });

  it('an agent cannot post events into another project', async () => {
    const r = await t.call('POST', '/events', { agentKey: a.key, body: { type: 'custom', project_id: 'pb' } });
    expect(r.status).toBe(403);
  });

  it('requires authentication', async () => {
    const r = await t.call('POST', '/events', { body: { type: 'custom' } });
    expect(r.status).toBe(401);
  });
});

describe('GET /events', () => {
  it('returns rows newest first with data as a JSON string, filtered by type/agent/project/search', async () => {
    await t.call('POST', '/events', {
      admin: true,
      body: { type: 'filter.test', project_id: 'pa', summary: 'needle 100%', data: { k: 'v' } },
    });
    await t.call('POST', '/events', { admin: true, body: { type: 'filter.test', project_id: 'pb', summary: 'other' } });
    const r = await t.call('GET', '/events?type=filter.test', { admin: true });
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(2);
    expect(r.body[0].id).toBeGreaterThan(r.body[1].id);
    expect(r.body[1].data).toBe('{"k":"v"}');
    expect(r.body[1].created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const byProject = await t.call('GET', '/events?type=filter.test&project=pb', { admin: true });
    expect(byProject.body.map((e: any) => e.project_id)).toEqual(['pb']);
    const search = await t.call('GET', '/events?search=100%25', { admin: true });
    expect(search.body.map((e: any) => e.summary)).toEqual(['needle 100%']);
    const wildcard = await t.call('GET', '/events?search=%25', { admin: true });
    expect(
      wildcard.body.every((e: any) => e.summary.includes('%') || e.type.includes('%') || e.agent.includes('%')),
    ).toBe(true);
    const byAgent = await t.call('GET', '/events?agent=ev-a', { admin: true });
    expect(byAgent.body.length).toBeGreaterThan(0);
    expect(byAgent.body.every((e: any) => e.agent === 'ev-a')).toBe(true);
  });

  it('limit is clamped to 500 and bad numbers are 400', async () => {
    const r = await t.call('GET', '/events?limit=abc', { admin: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/limit/);
    const ok = await t.call('GET', '/events?limit=1', { admin: true });
    expect(ok.body).toHaveLength(1);
  });

  it('S2: since is parsed as an instant (ISO with T and Z, or the stored format)', async () => {
    await t.db.run(
      "INSERT INTO events (type, agent, summary, created_at) VALUES ('since.test', 'x', 'early', '2026-01-10 08:00:00')",
    );
    await t.db.run(
      "INSERT INTO events (type, agent, summary, created_at) VALUES ('since.test', 'x', 'late', '2026-01-10 20:00:00')",
    );
    const iso = await t.call('GET', '/events?type=since.test&since=2026-01-10T12:00:00Z', { admin: true });
    expect(iso.status).toBe(200);
    expect(iso.body.map((e: any) => e.summary)).toEqual(['late']);
    const offset = await t.call(
      'GET',
      `/events?type=since.test&since=${encodeURIComponent('2026-01-10T09:00:00+02:00')}`,
      { admin: true },
    );
    expect(offset.body.map((e: any) => e.summary)).toEqual(['late', 'early']);
    const rawPlus = await t.call('GET', '/events?type=since.test&since=2026-01-10T21:00:00+02:00', { admin: true });
    expect(rawPlus.body.map((e: any) => e.summary)).toEqual(['late']);
    const sqlite = await t.call('GET', '/events?type=since.test&since=2026-01-10%2012:00:00', { admin: true });
    expect(sqlite.body.map((e: any) => e.summary)).toEqual(['late']);
    const bad = await t.call('GET', '/events?since=yesterday', { admin: true });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/since/);
  });

  it('since bounds the listing by id (no index on created_at): alone and with type, agent, project, search, paging', async () => {
    // Written after everything else in time order (ids follow time), a year ahead so nothing else matches.
    const at = (s: number) => `2999-01-01 00:00:${String(s).padStart(2, '0')}`;
    for (let i = 0; i < 8; i++)
      await t.db.run(
        "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES (?, 'since-bound', 'since-p', ?, ?)",
        [i % 2 ? 'since.odd' : 'since.even', `s${i}`, at(i * 5)],
      );
    try {
      const list = async (q: string) => {
        const r = await t.call('GET', `/events?since=${encodeURIComponent(at(12))}${q}`, { admin: true });
        expect(r.status).toBe(200);
        return r.body.map((e: { summary: string }) => e.summary);
      };
      expect(await list('')).toEqual(['s7', 's6', 's5', 's4', 's3']);
      expect(await list('&type=since.odd')).toEqual(['s7', 's5', 's3']);
      expect(await list('&agent=since-bound&limit=2&offset=1')).toEqual(['s6', 's5']);
      expect(await list('&project_id=since-p&search=s4')).toEqual(['s4']);
      // Exactly at `since` is not after it.
      const r = await t.call('GET', `/events?since=${encodeURIComponent(at(35))}`, { admin: true });
      expect(r.body.map((e: { summary: string }) => e.summary)).toEqual([]);
    } finally {
      await t.db.run("DELETE FROM events WHERE agent = 'since-bound'");
    }
  });

  it('E2: agents see shared events, their own project and events tagged with themselves; humans see all', async () => {
    await t.call('POST', '/events', { admin: true, body: { type: 'scope.test', project_id: 'pb', summary: 'b-only' } });
    await t.call('POST', '/events', { admin: true, body: { type: 'scope.test', project_id: 'pa', summary: 'a-only' } });
    await t.call('POST', '/events', { admin: true, body: { type: 'scope.test', summary: 'shared' } });
    const asA = await t.call('GET', '/events?type=scope.test', { agentKey: a.key });
    expect(asA.body.map((e: any) => e.summary).sort()).toEqual(['a-only', 'shared']);
    const asB = await t.call('GET', '/events?type=scope.test', { agentKey: b.key });
    expect(asB.body.map((e: any) => e.summary).sort()).toEqual(['b-only', 'shared']);
    const asAdmin = await t.call('GET', '/events?type=scope.test', { admin: true });
    expect(asAdmin.body).toHaveLength(3);
  });
});
