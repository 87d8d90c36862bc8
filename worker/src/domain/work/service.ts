import { toDbTime } from '../../db/time.js';
import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { isSelfOrAdmin } from '../../auth/principal.js';
import { agentProjectIds } from '../../auth/scope.js';
import { badRequest, forbidden, notFound, unavailable } from '../../http/errors.js';
import { isFrozen, assertNotFrozen, FROZEN_MESSAGE, frozenValue } from '../admin/freeze.js';
import type { AgentRow } from '../agents/repo.js';
import { parseStringArray } from '../agents/json.js';
import { messagesRepo, type InboxItem } from '../messages/repo.js';
import { claimTaskFor } from '../tasks/service.js';
import {
  QUEUE_PARTS,
  workRepo,
  type BugItemRow,
  type PollRow,
  type QueuePartName,
  type StepItemRow,
  type TaskItemRow,
} from './repo.js';
import { bugsRepo } from '../bugs/repo.js';
import type { ResultSet, Statement } from '../../db/types.js';
import type { EventInput } from '../events/bus.js';
import { leaseAnswer } from '../work-items/lease.js';

export interface QueueItem {
  priority: number;
  type: 'request' | 'plan_step' | 'task' | 'bug' | 'plan_step_unassigned' | 'bug_unassigned';
  id: number;
  title: string;
  [k: string]: unknown;
}

const PLANNER_CAP = 'reasoning_planning';
const PLANNER_FRESH_MS = 30 * 60_000;

/**
 * Where an agent works: its own project (unless a drone's) plus its teams' projects. An empty set
 * means unscoped (spec 02 §3.6 step 3); the queue uses the same rule so both agree.
 */
export async function workScope(app: AppContext, agent: Pick<AgentRow, 'id' | 'project_id'>): Promise<string[] | null> {
  const home = agent.project_id && agent.project_id !== 'drone' ? agent.project_id : '';
  const ids = (await agentProjectIds(app.db, agent.id, home)).filter((x) => x !== '');
  return ids.length ? ids : null;
}

/**
 * The prioritised queue (spec 02 §3.5), buckets in the spec's order; directives are never queued.
 * Every bucket (and the planner check of bucket 8) is read in one batch: one round trip to libSQL.
 */
export async function buildQueue(app: AppContext, agent: AgentRow): Promise<QueueItem[]> {
  return queueFrom(agent, await app.db.batch(queueReads(app, agent.id)));
}

/** The queue's reads, to batch (alone, or after other reads of the same request — boot folds them in). */
export function queueReads(app: AppContext, agentId: string): Statement[] {
  return workRepo.queueStatements(agentId, plannerSince(app));
}

/** Planners that heartbeated since then count as alive (unassigned-bug triage waits for them). */
const plannerSince = (app: AppContext) => toDbTime(app.clock.now().getTime() - PLANNER_FRESH_MS);

/** The queue's parts as rows (JSON lists parsed, or result sets), the planner check as a flag. */
type QueueRows = {
  requests: (InboxItem & { status?: string })[];
  steps: StepItemRow[];
  tasks: TaskItemRow[];
  bugs: BugItemRow[];
  freeSteps: StepItemRow[];
  deferToPlanner: boolean;
  freeBugs: BugItemRow[];
};

/** Builds the queue from the result sets of `queueReads`, in `QUEUE_PARTS` order. */
export function queueFrom(agent: Pick<AgentRow, 'capabilities'>, results: ResultSet[]): QueueItem[] {
  const rows = <T>(part: QueuePartName) => results[QUEUE_PARTS.indexOf(part)].rows as unknown as T[];
  return queueOf(agent, {
    requests: rows('requests'),
    steps: rows('steps'),
    tasks: rows('tasks'),
    bugs: rows('bugs'),
    freeSteps: rows('freeSteps'),
    deferToPlanner: rows('deferToPlanner').length > 0,
    freeBugs: rows('freeBugs'),
  });
}

