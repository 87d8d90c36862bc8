import type { Queryable } from '../../db/db.js';
import type { SqlValue, Statement } from '../../db/types.js';
import { whereAll } from '../../db/sql.js';

/** agent_spend and spend_budgets: their SQL lives here (spec 04 §1.7 and our budgets). */
export interface SpendRow {
  id: number;
  agent_id: string;
  project_id: string;
  cost_usd: number;
  source: string;
  description: string;
  model: string;
  tokens_in: number;
  tokens_out: number;
  created_at: string;
}

export interface BudgetRow {
  id: number;
  scope: 'agent' | 'project';
  scope_id: string;
  period: 'day' | 'month' | 'total';
  limit_usd: number;
  warn_pct: number;
  hard_stop: number;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export type NewSpend = Omit<SpendRow, 'id' | 'created_at'>;

/** Start of a budget's current period, as a datetime('now')-format string computed by SQLite. */
const PERIOD_START = `CASE b.period WHEN 'day' THEN strftime('%Y-%m-%d 00:00:00', 'now')
  WHEN 'month' THEN strftime('%Y-%m-01 00:00:00', 'now') ELSE '' END`;
/** Spend already counted against budget `b` in its current period. */
const SPENT = `(SELECT COALESCE(SUM(s.cost_usd), 0) FROM agent_spend s
  WHERE ((b.scope = 'agent' AND s.agent_id = b.scope_id) OR (b.scope = 'project' AND s.project_id = b.scope_id))
    AND s.created_at >= ${PERIOD_START})`;
const APPLIES = `((b.scope = 'agent' AND b.scope_id = ?) OR (b.scope = 'project' AND b.scope_id = ?))`;

export const spendRepo = {
  /**
   * Records a spend only if no hard-stop budget that applies would go over its limit — the check
   * and the insert are one statement, so N parallel spends against room for M record exactly M.
   */
  insertWithinBudget(s: NewSpend): Statement {
    return statement(
      `INSERT INTO agent_spend (agent_id, project_id, cost_usd, source, description, model, tokens_in, tokens_out)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?
       WHERE NOT EXISTS (
         SELECT 1 FROM spend_budgets b WHERE b.hard_stop = 1 AND ${APPLIES} AND ${SPENT} + ? > b.limit_usd + 1e-9
       )
       RETURNING *`,
      [
        s.agent_id,
        s.project_id,
        s.cost_usd,
        s.source,
        s.description,
        s.model,
        s.tokens_in,
        s.tokens_out,
        s.agent_id,
        s.project_id,
        s.cost_usd,
      ],
    );
  },

  /** Budgets that apply to an (agent, project) pair, with what is spent in their current period. */
  applicable(agentId: string, projectId: string): Statement {
    return statement(`SELECT b.*, ${SPENT} AS spent_usd FROM spend_budgets b WHERE ${APPLIES} ORDER BY b.id`, [
      agentId,
      projectId,
    ]);
  },

  /**
   * For the event rows of a spend written just before in the same batch (`changes() > 0`): the
   * applicable budgets this spend of `cost` carried across their warning level, or over the limit
   * of a soft budget. `b` is the budget, `spent` its period's spend including this one.
   */
  crossedBy(agentId: string, projectId: string, cost: number) {
    return {
      rest: `FROM (SELECT b.*, ${SPENT} AS spent FROM spend_budgets b WHERE ${APPLIES}) AS b
        WHERE changes() > 0 AND (
          (b.spent - ? < b.limit_usd * b.warn_pct / 100.0 AND b.spent >= b.limit_usd * b.warn_pct / 100.0)
          OR (b.hard_stop = 0 AND b.spent - ? <= b.limit_usd AND b.spent > b.limit_usd))
        ORDER BY b.id`,
      args: [agentId, projectId, cost, cost] as SqlValue[],
    };
  },

  listBudgets(db: Queryable, filter?: { agentId: string; projects: string[] }) {
    const where = filter
      ? `WHERE (b.scope = 'agent' AND b.scope_id = ?) OR (b.scope = 'project' AND b.scope_id IN (${filter.projects.map(() => '?').join(', ')}))`
      : '';
    const args = filter ? [filter.agentId, ...filter.projects] : [];
    return db.all<BudgetRow & { spent_usd: number }>(
      `SELECT b.*, ${SPENT} AS spent_usd FROM spend_budgets b ${where} ORDER BY b.scope, b.scope_id`,
      args,
    );
  },

  upsertBudget(
    db: Queryable,
    b: {
      scope: string;
      scope_id: string;
      period: string;
      limit_usd: number;
      warn_pct: number;
      hard_stop: boolean;
      by: string;
    },
  ) {
    return db.get<BudgetRow>(
      `INSERT INTO spend_budgets (scope, scope_id, period, limit_usd, warn_pct, hard_stop, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(scope, scope_id) DO UPDATE SET period = excluded.period, limit_usd = excluded.limit_usd,
         warn_pct = excluded.warn_pct, hard_stop = excluded.hard_stop, updated_at = datetime('now')
       RETURNING *`,
      [b.scope, b.scope_id, b.period, b.limit_usd, b.warn_pct, b.hard_stop ? 1 : 0, b.by],
    );
  },

  deleteBudget(db: Queryable, id: number) {
    return db.run('DELETE FROM spend_budgets WHERE id = ?', [id]);
  },

  listForAgent(db: Queryable, agentId: string, f: { since?: string; project_id?: string; limit: number }) {
    const where = whereAll(ledgerFilters({ agentId, since: f.since, projectId: f.project_id }));
    return db.all<SpendRow>(`SELECT * FROM agent_spend ${where.sql} ORDER BY created_at DESC, id DESC LIMIT ?`, [
      ...where.args,
      f.limit,
    ]);
  },

  summary(db: Queryable, f: { since?: string; project_id?: string; agent_id?: string }) {
    const where = whereAll(ledgerFilters({ since: f.since, projectId: f.project_id, agentId: f.agent_id }));
    return db.all<{
      agent_id: string;
      project_id: string;
      total_cost: number;
      entry_count: number;
      total_tokens_in: number;
      total_tokens_out: number;
    }>(
      `SELECT agent_id, project_id, ROUND(SUM(cost_usd), 6) AS total_cost, COUNT(*) AS entry_count,
              SUM(tokens_in) AS total_tokens_in, SUM(tokens_out) AS total_tokens_out
       FROM agent_spend ${where.sql}
       GROUP BY agent_id, project_id ORDER BY total_cost DESC, agent_id, project_id`,
      where.args,
    );
  },

  /** Ledger rows in [since, until), newest first (plugins' reports read the ledger through this). */
  window(db: Queryable, o: LedgerWindow & { limit: number; offset: number }) {
    const where = whereAll(ledgerFilters(o));
    return db.all<SpendRow>(
      `SELECT id, agent_id, project_id, cost_usd, source, description, model, tokens_in, tokens_out, created_at
         FROM agent_spend ${where.sql} ORDER BY id DESC LIMIT ? OFFSET ?`,
      [...where.args, o.limit, o.offset],
    );
  },

  /** Ledger totals grouped by agent, project, model or UTC day over [since, until). */
  totalsBy(db: Queryable, o: LedgerWindow & { by: 'agent' | 'project' | 'model' | 'day' }) {
    const key = { agent: 'agent_id', project: 'project_id', model: 'model', day: 'substr(created_at, 1, 10)' }[o.by];
    const where = whereAll(ledgerFilters(o));
    return db.all<{
      key: unknown;
      total_cost: number | null;
      tokens_in: number | null;
      tokens_out: number | null;
      entry_count: number;
    }>(
      `SELECT ${key} AS key, ROUND(SUM(cost_usd), 6) AS total_cost, SUM(tokens_in) AS tokens_in, SUM(tokens_out) AS tokens_out, COUNT(*) AS entry_count
         FROM agent_spend ${where.sql} GROUP BY ${key} ORDER BY ${o.by === 'day' ? 'key ASC' : 'total_cost DESC'} LIMIT 500`,
      where.args,
    );
  },
};

export interface LedgerWindow {
  since?: string;
  until?: string;
  agentId?: string;
  projectId?: string;
}

/** The optional filters every ledger read shares. */
function ledgerFilters(o: LedgerWindow): [string, ...SqlValue[]][] {
  const c: [string, ...SqlValue[]][] = [];
  if (o.agentId !== undefined) c.push(['agent_id = ?', o.agentId]);
  if (o.since) c.push(['created_at >= ?', o.since]);
  if (o.until) c.push(['created_at < ?', o.until]);
  if (o.projectId !== undefined) c.push(['project_id = ?', o.projectId]);
  return c;
}

function statement(sql: string, args: SqlValue[]): Statement {
  return { sql, args };
}

/** A dollar amount as JavaScript prints it (no trailing `.0`), for summaries written in SQL. */
export function usdText(expr: string): string {
  return `(CASE WHEN ${expr} = CAST(${expr} AS INTEGER) THEN CAST(CAST(${expr} AS INTEGER) AS TEXT) ELSE CAST(${expr} AS TEXT) END)`;
}
