import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { AdminOpsService } from './service.js';
import { pluginHostOf } from '../../plugins/host.js';
import { unavailablePlugins } from '../../plugins/manage.js';
import { z } from 'zod';
import {
  BackupDone,
  BackupList,
  Cleanup,
  CleanupResult,
  HealthPreview,
  HistoryQuery,
  OpsDashboard,
  Overview,
  OverviewQuery,
  PatrolEvent,
  PatrolResult,
  Reconciliation,
  ReconciliationQuery,
} from './schema.js';

/** Minutes from `threshold_minutes`, else `threshold_hours` × 60; missing or invalid → 1440. */
function thresholdOf(q: { threshold_minutes?: string; threshold_hours?: string }): number {
  const m = Number(q.threshold_minutes);
  if (q.threshold_minutes !== undefined && Number.isFinite(m) && m >= 1) return Math.floor(m);
  const h = Number(q.threshold_hours);
  if (q.threshold_hours !== undefined && Number.isFinite(h) && h * 60 >= 1) return Math.floor(h * 60);
  return 1440;
}

const tags = ['Admin operations'];

/** Admin operations: cleanup, health patrol, ops and overview dashboards, backups, reconciliation (spec 01 §5.4–5.8, §5.13). */
export function adminOpsRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const ops = new AdminOpsService(app);

  app.jobs.push({
    name: 'health_patrol',
    everyMs: 5 * 60_000,
    run: async () => ((await ops.patrolEnabled()) ? ops.patrol(false) : null),
  });

  defineRoute(
    r,
    {
      method: 'post',
      path: '/admin/cleanup',
      tags,
      summary: 'Archive old messages, events and webhook deliveries; prune savepoints',
      access: 'admin',
      body: Cleanup,
      lazyBody: true,
      response: CleanupResult,
      errors: [429],
    },
    (c, input) => {
      app.limiters.adminWrite.hit(c.get('clientIp'));
      const b = input.body;
      return ops.cleanup(principalOf(c), b.message_days ?? 90, b.event_days ?? 60);
    },
  );

  // Read-only preview for anyone; running the patrol is an admin action (SEC-55).
  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/health',
      tags,
      summary: 'Health patrol preview (dry run)',
      access: 'any',
      response: HealthPreview,
    },
    async () => {
      const patrol = await ops.patrol(true);
      return { ...patrol, plugins_unavailable: await unavailablePlugins(pluginHostOf(app)) };
    },
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/admin/health/run',
      tags,
      summary: 'Run the health patrol',
      access: 'admin',
      response: PatrolResult,
    },
    () => ops.patrol(false),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/health/history',
      tags,
      summary: 'Past patrol runs (health_patrol events)',
      access: 'any',
      query: HistoryQuery,
      response: z.array(PatrolEvent),
    },
    (_c, { query }) => ops.patrolHistory(query.limit),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/ops',
      tags,
      summary: 'What needs an operator now',
      access: 'admin',
      response: OpsDashboard,
    },
    () => ops.ops(),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/overview',
      tags,
      summary: 'Instance overview (slim; `verbose=true` for the dashboard dump)',
      access: 'admin',
      query: OverviewQuery,
      response: Overview,
    },
    (c, { query }) => ops.overview(query.verbose === 'true', principalOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/admin/backups',
      tags,
      summary: 'Local database backups (Node)',
      access: 'admin',
      response: BackupList,
      errors: [503],
    },
    () => ops.listBackups(),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/admin/backups',
      tags,
      summary: 'Write and verify a backup now (Node)',
      access: 'admin',
      response: BackupDone,
      errors: [429, 503],
    },
    (c) => {
      app.limiters.adminWrite.hit(c.get('clientIp'));
      return ops.backupNow(principalOf(c));
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/reconciliation',
      tags,
      summary: 'Work stuck in progress past a threshold (read-only)',
      access: 'admin',
      query: ReconciliationQuery,
      response: Reconciliation,
    },
    (_c, { query }) => ops.reconciliation(thresholdOf(query)),
  );

  return r;
}
