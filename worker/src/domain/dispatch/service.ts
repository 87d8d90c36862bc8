import { toDbTime } from '../../db/time.js';
import { atomicWrite } from '../events/write.js';
import type { EventInput } from '../events/bus.js';
import type { AppContext } from '../../context.js';
import { isFrozen } from '../admin/freeze.js';
import { parseStringArray } from '../agents/json.js';
import type { Statement } from '../../db/types.js';
import { tasksRepo } from '../tasks/repo.js';
import { workRepo } from '../work/repo.js';
import { workScope } from '../work/service.js';
import { appendSleepLog } from '../admin/sleep.js';
import { dispatchRepo } from './repo.js';

export interface DispatchRecord {
  agent: string;
  type: 'plan_step' | 'task';
  id: number;
  title: string;
}

/** Same bar as derived presence: an agent that reads offline gets no work (spec 02 W39). */
export const DISPATCH_FRESH_MS = 15 * 60_000;
const WORKER_CAPS = ['code', 'game-dev', 'platform'];
/** How many items to consider per agent, so one unsuitable item never stalls a pass (W6). */
const LOOKAHEAD = 25;

/** can-handle (spec 02 §3.6): `requires:<cap>` tags are the real mechanism. */
export function canHandle(caps: string[], tags: string[]): boolean {
  if (!caps.length) return true;
  for (const t of tags) if (t.startsWith('requires:') && !caps.includes(t.slice(9))) return false;
  return true;
}

export type IdleCandidate = Awaited<ReturnType<typeof dispatchRepo.idleCandidates>>[number];

/** Agents heartbeating since this instant count as fresh for dispatch. */
export function dispatchFreshSince(app: AppContext): string {
  return toDbTime(app.clock.now().getTime() - DISPATCH_FRESH_MS);
}

/**
 * One auto-dispatch pass (spec 02 §3.6 with its weak spots fixed): nothing while frozen (W11);
 * agents that already hold any work — tasks, steps or bugs — are skipped, up to their
 * max_concurrent (W5); every candidate is considered and every item looked past (W6); blocked and
 * unapproved tasks are never dispatched (W7); each assignment is a compare-and-set.
 */
export async function autoDispatch(
  app: AppContext,
  trigger: string,
  prefetched?: { candidates: IdleCandidate[] },
): Promise<DispatchRecord[]> {
  const { db } = app;
  // A caller that read the kill switch and the candidates in its own batch (the heartbeat, issue
  // 11) hands them in: the pass then costs no round trip when nobody can take work.
  if (!prefetched && (await isFrozen(db))) return [];
  const candidates = prefetched?.candidates ?? (await dispatchRepo.idleCandidates(db, dispatchFreshSince(app)));
  const out: DispatchRecord[] = [];
  // Scopes found with no dispatchable step / task in this pass: a pass only takes items away, so
  // later candidates of the same scope skip those reads (10,000 idle agents and no work: one read
  // per scope, not two per candidate).
  const empty = { steps: new Set<string>(), tasks: new Set<string>() };
  for (const a of candidates) {
    const caps = parseStringArray(a.capabilities);
    if (caps.length && !caps.some((c) => WORKER_CAPS.includes(c))) continue;
    const limit = Math.max(1, Number(a.max_concurrent) || 1);
    if (Number(a.held) >= limit) continue;
    const scope = await candidateScope(app, a);
    const key = scope === null ? '*' : [...scope].sort().join('\n');
    const rec =
      (await assignStep(app, a.id, caps, scope, trigger, limit, empty.steps, key)) ??
      (await assignTask(app, a.id, caps, scope, trigger, limit, empty.tasks, key));
    if (rec) out.push(rec);
  }
  if (out.length)
    await appendSleepLog(
      app,
      'dispatches',
      out.map((r) => ({ ...r, time: app.clock.now().toISOString() })),
    );
  return out;
}

/**
 * `workScope` of a candidate; one without team memberships (the candidate read says so) has just
 * its own project, so most candidates cost no read here.
 */
function candidateScope(app: AppContext, a: IdleCandidate): Promise<string[] | null> | string[] | null {
  if (Number(a.in_team)) return workScope(app, a);
  return a.project_id && a.project_id !== 'drone' ? [a.project_id] : null;
}

/**
 * One assignment as one atomic batch: the compare-and-set on the item, then guards that roll it
 * back if it changed nothing or if the agent would now hold more than its limit. Concurrent
 * passes (two heartbeats at once) therefore never pile work onto one agent.
 */
async function assignAtomically(
  app: AppContext,
  cas: Statement,
  agentId: string,
  limit: number,
  event: EventInput,
): Promise<boolean> {
  // The event row is part of the same batch, so an assignment never commits without it (issue 17).
  const res = await atomicWrite(app)
    .add(null, cas)
    .requireChanged('assignment lost')
    .abortIf(`${dispatchRepo.heldSql()} > ?`, [agentId, agentId, agentId, limit], 'over the limit')
    .event(event)
    .commitUnlessAborted();
  return res !== null;
}

async function assignStep(
  app: AppContext,
  agentId: string,
  caps: string[],
  scope: string[] | null,
  trigger: string,
  limit: number,
  emptyScopes: Set<string>,
  key: string,
): Promise<DispatchRecord | null> {
  if (emptyScopes.has(key)) return null;
  const steps = await workRepo.dispatchableSteps(app.db, scope, LOOKAHEAD);
  if (!steps.length) emptyScopes.add(key);
  for (const s of steps) {
    if (!canHandle(caps, [])) continue;
    const ev: EventInput = {
      type: 'auto_dispatch',
      agent: '__system__',
      projectId: null,
      summary: `Auto-dispatched plan step "${s.title}" to ${agentId}`,
      data: { agent_id: agentId, plan_step_id: s.id, trigger },
    };
    if (!(await assignAtomically(app, workRepo.assignStep(s.id, agentId), agentId, limit, ev))) continue;
    return { agent: agentId, type: 'plan_step', id: s.id, title: s.title };
  }
  return null;
}

async function assignTask(
  app: AppContext,
  agentId: string,
  caps: string[],
  scope: string[] | null,
  trigger: string,
  limit: number,
  emptyScopes: Set<string>,
  key: string,
): Promise<DispatchRecord | null> {
  if (emptyScopes.has(key)) return null;
  const tasks = await workRepo.dispatchableTasks(app.db, scope, LOOKAHEAD);
  if (!tasks.length) emptyScopes.add(key);
  for (const t of tasks) {
    if (!canHandle(caps, parseStringArray(t.tags))) continue;
    const ev: EventInput = {
      type: 'auto_dispatch',
      agent: '__system__',
      projectId: t.project_id || null,
      summary: `Auto-dispatched task #${t.id} to ${agentId}`,
      data: { agent_id: agentId, task_id: t.id, trigger },
    };
    if (!(await assignAtomically(app, tasksRepo.claim(t.id, agentId, 'assign'), agentId, limit, ev))) continue;
    return { agent: agentId, type: 'task', id: t.id, title: t.title };
  }
  return null;
}
