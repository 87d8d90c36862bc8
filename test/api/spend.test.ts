import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let a: { id: string; key: string };
let b: { id: string; key: string };
let racer: { id: string; key: string };
let op: { token: string };

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'sp-a', 'spa');
  b = await registerAgent(t, 'sp-b', 'spb');
  racer = await registerAgent(t, 'sp-racer', 'race');
  op = await createOperator(t, 'sp-op', 'operator');
});
afterAll(async () => t?.close());

const spend = (key: string, body: Record<string, unknown>) => t.call('POST', '/spend', { agentKey: key, body });

describe('spend ledger', () => {
  it('logs a spend attributed to the caller in its project', async () => {
    const r = await spend(a.key, {
      cost_usd: '0.25',
      model: 'm1',
      tokens_in: 100,
      tokens_out: '20',
      source: 'llm_api',
      agent_id: 'someone-else',
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true });
    const rows = await t.call('GET', `/spend/${a.id}`, { agentKey: a.key });
    expect(rows.body).toHaveLength(1);
    expect(rows.body[0]).toMatchObject({
      agent_id: a.id,
      project_id: 'spa',
      cost_usd: 0.25,
      model: 'm1',
      tokens_in: 100,
      tokens_out: 20,
      source: 'llm_api',
    });
  });

  it('validates input (S3) and writes nothing on a bad request', async () => {
    expect((await spend(a.key, { cost_usd: -1 })).body).toEqual({ error: 'cost_usd must be non-negative' });
    expect((await spend(a.key, { cost_usd: 'abc' })).body.error).toMatch(/cost_usd/);
    expect((await spend(a.key, { cost_usd: '1e999' })).body.error).toMatch(/cost_usd/);
    expect((await spend(a.key, {})).body).toEqual({ error: 'cost_usd is required' });
    expect((await spend(a.key, { cost_usd: 1, tokens_in: -3 })).status).toBe(400);
    expect((await spend(a.key, { cost_usd: 1, tokens_in: 'many' })).body.error).toMatch(/tokens_in/);
    expect((await spend(a.key, { cost_usd: 1, project_id: 'spb' })).status).toBe(403);
    const n = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM agent_spend WHERE agent_id = ?', [a.id]);
    expect(n?.n).toBe(1);
  });

  it('S1: agents read only their own ledger and summary; limit is capped; since is an instant (S2)', async () => {
    await spend(b.key, { cost_usd: 2 });
    expect((await t.call('GET', `/spend/${b.id}`, { agentKey: a.key })).status).toBe(403);
    expect((await t.call('GET', `/spend/${b.id}`, { token: op.token })).body).toHaveLength(1);
    const sum = await t.call('GET', '/spend', { agentKey: a.key });
    expect(sum.body.breakdown.map((x: { agent_id: string }) => x.agent_id)).toEqual([a.id]);
    const all = await t.call('GET', '/spend', { admin: true });
    expect(all.body.total_cost_usd).toBe(2.25);
    expect(all.body.breakdown[0]).toMatchObject({ agent_id: b.id, project_id: 'spb', total_cost: 2, entry_count: 1 });
    const today = new Date().toISOString().slice(0, 10);
    const iso = await t.call('GET', `/spend/${a.id}?since=${today}T00:00:00Z`, { agentKey: a.key });
    expect(iso.body).toHaveLength(1);
    expect((await t.call('GET', `/spend/${a.id}?since=2999-01-01`, { agentKey: a.key })).body).toEqual([]);
    expect((await t.call('GET', `/spend/${a.id}?since=yesterday-ish`, { agentKey: a.key })).status).toBe(400);
    expect((await t.call('GET', `/spend/${a.id}?limit=-1`, { agentKey: a.key })).body).toHaveLength(1);
  });
});

