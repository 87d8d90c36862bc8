import type { AppContext } from './context.js';
import { atomicWrite } from './domain/events/write.js';
import { passwordResetsRepo } from './domain/studio/repo.js';

/**
 * Periodic work, one entry point for both runtimes: Node calls it from a timer, Workers from
 * the cron trigger. Jobs are scheduled by wall clock with the last run persisted, so "daily"
 * jobs run daily even on instances that restart more often (spec 01 §1.7, weak spot 25).
 */
export interface MaintenanceJob {
  name: string;
  everyMs: number;
  run(app: AppContext): Promise<unknown>;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const coreJobs: MaintenanceJob[] = [
  {
    name: 'password_reset_cleanup',
    everyMs: DAY,
    run: (app) => passwordResetsRepo.purgeExpired(app.db, app.clock.now().getTime() - DAY),
  },
  {
    name: 'backup',
    everyMs: 6 * HOUR,
    run: async (app) => (app.runtime.backup ? app.runtime.backup() : null),
  },
];

export interface MaintenanceReport {
  ran: string[];
  failed: { job: string; error: string }[];
}

/** Runs every due job of `app.jobs` (core jobs plus those areas registered at app creation). */
export async function maintenance(app: AppContext, jobs: MaintenanceJob[] = app.jobs): Promise<MaintenanceReport> {
  for (const limiter of Object.values(app.limiters)) limiter.prune();
  const now = app.clock.now().getTime();
  const report: MaintenanceReport = { ran: [], failed: [] };
  // Claim every due slot in one batch (one round trip on Workers, where the cron has the same
  // subrequest budget as a request): each claim is a conditional upsert, so two processes (or
  // isolates) never both run a job, and a job that is not due costs nothing more.
  // Job names are unique (maintenance_runs' key), so each claim is read by its job's name.
  const claim = atomicWrite(app);
  for (const job of jobs)
    claim.add(job.name, {
      sql: `INSERT INTO maintenance_runs (job, last_run_at) VALUES (?, ?)
       ON CONFLICT(job) DO UPDATE SET last_run_at = excluded.last_run_at
       WHERE maintenance_runs.last_run_at <= ?
       RETURNING job`,
      args: [job.name, now, now - job.everyMs],
    });
  const claims = await claim.commit();
  for (const job of jobs) {
    if (!claims.rows(job.name).length) continue;
    try {
      await job.run(app);
      report.ran.push(job.name);
    } catch (err) {
      report.failed.push({ job: job.name, error: (err as Error).message });
      app.log.error('maintenance job failed', { job: job.name, error: (err as Error).message });
    }
  }
  return report;
}
