import { displayName } from '../../auth/who.js';
import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { SqlValue, Statement } from '../../db/types.js';
import { assertProjectScope, actingIdentity } from '../../auth/scope.js';
import { badRequest, conflict, forbidden, notFound, unavailable } from '../../http/errors.js';
import type { EventInput } from '../events/bus.js';
import { checkApprovalGate } from '../approvals/gate.js';
import { appendSleepLog } from '../admin/sleep.js';
import { resolveAssignee } from '../work-items/assignee.js';
import { tasksRepo } from '../tasks/repo.js';
import { inboxRepo } from '../inbox/repo.js';
import { FROZEN_MESSAGE } from '../admin/freeze.js';
import { acquireGuard, lostAcquisition } from '../work-items/sql.js';
import { assertLeaseHeld, leaseLost } from '../work-items/lease.js';
import {
  OPERATOR_INPUT,
  RETRY_MAX,
  plansRepo,
  type PlanFilters,
  type PlanRow,
  type StepRow,
  type WritablePlanColumn,
  type WritableStepColumn,
} from './repo.js';

/**
 * Plans and steps (spec 03 §5): CRUD, reorder, step comments, sequential readiness, and the
 * bounded self-heal loop — a failed step reopens the phase it verifies up to RETRY_MAX times,
 * then the plan is `blocked` and every active operator gets an inbox item. Steps are always
 * reached through their own plan (spec 07 SEC-18).
 */

export interface StepInput {
  title: string;
  description?: string;
  phase?: string;
  assignee?: string | null;
}

export interface CreatePlanInput {
  title: string;
  description?: string;
  project_id?: string;
  owner?: string;
  priority?: string;
  tags?: unknown;
  steps?: StepInput[];
  approval_id?: unknown;
}

function progressOf(steps: { status: string }[]) {
  const total = steps.length;
  const completed = steps.filter((s) => s.status === 'completed').length;
  return { total, completed, percent: total ? Math.round((completed / total) * 100) : 0 };
}

function currentStep(steps: { status: string; title: string }[]): string | null {
  return (
    steps.find((s) => s.status === 'in_progress')?.title ?? steps.find((s) => s.status === 'pending')?.title ?? null
  );
}

export async function requirePlan(ctx: AppContext, id: number | null): Promise<PlanRow> {
  const plan = id === null ? undefined : await plansRepo.get(ctx.db, id);
  if (!plan) throw notFound('Plan not found');
  return plan;
}

/** 404 for a missing plan, then for a step that is not in it (before any body validation). */
export async function requirePlanStep(ctx: AppContext, planId: number | null, stepId: number | null) {
  return requireStep(ctx, await requirePlan(ctx, planId), stepId);
}

async function requireStep(
  ctx: AppContext,
  plan: PlanRow,
  stepId: number | null,
  message = 'Plan step not found',
): Promise<StepRow> {
  const step = stepId === null ? undefined : await plansRepo.step(ctx.db, plan.id, stepId);
  if (!step) throw notFound(message);
  return step;
}

export async function listPlans(ctx: AppContext, f: PlanFilters, limit: number, offset: number) {
  const plans = await plansRepo.list(ctx.db, f, limit, offset);
  const steps = await plansRepo.stepSummaries(
    ctx.db,
    plans.map((p) => p.id),
  );
  return plans.map((plan) => {
    const own = steps.filter((s) => s.plan_id === plan.id);
    return { ...plan, steps: own, step_count: own.length, progress: progressOf(own), current_step: currentStep(own) };
  });
}

export async function getPlan(ctx: AppContext, id: number | null) {
  const plan = await requirePlan(ctx, id);
  const [steps, comments] = await Promise.all([
    plansRepo.steps(ctx.db, plan.id),
    plansRepo.commentsOfPlan(ctx.db, plan.id),
  ]);
  return {
    ...plan,
    steps: steps.map((s) => ({ ...s, comments: comments.filter((c) => c.step_id === s.id) })),
    progress: progressOf(steps),
  };
}

