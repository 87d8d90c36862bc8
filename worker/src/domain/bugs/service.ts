import { displayName } from '../../auth/who.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { SqlValue } from '../../db/types.js';
import { assertProjectScope } from '../../auth/scope.js';
import { AppError, conflict, invalidEnum, notFound } from '../../http/errors.js';
import { FROZEN_MESSAGE, assertNotFrozen, isFrozen } from '../admin/freeze.js';
import type { EventInput } from '../events/bus.js';
import { WebhookService } from '../webhooks/service.js';
import { acquireGuard, creditCompletion, lostAcquisition } from '../work-items/sql.js';
import { atomicWrite } from '../events/write.js';
import { DEFAULT_BUG_CATEGORIES, bugsRepo, type BugRow, type WritableBugColumn } from './repo.js';
import { assertLeaseHeld, leaseAnswer, leaseLost } from '../work-items/lease.js';

/**
 * Bugs (spec 03 §6): filed by anyone in scope, claimed by compare-and-set like tasks, categories
 * per project. Assignees are stored as given (bugs do not resolve names, §3.0).
 */

export async function requireBug(ctx: AppContext, id: number | null): Promise<BugRow> {
  const bug = id === null ? undefined : await bugsRepo.get(ctx.db, id);
  if (!bug) throw notFound('Bug not found');
  return bug;
}

/** The project's categories when it has a non-empty list of strings, else the defaults (never 404). */
export async function bugCategories(ctx: AppContext, projectId: string): Promise<string[]> {
  const raw = projectId ? await bugsRepo.projectCategories(ctx.db, projectId) : undefined;
  if (raw) {
    try {
      const v = JSON.parse(raw);
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) return v;
    } catch {
      // invalid JSON falls back to the defaults
    }
  }
  return [...DEFAULT_BUG_CATEGORIES];
}

export interface CreateBugInput {
  title: string;
  description: string;
  project_id?: string;
  category?: string;
  severity?: string;
  assignee?: string | null;
  diagnostic_data?: unknown;
}

export async function createBug(ctx: AppContext, p: Principal, input: CreateBugInput) {
  const projectId = input.project_id ?? '';
  await assertProjectScope(ctx.db, p, projectId); // creates only in own/team projects (W20)
  if (input.category !== undefined) {
    const allowed = await bugCategories(ctx, projectId);
    if (!allowed.includes(input.category)) throw invalidEnum('category', input.category, allowed);
  }
  const who = p.who;
  const s = bugsRepo.insert({
    project_id: projectId,
    title: input.title,
    description: input.description,
    category: input.category ?? 'other',
    severity: input.severity ?? 'normal',
    reporter: who,
    assignee: input.assignee ?? null,
    diagnostic_data:
      input.diagnostic_data === undefined || input.diagnostic_data === null
        ? null
        : typeof input.diagnostic_data === 'string'
          ? input.diagnostic_data
          : JSON.stringify(input.diagnostic_data),
  });
  // The event commits with the bug (issue 17); its bug_id is the id the insert just got.
  const ev: EventInput = {
    type: 'bug_created',
    agent: who,
    projectId,
    summary: '',
    // The webhook of the same name carries these fields (spec 03 §14); the bus forwards event data.
    data: {
      bug_id: 0,
      title: input.title,
      project_id: projectId,
      severity: input.severity ?? 'normal',
      reporter: who,
      assignee: input.assignee ?? null,
    },
  };
  const res = await atomicWrite(ctx)
    .add('bug', s)
    .eventWithNewId(ev, 'bug_id', [`${displayName(who)} filed bug #`, `: ${input.title}`])
    .commit();
  return { ok: true, id: res.row<BugRow>('bug')!.id };
}

/** The claim's answers, shared by POST /bugs/:id/claim and a PUT that tries what a claim may not. */
function claimRefusal(reason: 'frozen' | 'held', now: BugRow): AppError {
  return reason === 'frozen'
    ? new AppError(503, FROZEN_MESSAGE)
    : conflict('Bug already claimed', { assignee: now.assignee });
}

/** POST /bugs/:id/claim — same rules as task claims (SEC-13, REL-03, kill switch). */
export async function claimBug(
  ctx: AppContext,
  p: Principal,
  id: number | null,
  body: { agent_id?: string; force?: boolean },
) {
  const bug = await requireBug(ctx, id);
  await assertProjectScope(ctx.db, p, bug.project_id, { assignee: bug.assignee });
  await assertNotFrozen(ctx.db);
  const agentId = p.isAdmin && body.agent_id ? body.agent_id.trim() : p.who;
  const who = p.who;
  // A repeated claim by the holder is idempotent (it renews the lease) and writes no event; a new
  // claim writes its event in the same batch, behind a guard that aborts it if the claim was lost.
  const ev: EventInput | null =
    bug.status === 'in_progress' && bug.assignee === agentId
      ? null
      : {
          type: 'bug_claimed',
          agent: who,
          projectId: bug.project_id,
          summary: `${displayName(who)} claimed bug #${bug.id}`,
          data: { bug_id: bug.id, agent: agentId },
        };
  const claim = bugsRepo.claim(bug.id, agentId, !!(p.isAdmin && body.force));
  const w = atomicWrite(ctx).add('claim', claim);
  if (ev) w.requireChanged('claim lost').event(ev);
  const won = (await w.commitUnlessAborted())?.row<BugRow>('claim');
  if (!won) {
    const now = await bugsRepo.get(ctx.db, bug.id);
    if (!now) throw notFound('Bug not found');
    if (await isFrozen(ctx.db)) throw claimRefusal('frozen', now);
    if (now.status === 'fixed' || now.status === 'closed')
      throw conflict(`Bug is ${now.status}`, { assignee: now.assignee, status: now.status });
    throw claimRefusal('held', now);
  }
  return {
    ok: true,
    id: bug.id,
    assignee: agentId,
    status: 'in_progress' as const,
    ...leaseAnswer(ctx, won.lease_token),
  };
}

