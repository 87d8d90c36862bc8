import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let agentKey = '';
beforeAll(async () => {
  t = await startTarget();
  agentKey = (await registerAgent(t, 'fb-agent', 'p')).key;
});
afterAll(async () => t?.close());

describe('feedback', () => {
  it('POST answers 201 with the row, submitted_by = caller, event summary is a JSON string', async () => {
    const r = await t.call('POST', '/feedback', {
      agentKey,
      body: {
        rating: 4,
        entity_type: 'task',
        entity_id: 12,
        comment: 'good',
        agent_id: 'worker-1',
        submitted_by: 'spoof',
      },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      id: expect.any(Number),
      rating: 4,
      entity_type: 'task',
      entity_id: '12',
      comment: 'good',
      agent_id: 'worker-1',
      submitted_by: 'fb-agent',
    });
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'feedback_submitted'");
    expect(JSON.parse(ev.summary)).toEqual({ id: r.body.id, rating: 4, entity_type: 'task', agent_id: 'worker-1' });
    expect(ev.agent).toBe('fb-agent');
  });

  it('W22: rating must be an integer 1–5 (no coercion)', async () => {
    for (const rating of [0, 6, 2.5, '4', null, undefined]) {
      const r = await t.call('POST', '/feedback', { agentKey, body: { rating } });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe('rating must be 1-5');
    }
    expect((await t.call('POST', '/feedback', { agentKey, body: { rating: 3, comment: { x: 1 } } })).status).toBe(400);
  });

  it('admin lists with filters and reads the summary; agents cannot', async () => {
    await t.call('POST', '/feedback', { agentKey, body: { rating: 2, agent_id: 'worker-1' } });
    await t.call('POST', '/feedback', { admin: true, body: { rating: 5, agent_id: 'worker-2', entity_type: 'bug' } });
    expect((await t.call('GET', '/feedback', { agentKey })).status).toBe(401);
    const all = await t.call('GET', '/feedback', { admin: true });
    expect(all.body).toHaveLength(3);
    expect(all.body[0].rating).toBe(5);
    expect(
      (await t.call('GET', '/feedback?agent_id=worker-1&min_rating=3', { admin: true })).body.map((f: any) => f.rating),
    ).toEqual([4]);
    expect((await t.call('GET', '/feedback?rating=9', { admin: true })).status).toBe(400);
    const s = await t.call('GET', '/feedback/summary', { admin: true });
    expect(s.body.total).toBe(3);
    expect(s.body.avg_rating).toBe(3.67);
    expect(s.body.by_agent[0]).toEqual({ agent_id: 'worker-1', count: 2, avg_rating: 3 });
    expect(s.body.rating_dist).toEqual([
      { rating: 2, count: 1 },
      { rating: 4, count: 1 },
      { rating: 5, count: 1 },
    ]);
    expect(s.body.recent).toHaveLength(3);
    expect(s.body.by_type.map((x: any) => x.entity_type).sort()).toEqual(['bug', 'general', 'task']);
  });

  it('DELETE: 400 for a non-numeric id, 404 for a missing one', async () => {
    const id = (await t.call('POST', '/feedback', { agentKey, body: { rating: 1 } })).body.id;
    expect((await t.call('DELETE', '/feedback/abc', { admin: true })).body).toEqual({ error: 'Invalid feedback id' });
    expect((await t.call('DELETE', `/feedback/${id}`, { admin: true })).body).toEqual({ ok: true });
    expect((await t.call('DELETE', `/feedback/${id}`, { admin: true })).body).toEqual({ error: 'Feedback not found' });
  });
});
