import {
  badRequest,
  intQuery,
  NoInput,
  parseJson,
  sentence,
  sqlTime,
  z,
  type PluginApi,
  type PluginRequest,
} from '../../worker/src/plugins/sdk.js';

/**
 * cost-tracker (spec 06 §5.7, W20): token usage is priced on the server (configurable per-model
 * prices) and written to the core spend ledger through the core spend service, so budgets,
 * `spend_logged` and GET /spend all see it; every report here reads that ledger. Nothing is
 * duplicated: this plugin's own database holds only the alerts it raised. UTC day/week bounds.
 */

const DAY = 86_400_000;
const dayStart = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
/** Monday 00:00 UTC of the week containing `d`. */
const weekStart = (d: Date) => new Date(dayStart(d).getTime() - ((d.getUTCDay() + 6) % 7) * DAY);
const round = (n: number) => Math.round(n * 1e6) / 1e6;

// ---- Declared input (issue 15): the host validates these with the sentences this plugin always answered.
const absent = (v: unknown) => v === undefined || v === null;
const tokenCount = sentence({ type: ['integer', 'null'], minimum: 0, maximum: 1e10 }, (v) =>
  absent(v) || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1e10)
    ? null
    : 'must be a non-negative integer',
);
const text = sentence({ type: ['string', 'null'] }, (v) =>
  absent(v) || typeof v === 'string' ? null : 'must be a string',
);
const isDay = (v: unknown) =>
  typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) && !Number.isNaN(Date.parse(`${v}T00:00:00Z`));
const day = sentence({ type: 'string', format: 'date', description: 'UTC day (YYYY-MM-DD)' }, (v) =>
  v === undefined || v === '' || isDay(v) ? null : 'must be a date (YYYY-MM-DD)',
);

const RecordBody = z.object({
  input_tokens: tokenCount,
  output_tokens: tokenCount,
  cache_read_tokens: tokenCount,
  session_id: text,
  project_id: text,
  model: text,
  task_id: sentence({ type: ['integer', 'null'] }, (v) =>
    absent(v) || (typeof v === 'number' && Number.isInteger(v)) ? null : 'must be an integer',
  ),
});
const RangeQuery = z.object({ date_from: day, date_to: day });
const EntriesQuery = RangeQuery.extend({
  agent_id: z.string().optional(),
  project_id: z.string().optional(),
  limit: intQuery(50, 1, 200),
  offset: intQuery(0, 0, 1_000_000),
});

const tokens = (b: Record<string, unknown>, f: string) => (absent(b[f]) ? 0 : (b[f] as number));

/** A validated `YYYY-MM-DD` query value, or the default when absent. */
function dateParam(q: Record<string, string>, f: string, dflt: Date): Date {
  const v = q[f];
  return v === undefined || v === '' ? dflt : new Date(`${v}T00:00:00Z`);
}