export interface UpdateBugInput {
  status?: string;
  assignee?: string | null;
  admin_notes?: string;
  severity?: string;
  /** The claim's fencing token; when given, the write happens only while the bug still carries it. */
  lease_token?: string;
}

export async function updateBug(ctx: AppContext, p: Principal, id: number | null, input: UpdateBugInput) {
  const bug = await requireBug(ctx, id);
  await assertProjectScope(ctx.db, p, bug.project_id, { assignee: bug.assignee });
  assertLeaseHeld('bug', bug, input.lease_token);
  const fields: Partial<Record<WritableBugColumn, SqlValue>> = {};
  if (input.status !== undefined) fields.status = input.status;
  if (input.severity !== undefined) fields.severity = input.severity;
  if (input.admin_notes !== undefined) fields.admin_notes = input.admin_notes;
  if (input.assignee !== undefined) fields.assignee = input.assignee === null ? null : input.assignee.trim();
  // A PUT that assigns or starts work obeys the claim rule and the kill switch, inside its compare-and-set.
  const guard = acquireGuard(p, bug, {
    assignee: fields.assignee,
    startsWork: input.status === 'in_progress' && bug.status !== 'in_progress',
    leaseToken: input.lease_token,
  });
  if (
    input.status &&
    (bug.status === 'fixed' || bug.status === 'closed') &&
    (input.status === 'open' || input.status === 'in_progress')
  ) {
    ctx.log.warn('suspect bug transition', { bug_id: bug.id, from: bug.status, to: input.status });
  }
  const who = p.who;
  // The fencing token is a write condition, not a change: it stays out of events and webhooks.
  const { lease_token: _token, ...updates } = input;
  const ev: EventInput | null = input.status
    ? {
        type: 'bug_updated',
        agent: who,
        projectId: bug.project_id,
        summary: `${displayName(who)} set bug #${bug.id} to ${input.status}`,
        data: { bug_id: bug.id, title: bug.title, updates },
      }
    : null;
  const w = atomicWrite(ctx)
    .add(null, bugsRepo.update(bug.id, fields, { status: bug.status, assignee: bug.assignee }, guard))
    .requireChanged('bug changed');
  if (ev) w.event(ev);
  const finished = (s: string) => s === 'fixed' || s === 'closed';
  if (input.status && finished(input.status) && !finished(bug.status)) {
    w.add(null, creditCompletion(String(fields.assignee || bug.assignee || who), 'total_bugs_fixed'));
  }
  // Webhooks commit with the update: `bug_updated` to the caller's webhooks on every PUT (spec 03
  // §6; with a status the event above carries it, otherwise it is enqueued here) and `bug_assigned`
  // to the new (else existing) assignee on an assignee or status change (spec 03 §14).
  const hooks = new WebhookService(ctx);
  if (!ev) w.add(null, hooks.enqueueStatement('bug_updated', who, { bug_id: bug.id, title: bug.title, updates }));
  const target = (fields.assignee as string | null | undefined) || bug.assignee;
  if ((input.assignee !== undefined || input.status) && target) {
    w.add(
      null,
      hooks.enqueueStatement('bug_assigned', target, {
        bug_id: bug.id,
        title: bug.title,
        status: input.status ?? bug.status,
      }),
    );
  }
  if (!(await w.commitUnlessAborted())) {
    const now = await requireBug(ctx, bug.id);
    const lost = await lostAcquisition(ctx.db, guard, now);
    if (lost === 'lease') throw leaseLost('bug', now);
    if (lost) throw claimRefusal(lost, now);
    throw conflict('Bug was changed by someone else; read it again and retry', {
      assignee: now.assignee,
      status: now.status,
    });
  }
  hooks.kick();
  return { ok: true, id: bug.id };
}

export async function deleteBug(ctx: AppContext, p: Principal, id: number | null) {
  const bug = await requireBug(ctx, id);
  const who = displayName(p.who);
  const ev: EventInput = {
    type: 'bug_deleted',
    agent: who,
    projectId: bug.project_id,
    summary: `${who} deleted bug #${bug.id}`,
    data: { bug_id: bug.id },
  };
  // A bug deleted concurrently records no event.
  const deleted = await atomicWrite(ctx)
    .add(null, bugsRepo.delete(bug.id))
    .requireChanged('gone')
    .event(ev)
    .commitUnlessAborted();
  if (!deleted) throw notFound('Bug not found');
  return { ok: true, id: bug.id };
}