export async function createPlan(ctx: AppContext, p: Principal, input: CreatePlanInput) {
  const projectId = input.project_id ?? '';
  await assertProjectScope(ctx.db, p, projectId); // creates only in own/team projects (W20)
  const steps = input.steps ?? [];
  const resolved = await Promise.all(steps.map((s) => resolveAssignee(ctx, s.assignee)));
  const gate = await checkApprovalGate(ctx, p, 'plan_create', input.approval_id, { kind: 'plan', id: input.title });
  const who = p.who;
  const ev: EventInput = {
    type: 'plan_created',
    agent: who,
    projectId,
    summary: `${displayName(who)} created plan: ${input.title}`,
    // The webhook of the same name carries these fields (spec 03 §14); the bus forwards event data.
    data: { plan_id: 0, title: input.title, project_id: projectId, owner: input.owner ?? '' },
  };
  const w = atomicWrite(ctx).add(
    'plan',
    plansRepo.insertPlan({
      title: input.title,
      description: input.description ?? '',
      project_id: projectId,
      owner: input.owner ?? '',
      priority: input.priority ?? 'normal',
      tags: input.tags === undefined || input.tags === null ? '[]' : JSON.stringify(input.tags),
      created_by: who,
    }),
  );
  // Right after the plan's insert, so its plan_id is that row's id; the plan, its steps and the event commit together.
  w.eventWithNewId(ev, 'plan_id');
  w.addAll(
    steps.map((s, i) =>
      plansRepo.insertStepOfNewPlan(
        { title: s.title, description: s.description ?? '', phase: s.phase ?? '', assignee: resolved[i] },
        i,
      ),
    ),
  );
  const plan = (await w.commit()).row<PlanRow>('plan')!;
  const out: Record<string, unknown> = { id: plan.id, title: plan.title };
  if (steps.length) out.steps_created = steps.length;
  if (gate.approval_warning) out.approval_warning = gate.approval_warning;
  return out;
}

export interface UpdatePlanInput {
  title?: string;
  description?: string;
  status?: string;
  owner?: string;
  priority?: string;
  tags?: unknown;
  project_id?: string;
}

export async function updatePlan(ctx: AppContext, p: Principal, id: number | null, input: UpdatePlanInput) {
  const plan = await requirePlan(ctx, id);
  await assertProjectScope(ctx.db, p, plan.project_id);
  const fields: Partial<Record<WritablePlanColumn, SqlValue>> = {};
  for (const k of ['title', 'description', 'status', 'owner', 'priority'] as const)
    if (input[k] !== undefined) fields[k] = input[k]!;
  if (input.tags !== undefined)
    fields.tags = typeof input.tags === 'string' ? input.tags : JSON.stringify(input.tags ?? []);
  if (input.project_id !== undefined && input.project_id !== plan.project_id) {
    // Moving a plan out of a project is not an agent's call (W20).
    if (!p.isAdmin) throw forbidden('Only an admin can move a plan to another project');
    fields.project_id = input.project_id;
  }
  if (plan.status === 'completed' && (input.status === 'draft' || input.status === 'active')) {
    ctx.log.warn('suspect plan transition', { plan_id: plan.id, from: plan.status, to: input.status });
  }
  const who = p.who;
  const ev: EventInput | null = input.status
    ? {
        type: `plan_${input.status}`,
        agent: who,
        projectId: fields.project_id !== undefined ? String(fields.project_id) : plan.project_id,
        summary: `${displayName(who)} set plan #${plan.id} to ${input.status}`,
        data: { plan_id: plan.id },
      }
    : null;
  const w = atomicWrite(ctx).add(null, plansRepo.updatePlan(plan.id, fields)).requireChanged('plan gone');
  if (ev) w.event(ev);
  if (!(await w.commitUnlessAborted())) throw notFound('Plan not found');
  return { ok: true, id: plan.id };
}