export function setup(api: PluginApi) {
  const num = async (k: string, d: number) => {
    const v = Number(await api.config.get(k));
    return Number.isFinite(v) ? v : d;
  };

  async function price(model: string) {
    const per = parseJson<Record<string, { input?: number; output?: number; cache_read?: number }>>(
      await api.config.get('model_prices'),
      {},
    );
    const m = model && per && typeof per === 'object' ? per[model] : undefined;
    return {
      input: (m?.input ?? (await num('price_input_mtok', 15))) / 1e6,
      output: (m?.output ?? (await num('price_output_mtok', 75))) / 1e6,
      cache: (m?.cache_read ?? (await num('price_cache_read_mtok', 1.5))) / 1e6,
    };
  }

  /** Core spend rule S1: an agent sees only its own entries; budgets stay instance-wide. */
  const ownOnly = (req: PluginRequest) => (req.principal?.kind === 'agent' ? req.principal.id : undefined);

  const spendBetween = async (from: Date, to: Date) =>
    (await api.core.spend.totals({ by: 'day', since: sqlTime(from), until: sqlTime(to) })).reduce(
      (s, r) => s + r.total_cost,
      0,
    );

  /** Raises at most one alert per budget type and period (UNIQUE), with an inbox item. */
  async function checkBudgets() {
    const now = api.clock.now();
    const pct = await num('alert_threshold_pct', 80);
    for (const [type, budgetKey, start, label] of [
      ['daily_budget', 'budget_daily', dayStart(now), 'Daily'],
      ['weekly_budget', 'budget_weekly', weekStart(now), 'Weekly'],
    ] as const) {
      const budget = await num(budgetKey, 0);
      if (budget <= 0) continue;
      const spend = await spendBetween(start, new Date(now.getTime() + 1000));
      const used = (spend / budget) * 100;
      if (used < pct) continue;
      const period = start.toISOString().slice(0, 10);
      // The alert row (once per period) and its event: all or nothing.
      const ins = await api.atomic(async (tx, emit) => {
        const row = await tx.get(
          'INSERT INTO cost_alerts (alert_type, period_start, threshold_pct, current_spend, budget_limit) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id',
          [type, period, round(used), round(spend), budget],
        );
        if (row)
          emit({
            type: 'cost_budget_alert',
            summary: `${label} budget ${Math.round(used)}% used`,
            data: { alert_type: type, spend: round(spend), budget },
          });
        return row;
      });
      if (!ins) continue;
      await api.core.inbox.notifyOperators({
        type: 'cost_alert',
        entity_type: 'cost_alert',
        entity_id: `${type === 'daily_budget' ? 'daily' : 'weekly'}_${period}`,
        title: `${label} budget alert: $${spend.toFixed(2)} / $${budget.toFixed(2)}`,
        summary: `${Math.round(used)}% of the ${label.toLowerCase()} budget used`,
        priority: used >= 100 ? 'urgent' : 'normal',
      });
    }
  }

  // Declared answers (issue 15): the host shapes each answer through its schema, so a column
  // added to the ledger or the alerts table later never leaves unless it is named here.
  const Period = z.object({ spend: z.number(), budget: z.number(), pct: z.number().nullable() });
  const Usage = { total_input: z.number(), total_output: z.number(), total_cost: z.number(), entry_count: z.number() };
  const GroupedOut = (key: string, listKey: string) =>
    z.object({
      date_from: z.string(),
      date_to: z.string(),
      [listKey]: z.array(z.object({ [key]: z.string(), ...Usage })),
    });
  const Widget = z.object({
    type: z.string(),
    value: z.string(),
    label: z.string(),
    trend: z.string().optional(),
    color: z.string(),
  });
  const EntryOut = z.object({
    id: z.number(),
    agent_id: z.string(),
    project_id: z.string(),
    cost_usd: z.number(),
    source: z.string(),
    description: z.string(),
    model: z.string(),
    tokens_in: z.number(),
    tokens_out: z.number(),
    created_at: z.string(),
  });
  const AlertOut = z.object({
    id: z.number(),
    alert_type: z.string(),
    period_start: z.string(),
    threshold_pct: z.number(),
    current_spend: z.number(),
    budget_limit: z.number(),
    triggered_at: z.string(),
  });

  api.post(
    '/record',
    async (req: PluginRequest) => {
      const b = req.input.body as Record<string, unknown>;
      const input = tokens(b, 'input_tokens');
      const output = tokens(b, 'output_tokens');
      const cache = tokens(b, 'cache_read_tokens');
      if (input <= 0 && output <= 0) throw badRequest('At least input_tokens or output_tokens must be > 0');
      const model = (b.model as string | undefined) ?? '';
      const p = await price(model);
      const cost = round(input * p.input + output * p.output + cache * p.cache);
      const agentId = req.principal?.kind === 'agent' ? req.principal.id : req.who;
      const res = await api.core.spend.record(
        {
          agent_id: agentId,
          project_id: b.project_id as string | undefined,
          cost_usd: cost,
          model,
          tokens_in: input + cache,
          tokens_out: output,
          source: 'cost-tracker',
          description: [
            b.session_id ? `session ${b.session_id}` : '',
            b.task_id ? `task #${b.task_id}` : '',
            cache ? `${cache} cache-read tokens` : '',
          ]
            .filter(Boolean)
            .join(', '),
        },
        req.principal ?? undefined,
      );
      await checkBudgets();
      return {
        ok: true,
        id: res.id,
        cost_usd: cost,
        ...(res.budget_warnings ? { budget_warnings: res.budget_warnings } : {}),
      };
    },
    {
      summary: 'Record token usage (priced here, written to the spend ledger)',
      body: RecordBody,
      response: z.object({
        ok: z.boolean(),
        id: z.number(),
        cost_usd: z.number(),
        // The core ledger's own warnings, passed on as it words them.
        budget_warnings: z.array(z.record(z.string(), z.unknown())).optional(),
      }),
    },
  );

  api.get(
    '/summary',
    async (req) => {
      const now = api.clock.now();
      const end = new Date(now.getTime() + 1000);
      const [today, week] = await Promise.all([spendBetween(dayStart(now), end), spendBetween(weekStart(now), end)]);
      const bd = await num('budget_daily', 0);
      const bw = await num('budget_weekly', 0);
      const top = await api.core.spend.totals({
        by: 'agent',
        since: sqlTime(dayStart(now)),
        until: sqlTime(end),
        agentId: ownOnly(req),
      });
      return {
        today: { spend: round(today), budget: bd, pct: bd > 0 ? Math.round((today / bd) * 1000) / 10 : null },
        week: { spend: round(week), budget: bw, pct: bw > 0 ? Math.round((week / bw) * 1000) / 10 : null },
        top_agents: top
          .slice(0, 5)
          .map((r) => ({ agent_id: r.key, total_cost: r.total_cost, entry_count: r.entry_count })),
      };
    },
    {
      summary: 'Spend today and this week against the budgets',
      query: NoInput,
      response: z.object({
        today: Period,
        week: Period,
        top_agents: z.array(z.object({ agent_id: z.string(), total_cost: z.number(), entry_count: z.number() })),
      }),
    },
  );

  const grouped = (by: 'agent' | 'project' | 'model', key: string, listKey: string) => async (req: PluginRequest) => {
    const now = api.clock.now();
    const from = dateParam(req.query, 'date_from', new Date(dayStart(now).getTime() - 6 * DAY));
    const to = dateParam(req.query, 'date_to', dayStart(now));
    if (to < from) throw badRequest('date_to must not be before date_from');
    const rows = await api.core.spend.totals({
      by,
      since: sqlTime(from),
      until: sqlTime(new Date(to.getTime() + DAY)),
      agentId: ownOnly(req),
    });
    return {
      date_from: from.toISOString().slice(0, 10),
      date_to: to.toISOString().slice(0, 10),
      [listKey]: rows.slice(0, 100).map((r) => ({
        [key]: r.key,
        total_input: r.tokens_in,
        total_output: r.tokens_out,
        total_cost: r.total_cost,
        entry_count: r.entry_count,
      })),
    };
  };
  api.get('/by-agent', grouped('agent', 'agent_id', 'agents'), {
    summary: 'Spend per agent',
    query: RangeQuery,
    response: GroupedOut('agent_id', 'agents'),
  });
  api.get('/by-project', grouped('project', 'project_id', 'projects'), {
    summary: 'Spend per project',
    query: RangeQuery,
    response: GroupedOut('project_id', 'projects'),
  });
  api.get('/by-model', grouped('model', 'model', 'models'), {
    summary: 'Spend per model',
    query: RangeQuery,
    response: GroupedOut('model', 'models'),
  });

  const TrendsQuery = z.object({ days: intQuery(14, 1, 366) });
  api.get(
    '/trends',
    async (req) => {
      const { days } = req.input.query as z.output<typeof TrendsQuery>;
      const now = api.clock.now();
      const from = new Date(dayStart(now).getTime() - (days - 1) * DAY);
      const rows = await api.core.spend.totals({
        by: 'day',
        since: sqlTime(from),
        until: sqlTime(new Date(dayStart(now).getTime() + DAY)),
        agentId: ownOnly(req),
      });
      return {
        days,
        data: rows.map((r) => ({
          date: r.key,
          total_input: r.tokens_in,
          total_output: r.tokens_out,
          total_cost: r.total_cost,
          entry_count: r.entry_count,
        })),
      };
    },
    {
      summary: 'Daily spend for the last N days',
      query: TrendsQuery,
      response: z.object({ days: z.number(), data: z.array(z.object({ date: z.string(), ...Usage })) }),
    },
  );

  api.get(
    '/entries',
    async (req) => {
      const q = req.input.query as z.output<typeof EntriesQuery>;
      const now = api.clock.now();
      const from = dateParam(req.query, 'date_from', new Date(0));
      const to = dateParam(req.query, 'date_to', dayStart(now));
      return api.core.spend.entries({
        since: sqlTime(from),
        until: sqlTime(new Date(to.getTime() + DAY)),
        agentId: q.agent_id || undefined,
        projectId: q.project_id || undefined,
        limit: q.limit,
        offset: q.offset,
      });
    },
    { auth: 'admin', summary: 'Ledger entries (admin)', query: EntriesQuery, response: z.array(EntryOut) },
  );

  const AlertsQuery = z.object({ limit: intQuery(20, 1, 200) });
  api.get(
    '/alerts',
    async (req) => {
      const { limit } = req.input.query as z.output<typeof AlertsQuery>;
      return api.db.all('SELECT * FROM cost_alerts ORDER BY id DESC LIMIT ?', [limit]);
    },
    { summary: 'Budget alerts raised', query: AlertsQuery, response: z.array(AlertOut) },
  );

  api.get(
    '/widgets/spend-today',
    async () => {
      const now = api.clock.now();
      const today = await spendBetween(dayStart(now), new Date(now.getTime() + 1000));
      const yesterday = await spendBetween(new Date(dayStart(now).getTime() - DAY), dayStart(now));
      const bd = await num('budget_daily', 0);
      const diff = today - yesterday;
      return {
        type: 'stat',
        value: `$${today.toFixed(2)}`,
        label: 'Spend Today',
        trend: `${diff >= 0 ? '+' : '-'}$${Math.abs(diff).toFixed(2)} vs yesterday`,
        color: bd > 0 && today >= bd ? 'red' : 'green',
      };
    },
    { summary: 'Dashboard widget: spend today', query: NoInput, response: Widget },
  );

  api.get(
    '/widgets/budget-status',
    async () => {
      const bd = await num('budget_daily', 0);
      if (bd <= 0) return { type: 'stat', value: 'No limit', label: 'Daily Budget Used', color: 'green' };
      const now = api.clock.now();
      const pct = Math.round(((await spendBetween(dayStart(now), new Date(now.getTime() + 1000))) / bd) * 100);
      return {
        type: 'stat',
        value: `${pct}%`,
        label: 'Daily Budget Used',
        color: pct > 80 ? 'red' : pct > 50 ? 'yellow' : 'green',
      };
    },
    { summary: 'Dashboard widget: daily budget used', query: NoInput, response: Widget },
  );
}
