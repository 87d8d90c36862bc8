import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { agentsRepo } from '../agents/repo.js';
import { VERSION } from '../../version.js';
import { defineRoute } from '../../http/contract.js';
import { Health } from './schema.js';

/**
 * ROOT: GET /health — public, tells the truth (spec 01 §1.6, spec 07 REL-16), nothing more. It reports
 * only what this runtime can measure: on Workers there is no process (an isolate's age is labelled as
 * such, not as uptime) and no readable memory figure, so that key is left out rather than faked.
 */
export function healthRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  defineRoute(
    r,
    {
      method: 'get',
      path: '/health',
      tags: ['Health'],
      summary: 'Liveness and database reachability (503 when the database is down)',
      access: 'public',
      response: Health,
      errors: [503],
    },
    async (c) => {
      let dbOk = false;
      let online = 0;
      let dbLatencyMs: number | null = null;
      try {
        const t0 = Date.now();
        await app.db.get('SELECT 1 AS ok');
        dbLatencyMs = Date.now() - t0;
        online = (await agentsRepo.countOnline(app.db))?.n ?? 0;
        dbOk = true;
      } catch (err) {
        app.log.error('health check: database unavailable', { error: (err as Error).message });
      }
      const age = Math.floor((app.clock.now().getTime() - app.runtime.startedAt) / 1000);
      const memory = app.runtime.memoryUsageMb();
      // Node: exactly the documented shape (REL-16). Workers: the same facts where they exist there,
      // the isolate's age under its own name, and the database round trip, which is what varies there.
      const body =
        app.runtime.lifetime === 'process'
          ? {
              status: dbOk ? 'ok' : 'degraded',
              uptime_seconds: age,
              db_ok: dbOk,
              agents_online: online,
              memory_usage_mb: memory,
              version: VERSION,
            }
          : {
              status: dbOk ? 'ok' : 'degraded',
              isolate_age_seconds: age,
              db_ok: dbOk,
              db_latency_ms: dbLatencyMs,
              agents_online: online,
              version: VERSION,
            };
      // Degraded is still this shape, with its own status.
      if (!dbOk) return c.json(Health.parse(body), 503);
      return body;
    },
  );
  return r;
}