export async function deletePlan(ctx: AppContext, p: Principal, id: number | null, approvalId: unknown) {
  // The gate comes first, as in the original (spec 03 §5.6).
  const gate = await checkApprovalGate(ctx, p, 'delete', approvalId, id === null ? undefined : { kind: 'plan', id });
  const plan = await requirePlan(ctx, id);
  await assertProjectScope(ctx.db, p, plan.project_id);
  const who = p.who;
  const ev: EventInput = {
    type: 'plan_deleted',
    agent: who,
    projectId: plan.project_id,
    summary: `${displayName(who)} deleted plan #${plan.id}: ${plan.title}`,
    data: { plan_id: plan.id },
  };
  // The plan's DELETE is the repo's last statement; a plan deleted concurrently records no event.
  const deleted = await atomicWrite(ctx)
    .addAll(plansRepo.deletePlan(plan.id))
    .requireChanged('gone')
    .event(ev)
    .commitUnlessAborted();
  if (!deleted) throw notFound('Plan not found');
  const out: Record<string, unknown> = { ok: true, deleted: plan.id };
  if (gate.approval_warning) out.approval_warning = gate.approval_warning;
  return out;
}

function operatorInputInbox(plan: PlanRow, step: { id: number; title: string }): Statement {
  return inboxRepo.insertForAllActive({
    type: 'approval',
    entity_type: 'plan_step',
    entity_id: String(step.id),
    title: `Operator input needed: ${step.title}`,
    summary: `Plan #${plan.id} — ${plan.title}. Step requires your review/approval.`,
    data: { plan_id: plan.id, step_id: step.id, step_title: step.title },
    priority: 'high',
  });
}

export interface AddStepInput {
  title: string;
  description?: string;
  assignee?: string | null;
  phase?: string;
  linked_task_id?: number | null;
  linked_branch?: string | null;
  linked_pr_url?: string | null;
}

async function checkLinkedTask(ctx: AppContext, id: number | null | undefined) {
  if (id === null || id === undefined) return;
  if (!(await tasksRepo.get(ctx.db, id))) throw badRequest(`linked_task_id: task ${id} not found`);
}

export async function addStep(ctx: AppContext, p: Principal, planId: number | null, input: AddStepInput) {
  const plan = await requirePlan(ctx, planId);
  await assertProjectScope(ctx.db, p, plan.project_id);
  await checkLinkedTask(ctx, input.linked_task_id);
  const assignee = await resolveAssignee(ctx, input.assignee);
  const who = p.who;
  const ins = plansRepo.insertStep(plan.id, {
    title: input.title,
    description: input.description ?? '',
    phase: input.phase ?? '',
    assignee,
    linked_task_id: input.linked_task_id ?? null,
    linked_branch: input.linked_branch ?? null,
    linked_pr_url: input.linked_pr_url ?? null,
  });
  // The event directly follows the step's insert (its step_id is that row's id) and commits with it.
  const ev: EventInput = {
    type: 'plan_step_added',
    agent: who,
    projectId: plan.project_id,
    summary: `${displayName(who)} added step to plan #${plan.id}: ${input.title}`,
    data: { plan_id: plan.id, step_id: 0 },
  };
  const w = atomicWrite(ctx).add('step', ins).eventWithNewId(ev, 'step_id').add(null, plansRepo.touchPlan(plan.id));
  if (assignee === OPERATOR_INPUT) w.add(null, plansRepo.inboxForNewestStep(plan.id, plan.title));
  const step = (await w.commit()).row<StepRow>('step')!;
  return { id: step.id, plan_id: plan.id };
}

export interface UpdateStepInput {
  title?: string;
  description?: string;
  status?: string;
  assignee?: string | null;
  linked_task_id?: number | null;
  linked_branch?: string | null;
  linked_pr_url?: string | null;
  phase?: string;
  critique?: string;
  /** The claim's fencing token; when given, the write happens only while the step still carries it. */
  lease_token?: string;
}

/**
 * PUT /plans/:id/steps/:stepId (spec 03 §5.8, §5.11). The step's write, its event, the
 * retry/exhaustion consequences, operator inbox items and the plan's completion are one batch.
 */
