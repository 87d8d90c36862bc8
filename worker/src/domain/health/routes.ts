import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { agentsRepo } from '../agents/repo.js';
import { VERSION } from '../../version.js';

/** ROOT: GET /health — public, tells the truth (spec 01 §1.6, spec 07 REL-16), nothing more. */
export function healthRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  r.get('/health', async (c) => {
    let dbOk = false;
    let online = 0;
    try {
      await app.db.get('SELECT 1 AS ok');
      online = (await agentsRepo.countOnline(app.db))?.n ?? 0;
      dbOk = true;
    } catch (err) {
      app.log.error('health check: database unavailable', { error: (err as Error).message });
    }
    const body = {
      status: dbOk ? 'ok' : 'degraded',
      uptime_seconds: Math.floor((app.clock.now().getTime() - app.runtime.startedAt) / 1000),
      db_ok: dbOk,
      agents_online: online,
      memory_usage_mb: app.runtime.memoryUsageMb(),
      version: VERSION,
    };
    return c.json(body, dbOk ? 200 : 503);
  });
  return r;
}
