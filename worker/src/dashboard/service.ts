import { toDbTime } from '../db/time.js';
import type { AppContext } from '../context.js';
import type { Principal } from '../auth/principal.js';
import { spendRepo } from '../domain/spend/repo.js';
import { SpendService } from '../domain/spend/service.js';

const DAY_MS = 86_400_000;
const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * What the spend chart draws: the last `days` UTC days (every day present, zero when nothing was
 * spent, so bars line up with dates), the same window per agent, and the budgets to compare with.
 */
export async function spendChart(app: AppContext, p: Principal, days: number) {
  const today = Math.floor(app.clock.now().getTime() / DAY_MS) * DAY_MS;
  const start = today - (days - 1) * DAY_MS;
  const since = toDbTime(start);
  const agentId = p.kind === 'agent' ? p.id : undefined;
  const [perDay, perAgent, budgets] = await Promise.all([
    spendRepo.totalsBy(app.db, { by: 'day', since, agentId }),
    spendRepo.totalsBy(app.db, { by: 'agent', since, agentId }),
    new SpendService(app).budgets(p),
  ]);
  const byDay = new Map(perDay.map((r) => [String(r.key), Number(r.total_cost ?? 0)]));
  return {
    since,
    days: Array.from({ length: days }, (_, i) => {
      const day = new Date(start + i * DAY_MS).toISOString().slice(0, 10);
      return { day, total_cost: round4(byDay.get(day) ?? 0) };
    }),
    agents: perAgent.map((r) => ({
      agent_id: String(r.key),
      total_cost: round4(Number(r.total_cost ?? 0)),
      entry_count: r.entry_count,
    })),
    budgets,
  };
}