export async function updateStep(
  ctx: AppContext,
  p: Principal,
  planId: number | null,
  stepId: number | null,
  input: UpdateStepInput,
) {
  const plan = await requirePlan(ctx, planId);
  const step = await requireStep(ctx, plan, stepId);
  await assertProjectScope(ctx.db, p, plan.project_id, { assignee: step.assignee });
  assertLeaseHeld('plan_step', step, input.lease_token);
  await checkLinkedTask(ctx, input.linked_task_id);
  const who = p.who;

  const fields: Partial<Record<WritableStepColumn, SqlValue>> = {};
  for (const k of ['title', 'description', 'status', 'linked_branch', 'linked_pr_url', 'phase'] as const) {
    if (input[k] !== undefined) fields[k] = input[k] ?? null;
  }
  if (input.linked_task_id !== undefined) fields.linked_task_id = input.linked_task_id;
  if (input.assignee !== undefined) fields.assignee = await resolveAssignee(ctx, input.assignee);
  // A PUT that assigns or starts work obeys the claim rule and the kill switch, inside its
  // compare-and-set. A step parked on operator_input waits for a human, it is not held by one.
  const guard = acquireGuard(
    p,
    step,
    {
      assignee: fields.assignee,
      startsWork: input.status === 'in_progress' && step.status !== 'in_progress',
      leaseToken: input.lease_token,
    },
    [OPERATOR_INPUT],
  );
  const w = atomicWrite(ctx).add(
    'step',
    plansRepo.updateStep(
      plan.id,
      step.id,
      fields,
      { attempts: step.attempt_count, status: step.status, assignee: step.assignee },
      input.status === 'completed',
      guard,
    ),
  );
  w.requireChanged().add(null, plansRepo.touchPlan(plan.id));
  const written = { ...fields };
  const updatedEv: EventInput = {
    type: 'plan_step_updated',
    agent: who,
    projectId: plan.project_id,
    summary: `${displayName(who)} updated step #${step.id} of plan #${plan.id}`,
    data: { plan_id: plan.id, step_id: step.id, fields: written },
  };
  w.event(updatedEv);

  const after: EventInput[] = [];
  let retry: { attempt: number } | null = null;
  if (input.status === 'failed') {
    if (step.attempt_count < RETRY_MAX) {
      const attempt = step.attempt_count + 1;
      retry = { attempt };
      if (input.critique) {
        w.add(
          null,
          plansRepo.retry.critiqueComments(
            plan.id,
            step.step_order,
            `[auto-retry ${attempt}/${RETRY_MAX}] Prior verification FAILED — fix before re-submitting:\n${input.critique}`,
          ),
        );
      }
      w.add(null, plansRepo.retry.reopenPriorPhase(plan.id, step.step_order));
      w.add(null, plansRepo.retry.reopenFailed(step.id));
      after.push({
        type: 'plan_step_retry',
        agent: who,
        projectId: plan.project_id,
        summary: `Step #${step.id} of plan #${plan.id} failed; auto-retry ${attempt}/${RETRY_MAX}`,
        data: { plan_id: plan.id, step_id: step.id, attempt },
      });
    } else {
      w.add(null, plansRepo.retry.blockPlan(plan.id));
      w.add(
        null,
        inboxRepo.insertForAllActive({
          type: 'approval',
          entity_type: 'plan_step',
          entity_id: String(step.id),
          title: `Plan step failed after retries: ${input.title ?? step.title}`,
          summary: `Plan #${plan.id} — ${plan.title}. Step failed ${RETRY_MAX + 1} times; the plan is blocked.`,
          data: { plan_id: plan.id, step_id: step.id },
          priority: 'high',
        }),
      );
      after.push({
        type: 'plan_step_failed',
        agent: who,
        projectId: plan.project_id,
        summary: `Step #${step.id} of plan #${plan.id} failed after retries`,
        data: { plan_id: plan.id, step_id: step.id },
      });
      after.push({
        type: 'plan_blocked',
        agent: who,
        projectId: plan.project_id,
        summary: `Plan #${plan.id} blocked: step failed after retries`,
        data: { plan_id: plan.id },
      });
    }
  }
  if (fields.assignee === OPERATOR_INPUT && step.assignee !== OPERATOR_INPUT) {
    w.add(null, operatorInputInbox(plan, { id: step.id, title: input.title ?? step.title }));
  }
  // Consequences known before the write are recorded in the same batch (issue 17)...
  for (const e of after) w.event(e);
  // ...and plan_completed only if the completion right before it changed the plan.
  const completedEv: EventInput = {
    type: 'plan_completed',
    agent: who,
    projectId: plan.project_id,
    summary: `Plan #${plan.id} completed (all steps done)`,
    data: { plan_id: plan.id },
  };
  if (input.status === 'completed') {
    w.add(null, plansRepo.completeIfFinished(plan.id)).eventIfChanged(completedEv);
  }

  // Events (updated, retry/failed/blocked, completed) are published after the commit, in that order.
  const done = await w.commitUnlessAborted();
  if (!done) {
    const now = await plansRepo.step(ctx.db, plan.id, step.id);
    if (!now) throw notFound('Plan step not found');
    // Refused as a claim would be: frozen (503) or held by someone else (409 {error, assignee}).
    const lost = await lostAcquisition(ctx.db, guard, now);
    if (lost === 'lease') throw leaseLost('plan_step', now);
    if (lost === 'frozen') throw unavailable(FROZEN_MESSAGE);
    // Otherwise a lost race, most often to a claim: answered the same way.
    if (
      lost === 'held' ||
      (now.assignee && now.assignee !== (fields.assignee ?? step.assignee) && now.status === 'in_progress')
    ) {
      throw conflict('Plan step already claimed', { assignee: now.assignee });
    }
    throw conflict('Plan step was changed by someone else; read it again and retry', {
      assignee: now.assignee,
      status: now.status,
    });
  }
  if (input.status === 'completed') {
    await appendSleepLog(ctx, 'steps_completed', [
      { id: step.id, title: input.title ?? step.title, agent: who, time: ctx.clock.now().toISOString() },
    ]).catch((err) => ctx.log.warn('sleep log append failed', { step_id: step.id, error: (err as Error).message }));
  }
  const out: Record<string, unknown> = { ok: true, step_id: step.id };
  if (retry) out.retry = { attempt: retry.attempt, max: RETRY_MAX };
  return out;
}

