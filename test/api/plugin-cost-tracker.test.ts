import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let a: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'spender', 'proj');
  expect((await t.call('PUT', '/plugins/cost-tracker/enable', { admin: true })).body).toMatchObject({ loaded: true });
});
afterAll(() => t.close());

describe('cost-tracker', () => {
  it('prices usage on the server and records it in the core spend ledger (no duplicate ledger, W20)', async () => {
    const r = await t.call('POST', '/costs/record', {
      agentKey: a.key,
      body: { input_tokens: 1000, output_tokens: 1000, model: 'm1', agent_id: 'someone-else', cost_usd: 999 },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, cost_usd: 0.09 });
    const row = await t.db.get(
      'SELECT agent_id, project_id, cost_usd, model, tokens_in, tokens_out, source FROM agent_spend WHERE id = ?',
      [r.body.id],
    );
    expect(row).toEqual({
      agent_id: 'spender',
      project_id: 'proj',
      cost_usd: 0.09,
      model: 'm1',
      tokens_in: 1000,
      tokens_out: 1000,
      source: 'cost-tracker',
    });
    // The core /spend view sees the same entry.
    const core = await t.call('GET', '/spend/spender', { agentKey: a.key });
    expect(core.status).toBe(200);
    expect(JSON.stringify(core.body)).toContain('cost-tracker');
  });

  it('per-model prices from config; reports by agent, project, model and day read the ledger', async () => {
    const cfg = await t.call('PUT', '/plugins/cost-tracker/config', {
      admin: true,
      body: { model_prices: JSON.stringify({ cheap: { input: 1, output: 2 } }) },
    });
    expect(cfg.status).toBe(200);
    const r = await t.call('POST', '/costs/record', {
      agentKey: a.key,
      body: { input_tokens: 1_000_000, output_tokens: 1_000_000, model: 'cheap' },
    });
    expect(r.body.cost_usd).toBe(3);
    const byModel = await t.call('GET', '/costs/by-model', { agentKey: a.key });
    expect(byModel.body.models).toEqual(
      expect.arrayContaining([expect.objectContaining({ model: 'cheap', total_cost: 3, entry_count: 1 })]),
    );
    const byAgent = await t.call('GET', '/costs/by-agent', { agentKey: a.key });
    expect(byAgent.body.agents).toEqual([
      expect.objectContaining({ agent_id: 'spender', total_cost: 3.09, entry_count: 2 }),
    ]);
    const byProject = await t.call('GET', '/costs/by-project', { agentKey: a.key });
    expect(byProject.body.projects).toEqual([expect.objectContaining({ project_id: 'proj', total_cost: 3.09 })]);
    const trends = await t.call('GET', '/costs/trends?days=3', { agentKey: a.key });
    expect(trends.body.days).toBe(3);
    expect(trends.body.data.reduce((s: number, d: { total_cost: number }) => s + d.total_cost, 0)).toBeCloseTo(3.09, 6);
    const sum = await t.call('GET', '/costs/summary', { agentKey: a.key });
    expect(sum.body.today.spend).toBeCloseTo(3.09, 6);
    expect(sum.body.today.pct).toBeNull();
  });

  it('budget alert: raised once per period when the threshold is crossed', async () => {
    await t.call('PUT', '/plugins/cost-tracker/config', {
      admin: true,
      body: { budget_daily: 4, alert_threshold_pct: 80 },
    });
    await t.call('POST', '/costs/record', { agentKey: a.key, body: { input_tokens: 1_000_000, model: 'cheap' } });
    await t.call('POST', '/costs/record', { agentKey: a.key, body: { input_tokens: 1_000_000, model: 'cheap' } });
    const alerts = await t.call('GET', '/costs/alerts', { agentKey: a.key });
    expect(alerts.body).toHaveLength(1);
    expect(alerts.body[0]).toMatchObject({ alert_type: 'daily_budget', budget_limit: 4 });
    const w = await t.call('GET', '/costs/widgets/budget-status', { agentKey: a.key });
    expect(w.body).toMatchObject({ type: 'stat', label: 'Daily Budget Used', color: 'red' });
  });

  it('agents see only their own spend in the reports (core rule S1); admins see everyone', async () => {
    const other = await registerAgent(t, 'other-spender', 'proj');
    await t.call('POST', '/costs/record', { agentKey: other.key, body: { output_tokens: 1000 } });
    const mine = await t.call('GET', '/costs/by-agent', { agentKey: a.key });
    expect(mine.body.agents.map((r: { agent_id: string }) => r.agent_id)).toEqual(['spender']);
    const theirs = await t.call('GET', '/costs/by-agent', { agentKey: other.key });
    expect(theirs.body.agents.map((r: { agent_id: string }) => r.agent_id)).toEqual(['other-spender']);
    const all = await t.call('GET', '/costs/by-agent', { admin: true });
    expect(all.body.agents.map((r: { agent_id: string }) => r.agent_id).sort()).toEqual(['other-spender', 'spender']);
    expect(
      (await t.call('GET', '/costs/summary', { agentKey: other.key })).body.top_agents.map(
        (r: { agent_id: string }) => r.agent_id,
      ),
    ).toEqual(['other-spender']);
  });

  it('bad input → 400 naming the field; entries are admin-only', async () => {
    expect((await t.call('POST', '/costs/record', { agentKey: a.key, body: { input_tokens: 0 } })).body.error).toBe(
      'At least input_tokens or output_tokens must be > 0',
    );
    expect((await t.call('POST', '/costs/record', { agentKey: a.key, body: { input_tokens: '5' } })).body.error).toBe(
      'input_tokens must be a non-negative integer',
    );
    expect((await t.call('GET', '/costs/by-agent?date_from=yesterday', { agentKey: a.key })).body.error).toBe(
      'date_from must be a date (YYYY-MM-DD)',
    );
    expect((await t.call('GET', '/costs/entries', { agentKey: a.key })).status).toBe(401);
    const e = await t.call('GET', '/costs/entries', { admin: true });
    expect(e.body.length).toBe(5);
  });
});
