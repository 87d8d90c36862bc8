import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { parseWith, queryInt } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { AdminOpsService } from './service.js';
import { pluginHostOf } from '../../plugins/host.js';
import { unavailablePlugins } from '../../plugins/manage.js';

const cleanupSchema = z.object({
  message_days: z.number().int().min(1).max(36_500).optional(),
  event_days: z.number().int().min(1).max(36_500).optional(),
});

/** Minutes from `threshold_minutes`, else `threshold_hours` × 60; missing or invalid → 1440. */
function thresholdOf(q: Record<string, string>): number {
  const m = Number(q.threshold_minutes);
  if (q.threshold_minutes !== undefined && Number.isFinite(m) && m >= 1) return Math.floor(m);
  const h = Number(q.threshold_hours);
  if (q.threshold_hours !== undefined && Number.isFinite(h) && h * 60 >= 1) return Math.floor(h * 60);
  return 1440;
}

/** Admin operations: cleanup, health patrol, ops and overview dashboards, backups, reconciliation (spec 01 §5.4–5.8, §5.13). */
export function adminOpsRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const ops = new AdminOpsService(app);

  app.jobs.push({
    name: 'health_patrol',
    everyMs: 5 * 60_000,
    run: async () => ((await ops.patrolEnabled()) ? ops.patrol(false) : null),
  });

  r.post('/admin/cleanup', requireAdmin, async (c) => {
    app.limiters.adminWrite.hit(c.get('clientIp'));
    const b = parseWith(cleanupSchema, bodyOf(c));
    return c.json(await ops.cleanup(principalOf(c), b.message_days ?? 90, b.event_days ?? 60));
  });

  // Read-only preview for anyone; running the patrol is an admin action (SEC-55).
  r.get('/admin/health', requireAny, async (c) => {
    const patrol = await ops.patrol(true);
    return c.json({ ...patrol, plugins_unavailable: await unavailablePlugins(pluginHostOf(app)) });
  });
  r.post('/admin/health/run', requireAdmin, async (c) => c.json(await ops.patrol(false)));
  r.get('/admin/health/history', requireAny, async (c) =>
    c.json(await ops.patrolHistory(queryInt(c.req.query('limit'), 'limit', 50, 1, 500))),
  );

  r.get('/admin/ops', requireAdmin, async (c) => c.json(await ops.ops()));
  r.get('/admin/overview', requireAdmin, async (c) =>
    c.json(await ops.overview(c.req.query('verbose') === 'true', principalOf(c))),
  );

  r.get('/admin/backups', requireAdmin, async (c) => c.json(await ops.listBackups()));
  r.post('/admin/backups', requireAdmin, async (c) => {
    app.limiters.adminWrite.hit(c.get('clientIp'));
    return c.json(await ops.backupNow(principalOf(c)));
  });

  r.get('/reconciliation', requireAdmin, async (c) => c.json(await ops.reconciliation(thresholdOf(c.req.query()))));

  return r;
}
