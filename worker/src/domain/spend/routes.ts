import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId, parseWith, queryInt } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { SpendService } from './service.js';

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

const logSchema = z.object({
  cost_usd: numeric('cost_usd'),
  project_id: z.string().trim().max(200).optional(),
  agent_id: z.string().trim().max(128).optional(),
  source: z.string().max(64).optional(),
  description: z.string().max(2000).optional(),
  model: z.string().max(200).optional(),
  tokens_in: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  tokens_out: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
});

const budgetSchema = z.object({
  scope: z.enum(['agent', 'project']),
  scope_id: z.string().trim().min(1).max(200),
  period: z.enum(['day', 'month', 'total']).optional(),
  limit_usd: z.number().positive().max(1e9),
  warn_pct: z.number().int().min(1).max(100).optional(),
  hard_stop: z.boolean().optional(),
});

/** `since` parsed to an instant and compared in the table's format (weak spot S2). */
function sinceOf(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(raw) || !/\d\d:\d\d/.test(raw) ? raw : `${raw.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw badRequest('since must be a date or date-time');
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** Spend ledger and budgets (spec 04 §4; budgets are ours). */
export function spendRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const spend = new SpendService(app);

  r.post('/spend', requireAny, async (c) => {
    const body = bodyOf(c);
    await app.guards.check('spend.log', { ...body, agent: principalOf(c).who }, principalOf(c)); // SEC-37: before validation
    if (body.cost_usd === undefined || body.cost_usd === null || body.cost_usd === '')
      throw badRequest('cost_usd is required');
    const input = parseWith(logSchema, body);
    if (input.cost_usd < 0) throw badRequest('cost_usd must be non-negative');
    for (const f of ['tokens_in', 'tokens_out'] as const)
      if ((input[f] ?? 0) < 0) throw badRequest(`${f} must be non-negative`);
    return c.json(
      await spend.log(principalOf(c), {
        cost_usd: input.cost_usd,
        project_id: input.project_id,
        agent_id: input.agent_id,
        source: input.source ?? '',
        description: input.description ?? '',
        model: input.model ?? '',
        tokens_in: input.tokens_in ?? 0,
        tokens_out: input.tokens_out ?? 0,
      }),
    );
  });

  r.get('/spend', requireAny, async (c) => {
    const q = queryOf(c);
    return c.json(await spend.summary(principalOf(c), { since: sinceOf(q.since), project_id: q.project_id }));
  });

  // Literal before the :agentId parameter.
  r.get('/spend/budgets', requireAny, async (c) => c.json(await spend.budgets(principalOf(c))));
  r.put('/spend/budgets', requireAdmin, async (c) => {
    const b = parseWith(budgetSchema, bodyOf(c));
    return c.json(
      await spend.setBudget(principalOf(c), {
        scope: b.scope,
        scope_id: b.scope_id,
        period: b.period ?? 'month',
        limit_usd: b.limit_usd,
        warn_pct: b.warn_pct ?? 80,
        hard_stop: b.hard_stop ?? true,
      }),
    );
  });
  r.delete('/spend/budgets/:id', requireAdmin, async (c) =>
    c.json(await spend.deleteBudget(parseIntId(c.req.param('id')))),
  );

  r.get('/spend/:agentId', requireAny, async (c) => {
    const q = queryOf(c);
    return c.json(
      await spend.listFor(principalOf(c), c.req.param('agentId'), {
        since: sinceOf(q.since),
        project_id: q.project_id,
        limit: queryInt(q.limit, 'limit', 50, 1, 500),
      }),
    );
  });

  return r;
}
