import { toDbTime } from '../../db/time.js';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { SpendService } from './service.js';
import {
  AgentParams,
  AgentSpendQuery,
  Budget,
  BudgetDeleted,
  BudgetIdParams,
  LogSpend,
  SetBudget,
  SpendEntry,
  SpendLogged,
  SpendSummary,
  SummaryQuery,
} from './schema.js';

/** `since` parsed to an instant and compared in the table's format (weak spot S2). */
function sinceOf(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(raw) || !/\d\d:\d\d/.test(raw) ? raw : `${raw.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw badRequest('since must be a date or date-time');
  return toDbTime(ms);
}

const tags = ['Spend'];

/** Spend ledger and budgets (spec 04 §4; budgets are ours). */
export function spendRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const spend = new SpendService(app);

  defineRoute(
    r,
    {
      method: 'post',
      path: '/spend',
      tags,
      summary: 'Log a spend (hard-stop budgets refuse with 409)',
      access: 'any',
      body: LogSpend,
      lazyBody: true,
      response: SpendLogged,
      errors: [409],
    },
    async (c, inputs) => {
      const body = bodyOf(c);
      await app.guards.check('spend.log', { ...body, agent: principalOf(c).who }, principalOf(c)); // SEC-37: before validation
      const input = inputs.body;
      if (input.cost_usd < 0) throw badRequest('cost_usd must be non-negative');
      for (const f of ['tokens_in', 'tokens_out'] as const)
        if ((input[f] ?? 0) < 0) throw badRequest(`${f} must be non-negative`);
      return spend.log(principalOf(c), {
        cost_usd: input.cost_usd,
        project_id: input.project_id,
        agent_id: input.agent_id,
        source: input.source ?? '',
        description: input.description ?? '',
        model: input.model ?? '',
        tokens_in: input.tokens_in ?? 0,
        tokens_out: input.tokens_out ?? 0,
      });
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/spend',
      tags,
      summary: 'Spend totals per agent and project (agents: their own)',
      access: 'any',
      query: SummaryQuery,
      response: SpendSummary,
    },
    (c, { query }) => spend.summary(principalOf(c), { since: sinceOf(query.since), project_id: query.project_id }),
  );

  // Literal before the :agentId parameter.
  defineRoute(
    r,
    {
      method: 'get',
      path: '/spend/budgets',
      tags,
      summary: 'Budgets and their state',
      access: 'any',
      response: z.array(Budget),
    },
    (c) => spend.budgets(principalOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/spend/budgets',
      tags,
      summary: 'Create or replace a budget',
      access: 'admin',
      body: SetBudget,
      response: Budget,
    },
    (c, { body: b }) =>
      spend.setBudget(principalOf(c), {
        scope: b.scope,
        scope_id: b.scope_id,
        period: b.period ?? 'month',
        limit_usd: b.limit_usd,
        warn_pct: b.warn_pct ?? 80,
        hard_stop: b.hard_stop ?? true,
      }),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/spend/budgets/:id',
      tags,
      summary: 'Delete a budget',
      access: 'admin',
      params: BudgetIdParams,
      response: BudgetDeleted,
    },
    (_c, { params }) => spend.deleteBudget(parseIntId(params.id)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/spend/:agentId',
      tags,
      summary: "An agent's ledger entries (agents: their own)",
      access: 'any',
      params: AgentParams,
      query: AgentSpendQuery,
      response: z.array(SpendEntry),
    },
    (c, { params, query }) =>
      spend.listFor(principalOf(c), params.agentId, {
        since: sinceOf(query.since),
        project_id: query.project_id,
        limit: query.limit,
      }),
  );

  return r;
}