describe('budgets', () => {
  it('validates budgets and only admins set them', async () => {
    expect(
      (
        await t.call('PUT', '/spend/budgets', {
          agentKey: a.key,
          body: { scope: 'agent', scope_id: a.id, limit_usd: 1 },
        })
      ).status,
    ).toBe(401);
    expect(
      (await t.call('PUT', '/spend/budgets', { admin: true, body: { scope: 'team', scope_id: 'x', limit_usd: 1 } }))
        .body,
    ).toMatchObject({ code: 'invalid_enum', field: 'scope' });
    expect(
      (await t.call('PUT', '/spend/budgets', { admin: true, body: { scope: 'agent', scope_id: 'x', limit_usd: -1 } }))
        .status,
    ).toBe(400);
    expect((await t.call('DELETE', '/spend/budgets/99999', { admin: true })).body).toEqual({
      error: 'Budget not found',
    });
  });

  it('the budget race: 100 parallel spends against a hard budget of N — exactly N succeed', async () => {
    const N = 37;
    const set = await t.call('PUT', '/spend/budgets', {
      admin: true,
      body: { scope: 'agent', scope_id: racer.id, limit_usd: N, period: 'month' },
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      scope: 'agent',
      scope_id: racer.id,
      limit_usd: N,
      hard_stop: true,
      warn_pct: 80,
      spent_usd: 0,
      state: 'ok',
    });
    const rs = await Promise.all(Array.from({ length: 100 }, () => spend(racer.key, { cost_usd: 1 })));
    expect(rs.filter((r) => r.status === 200)).toHaveLength(N);
    const refused = rs.filter((r) => r.status === 409);
    expect(refused).toHaveLength(100 - N);
    expect(refused[0].body.error).toMatch(/^Budget exceeded: agent sp-racer/);
    const sum = await t.db.get<{ total: number; n: number }>(
      'SELECT SUM(cost_usd) AS total, COUNT(*) AS n FROM agent_spend WHERE agent_id = ?',
      [racer.id],
    );
    expect(sum).toEqual({ total: N, n: N });
    const ev = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE type = 'budget_exceeded' AND agent = ?",
      [racer.id],
    );
    expect(ev?.n).toBe(100 - N);
    const view = await t.call('GET', '/spend/budgets', { agentKey: racer.key });
    expect(view.body).toEqual([
      expect.objectContaining({ scope_id: racer.id, spent_usd: N, remaining_usd: 0, state: 'exhausted' }),
    ]);
  });

  it('crossing the warning threshold is reported once; a soft budget warns but lets the spend through', async () => {
    await t.call('PUT', '/spend/budgets', {
      admin: true,
      body: { scope: 'project', scope_id: 'spb', limit_usd: 10, warn_pct: 50, hard_stop: false, period: 'total' },
    });
    const first = await spend(b.key, { cost_usd: 2 }); // 4 of 10 (2 already spent)
    expect(first.body.budget_warnings).toBeUndefined();
    const second = await spend(b.key, { cost_usd: 2 }); // 6 of 10: crosses 50 %
    expect(second.body.budget_warnings).toEqual([
      expect.objectContaining({ scope: 'project', scope_id: 'spb', spent_usd: 6, limit_usd: 10, over_limit: false }),
    ]);
    const third = await spend(b.key, { cost_usd: 1 });
    expect(third.body.budget_warnings).toBeUndefined();
    const over = await spend(b.key, { cost_usd: 5 }); // 12 of 10, soft: allowed, warned
    expect(over.status).toBe(200);
    expect(over.body.budget_warnings).toEqual([expect.objectContaining({ over_limit: true })]);
    const evs = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE type = 'budget_warning' AND agent = ?",
      [b.id],
    );
    expect(evs?.n).toBe(2);
    const others = await t.call('GET', '/spend/budgets', { agentKey: a.key });
    expect(others.body).toEqual([]);
    const list = await t.call('GET', '/spend/budgets', { admin: true });
    const id = list.body.find((x: { scope_id: string }) => x.scope_id === 'spb').id;
    expect((await t.call('DELETE', `/spend/budgets/${id}`, { admin: true })).body).toEqual({ ok: true, deleted: id });
  });
});