/** Builds the queue from the work poll's one row (`workRepo.pollStatement`). */
function queueFromPoll(agent: Pick<AgentRow, 'capabilities'>, row: PollRow): QueueItem[] {
  const list = <T>(part: QueuePartName) => JSON.parse(String(row[part] ?? '[]')) as T[];
  return queueOf(agent, {
    requests: list('requests'),
    steps: list('steps'),
    tasks: list('tasks'),
    bugs: list('bugs'),
    freeSteps: list('freeSteps'),
    deferToPlanner: Number(row.deferToPlanner) === 1,
    freeBugs: list('freeBugs'),
  });
}

function queueOf(agent: Pick<AgentRow, 'capabilities'>, parts: QueueRows): QueueItem[] {
  const { requests, steps, tasks, bugs, freeSteps } = parts;
  const q: QueueItem[] = [];
  for (const r of requests) {
    q.push({
      priority: 1,
      type: 'request',
      id: r.id,
      title: `Request from ${r.from_agent}`,
      summary: r.content.slice(0, 200),
      status: (r as { status?: string }).status ?? 'pending',
      from_agent: r.from_agent,
      content: r.content,
    });
  }
  const step = (prio: number, type: 'plan_step' | 'plan_step_unassigned', s: (typeof steps)[number]): QueueItem => ({
    priority: prio,
    type,
    id: s.id,
    plan_id: s.plan_id,
    plan_title: s.plan_title,
    title: s.title,
    status: s.status,
    project_id: s.project_id,
  });
  for (const s of steps) if (s.status === 'in_progress') q.push(step(2, 'plan_step', s));
  for (const s of steps) if (s.status === 'pending' && Number(s.ready) === 1) q.push(step(3, 'plan_step', s));
  for (const t of tasks)
    if (t.status === 'in_progress')
      q.push({
        priority: 4,
        type: 'task',
        id: t.id,
        title: t.title,
        status: t.status,
        project_id: t.project_id,
        priority_label: t.priority,
      });
  // Blocked or unapproved tasks are not served as ready (spec 03 W2/W3).
  for (const t of tasks)
    if (t.status === 'open' && Number(t.ready) === 1)
      q.push({
        priority: 5,
        type: 'task',
        id: t.id,
        title: t.title,
        status: t.status,
        project_id: t.project_id,
        priority_label: t.priority,
      });
  for (const b of bugs)
    q.push({
      priority: 6,
      type: 'bug',
      id: b.id,
      title: b.title,
      severity: b.severity,
      status: b.status,
      project_id: b.project_id,
    });
  for (const s of freeSteps) q.push(step(7, 'plan_step_unassigned', s));
  // Unassigned-bug triage waits for a live planner in scope, unless the caller is one (spec 02 §3.5).
  const defer = parts.deferToPlanner && !parseStringArray(agent.capabilities).includes(PLANNER_CAP);
  if (!defer) {
    for (const b of parts.freeBugs) {
      q.push({
        priority: 8,
        type: 'bug_unassigned',
        id: b.id,
        title: b.title,
        severity: b.severity,
        status: b.status,
        project_id: b.project_id,
      });
    }
  }
  return q;
}

export class WorkService {
  constructor(private readonly app: AppContext) {}

  async getWork(p: Principal, agentId: string, autoClaim: boolean) {
    if (!isSelfOrAdmin(p, agentId)) throw forbidden('Can only access your own work queue');
    // The agent, the kill switch and every bucket in one statement: a poll is one round trip.
    const poll = workRepo.pollStatement(agentId, plannerSince(this.app));
    const row = (await this.app.db.get<PollRow>(poll.sql, poll.args))!;
    if (row.agent === null) throw notFound('Agent not found');
    const agent = JSON.parse(String(row.agent)) as Pick<AgentRow, 'id' | 'capabilities'>;
    // Kill switch: nothing is routed while frozen (spec README, SEC-49).
    if (frozenValue(row.admin_status)) return { ok: true, queue: [], frozen: true };
    const queue = queueFromPoll(agent, row);
    if (!autoClaim || queue.length === 0) return { ok: true, queue };
    return { ok: true, queue, claimed: await this.claimFirst(agent, queue) };
  }

