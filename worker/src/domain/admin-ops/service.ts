import { parseDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { AppError, unavailable } from '../../http/errors.js';
import { configRepo } from '../config/repo.js';
import { toPublicAgent, type AgentRow } from '../agents/repo.js';
import { atomicWrite } from '../events/write.js';
import { CLEANUP_KEYS, opsRepo, type CleanupKey } from './repo.js';

const PATROL_DEFAULTS = { agent: 15, task: 30, request: 60, drone: 30, plan_step: 120 } as const;
type PatrolKey = keyof typeof PATROL_DEFAULTS;

export interface PatrolResult {
  stale_agents: number;
  stale_tasks: number;
  stale_requests: number;
  stale_drones: number;
  stale_plan_steps: number;
  actions: Record<string, unknown>[];
  run_at: string;
  dry_run?: true;
}

/** `<n>s ago` … `<n>d ago` from a UTC SQLite timestamp; negative clamps to 0 (spec 01 §5.7). */
function relativeAge(ts: string | null | undefined, now: Date): string {
  if (!ts) return 'never';
  const ms = parseDbTime(ts);
  if (Number.isNaN(ms)) return 'never';
  const s = Math.max(0, Math.floor((now.getTime() - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export class AdminOpsService {
  constructor(private readonly app: AppContext) {}

  private async threshold(k: PatrolKey): Promise<number> {
    const raw = await configRepo.value(this.app.db, `patrol_stale_${k}_minutes`);
    const n = raw !== undefined && /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    return Number.isInteger(n) && n >= 1 ? n : PATROL_DEFAULTS[k];
  }

  async patrolEnabled(): Promise<boolean> {
    return (await configRepo.value(this.app.db, 'patrol_enabled'))?.trim() !== 'false';
  }

  /**
   * The health patrol (spec 01 §5.5). With `dryRun` it only reports (GET /admin/health, SEC-55);
   * otherwise it marks stale agents and drones offline — each a conditional UPDATE, so an agent
   * that heartbeats meanwhile stays online — and emits every finding through the one emit path
   * so SSE and hooks see it (REL-15).
   */
  async patrol(dryRun: boolean): Promise<PatrolResult> {
    const db = this.app.db;
    const t = await opsRepo.tables(db);
    const th = {
      agent: await this.threshold('agent'),
      task: await this.threshold('task'),
      request: await this.threshold('request'),
      drone: await this.threshold('drone'),
      plan_step: await this.threshold('plan_step'),
    };
    const actions: Record<string, unknown>[] = [];
    const findings: { summary: string; data: Record<string, unknown> }[] = [];
    let staleAgents = 0;
    let staleDrones = 0;

    for (const drones of [false, true]) {
      const mins = drones ? th.drone : th.agent;
      for (const a of await opsRepo.staleAgents(db, mins, drones)) {
        if (!dryRun && !(await opsRepo.markOffline(db, a.id, mins))) continue;
        if (drones) {
          staleDrones++;
          actions.push({ type: 'drone_offline', drone_id: a.id });
          findings.push({ summary: `Drone ${a.id} marked offline + jobs released`, data: { drone_id: a.id } });
        } else {
          staleAgents++;
          actions.push({ type: 'agent_offline', agent_id: a.id });
          findings.push({
            summary: `Agent ${a.id} marked offline (no heartbeat in ${mins} min)`,
            data: { agent_id: a.id, last_heartbeat: a.last_heartbeat },
          });
        }
      }
    }
    const tasks = t.has('tasks') ? await opsRepo.staleTasks(db, th.task) : [];
    for (const x of tasks) {
      actions.push({ type: 'stale_task_warning', task_id: x.id, assignee: x.assignee });
      findings.push({
        summary: `Task #${x.id} in_progress with no active assignee (>${th.task} min)`,
        data: { task_id: x.id, assignee: x.assignee },
      });
    }
    const requests = t.has('messages') ? await opsRepo.staleRequests(db, th.request) : [];
    for (const x of requests) {
      actions.push({ type: 'stale_request', request_id: x.id });
      findings.push({
        summary: `Request #${x.id} pending for >${th.request} min`,
        data: { request_id: x.id, from: x.from_agent, to: x.to_agent },
      });
    }
    const steps = t.has('plan_steps') && t.has('plans') ? await opsRepo.staleSteps(db, th.plan_step) : [];
    for (const x of steps) {
      actions.push({ type: 'stale_plan_step', step_id: x.id, plan_id: x.plan_id });
      findings.push({
        summary: `Plan step #${x.id} in_progress for >${th.plan_step} min`,
        data: { step_id: x.id, plan_id: x.plan_id, assignee: x.assignee },
      });
    }
    if (!dryRun) {
      for (const f of findings)
        await this.app.events.emit({
          type: 'health_patrol',
          agent: '__system__',
          projectId: null,
          summary: f.summary,
          data: f.data,
        });
    }
    const result: PatrolResult = {
      stale_agents: staleAgents,
      stale_tasks: tasks.length,
      stale_requests: requests.length,
      stale_drones: staleDrones,
      stale_plan_steps: steps.length,
      actions,
      run_at: this.app.clock.now().toISOString(),
    };
    return dryRun ? { ...result, dry_run: true } : result;
  }

  patrolHistory(limit: number) {
    return opsRepo.patrolHistory(this.app.db, limit);
  }

  /** POST /admin/cleanup (spec 01 §5.4): one batch; savepoints keep the newest 50 per agent. */
  async cleanup(p: Principal, messageDays: number, eventDays: number) {
    const t = await opsRepo.tables(this.app.db);
    const parts = opsRepo.cleanupStatements(t, messageDays, eventDays, 50);
    // The event row goes first in the batch and counts what the deletes after it remove, so the
    // cleanup and its `admin_cleanup` commit together (issue 17) and agree on the numbers.
    const count = (key: CleanupKey) => parts.find((x) => x.key === key)?.count ?? { sql: '0', args: [] };
    const sizes = CLEANUP_KEYS.map(count);
    const [m, e, w, s] = sizes;
    const write = atomicWrite(this.app).eventPerRow(
      { type: 'admin_cleanup', agent: p.who },
      {
        summarySql: `'Cleanup: ' || ${m.sql} || ' messages, ' || ${e.sql} || ' events, ' || ${w.sql} || ' webhook deliveries, ' || ${s.sql} || ' savepoints pruned'`,
        dataSql: `json_object(${CLEANUP_KEYS.map((k, i) => `'${k}', ${sizes[i].sql}`).join(', ')})`,
        rest: '',
        args: [...sizes, ...sizes].flatMap((x) => x.args),
      },
    );
    for (const x of parts) write.add(x.key, x.stmt);
    const res = await write.commit();
    const counts = Object.fromEntries(CLEANUP_KEYS.map((k) => [k, res.changes(k)])) as Record<CleanupKey, number>;
    return { ok: true, ...counts };
  }

  /** GET /admin/ops (spec 01 §5.6); failed drone jobs come from the drones area's table (migration 0030). */
  async ops() {
    const db = this.app.db;
    const t = await opsRepo.tables(db);
    const q = (table: string, read: () => Promise<Record<string, unknown>[]>) =>
      t.has(table) ? read() : Promise.resolve([]);
    return {
      pending_requests: await q('messages', () => opsRepo.pendingRequests(db, 50)),
      unassigned_tasks: await q('tasks', () => opsRepo.unassignedTasks(db)),
      unassigned_bugs: await q('bugs', () => opsRepo.unassignedBugs(db)),
      failed_drone_jobs: await q('drone_jobs', () => opsRepo.failedDroneJobs(db)),
      pending_approvals: await q('approvals', () => opsRepo.pendingApprovals(db, 50)),
      stale_requests: await q('messages', () => opsRepo.staleRequestRows(db)),
      open_prs: [],
    };
  }

  /** GET /admin/overview (spec 01 §5.7): slim by default, `verbose` for the dashboard dump. */
  async overview(verbose: boolean, caller?: Principal) {
    const db = this.app.db;
    const t = await opsRepo.tables(db);
    const now = this.app.clock.now();
    const c = opsRepo.counts;
    const count = (table: string, read: () => Promise<number>) => (t.has(table) ? read() : Promise.resolve(0));
    const counts = {
      tasks_open: await count('tasks', () => c.tasksWithStatus(db, 'open')),
      tasks_in_progress: await count('tasks', () => c.tasksWithStatus(db, 'in_progress')),
      bugs_open: await count('bugs', () => c.openBugs(db)),
      plans_active: await count('plans', () => c.activePlans(db)),
      requests_pending: await count('messages', () => c.pendingRequests(db)),
      approvals_pending: await count('approvals', () => c.pendingApprovals(db)),
      drones_online: await c.dronesOnline(db),
      drone_jobs_pending: await count('drone_jobs', () => c.pendingDroneJobs(db)),
    };
    const attention: Record<string, unknown>[] = [];
    if (t.has('messages')) {
      for (const m of await opsRepo.attention.staleRequests(db)) {
        attention.push({
          type: 'stale_request',
          id: m.id,
          from: m.from_agent,
          title: String(m.content).slice(0, 80),
          action: 'respond',
          age: relativeAge(m.created_at as string, now),
        });
      }
    }
    for (const a of await opsRepo.attention.pendingApprovals(db)) {
      attention.push({
        type: 'pending_approval',
        id: a.id,
        title: a.title,
        action: 'approve_or_deny',
        age: relativeAge(a.created_at as string, now),
      });
    }
    if (t.has('tasks')) {
      for (const x of await opsRepo.attention.staleTasks(db)) {
        attention.push({
          type: 'stale_task',
          id: x.id,
          assignee: x.assignee,
          title: x.title,
          action: 'reassign_or_unblock',
          age: relativeAge(x.updated_at as string, now),
        });
      }
    }
    if (t.has('bugs')) {
      for (const x of await opsRepo.attention.unassignedBugs(db)) {
        attention.push({
          type: 'unassigned_bug',
          id: x.id,
          title: x.title,
          severity: x.severity,
          action: 'assign',
          age: relativeAge(x.created_at as string, now),
        });
      }
    }
    const recent = await opsRepo.recentEvents(db, 5);
    const slim = {
      agents: (await opsRepo.agentsBrief(db)).map((a) => ({
        id: a.id,
        status: a.status,
        working_on: a.working_on,
        heartbeat: relativeAge(a.last_heartbeat, now),
      })),
      counts,
      attention,
      recent_activity: recent.map((e) => `${e.summary} (${relativeAge(e.created_at, now)})`),
    };
    if (!verbose) return slim;
    const d = opsRepo.dump;
    const rows = (table: string, read: () => Promise<Record<string, unknown>[]>) =>
      t.has(table) ? read() : Promise.resolve([]);
    const tasksBy = async (status: string) => rows('tasks', () => d.tasksWithStatus(db, status));
    return {
      ...slim,
      agents: (await d.agents(db)).map((a) => toPublicAgent(a as unknown as AgentRow)),
      events: await opsRepo.recentEvents(db, 50),
      tasks: {
        open: await tasksBy('open'),
        in_progress: await tasksBy('in_progress'),
        review: await tasksBy('review'),
        done: await tasksBy('done'),
      },
      messages: await rows('messages', () => d.directMessages(db)),
      context: await rows('context', () => d.context(db)),
      context_keys: await rows('context_keys', () => d.contextNamespaces(db)),
      projects: await rows('projects', () => d.projects(db)),
      pending_approvals: await rows('approvals', () => opsRepo.pendingApprovals(db, 100)),
      pending_requests: await rows('messages', () => opsRepo.pendingRequests(db, 100)),
      bugs: await rows('bugs', () => d.bugs(db)),
      plans: await rows('plans', () => d.plans(db)),
      concepts: await rows('concepts', () => d.concepts(db)),
      organizations: await rows('organizations', () => d.organizations(db)),
      operators: await rows('operators', () => d.operators(db)),
      instance_config: await rows('instance_config', () => d.instanceConfig(db)),
      drones: await d.drones(db),
      drone_jobs: await rows('drone_jobs', () => d.droneJobs(db)),
      active_operators: await d.activeOperators(db),
      assets: await rows('assets', () => d.assets(db)),
      approval_queue: await rows('approvals', () => opsRepo.pendingApprovals(db, 100)),
      bug_counts: t.has('bugs')
        ? Object.fromEntries((await d.bugCountsByStatus(db)).map((b) => [b.status, Number(b.n)]))
        : {},
      // DMs only where the caller is a member (spec 01 §5.7); other channels all.
      channels: t.has('channels') ? await d.channelsVisibleTo(db, caller?.who ?? '') : [],
      channel_counts: await (async () => {
        const [r] = t.has('channels') ? await d.channelCounts(db) : [{}];
        return { total: Number(r.total ?? 0), active: Number(r.active ?? 0), archived: Number(r.archived ?? 0) };
      })(),
      plugins: await rows('plugins', () => d.plugins(db)),
    };
  }

  /** GET /admin/backups (spec 01 §5.8): Node lists DATA_DIR/backups; Workers have no local files. */
  async listBackups() {
    const list = this.app.runtime.listBackups;
    if (!list)
      throw unavailable(
        'Backups are not available on this runtime: the database is remote (use your libSQL provider’s backups)',
      );
    try {
      const files = await list.call(this.app.runtime);
      return {
        backups: files.map((f) => ({
          name: f.name,
          size_mb: Math.round((f.bytes / 1048576) * 10) / 10,
          created: f.created.toISOString(),
        })),
        count: files.length,
      };
    } catch (err) {
      this.app.log.error('listing backups failed', { error: (err as Error).message });
      throw new AppError(500, 'Failed to list backups');
    }
  }

  /** POST /admin/backups: an online, verified copy (REL-23); the detail of a failure stays in the log. */
  async backupNow(p: Principal) {
    const backup = this.app.runtime.backup;
    if (!backup)
      throw unavailable(
        'Backups are not available on this runtime: the database is remote (use your libSQL provider’s backups)',
      );
    try {
      const r = await backup.call(this.app.runtime);
      const name = r.file.split(/[\\/]/).pop() ?? r.file;
      this.app.log.info('backup written', { file: name, bytes: r.bytes, by: p.who });
      return { ok: true, name, bytes: r.bytes, size_mb: Math.round((r.bytes / 1048576) * 10) / 10, verified: true };
    } catch (err) {
      this.app.log.error('backup failed', { error: (err as Error).message });
      throw new AppError(500, 'Backup failed verification or could not be written');
    }
  }

  /** GET /reconciliation (spec 01 §5.13): read-only list of work stuck in_progress. */
  async reconciliation(thresholdMinutes: number) {
    const db = this.app.db;
    const t = await opsRepo.tables(db);
    const bugs = t.has('bugs') ? await opsRepo.stuck(db, 'bugs', thresholdMinutes) : [];
    const tasks = t.has('tasks') ? await opsRepo.stuck(db, 'tasks', thresholdMinutes) : [];
    const steps = t.has('plan_steps') ? await opsRepo.stuckSteps(db, thresholdMinutes) : [];
    return {
      threshold_minutes: thresholdMinutes,
      generated_at: await opsRepo.sqliteNow(db),
      counts: {
        bugs: bugs.length,
        tasks: tasks.length,
        plan_steps: steps.length,
        total: bugs.length + tasks.length + steps.length,
      },
      bugs,
      tasks,
      plan_steps: steps,
    };
  }
}
