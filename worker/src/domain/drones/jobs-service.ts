import { escapeHtml } from '../../http/html.js';
import { parseDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import { FROZEN_MESSAGE, isFrozen } from '../admin/freeze.js';
import { parseArray, parseObject } from '../agents/json.js';
import { WebhookService } from '../webhooks/service.js';
import { configRepo } from '../config/repo.js';
import { checkInputValues, renderJobForDrone, type Diagnostics } from './render.js';
import { atomicWrite, type AtomicWrite } from '../events/write.js';
import type { Statement } from '../../db/types.js';
import { leaseLost } from '../work-items/lease.js';
import { LEASE_MINUTES, dronesRepo, type DroneAgentRow, type DroneJobRow, type TemplateRow } from './repo.js';

/**
 * Drone jobs (spec 05 §4–§5 with the fixes of §17.1–§17.2 and spec 07 SEC-24..28, REL-02/04/05/17).
 * Every status move is one conditional UPDATE; the claim is a compare-and-set per candidate.
 * Each write commits in one batch with its events, the webhook outbox rows it routes itself and
 * the retry it causes (issue 17, `atomicWrite`): a crash or a lost race never leaves one without
 * the others.
 */

const RAW_COMMAND_ADMIN_ONLY =
  'Raw drone commands are admin-only. Submit a template job (job_type / from-template) instead.';
const SETUP_ADMIN_ONLY =
  'input_data.setup is admin-only — it is shell-executed on the drone. Use a template setup_repo instead.';
const NOT_AUTHORIZED = 'Not authorized to update this job';
const STALE_AT_CLAIM = '[stale_timeout] Job was claimed for >1 hour with no completion. Auto-failed on drone restart.';
const STALE_BY_SERVER = '[stale_timeout] Job was claimed for >1 hour with no progress. Auto-failed by server.';
const MAX_RETRIES = 2;
const MAX_REQUEUES = 3;
/**
 * How many matching pending jobs one claim looks at: enough to get past lost races and
 * render-incompatible jobs, small enough to keep a claim within the Workers subrequest budget.
 */
const CLAIM_SCAN = 25;
const ARTIFACT_NAME = /^[A-Za-z0-9_.-]{1,200}$/;
/** How many stale claims one release fails (in one batch); the rest wait for the next pass. */
const STALE_BATCH = 100;
/** `enqueueStatementWhen` condition for a webhook that is always routed (its data needs SQL). */
const ALWAYS: Statement = { sql: '1', args: [] };
/** The id of the job named by the event the batch wrote just before (a new job's created event). */
const JOB_OF_LAST_EVENT = "(SELECT json_extract(data, '$.job_id') FROM events WHERE id = last_insert_rowid())";

/**
 * A webhook drone jobs route themselves (to the requester, spec 05 §4 payloads; migration 0023 keeps
 * the bus from sending a second copy), written in the batch of the change it reports. `fromRow` is
 * the one field read from the job row at that point of the batch (a new job's id, or what an
 * earlier progress report stored), so the payload carries what was written, not what was read.
 */
function jobHook(
  hooks: WebhookService,
  event: string,
  requester: string,
  data: Record<string, unknown>,
  fromRow: { column: 'result_url' | 'error'; jobId: number } | 'new job id',
): Statement {
  const patch =
    fromRow === 'new job id'
      ? { field: 'job_id', value: { sql: JOB_OF_LAST_EVENT, args: [] } }
      : {
          field: fromRow.column,
          value: { sql: `SELECT ${fromRow.column} FROM drone_jobs WHERE id = ?`, args: [fromRow.jobId] },
        };
  return hooks.enqueueStatementWhen(event, requester, data, ALWAYS, patch);
}

/** Typed requester identity: ownership is never decided by comparing display names (SEC-28). */
function requesterKey(p: Principal): string {
  if (p.kind === 'agent') return `agent:${p.id}`;
  if (p.kind === 'operator') return `operator:${p.userId}`;
  return 'admin';
}

/**
 * What a claim answers about its lease (issue 17): the fencing token to quote on later reports
 * (`lease_token` in PUT /drones/jobs/:id) and how long the claim lives without progress.
 */
function droneLeaseAnswer(token: string) {
  return { lease_token: token, lease_ttl_seconds: LEASE_MINUTES * 60 };
}

/** The 409 for a report quoting a token the job no longer carries. */
function droneLeaseLost(now: DroneJobRow) {
  return leaseLost('drone_job', { assignee: now.drone_id, status: now.status });
}

/** `input_data`: an object, or a JSON string of one (the MCP tool sends strings — §17.1 C-4 bypass). */
function inputDataOf(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  let obj: unknown = v;
  if (typeof v === 'string') {
    try {
      obj = JSON.parse(v);
    } catch {
      throw badRequest('input_data must be a JSON object');
    }
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw badRequest('input_data must be a JSON object');
  if (JSON.stringify(obj).length > 100_000) throw badRequest('input_data exceeds max length (100000 chars)');
  return obj as Record<string, unknown>;
}

/**
 * What only an admin may put in `input_data`, because workers execute it or use it as a path
 * (SEC-26, §17.1 C-4); and artifact names, which the worker writes to disk, must be plain names.
 */
function assertInputAllowed(p: Principal, input: Record<string, unknown>) {
  if (!p.isAdmin) {
    if ('setup' in input) throw forbidden(SETUP_ADMIN_ONLY);
    for (const k of ['setup_steps', 'workspace_dir']) {
      if (k in input)
        throw forbidden(
          `input_data.${k} is admin-only — the drone executes it or writes there. Use a template instead.`,
        );
    }
  }
  if (input.artifacts !== undefined) {
    const a = input.artifacts;
    if (!Array.isArray(a) || !a.every((n) => typeof n === 'string' && ARTIFACT_NAME.test(n) && !/^\.+$/.test(n))) {
      throw badRequest('input_data.artifacts must be an array of artifact names (letters, digits, ".", "_", "-")');
    }
  }
}

export interface QueueInput {
  title: string;
  command?: string;
  input_data?: unknown;
  requires?: string[];
  priority?: number;
  workspace_repo?: string | null;
  workspace_branch?: string;
  profile_id?: string | null;
  job_type?: string | null;
}

export class DroneJobService {
  constructor(private readonly app: AppContext) {}

  private get db() {
    return this.app.db;
  }

  async get(id: number | null): Promise<DroneJobRow> {
    const job = id === null ? undefined : await dronesRepo.job(this.db, id);
    if (!job) throw notFound('Drone job not found');
    return job;
  }

  list(f: { status?: string; drone_id?: string; requester?: string }, limit: number, offset: number) {
    return dronesRepo.listJobs(this.db, f, limit, offset);
  }

  /** POST /drones/jobs (spec 05 §4, SEC-24, SEC-26): everything is checked before the insert. */
  async queue(p: Principal, input: QueueInput) {
    const title = input.title.trim();
    if (!title) throw badRequest('title is required');
    if (input.command && !p.isAdmin) throw forbidden(RAW_COMMAND_ADMIN_ONLY);
    const data = inputDataOf(input.input_data);
    assertInputAllowed(p, data);
    let requires = input.requires ?? ['cpu'];
    if (input.profile_id && !(await dronesRepo.profile(this.db, input.profile_id)))
      throw badRequest(`Profile not found: ${input.profile_id}`);
    if (input.job_type) {
      const tpl = await dronesRepo.template(this.db, input.job_type);
      if (!tpl) throw badRequest(`Job template not found: ${input.job_type}`);
      // Bad values are refused at queue time too, so they never enter the queue (§17.1 C-2).
      const problem = checkInputValues(tpl.command_template, data);
      if (problem) throw badRequest(problem);
      requires = parseArray(tpl.requires).filter((x): x is string => typeof x === 'string');
    }
    return this.insert(
      p,
      {
        title: escapeHtml(title),
        command: input.command ?? '',
        input_data: JSON.stringify(data),
        requires: JSON.stringify(requires),
        requester: p.who,
        requester_key: requesterKey(p),
        priority: input.priority ?? 0,
        workspace_repo: input.workspace_repo ?? null,
        workspace_branch: input.workspace_branch || 'main',
        profile_id: input.profile_id || null,
        job_type: input.job_type ?? null,
      },
      `${p.who} submitted drone job: `,
    );
  }

  /** POST /drones/jobs/from-template (spec 05 §4): 404 for an unknown template, as the original. */
  async fromTemplate(p: Principal, templateId: string, rawInput: unknown, priority: number) {
    const tpl = await dronesRepo.template(this.db, templateId);
    const data = inputDataOf(rawInput);
    assertInputAllowed(p, data);
    if (!tpl) throw notFound(`Template not found: ${templateId}`);
    const problem = checkInputValues(tpl.command_template, data);
    if (problem) throw badRequest(problem);
    const batch = data.batch;
    const requires = parseArray(tpl.requires).filter((x): x is string => typeof x === 'string');
    return this.insert(
      p,
      {
        title: batch ? `${tpl.name} (batch ${String(batch)})` : tpl.name,
        command: '',
        input_data: JSON.stringify(data),
        requires: JSON.stringify(requires.length ? requires : ['cpu']),
        requester: p.who,
        requester_key: requesterKey(p),
        priority,
        workspace_repo: null,
        workspace_branch: 'main',
        profile_id: null,
        job_type: templateId,
      },
      `${p.who} submitted ${templateId} job: `,
    );
  }

  /** The job, its created event and its webhook in one batch (issue 17). */
  private async insert(p: Principal, job: Parameters<typeof dronesRepo.insertJob>[0], summary: string) {
    const hooks = new WebhookService(this.app);
    const written = await atomicWrite(this.app)
      .add('job', dronesRepo.insertJob(job))
      .eventWithNewId(
        {
          type: 'drone_job_created',
          agent: p.who,
          projectId: 'drone',
          summary: `${summary}${job.title}`,
          data: { job_id: null, job_type: job.job_type },
        },
        'job_id',
      )
      .add(
        null,
        jobHook(
          hooks,
          'drone_job_created',
          job.requester,
          { job_id: null, title: job.title, requires: job.requires, requester: job.requester, job_type: job.job_type },
          'new job id',
        ),
      )
      .commit();
    hooks.kick();
    const row = written.row<DroneJobRow>('job')!;
    return { ok: true, id: row.id, title: row.title, job_type: row.job_type };
  }

  /**
   * PUT /drones/jobs/:id (SEC-28, §17.2, REL-05). Writers: the drone holding the claim (results,
   * `done`/`failed`), the requester (cancel, dismiss), admins (everything but `claimed`). Finished
   * jobs only move to `dismissed`; repeating the current status changes nothing.
   */
  async update(
    p: Principal,
    id: number | null,
    input: {
      status?: string;
      result_url?: string | null;
      result_data?: unknown;
      error?: string | null;
      drone_id?: string | null;
      lease_token?: string;
    },
  ) {
    const job = await this.get(id);
    // A report quoting the claim's token is fenced: once the lease ended (stale, requeued, cancelled,
    // finished) or the job was claimed again, it is refused (issue 17). No token: the identity rule below.
    const token = input.lease_token;
    if (token !== undefined && (await dronesRepo.leaseToken(this.db, job.id)) !== token) throw droneLeaseLost(job);
    const isHolder = p.kind === 'agent' && job.drone_id === p.id;
    const isRequester = job.requester_key === requesterKey(p);
    if (!p.isAdmin && !isHolder && !isRequester) throw forbidden(NOT_AUTHORIZED);
    if (input.drone_id !== undefined && !p.isAdmin) throw forbidden('Only admins may set drone_id');
    const status = input.status === 'completed' ? 'done' : input.status;
    if (status === 'claimed') throw badRequest('A drone job is claimed only through POST /drones/claim');
    const fields = {
      result_url: input.result_url,
      result_data:
        input.result_data === undefined
          ? undefined
          : typeof input.result_data === 'string'
            ? input.result_data
            : JSON.stringify(input.result_data),
      error: input.error,
      drone_id: input.drone_id,
    };
    const writesData = Object.values(fields).some((v) => v !== undefined);
    // A requester withdraws or hides its job; only the drone that runs it reports results.
    if (writesData && !p.isAdmin && !isHolder) throw forbidden(NOT_AUTHORIZED);

    if (status === undefined) {
      if (!p.isAdmin && job.status !== 'claimed') throw conflict(`Drone job is ${job.status}`, { status: job.status });
      const row = await dronesRepo.progress(this.db, job.id, job.status, fields, token);
      if (!row) {
        const now = await this.get(job.id);
        if (token !== undefined && (await dronesRepo.leaseToken(this.db, job.id)) !== token) throw droneLeaseLost(now);
        throw conflict('Drone job changed meanwhile; read it again', { status: now.status });
      }
      return { ok: true, id: job.id };
    }
    if (status === job.status) return { ok: true, id: job.id, unchanged: true };
    this.assertTransition(p, job, status, { isHolder, isRequester });
    // The move, its event, its webhooks and (claimed → failed) the retry commit together; a lost
    // compare-and-set (a concurrent report, the sweep, a stale token) writes none of them.
    const hooks = new WebhookService(this.app);
    const w = atomicWrite(this.app)
      .add('job', dronesRepo.transition(job.id, job.status, status, fields, token))
      .requireChanged('drone job moved meanwhile')
      .event({
        type: `drone_job_${status}`,
        agent: p.who,
        projectId: 'drone',
        summary: `${p.who} set drone job #${job.id} to ${status}`,
        data: { job_id: job.id, drone_id: job.drone_id },
      });
    const droneAfter = fields.drone_id !== undefined ? fields.drone_id : job.drone_id;
    if (status === 'done')
      w.add(
        null,
        jobHook(
          hooks,
          'drone_job_completed',
          job.requester,
          { job_id: job.id, title: job.title, drone_id: droneAfter, result_url: null },
          { column: 'result_url', jobId: job.id },
        ),
      );
    if (status === 'failed') {
      w.add(
        null,
        jobHook(
          hooks,
          'drone_job_failed',
          job.requester,
          { job_id: job.id, title: job.title, drone_id: droneAfter, error: null },
          { column: 'error', jobId: job.id },
        ),
      );
      // Retries only for a run that failed (claimed → failed), never for a repeated report (REL-05).
      if (job.status === 'claimed')
        await this.addRetryPolicy(w, hooks, p.who, job, job.drone_id ?? '', this.droneIdsOnce());
    }
    if (!(await w.commitUnlessAborted())) {
      // Someone else moved it first (a concurrent report, the sweep): same target → nothing to do.
      const now = await this.get(job.id);
      if (token !== undefined) throw droneLeaseLost(now); // the token was for the run that was just ended
      if (now.status === status) return { ok: true, id: job.id, unchanged: true };
      throw conflict(`Drone job is ${now.status}`, { status: now.status });
    }
    hooks.kick();
    return { ok: true, id: job.id };
  }

  private assertTransition(
    p: Principal,
    job: DroneJobRow,
    to: string,
    who: { isHolder: boolean; isRequester: boolean },
  ) {
    const from = job.status;
    const allowed: Record<string, string[]> = {
      pending: ['cancelled', 'failed', 'dismissed'],
      claimed: ['done', 'failed', 'cancelled', 'pending'],
      done: ['dismissed'],
      failed: ['dismissed'],
      cancelled: ['dismissed'],
      dismissed: [],
    };
    if (!(allowed[from] ?? []).includes(to))
      throw conflict(`Cannot move drone job #${job.id} from ${from} to ${to}`, { status: from });
    if (p.isAdmin) return;
    if (who.isHolder && from === 'claimed' && (to === 'done' || to === 'failed')) return;
    if (who.isRequester && (to === 'cancelled' || to === 'dismissed')) return;
    throw forbidden(NOT_AUTHORIZED);
  }

  /** The registered drones' ids, read at most once (the requeue policy of several failures asks). */
  private droneIdsOnce(): () => Promise<string[]> {
    let ids: Promise<string[]> | undefined;
    return () => {
      ids ??= dronesRepo.droneIds(this.db).then((rows) => rows.map((d) => d.id));
      return ids;
    };
  }

  /**
   * Retry / requeue policy on failure (spec 05 §5.4), added to the batch that fails the job (its row
   * before the failure): the retry job with its event, or the exhausted event and webhook. A retry
   * keeps job_type and is rendered anew.
   */
  private async addRetryPolicy(
    w: AtomicWrite,
    hooks: WebhookService,
    actor: string,
    job: DroneJobRow,
    failingDrone: string,
    droneIds: () => Promise<string[]>,
  ) {
    const input = parseObject(job.input_data);
    const originalId = Number(input._original_job_id) || job.id;
    const originalTitle = typeof input._original_title === 'string' ? input._original_title : job.title;
    if (input._no_retry) {
      w.event({
        type: 'drone_job_exhausted',
        agent: actor,
        projectId: 'drone',
        summary: `Job #${job.id} failed (no-retry flag set)`,
        data: { original_job_id: originalId, reason: '_no_retry flag set' },
      });
      return;
    }
    const retries = Number(input._retry_count) || 0;
    const requeues = Number(input._requeue_count) || 0;
    // A template job is rendered again for whichever drone claims the retry (§17.2).
    const rendered = job.job_type && job.command_argv !== '[]';
    const base = {
      command: rendered ? '' : job.command,
      requires: job.requires,
      requester: job.requester,
      requester_key: job.requester_key,
      priority: job.priority,
      workspace_repo: job.workspace_repo,
      workspace_branch: job.workspace_branch,
      profile_id: job.profile_id,
      job_type: job.job_type,
    };
    const lineage: Record<string, unknown> = { ...input, _original_job_id: originalId, _original_title: originalTitle };
    if (rendered) {
      delete lineage.setup_steps;
      delete lineage.workspace_dir;
    }
    if (retries < MAX_RETRIES) {
      const n = retries + 1;
      w.add(
        null,
        dronesRepo.insertJob({
          ...base,
          title: `${originalTitle} [retry ${n}/${MAX_RETRIES}]`,
          input_data: JSON.stringify({ ...lineage, _retry_count: n }),
        }),
      ).eventWithNewId(
        {
          type: 'drone_job_retry',
          agent: actor,
          projectId: 'drone',
          data: { original_job_id: originalId, retry_job_id: null, retry_count: n },
        },
        'retry_job_id',
        [`Job #${job.id} failed; retry ${n}/${MAX_RETRIES} queued as #`, ''],
      );
      return;
    }
    const failed = [
      ...new Set([...parseArrayValue(input._failed_drones), failingDrone].filter((x) => typeof x === 'string' && x)),
    ] as string[];
    const drones = await droneIds();
    const allFailed = drones.length === 0 || drones.every((d) => failed.includes(d));
    if (allFailed || requeues >= MAX_REQUEUES) {
      const reason = allFailed ? 'all drones exhausted' : `max requeue limit (${MAX_REQUEUES}) reached`;
      w.event({
        type: 'drone_job_exhausted',
        agent: actor,
        projectId: 'drone',
        summary: `Job #${job.id} exhausted: ${reason}`,
        data: { original_job_id: originalId, failed_drones: failed, requeue_count: requeues },
      }).add(
        null,
        jobHook(
          hooks,
          'drone_job_exhausted',
          job.requester,
          {
            job_id: job.id,
            original_job_id: originalId,
            title: originalTitle,
            failed_drones: failed,
            error: null,
            reason,
          },
          { column: 'error', jobId: job.id },
        ),
      );
      return;
    }
    const n = requeues + 1;
    w.add(
      null,
      dronesRepo.insertJob({
        ...base,
        title: `${originalTitle} [requeue ${n}/${MAX_REQUEUES}]`,
        input_data: JSON.stringify({ ...lineage, _retry_count: 0, _requeue_count: n, _failed_drones: failed }),
      }),
    ).eventWithNewId(
      {
        type: 'drone_job_requeue',
        agent: actor,
        projectId: 'drone',
        data: { original_job_id: originalId, requeue_job_id: null, failed_drone: failingDrone, requeue_count: n },
      },
      'requeue_job_id',
      [`Job #${job.id} requeued as #`, ` (${n}/${MAX_REQUEUES})`],
    );
  }

  /**
   * Fails the claims past their lease (this drone's, or all) with `error`, each through the retry
   * policy, in one batch with their events (and, for the sweep, the cleanup event). The batch is
   * refused when any of them moved since the read (progress renewed it, it finished); then the set
   * is read again. Returns the jobs released.
   */
  private async releaseStale(actor: string, error: string, opts: { droneId?: string; cleanupEvent?: boolean }) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const stale = await dronesRepo.staleJobs(this.db, STALE_BATCH, opts.droneId);
      if (!stale.length) return [];
      const hooks = new WebhookService(this.app);
      const ids = stale.map((j) => j.id);
      const w = atomicWrite(this.app)
        .add('failed', dronesRepo.failStale(ids, error))
        .abortIf('changes() <> ?', [ids.length], 'a stale claim moved meanwhile');
      const droneIds = this.droneIdsOnce();
      for (const job of stale) await this.addRetryPolicy(w, hooks, actor, job, job.drone_id ?? '', droneIds);
      if (opts.cleanupEvent)
        w.event({
          type: 'drone_stale_cleanup',
          agent: '__system__',
          projectId: 'drone',
          summary: `Auto-failed ${stale.length} stale drone jobs`,
          data: { job_ids: ids },
        });
      if (await w.commitUnlessAborted()) {
        hooks.kick();
        return stale;
      }
    }
    return [];
  }

  /** DELETE /drones/jobs/:id (admin): withdraws an unfinished job; finished history is not rewritten. */
  async cancel(p: Principal, id: number | null) {
    const job = await this.get(id);
    if (job.status !== 'cancelled') {
      if (job.status !== 'pending' && job.status !== 'claimed')
        throw conflict(`Drone job #${job.id} is already ${job.status}`, { status: job.status });
      const done = await atomicWrite(this.app)
        .add('job', dronesRepo.transition(job.id, job.status, 'cancelled', {}))
        .requireChanged('drone job moved meanwhile')
        .event({
          type: 'drone_job_cancelled',
          agent: p.who,
          projectId: 'drone',
          summary: `Cancelled drone job #${job.id} (was: ${job.status})`,
          data: { job_id: job.id },
        })
        .commitUnlessAborted();
      if (!done) throw conflict('Drone job changed meanwhile; read it again');
    }
    return { ok: true, id: job.id, cancelled: true };
  }

  /** DELETE /drones/jobs (admin): hides finished jobs; `olderThanDays` is an integer parsed by the route (SEC-42). */
  async cleanup(p: Principal, which: 'failed' | 'done' | 'both', olderThanDays: number) {
    const statuses = which === 'both' ? ['failed', 'done'] : [which];
    // The event counts the rows the UPDATE just dismissed (changes()), inside the same batch.
    const written = await atomicWrite(this.app)
      .add('jobs', dronesRepo.dismissFinished(statuses, olderThanDays))
      .eventPerRow(
        { type: 'drone_jobs_cleanup', agent: p.who, projectId: 'drone' },
        {
          summarySql: "'Cleaned up ' || changes() || ' drone jobs'",
          dataSql: "json_object('count', changes())",
          rest: '',
          args: [],
        },
      )
      .commit();
    const jobs = written.rows<{ id: number; title: string }>('jobs');
    return { ok: true, cancelled: jobs.length, dismissed: jobs.length, jobs };
  }

  /**
   * POST /drones/claim (spec 05 §5.2, REL-02, REL-17, §17.1–§17.2). Only drones claim; the
   * capabilities used are the posted ones that the drone is registered with; a paused drone or a
   * frozen instance gets nothing; incompatible template jobs are skipped, not put back at the head.
   */
  async claim(p: Principal, posted: string[]) {
    if (p.kind !== 'agent') throw forbidden('Only drone agents may claim drone jobs');
    // A hot call: the independent reads go out together (one round trip's latency over libSQL HTTP).
    const [drone, frozen] = await Promise.all([dronesRepo.drone(this.db, p.id), isFrozen(this.db)]);
    if (!drone) throw forbidden('Only drone agents may claim drone jobs');
    if (frozen) throw new AppError(503, FROZEN_MESSAGE);
    const registered = parseArray(drone.capabilities).filter((x): x is string => typeof x === 'string');
    const caps = [...new Set(registered.length ? posted.filter((c) => registered.includes(c)) : posted)];
    // Releasing this drone's stale claims and reading its candidates are independent: together.
    const [stale, pending] = await Promise.all([
      this.releaseStale(drone.id, STALE_AT_CLAIM, { droneId: drone.id }),
      drone.status === 'paused' ? Promise.resolve([]) : dronesRepo.claimCandidates(this.db, drone.id, caps, CLAIM_SCAN),
    ]);
    const stale_released = stale.length;
    if (drone.status === 'paused') return { job: null, paused: true, stale_released };
    const templates = new Map<string, TemplateRow | undefined>();
    let diagnostics: Diagnostics | null | undefined;
    let skipped: { job_id: number; reason: string } | undefined;
    let notes = 0;

    for (const job of pending) {
      let rendered: { command: string; argv: string; input_data: string } | null = null;
      if (job.job_type) {
        if (!templates.has(job.job_type)) templates.set(job.job_type, await dronesRepo.template(this.db, job.job_type));
        const tpl = templates.get(job.job_type);
        if (!tpl) {
          // Its template is gone: it can never run, so it must not block the queue (§17.2).
          await atomicWrite(this.app)
            .add('job', dronesRepo.failPending(job.id, `Template not found: ${job.job_type}`))
            .requireChanged('job no longer pending')
            .event({
              type: 'drone_job_failed',
              agent: '__system__',
              projectId: 'drone',
              summary: `Drone job #${job.id} failed: template ${job.job_type} no longer exists`,
              data: { job_id: job.id, drone_id: null },
            })
            .commitUnlessAborted();
          continue;
        }
        if (diagnostics === undefined) diagnostics = await effectiveDiagnostics(this.app, drone);
        const input = parseObject(job.input_data);
        const r = renderJobForDrone(tpl, drone.id, diagnostics, input);
        if ('error' in r) {
          skipped ??= { job_id: job.id, reason: r.error };
          if (notes++ < 5) await dronesRepo.noteSkip(this.db, job.id, `${drone.id}: ${r.error}`);
          continue;
        }
        const own = Array.isArray(input.artifacts) ? input.artifacts : [];
        const enriched = {
          ...input,
          artifacts: [...new Set([...r.artifacts, ...own])],
          setup_steps: [...r.setup_steps, ...(Array.isArray(input.setup_steps) ? input.setup_steps : [])],
          workspace_dir: r.workspace,
        };
        rendered = { command: r.command, argv: JSON.stringify(r.argv), input_data: JSON.stringify(enriched) };
      }
      // The claim and its event commit together (issue 17); a lost race writes neither.
      const won = await atomicWrite(this.app)
        .add('claim', dronesRepo.claimJob(job.id, drone.id, rendered))
        .requireChanged()
        .add('lease', dronesRepo.claimLease(job.id))
        .event({
          type: 'drone_job_claimed',
          agent: drone.id,
          projectId: 'drone',
          summary: `${drone.id} claimed drone job #${job.id}: ${job.title}`,
          data: { job_id: job.id },
        })
        .commitUnlessAborted();
      const row = won?.row<DroneJobRow>('claim');
      if (!row) {
        if (await isFrozen(this.db)) throw new AppError(503, FROZEN_MESSAGE);
        continue; // another drone won this one: try the next
      }
      return { job: row, ...droneLeaseAnswer(won!.row<{ lease_token: string }>('lease')!.lease_token), stale_released };
    }
    return skipped ? { job: null, skipped, stale_released } : { job: null, stale_released };
  }

  /**
   * The periodic sweep (spec 05 §5.5): claims past their lease fail (through the retry policy),
   * then drones silent for longer than the patrol threshold are marked offline.
   */
  async sweep() {
    const stale = await this.releaseStale('__system__', STALE_BY_SERVER, { cleanupEvent: true });
    const raw = await configRepo.value(this.db, 'patrol_stale_drone_minutes');
    const minutes = raw && /^\d{1,6}$/.test(raw.trim()) && Number(raw) >= 1 ? Number(raw) : 30;
    const silent = await dronesRepo.silentDrones(this.db, minutes);
    let offline = 0;
    if (silent.length) {
      // Each drone's move and its event together; a drone whose heartbeat arrived since the read
      // (or that another pass marked first) changes nothing and gets no event.
      const now = this.app.clock.now().getTime();
      const w = atomicWrite(this.app);
      for (const d of silent) {
        const since = d.last_heartbeat ? Math.floor((now - parseDbTime(d.last_heartbeat)) / 60_000) : null;
        w.add(null, dronesRepo.markOffline(d.id, minutes)).eventIfChanged({
          type: 'drone_offline_detected',
          agent: '__system__',
          projectId: 'drone',
          summary: `Drone ${d.id} marked offline (no heartbeat)`,
          data: { drone_id: d.id, minutes_since_heartbeat: since },
        });
      }
      offline = (await w.commit()).events.length;
    }
    return { stale_failed: stale.length, drones_offline: offline };
  }
}

function parseArrayValue(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A job's `requires`; unreadable → ["cpu"] (spec 05 §5.2). */
export function requiresOf(text: string): string[] {
  try {
    const v = JSON.parse(text);
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  } catch {
    /* fall through */
  }
  return ['cpu'];
}

/** `agents.system_diagnostics` when it is a non-empty object, else the latest savepoint's system_info (§1.1). */
export async function effectiveDiagnostics(
  app: AppContext,
  drone: Pick<DroneAgentRow, 'id' | 'system_diagnostics'>,
): Promise<Diagnostics | null> {
  const own = parseObject(drone.system_diagnostics);
  if (Object.keys(own).length) return own as Diagnostics;
  const [snap] = await dronesRepo.latestSnapshots(app.db, [drone.id]);
  const info = snap ? parseObject(snap.state_snapshot).system_info : undefined;
  return info && typeof info === 'object' && !Array.isArray(info) && Object.keys(info).length
    ? (info as Diagnostics)
    : null;
}