  /**
   * Auto-claim (spec 02 W4): each candidate is a compare-and-set; a lost race falls through to the
   * next item, so concurrent pollers never both get the same item.
   */
  private async claimFirst(agent: Pick<AgentRow, 'id'>, queue: QueueItem[]): Promise<QueueItem | null> {
    const { db } = this.app;
    for (const item of queue.slice(0, 25)) {
      if (item.type === 'request') return item;
      // The claim and its event commit together (issue 17); a lost claim writes neither.
      const event: EventInput = {
        type: 'work_claimed',
        agent: agent.id,
        projectId: (item.project_id as string) || null,
        summary: `${agent.id} auto-claimed ${item.type} #${item.id}: ${item.title}`,
        data: { item_type: item.type, item_id: item.id },
      };
      let row: { description?: string; lease_token?: string | null } | null;
      if (item.type === 'task') {
        const r = await claimTaskFor(this.app, item.id, agent.id, 'claim', event);
        row = r.ok ? r.task : null;
      } else if (item.type === 'plan_step' || item.type === 'plan_step_unassigned') {
        row = await this.claimWithEvent(workRepo.claimStep(item.id, agent.id), event);
      } else {
        row = await this.claimWithEvent(bugsRepo.claim(item.id, agent.id, false), event);
      }
      if (!row) {
        if (await isFrozen(db)) return null;
        continue;
      }
      if (row.description !== undefined) item.description = row.description;
      item.claimed = true;
      Object.assign(item, leaseAnswer(this.app, row.lease_token));
      return item;
    }
    return null;
  }

  /** A claim statement with its event in one batch, the event behind a guard (null: claim lost). */
  private async claimWithEvent(
    claim: Statement,
    event: EventInput,
  ): Promise<{ description?: string; lease_token?: string | null } | null> {
    const res = await atomicWrite(this.app)
      .add('claim', claim)
      .requireChanged('claim lost')
      .event(event)
      .commitUnlessAborted();
    return res?.row<{ description?: string; lease_token?: string | null }>('claim') ?? null;
  }

  /** POST /work/request: a request to the configured coordinator (spec 02 §3.5, W12). */
  async requestWork(p: Principal, body: Record<string, unknown>) {
    if (p.kind !== 'agent') throw forbidden('Agent key required');
    await assertNotFrozen(this.app.db);
    const type = body.type;
    if (typeof type !== 'string' || !type.trim())
      throw badRequest('type required (task_request, asset_request, work_request)');
    for (const f of ['target', 'description', 'priority'] as const) {
      if (body[f] !== undefined && body[f] !== null && typeof body[f] !== 'string')
        throw badRequest(`${f} must be a string`);
    }
    const target = (body.target as string | undefined) || null;
    const description = (body.description as string | undefined) ?? '';
    if (description.length > 50_000) throw badRequest('description exceeds max length (50000 chars)');
    const priority = (body.priority as string | undefined) || 'normal';
    const cfg = await this.app.db.get<{ value: string }>(
      "SELECT value FROM instance_config WHERE key = 'admin_agent_id'",
    );
    const coordinator = cfg?.value?.trim();
    // No vendor default: without a configured coordinator the request is refused (spec 02 W12).
    if (!coordinator) throw unavailable('No coordinator agent configured');
    const content = JSON.stringify({ type, target, description, priority });
    const ins = messagesRepo.insert({
      from_agent: p.id,
      to_agent: coordinator,
      thread_id: null,
      project_id: null,
      content,
      metadata: JSON.stringify({ work_request: true, type }),
      msg_type: 'request',
      status: 'pending',
      channel_id: null,
      priority: 'urgent',
    });
    const ev = {
      type: 'work_request',
      agent: p.id,
      summary: `${p.id} requested work: ${type}${target ? ` → ${target}` : ''}`,
      data: { type, target },
    };
    const res = await atomicWrite(this.app).add('message', ins).event(ev).commit();
    return { ok: true, message_id: Number(res.row('message')!.id), routed_to: coordinator };
  }
}

export { FROZEN_MESSAGE };
