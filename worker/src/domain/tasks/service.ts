import { displayName } from '../../auth/who.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { SqlValue, Statement } from '../../db/types.js';
import { assertProjectScope, actingIdentity, outOfScope, projectScopeSql } from '../../auth/scope.js';
import { AppError, badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import { FROZEN_MESSAGE, isFrozen } from '../admin/freeze.js';
import type { EventInput } from '../events/bus.js';
import { atomicWrite, type AtomicWrite } from '../events/write.js';
import { plansRepo } from '../plans/repo.js';
import { WebhookService } from '../webhooks/service.js';
import { appendSleepLog } from '../admin/sleep.js';
import { tasksRepo, type TaskRow, type TaskStatus, type WritableTaskColumn } from './repo.js';
import { acquireGuard, creditCompletion, lostAcquisition } from '../work-items/sql.js';
import { resolveAssignee } from '../work-items/assignee.js';
import { isBatchAbort } from '../../db/batch-abort.js';
import { assertLeaseHeld, leaseAnswer, leaseLost } from '../work-items/lease.js';
import { SqlTexts } from '../../db/sql-texts.js';

/**
 * Tasks: create, update with the done-cascade, claim, approval, dependencies, comments,
 * deliverables (spec 03 §3–§4 with the fixes of §15 and spec 07).
 *
 * Entry points for other areas (the work queue / auto-dispatch / requests engineer):
 *  - `createTask(ctx, principal, input)` — creates a task exactly as POST /tasks does (scope
 *    check, assignee resolution, dependencies, `task_created` event). Pass `request_id` to link a
 *    request message: completing the task then resolves it in the done-cascade (W12).
 *  - `claimTaskFor(ctx, taskId, agentId, mode)` — one atomic compare-and-set, never throws for a
 *    lost race: returns `{ok:true, task}` or `{ok:false, reason, task?}`.
 *      mode 'claim'  (default): open+unassigned (or already the agent's) → in_progress for the agent;
 *      mode 'assign': auto-dispatch — open, unassigned → assignee = agent, status stays open.
 *    Both refuse while the kill switch is on (reason 'frozen', checked inside the same UPDATE),
 *    tasks with open blockers ('blocked') and unapproved tasks ('needs_approval').
 *    No project-scope check: the caller decides which tasks an agent may be offered.
 *  - `setAutoDispatcher(ctx, fn)` — registers the auto-dispatch pass run after a task is done
 *    (trigger `task_completed:#<id>`); its records appear as `auto_dispatched` in the PUT response.
 *  - Readiness SQL for queues: `taskReadySql`, `taskPriorityRankSql` in ./repo.ts,
 *    `stepReadySql` in ../plans/repo.ts.
 */

export interface DispatchRecord {
  agent: string;
  type: 'task' | 'plan_step';
  id: number;
  title: string;
}
export type AutoDispatcher = (trigger: string) => Promise<DispatchRecord[]>;
const dispatchers = new WeakMap<AppContext, AutoDispatcher>();

export function setAutoDispatcher(ctx: AppContext, fn: AutoDispatcher): void {
  dispatchers.set(ctx, fn);
}

export interface CreateTaskInput {
  title: string;
  description?: string;
  project_id?: string;
  priority?: string;
  tags?: unknown;
  assignee?: string | null;
  needs_approval?: boolean;
  blocked_by?: number[];
  request_id?: number | null;
  linked_asset_id?: number | null;
}

export type ClaimMode = 'claim' | 'assign';
export type ClaimFailure =
  | 'not_found'
  | 'frozen'
  | 'held'
  | 'terminal'
  | 'needs_approval'
  | 'blocked'
  | 'not_claimable';
export type ClaimResult = { ok: true; task: TaskRow } | { ok: false; reason: ClaimFailure; task?: TaskRow };

/** The fields of a task that explain a lost claim (what `tasksRepo.claimFacts` reads). */
type ClaimFacts = Pick<TaskRow, 'status' | 'assignee' | 'project_id' | 'needs_approval' | 'approved_by'>;

const TERMINAL: readonly string[] = ['done', 'cancelled'];
const WORKING: readonly string[] = ['in_progress', 'review', 'done'];

export function parseIdList(json: string): number[] {
  try {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v.map(Number).filter((n) => Number.isInteger(n) && n > 0) : [];
  } catch {
    return [];
  }
}

/** Blockers must exist and must not close a loop; checked before anything is written. */
async function checkNewBlockers(ctx: AppContext, taskId: number | null, blockers: number[]): Promise<number[]> {
  const ids = [...new Set(blockers)].filter((b) => b !== taskId);
  const found = await tasksRepo.existingIds(ctx.db, ids);
  const missing = ids.filter((b) => !found.includes(b));
  if (missing.length) throw badRequest(`blocked_by: task ${missing[0]} not found`);
  if (taskId !== null) {
    for (const b of ids) {
      if (await tasksRepo.wouldCycle(ctx.db, taskId, b)) throw badRequest('Dependency would create a cycle');
    }
  }
  return ids;
}

export async function getTask(ctx: AppContext, id: number | null): Promise<TaskRow> {
  const t = id === null ? undefined : await tasksRepo.get(ctx.db, id);
  if (!t) throw notFound('Task not found');
  return t;
}

export async function createTask(ctx: AppContext, p: Principal, input: CreateTaskInput): Promise<TaskRow> {
  const w = atomicWrite(ctx);
  await addTaskCreate(ctx, p, input, w);
  return (await w.commit()).row<TaskRow>('task')!;
}

/**
 * Checks a new task (scope, blockers, assignee), then adds its insert (step 'task'), its
 * blockers' links and its task_created event to `w`, for a caller that commits the task together
 * with rows of its own (e.g. an A2A inbound task). The task is the last `tasks` row `w` inserts.
 */
export async function addTaskCreate(
  ctx: AppContext,
  p: Principal,
  input: CreateTaskInput,
  w: AtomicWrite,
): Promise<void> {
  const projectId = input.project_id ?? '';
  // Agents create only in their own or their team's projects (spec README, SEC-19).
  await assertProjectScope(ctx.db, p, projectId);
  const blockers = await checkNewBlockers(ctx, null, input.blocked_by ?? []);
  const assignee = await resolveAssignee(ctx, input.assignee);
  w.add(
    'task',
    tasksRepo.insert({
      title: input.title,
      description: input.description ?? '',
      project_id: projectId,
      requester: p.who,
      assignee,
      priority: input.priority ?? 'normal',
      tags: input.tags === undefined || input.tags === null ? '[]' : JSON.stringify(input.tags),
      needs_approval: input.needs_approval ? 1 : 0,
      blocked_by: blockers,
      request_id: input.request_id ?? null,
      linked_asset_id: input.linked_asset_id ?? null,
    }),
  );
  if (blockers.length) w.add(null, tasksRepo.addNewTaskToBlockers(blockers));
  // The event row commits with the task (issue 17: a crash between the two left tasks without
  // task_created). Its data names the id the insert just got, read inside the same batch.
  const who = p.who;
  const ev: EventInput = {
    type: 'task_created',
    agent: who,
    projectId,
    summary: `${displayName(who)} created task: ${input.title}`,
    data: input.request_id ? { task_id: 0, message_id: input.request_id } : { task_id: 0 },
  };
  w.eventWithNewId(ev, 'task_id');
}

export async function claimTaskFor(
  ctx: AppContext,
  taskId: number,
  agentId: string,
  mode: ClaimMode = 'claim',
  event?: EventInput,
): Promise<ClaimResult> {
  const won = await runClaim(ctx, tasksRepo.claim(taskId, agentId, mode), event);
  if (won) return { ok: true, task: won };
  return { ok: false, ...(await explainLostClaim(ctx, taskId, agentId, mode)) };
}

/**
 * The claim's compare-and-set; with an event, the event row is written in the same batch, after a
 * guard that aborts it when the claim matched nothing (so a lost claim records nothing and a won
 * claim never lacks its event, issue 17). Still one round trip. Null when the claim was lost.
 */
async function runClaim(ctx: AppContext, claim: Statement, event: EventInput | undefined): Promise<TaskRow | null> {
  if (!event) return ((await ctx.db.execute(claim.sql, claim.args)).rows[0] as unknown as TaskRow | undefined) ?? null;
  const res = await atomicWrite(ctx).add('claim', claim).requireChanged().event(event).commitUnlessAborted();
  return res?.row<TaskRow>('claim') ?? null;
}

/** Why a claim's compare-and-set matched nothing (read after the fact, for the error only). */
async function explainLostClaim(
  ctx: AppContext,
  taskId: number,
  agentId: string,
  mode: ClaimMode | 'force',
): Promise<{ reason: ClaimFailure; task?: TaskRow }> {
  const task = await tasksRepo.get(ctx.db, taskId);
  if (!task) return { reason: 'not_found' };
  if (await isFrozen(ctx.db)) return { reason: 'frozen', task };
  const reason = lostClaimReason(task, agentId, mode, null);
  if (reason !== 'blocked_unknown') return { reason, task };
  if ((await tasksRepo.openBlockers(ctx.db, taskId)).length) return { reason: 'blocked', task };
  return { reason: 'not_claimable', task };
}

/**
 * Why a claim of an existing, unfrozen task lost, from the task as it was. `blockers` are its open
 * blockers when known; with null, 'blocked_unknown' means "blocked if it has open blockers".
 */
function lostClaimReason(
  task: ClaimFacts,
  agentId: string,
  mode: ClaimMode | 'force',
  blockers: number[] | null,
): ClaimFailure | 'blocked_unknown' {
  if (TERMINAL.includes(task.status)) return 'terminal';
  if (task.assignee && task.assignee !== agentId) return 'held';
  if (mode === 'force') return 'not_claimable';
  if (task.needs_approval && !task.approved_by) return 'needs_approval';
  if (blockers === null) return 'blocked_unknown';
  return blockers.length ? 'blocked' : 'not_claimable';
}

async function claimError(
  ctx: AppContext,
  taskId: number,
  reason: ClaimFailure | 'blocked_unknown',
  task?: ClaimFacts,
  knownBlockers?: number[],
): Promise<AppError> {
  switch (reason) {
    case 'not_found':
      return notFound('Task not found');
    case 'frozen':
      return new AppError(503, FROZEN_MESSAGE);
    case 'held':
      return conflict('Task already claimed', { assignee: task?.assignee ?? null });
    case 'terminal':
      return conflict(`Task is ${task?.status}`, { assignee: task?.assignee ?? null, status: task?.status });
    case 'needs_approval':
      return conflict('Task requires approval before work can start', { assignee: task?.assignee ?? null });
    case 'blocked':
      return conflict('Task is blocked by unfinished tasks', {
        assignee: task?.assignee ?? null,
        blocked_by: knownBlockers ?? (await tasksRepo.openBlockers(ctx.db, taskId)),
      });
    default:
      return conflict(task?.status === 'review' ? 'Task is in review' : `Task is ${task?.status ?? 'not claimable'}`, {
        assignee: task?.assignee ?? null,
        status: task?.status,
      });
  }
}

/** The claim event's FROM/WHERE: the claim's compare-and-set condition, minus renewals; once per shape. */
const claimEventRests = new SqlTexts();
function claimEventRest(mode: ClaimMode | 'force', whereSql: string, scopeSql: string): string {
  // Keyed by the mode, not the condition's text: the mode fixes that text (tasksRepo.claimWhere),
  // so only the short scope text is hashed per call.
  return claimEventRests.get(
    `${mode}\n${scopeSql}`,
    () =>
      `FROM tasks WHERE ${whereSql} AND ${scopeSql} AND NOT (status = 'in_progress' AND COALESCE(assignee, '') = ?)`,
  );
}

/**
 * POST /tasks/:id/claim (spec 03 §3.6 HEAD + W1, spec 07 SEC-13, REL-03). The assignee is the
 * caller; only an admin may name `agent_id`, and only an admin with `force:true` takes a task
 * over from someone else.
 *
 * One batch, one round trip (issue 11): the `task_claimed` event row, written only if the claim
 * below wins and is not a renewal; the claim's compare-and-set, which re-checks scope, kill switch,
 * blockers and approval itself; then, only if that matched nothing, the facts a refusal names (the
 * task as it was, kill switch, project scope, open blockers). The three read the same state inside
 * one transaction, so they agree; a lost claim is explained from the facts, with no read after it,
 * and a won claim (the common case) does not read them at all.
 */
export async function claimTask(
  ctx: AppContext,
  p: Principal,
  taskId: number | null,
  body: { agent_id?: string; force?: boolean },
) {
  if (taskId === null) throw notFound('Task not found');
  const agentId = p.isAdmin && body.agent_id ? ((await resolveAssignee(ctx, body.agent_id)) ?? body.agent_id) : p.who;
  const mode = p.isAdmin && body.force ? 'force' : 'claim';
  const who = p.who;
  const factScope = projectScopeSql(p, 't.project_id', 't.assignee');
  const scope = projectScopeSql(p, 'tasks.project_id', 'tasks.assignee');
  const where = tasksRepo.claimWhere(taskId, agentId, mode);
  // A repeated claim by the holder is an idempotent 200 (it renews the lease) and not a new event.
  // Summary and data are known here, so the row hands back only its id and project (the bus does
  // not read them back and parse them again).
  const event = {
    type: 'task_claimed',
    agent: who,
    summary: `${displayName(who)} claimed task #${taskId}`,
    data: { task_id: taskId, agent: agentId },
  };
  // Nothing is published when the claim lost: the event matched no row.
  const res = await atomicWrite(ctx)
    .eventForRows(event, {
      projectSql: 'project_id',
      rest: claimEventRest(mode, where.sql, scope.sql),
      args: [...where.args, ...scope.args, agentId],
      single: true, // the task by its id
    })
    // The answer needs only the lease token of the row the claim wrote.
    .add('claim', tasksRepo.claim(taskId, agentId, mode, scope, 'lease_token'))
    .add('facts', tasksRepo.claimFacts(taskId, factScope, true))
    .commit();
  const won = res.row<Pick<TaskRow, 'lease_token'>>('claim');
  if (!won) {
    const facts = res.row<ClaimFacts & { claim_frozen: number; claim_in_scope: number; claim_blockers: string }>(
      'facts',
    );
    if (!facts) throw notFound('Task not found');
    if (!Number(facts.claim_in_scope)) throw outOfScope(p, facts.project_id);
    if (Number(facts.claim_frozen)) throw new AppError(503, FROZEN_MESSAGE);
    const blockers = parseIdList(facts.claim_blockers);
    const reason = lostClaimReason(facts, agentId, mode, blockers);
    throw await claimError(ctx, taskId, reason, facts, blockers);
  }
  return {
    ok: true,
    id: taskId,
    assignee: agentId,
    status: 'in_progress' as const,
    ...leaseAnswer(ctx, won.lease_token),
  };
}

export interface UpdateTaskInput {
  title?: string;
  description?: string;
  status?: TaskStatus;
  assignee?: string | null;
  priority?: string;
  tags?: unknown;
  needs_approval?: boolean;
  branch?: string | null;
  pr_url?: string | null;
  repo?: string | null;
  review_metadata?: unknown;
  blocked_by?: number[];
  /** The claim's fencing token; when given, the write happens only while the task still carries it. */
  lease_token?: string;
}

interface CascadeOutcome {
  unblocked: number[];
  steps: number;
  plans: number[];
  assetId: number | null;
  requestId: number | null;
}

/**
 * PUT /tasks/:id (spec 03 §3.5) with the done-cascade (§4.3, spec 07 REL-01): the field update,
 * new dependency edges and, for `done`, unblocking, linked asset, linked steps and plans and the
 * linked request all commit in ONE batch; events and dispatch follow the commit.
 */
export async function updateTask(ctx: AppContext, p: Principal, taskId: number | null, input: UpdateTaskInput) {
  const task = await getTask(ctx, taskId);
  await assertProjectScope(ctx.db, p, task.project_id, { assignee: task.assignee });
  assertLeaseHeld('task', task, input.lease_token);
  const who = p.who;

  const fields: Partial<Record<WritableTaskColumn, SqlValue>> = {};
  if (input.title !== undefined) fields.title = input.title;
  if (input.description !== undefined) fields.description = input.description;
  if (input.status !== undefined) fields.status = input.status;
  if (input.priority !== undefined) fields.priority = input.priority;
  if (input.tags !== undefined) fields.tags = input.tags === null ? '[]' : JSON.stringify(input.tags);
  if (input.branch !== undefined) fields.branch = input.branch;
  if (input.pr_url !== undefined) fields.pr_url = input.pr_url;
  if (input.repo !== undefined) fields.repo = input.repo;
  if (input.review_metadata !== undefined) {
    fields.review_metadata =
      typeof input.review_metadata === 'string' ? input.review_metadata : JSON.stringify(input.review_metadata ?? {});
  }
  if (input.needs_approval !== undefined) {
    const wanted = input.needs_approval ? 1 : 0;
    // Approval is a human gate: only admins move it (spec 03 W3).
    if (wanted !== Number(task.needs_approval) && !p.isAdmin)
      throw forbidden('Only an admin can change needs_approval');
    fields.needs_approval = wanted;
  }
  if (input.assignee !== undefined) fields.assignee = await resolveAssignee(ctx, input.assignee);

  // A PUT that assigns or starts work obeys the claim rule and the kill switch, inside its compare-and-set.
  const guard = acquireGuard(p, task, {
    assignee: fields.assignee,
    startsWork: input.status === 'in_progress' && task.status !== 'in_progress',
    leaseToken: input.lease_token,
  });
  // needs_approval is enforced, not advisory: agents start or finish an unapproved task only after approval.
  const approvalPending = (fields.needs_approval ?? Number(task.needs_approval)) === 1 && !task.approved_by;
  if (
    p.kind === 'agent' &&
    approvalPending &&
    input.status &&
    WORKING.includes(input.status) &&
    input.status !== task.status
  ) {
    throw conflict('Task requires approval before work can start', { assignee: task.assignee });
  }
  const newBlockers = input.blocked_by ? await checkNewBlockers(ctx, task.id, input.blocked_by) : [];
  if (input.status && isSuspect(task.status, input.status)) {
    ctx.log.warn('suspect task transition', { task_id: task.id, from: task.status, to: input.status, by: who });
  }

  const w = atomicWrite(ctx);
  w.add('update', tasksRepo.update(task.id, fields, { status: task.status, assignee: task.assignee }, guard));
  w.requireChanged();
  for (const b of newBlockers) w.addAll(tasksRepo.addDependency(task.id, b));

  const done = input.status === 'done';
  const hasAssets = done && task.linked_asset_id !== null;
  // The cascade's events are rows of the same batch (issue 17): each derived from the state at its
  // place in the batch, so a dependent, step, plan or request is reported exactly when it changed.
  const pj = task.project_id;
  const cascadeEv = (type: string) => ({ type, agent: who, projectId: pj });
  if (done) {
    w.eventPerRow(cascadeEv('task_unblocked'), tasksRepo.cascade.unblockedEvents(task.id));
    w.add('unblock', tasksRepo.cascade.unblockDependents(task.id));
    if (hasAssets) {
      w.add('asset', tasksRepo.cascade.deliverAsset(task.id));
      w.eventIfChanged({
        ...cascadeEv('asset_delivered'),
        summary: `Asset #${task.linked_asset_id} delivered by task #${task.id}`,
        data: { asset_id: task.linked_asset_id, task_id: task.id },
      });
    }
    w.add('steps', plansRepo.cascade.completeLinkedSteps(task.id));
    w.eventPerRow(cascadeEv('plan_step_completed'), {
      summarySql: "changes() || ' plan step(s) completed by task #' || CAST(? AS INTEGER)",
      dataSql: "json_object('task_id', CAST(? AS INTEGER), 'steps', changes())",
      rest: 'WHERE changes() > 0',
      args: [task.id, task.id],
    });
    w.add(null, plansRepo.cascade.touchLinkedPlans(task.id));
    w.eventPerRow(cascadeEv('plan_completed'), plansRepo.cascade.completedPlanEvents(task.id));
    w.add('plans', plansRepo.cascade.completeLinkedPlans(task.id));
    if (task.request_id !== null) {
      w.add('request', tasksRepo.cascade.resolveRequest(task.id, who));
      w.eventIfChanged({
        ...cascadeEv('request_resolved'),
        summary: `Request #${task.request_id} resolved by completion of task #${task.id}`,
        data: { message_id: task.request_id, task_id: task.id },
      });
    }
    // Counted once per transition into done, for the agent who did the work (W25).
    if (task.status !== 'done')
      w.add(null, creditCompletion(String(fields.assignee || task.assignee || who), 'total_tasks_completed'));
  }
  const statusEvent: EventInput | null = input.status
    ? {
        type: `task_${input.status}`,
        agent: who,
        projectId: task.project_id,
        summary: `${displayName(who)} set task #${task.id} to ${input.status}`,
        data: { task_id: task.id },
      }
    : null;
  if (statusEvent) w.event(statusEvent);
  // Webhook `task_assigned` to the new assignee (else the current one) on an assignee or status
  // change (§3.5 step 3); its outbox row commits with the update.
  const hooks = new WebhookService(ctx);
  const target = (input.assignee ? (fields.assignee as string | null) : null) || task.assignee;
  if ((input.assignee || input.status) && target) {
    w.add(
      null,
      hooks.enqueueStatement('task_assigned', target, {
        task_id: task.id,
        title: input.title ?? task.title,
        status: input.status ?? task.status,
      }),
    );
  }

  // Events are published after the commit, in the order the cascade happened (the status event last).
  let results;
  try {
    results = await w.commit();
  } catch (err) {
    if (isBatchAbort(err)) {
      const now = await tasksRepo.get(ctx.db, task.id);
      if (!now) throw notFound('Task not found');
      // Refused as a claim would be: frozen (503) or held by someone else (409 {error, assignee}).
      const lost = await lostAcquisition(ctx.db, guard, now);
      if (lost === 'lease') throw leaseLost('task', now);
      if (lost) throw await claimError(ctx, task.id, lost, now);
      if (newBlockers.length && now.status === task.status && (now.assignee ?? '') === (task.assignee ?? '')) {
        throw badRequest('Dependency would create a cycle');
      }
      // Lost a race: most often another agent claimed it first — answer as a claim would.
      if (
        now.assignee &&
        now.assignee !== ((fields.assignee as string | null | undefined) ?? task.assignee) &&
        ['in_progress', 'review'].includes(now.status)
      ) {
        throw await claimError(ctx, task.id, 'held', now);
      }
      throw conflict('Task was changed by someone else; read it again and retry', {
        assignee: now.assignee,
        status: now.status,
      });
    }
    // Nothing of the update or the cascade was committed (spec 07 REL-01); details stay in the log (SEC-54).
    ctx.log.error('task update failed', { task_id: task.id, error: (err as Error).message });
    throw new AppError(500, done ? 'Failed to complete task cascade' : 'Internal server error');
  }

  const response: Record<string, unknown> = { ok: true, id: task.id };
  if (newBlockers.length) response.blocked_by = newBlockers;
  if (done) {
    const outcome: CascadeOutcome = {
      unblocked: results
        .rows('unblock')
        .filter((r) => Number(r.ready) === 1)
        .map((r) => Number(r.id)),
      steps: results.rows('steps').length,
      plans: results.rows('plans').map((r) => Number(r.id)),
      assetId: results.row('asset') ? Number(results.row('asset')!.id) : null,
      requestId: results.row('request') ? Number(results.row('request')!.id) : null,
    };
    response.unblocked = outcome.unblocked;
    if (outcome.steps > 0) response.plan_steps_completed = outcome.steps;
    if (outcome.plans.length) response.plans_completed = outcome.plans;
  }
  if (done) {
    // Sleep-mode record of finished work (spec 01 §5.3); a no-op unless sleep mode is on.
    await appendSleepLog(ctx, 'tasks_completed', [
      { id: task.id, title: input.title ?? task.title, agent: who, time: ctx.clock.now().toISOString() },
    ]).catch((err) => ctx.log.warn('sleep log append failed', { task_id: task.id, error: (err as Error).message }));
    const dispatch = dispatchers.get(ctx);
    if (dispatch && !(await isFrozen(ctx.db))) {
      try {
        const records = await dispatch(`task_completed:#${task.id}`);
        if (records.length) response.auto_dispatched = records;
      } catch (err) {
        ctx.log.warn('auto-dispatch after task completion failed', { task_id: task.id, error: (err as Error).message });
      }
    }
  }
  hooks.kick();
  return response;
}

/** Re-opening a terminal state is allowed but logged (spec 07 REL-22). */
function isSuspect(from: string, to: string): boolean {
  return from === 'done' && (to === 'open' || to === 'in_progress');
}

/** POST /tasks/:id/dependency — "task :id waits for blocked_by", cycles refused (W2). */
export async function addDependency(ctx: AppContext, p: Principal, taskId: number | null, blockerId: number) {
  if (taskId !== null && taskId === blockerId) throw badRequest('A task cannot block itself');
  const task = taskId === null ? undefined : await tasksRepo.get(ctx.db, taskId);
  const blocker = await tasksRepo.get(ctx.db, blockerId);
  if (!task || !blocker) throw notFound('One or both tasks not found');
  // Linking is a write on both tasks: the caller must be in scope of each (W20, SEC-19).
  await assertProjectScope(ctx.db, p, task.project_id, { assignee: task.assignee });
  await assertProjectScope(ctx.db, p, blocker.project_id, { assignee: blocker.assignee });
  if (await tasksRepo.wouldCycle(ctx.db, task.id, blocker.id)) throw badRequest('Dependency would create a cycle');
  const who = p.who;
  const ev: EventInput = {
    type: 'task_dependency',
    agent: who,
    projectId: null,
    summary: `Task #${task.id} now blocked by #${blocker.id}`,
    data: { task_id: task.id, blocked_by: blocker.id },
  };
  const added = await atomicWrite(ctx)
    .addAll(tasksRepo.addDependency(task.id, blocker.id))
    .event(ev)
    .commitUnlessAborted();
  if (!added) throw badRequest('Dependency would create a cycle');
  return { ok: true, task: task.id, blocked_by: blocker.id };
}

/** The approver is the real identity (W3): the operator, or the admin key's X-Acting-As, else `__admin__`. */
function approverOf(p: Principal): string {
  if (p.kind === 'admin') return p.actingAs ?? '__admin__';
  return p.who;
}

export async function approveTask(ctx: AppContext, p: Principal, taskId: number | null) {
  const task = await getTask(ctx, taskId);
  if (!task.needs_approval) throw badRequest('Task does not require approval');
  if (task.approved_by) throw badRequest(`Task already approved by ${task.approved_by}`);
  const approver = approverOf(p);
  const ev: EventInput = {
    type: 'task_approved',
    agent: approver,
    projectId: task.project_id,
    summary: `${displayName(approver)} approved task #${task.id}: ${task.title}`,
    data: { task_id: task.id },
  };
  const approved = await atomicWrite(ctx)
    .add(null, tasksRepo.approve(task.id, approver))
    .requireChanged()
    .event(ev)
    .commitUnlessAborted();
  if (!approved) {
    const now = await getTask(ctx, task.id);
    throw badRequest(
      now.approved_by ? `Task already approved by ${now.approved_by}` : 'Task does not require approval',
    );
  }
  return { ok: true, id: task.id, approved: true };
}

export async function deleteTask(ctx: AppContext, p: Principal, taskId: number | null) {
  const task = await getTask(ctx, taskId);
  const ev: EventInput = {
    type: 'task_deleted',
    agent: '__system__',
    projectId: task.project_id,
    summary: `Task #${task.id} deleted by ${displayName(p.who)}`,
    data: {},
  };
  // The DELETE is the repo's last statement; a task deleted concurrently records no event.
  const deleted = await atomicWrite(ctx)
    .addAll(tasksRepo.deleteStatements(task.id))
    .requireChanged()
    .event(ev)
    .commitUnlessAborted();
  if (!deleted) throw notFound('Task not found');
  return { ok: true, id: task.id };
}

// --- comments and deliverables ---

export async function addComment(
  ctx: AppContext,
  p: Principal,
  taskId: number | null,
  content: string,
  author: unknown,
) {
  const task = await getTask(ctx, taskId);
  await assertProjectScope(ctx.db, p, task.project_id, { assignee: task.assignee });
  const by = actingIdentity(p, author); // body author only for admins (SEC-12)
  const who = p.who;
  // The comment and its event commit together; comment_id is the id the insert just got.
  const ev: EventInput = {
    type: 'task_comment',
    agent: who,
    projectId: task.project_id,
    summary: `${displayName(who)} commented on task #${task.id}`,
    data: { task_id: task.id, comment_id: 0 },
  };
  const res = await atomicWrite(ctx)
    .add('comment', tasksRepo.insertComment(task.id, by, content))
    .eventWithNewId(ev, 'comment_id')
    .commit();
  return res.row('comment')!;
}

export async function deleteComment(ctx: AppContext, p: Principal, taskId: number | null, commentId: number | null) {
  const task = await getTask(ctx, taskId);
  await assertProjectScope(ctx.db, p, task.project_id);
  const comment = commentId === null ? undefined : await tasksRepo.comment(ctx.db, commentId);
  // The comment must belong to this task (spec 07 SEC-18).
  if (!comment || comment.task_id !== task.id) throw notFound('Comment not found');
  if (!p.isAdmin && comment.author !== p.who) throw forbidden('Can only delete your own comments');
  const s = tasksRepo.deleteComment(task.id, comment.id);
  await ctx.db.execute(s.sql, s.args);
  return { ok: true, deleted: comment.id };
}

export async function addDeliverable(
  ctx: AppContext,
  p: Principal,
  taskId: number | null,
  d: { content: string; kind?: string; format?: string; flags?: string; author?: unknown },
) {
  const task = await getTask(ctx, taskId);
  await assertProjectScope(ctx.db, p, task.project_id, { assignee: task.assignee });
  const kind = d.kind ?? 'report';
  const s = tasksRepo.insertDeliverable({
    task_id: task.id,
    author: actingIdentity(p, d.author),
    kind,
    format: d.format ?? 'markdown',
    content: d.content,
    flags: d.flags ?? '',
  });
  const who = p.who;
  // The deliverable and its event commit together; deliverable_id is the id the insert just got.
  const ev: EventInput = {
    type: 'task_deliverable',
    agent: who,
    projectId: task.project_id,
    summary: `${displayName(who)} delivered ${kind} for task #${task.id}`,
    data: { task_id: task.id, deliverable_id: 0, kind },
  };
  const res = await atomicWrite(ctx).add('deliverable', s).eventWithNewId(ev, 'deliverable_id').commit();
  return res.row('deliverable')!;
}