export async function deleteStep(ctx: AppContext, p: Principal, planId: number | null, stepId: number | null) {
  const plan = await requirePlan(ctx, planId);
  const step = await requireStep(ctx, plan, stepId);
  await assertProjectScope(ctx.db, p, plan.project_id);
  const res = await atomicWrite(ctx)
    .add('deleted', plansRepo.deleteStep(plan.id, step.id))
    .add(null, plansRepo.touchPlan(plan.id))
    .commit();
  if (!res.row('deleted')) throw notFound('Plan step not found');
  return { ok: true, deleted: step.id };
}

export async function addStepComment(
  ctx: AppContext,
  p: Principal,
  planId: number | null,
  stepId: number | null,
  content: string,
  author: unknown,
) {
  const plan = await requirePlan(ctx, planId);
  await assertProjectScope(ctx.db, p, plan.project_id);
  const step = await requireStep(ctx, plan, stepId, 'Step not found');
  const who = p.who;
  const ev: EventInput = {
    type: 'plan_step_comment',
    agent: who,
    projectId: plan.project_id,
    summary: `${displayName(who)} commented on step #${step.id} of plan #${plan.id}`,
    data: { plan_id: plan.id, step_id: step.id, comment_id: 0 },
  };
  const res = await atomicWrite(ctx)
    .add('comment', plansRepo.insertStepComment(plan.id, step.id, actingIdentity(p, author), content))
    .eventWithNewId(ev, 'comment_id')
    .commit();
  return res.row('comment')!;
}

export async function listStepComments(ctx: AppContext, planId: number | null, stepId: number | null) {
  const plan = await requirePlan(ctx, planId);
  const step = await requireStep(ctx, plan, stepId, 'Step not found');
  return plansRepo.commentsOfStep(ctx.db, plan.id, step.id);
}

export async function reorderSteps(ctx: AppContext, p: Principal, planId: number | null, order: number[]) {
  const plan = await requirePlan(ctx, planId);
  await assertProjectScope(ctx.db, p, plan.project_id);
  const seen = new Set<number>();
  const unique = order.filter((id) => {
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  await ctx.db.batch([...plansRepo.reorder(plan.id, unique), plansRepo.touchPlan(plan.id)]);
  return { ok: true, plan_id: plan.id };
}
