import { z } from 'zod';
import { idParam, nameParam, queryInt } from '../../http/contract.js';
import { sentence } from '../../http/contract-fields.js';

/** Spend ledger and budgets (spec 04 §4; budgets are ours). */

/** A number, or a numeric string (the original parseFloat'ed); never NaN or infinity (S3). */
const numeric = (field: string) =>
  z
    .union([
      z.number(),
      z
        .string()
        .trim()
        .regex(/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/, `${field} must be a number`)
        .transform(Number),
    ])
    .refine(Number.isFinite, `${field} must be finite`);

const tokens = z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional();

export const LogSpend = z.object({
  cost_usd: sentence(
    { type: ['number', 'string'], description: 'USD (a numeric string is accepted)' },
    (v) => (v === null || v === '' ? 'is required' : null),
    { required: true },
  ).pipe(numeric('cost_usd')),
  project_id: z.string().trim().max(200).optional(),
  agent_id: z.string().trim().max(128).optional(),
  source: z.string().max(64).optional(),
  description: z.string().max(2000).optional(),
  model: z.string().max(200).optional(),
  tokens_in: tokens,
  tokens_out: tokens,
});

export const SetBudget = z.object({
  scope: z.enum(['agent', 'project']),
  scope_id: z.string().trim().min(1).max(200),
  period: z.enum(['day', 'month', 'total']).optional(),
  limit_usd: z.number().positive().max(1e9),
  warn_pct: z.number().int().min(1).max(100).optional(),
  hard_stop: z.boolean().optional(),
});

const since = z.string().optional().meta({ description: 'A date or date-time (UTC unless it names a zone)' });
export const SummaryQuery = z.object({ since, project_id: z.string().optional() });
export const AgentSpendQuery = SummaryQuery.extend({ limit: queryInt(50, 1, 500) });
export const BudgetIdParams = z.object({ id: idParam });
export const AgentParams = z.object({ agentId: nameParam });

export const SpendEntry = z
  .object({
    id: z.number().int(),
    agent_id: z.string(),
    project_id: z.string(),
    cost_usd: z.number(),
    source: z.string(),
    description: z.string(),
    model: z.string(),
    tokens_in: z.number().int(),
    tokens_out: z.number().int(),
    created_at: z.string(),
  })
  .meta({ id: 'SpendEntry' });

export const Budget = z
  .object({
    id: z.number().int(),
    scope: z.string(),
    scope_id: z.string(),
    period: z.string(),
    limit_usd: z.number(),
    warn_pct: z.number().int(),
    hard_stop: z.boolean(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    spent_usd: z.number(),
    remaining_usd: z.number(),
    state: z.enum(['ok', 'warning', 'exhausted']),
  })
  .meta({ id: 'Budget' });

export const SpendLogged = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  budget_warnings: z.array(z.record(z.string(), z.unknown())).optional(),
});

export const SpendSummary = z.object({
  total_cost_usd: z.number(),
  breakdown: z.array(
    z.object({
      agent_id: z.string(),
      project_id: z.string(),
      total_cost: z.number(),
      entry_count: z.number().int(),
      total_tokens_in: z.number().int().nullable(),
      total_tokens_out: z.number().int().nullable(),
    }),
  ),
});

export const BudgetDeleted = z.object({ ok: z.literal(true), deleted: z.number().int() });
