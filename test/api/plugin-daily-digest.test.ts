import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let a: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'digger', 'proj');
  expect((await t.call('PUT', '/plugins/daily-digest/enable', { admin: true })).body).toMatchObject({ loaded: true });
});
afterAll(() => t.close());

async function until<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const v = await fn();
    if (v) return v;
    await t.settle();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

describe('daily-digest', () => {
  it('generates a per-project summary of real core activity (W17: against the real schema)', async () => {
    const task = await t.call('POST', '/tasks', { agentKey: a.key, body: { title: 'ship it', project_id: 'proj' } });
    expect((await t.call('POST', `/tasks/${task.body.id}/claim`, { agentKey: a.key, body: {} })).status).toBe(200);
    const done = await t.call('PUT', `/tasks/${task.body.id}`, { agentKey: a.key, body: { status: 'done' } });
    expect(done.status).toBe(200);
    await t.call('POST', '/tasks', { admin: true, body: { title: 'other project', project_id: 'elsewhere' } });

    const g = await t.call('POST', '/digest/generate', { admin: true, body: { project_id: 'proj' } });
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ ok: true, digest_type: 'daily', project_id: 'proj', delivered_to: ['inbox'] });
    expect(g.body.summary).toContain('Tasks completed: 1');
    const rep = await t.call('GET', `/digest/reports/${g.body.report_id}`, { agentKey: a.key });
    expect(rep.body.content).toMatchObject({
      project_id: 'proj',
      tasks_completed: 1,
      tasks: [{ id: task.body.id, title: 'ship it', assignee: 'digger' }],
      agent_stats: { digger: { tasks: 1, bugs: 0, steps: 0 } },
    });
    expect(await t.db.get("SELECT type FROM events WHERE type = 'digest_generated'")).toBeTruthy();
  });

  it('event counters are recorded once per event and feed trends and the velocity widget', async () => {
    const v = await until(async () => {
      const r = await t.call('GET', '/digest/widgets/velocity', { agentKey: a.key });
      return r.body.tasks_completed === 1 ? r.body : null;
    });
    expect(v.tasks_completed).toBe(1);
    await t.call('GET', '/health');
    await t.settle();
    const tr = await t.call('GET', '/digest/trends?metric=tasks_completed&periods=3', { agentKey: a.key });
    expect(tr.body.data).toEqual([{ period: v.date, total: 1 }]);
    expect((await t.call('GET', '/digest/trends?metric=nope', { agentKey: a.key })).body.error).toBe(
      'metric must be one of: tasks_completed, bugs_fixed, plan_steps_completed, messages_sent',
    );
  });

  it('preview and generate are admin-only; bad type is a 400; SEC-31: a Slack URL pointing inward is blocked and recorded', async () => {
    expect((await t.call('GET', '/digest/preview', { agentKey: a.key })).status).toBe(401);
    expect((await t.call('POST', '/digest/generate', { admin: true, body: { type: 'hourly' } })).body.error).toBe(
      'type must be daily or weekly',
    );
    await t.call('PUT', '/plugins/daily-digest/config', {
      admin: true,
      body: { slack_webhook: 'http://169.254.169.254/latest' },
    });
    const g = await t.call('POST', '/digest/generate', { admin: true, body: { type: 'weekly' } });
    expect(g.status).toBe(200);
    expect(g.body.delivered_to).toEqual(['inbox']);
    expect(g.body.delivery_errors[0]).toMatch(/^slack: blocked: /);
    expect(g.text).not.toContain('169.254.169.254/latest');
    const p = await t.call('GET', '/digest/preview?type=weekly&project_id=proj', { admin: true });
    expect(p.body.data.tasks_completed).toBe(1);
  });
});
