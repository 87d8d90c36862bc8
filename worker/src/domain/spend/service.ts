import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { actingIdentity, agentProjectIds, assertProjectScope } from '../../auth/scope.js';
import { conflict, forbidden, notFound } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { spendRepo, usdText, type BudgetRow, type NewSpend, type SpendRow } from './repo.js';

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

function budgetView(b: BudgetRow & { spent_usd: number }) {
  const spent = round4(Number(b.spent_usd));
  const warnAt = (b.limit_usd * b.warn_pct) / 100;
  return {
    ...b,
    hard_stop: b.hard_stop === 1,
    spent_usd: spent,
    remaining_usd: round4(Math.max(0, b.limit_usd - spent)),
    state: spent >= b.limit_usd ? 'exhausted' : spent >= warnAt ? 'warning' : 'ok',
  };
}

export class SpendService {
  constructor(private readonly app: AppContext) {}

  /**
   * Logs one spend. Hard-stop budgets are enforced inside the INSERT (atomic under concurrency);
   * a refused spend answers 409 and emits `budget_exceeded`; crossing a warning threshold emits
   * `budget_warning` and is reported in the response.
   */
  async log(
    p: Principal,
    input: Omit<NewSpend, 'agent_id' | 'project_id'> & { project_id?: string; agent_id?: unknown },
  ) {
    const agentId = actingIdentity(p, input.agent_id);
    const projectId = input.project_id ?? (p.kind === 'agent' ? p.projectId : '');
    if (projectId) await assertProjectScope(this.app.db, p, projectId, { write: true });
    const spend: NewSpend = { ...input, agent_id: agentId, project_id: projectId };
    // The spend, the warnings it causes (computed in SQL from the same batch's state) and the
    // budgets as they stand after it commit together (issue 17): no spend without its warnings.
    const spent = 'round(b.spent, 4)';
    const res = await atomicWrite(this.app)
      .add('spend', spendRepo.insertWithinBudget(spend))
      .eventPerRow(
        { type: 'budget_warning', agent: agentId, projectId: projectId || null },
        {
          summarySql: `b.scope || ' ' || b.scope_id || ' has spent $' || ${usdText(spent)} || ' of $' || ${usdText('b.limit_usd')} || ' (' || b.period || ')'`,
          dataSql: `json_object('budget_id', b.id, 'scope', b.scope, 'scope_id', b.scope_id, 'spent_usd', ${spent}, 'limit_usd', b.limit_usd)`,
          ...spendRepo.crossedBy(agentId, projectId, spend.cost_usd),
        },
      )
      .add('budgets', spendRepo.applicable(agentId, projectId))
      .commit();
    const row = res.row<SpendRow>('spend');
    const budgets = res.rows<BudgetRow & { spent_usd: number }>('budgets');
    if (!row) {
      const over = budgets.filter(
        (b) => b.hard_stop === 1 && Number(b.spent_usd) + spend.cost_usd > b.limit_usd + 1e-9,
      );
      const b = over[0];
      if (!b) throw conflict('Spend refused by a budget that changed concurrently; retry');
      const view = budgetView(b);
      const error = `Budget exceeded: ${b.scope} ${b.scope_id} has $${view.remaining_usd} of $${b.limit_usd} left this ${b.period === 'total' ? 'budget' : b.period}`;
      // Nothing was written: this event is the refusal's only record, so it stands alone.
      await this.app.events.emit({
        type: 'budget_exceeded',
        agent: agentId,
        projectId: projectId || null,
        summary: `${agentId} refused: ${b.scope} ${b.scope_id} budget $${b.limit_usd} (${b.period}) exhausted`,
        data: {
          budget_id: b.id,
          scope: b.scope,
          scope_id: b.scope_id,
          cost_usd: spend.cost_usd,
          spent_usd: view.spent_usd,
          limit_usd: b.limit_usd,
        },
      });
      throw conflict(error, { budget: view });
    }
    const warnings = [];
    for (const b of budgets) {
      const after = Number(b.spent_usd);
      const before = after - spend.cost_usd;
      const warnAt = (b.limit_usd * b.warn_pct) / 100;
      const limitCrossed = b.hard_stop === 0 && before <= b.limit_usd && after > b.limit_usd;
      if ((before < warnAt && after >= warnAt) || limitCrossed) {
        const view = budgetView(b);
        warnings.push({
          budget_id: b.id,
          scope: b.scope,
          scope_id: b.scope_id,
          period: b.period,
          limit_usd: b.limit_usd,
          spent_usd: view.spent_usd,
          warn_pct: b.warn_pct,
          over_limit: after > b.limit_usd,
        });
      }
    }
    return warnings.length ? { ok: true, id: row.id, budget_warnings: warnings } : { ok: true, id: row.id };
  }

  /** S1: an agent reads only its own ledger; humans read any. */
  async listFor(p: Principal, agentId: string, f: { since?: string; project_id?: string; limit: number }) {
    if (p.kind === 'agent' && p.id !== agentId) throw forbidden('Agents may read only their own spend');
    return spendRepo.listForAgent(this.app.db, agentId, f);
  }

  async summary(p: Principal, f: { since?: string; project_id?: string }) {
    const breakdown = await spendRepo.summary(this.app.db, { ...f, agent_id: p.kind === 'agent' ? p.id : undefined });
    const total = breakdown.reduce((s, r) => s + Number(r.total_cost), 0);
    return {
      total_cost_usd: round4(total),
      breakdown: breakdown.map((r) => ({ ...r, total_cost: round4(Number(r.total_cost)) })),
    };
  }

  async budgets(p: Principal) {
    const filter =
      p.kind === 'agent'
        ? { agentId: p.id, projects: await agentProjectIds(this.app.db, p.id, p.projectId) }
        : undefined;
    return (await spendRepo.listBudgets(this.app.db, filter)).map(budgetView);
  }

  async setBudget(
    p: Principal,
    b: {
      scope: 'agent' | 'project';
      scope_id: string;
      period: 'day' | 'month' | 'total';
      limit_usd: number;
      warn_pct: number;
      hard_stop: boolean;
    },
  ) {
    const row = await spendRepo.upsertBudget(this.app.db, { ...b, by: p.who });
    const [view] = (await spendRepo.listBudgets(this.app.db)).filter((x) => x.id === row!.id).map(budgetView);
    return view;
  }

  async deleteBudget(id: number | null) {
    const r = id === null ? { changes: 0 } : await spendRepo.deleteBudget(this.app.db, id);
    if (!r.changes) throw notFound('Budget not found');
    return { ok: true, deleted: id };
  }
}
