import { atomicWrite } from '../domain/events/write.js';
import type { AppContext } from '../context.js';
import type { Principal } from '../auth/principal.js';
import { assertProjectScope } from '../auth/scope.js';
import { badRequest, invalidEnum } from '../http/errors.js';
import { claimTaskFor, createTask, updateTask, type CreateTaskInput } from '../domain/tasks/service.js';
import { MessageService } from '../domain/messages/service.js';
import { SpendService } from '../domain/spend/service.js';
import { spendRepo } from '../domain/spend/repo.js';
import { checkApprovalGate } from '../domain/approvals/gate.js';
import { createBug, updateBug } from '../domain/bugs/service.js';
import { BUG_SEVERITIES, BUG_STATUSES } from '../domain/bugs/repo.js';
import { TASK_STATUSES, type TaskRow, type TaskStatus } from '../domain/tasks/repo.js';
import { inboxRepo } from '../domain/inbox/repo.js';
import { agentProjectIds } from '../auth/scope.js';
import { contextRepo } from '../domain/context/repo.js';

/**
 * The narrow, read-mostly view of the core that plugins receive instead of the database handle
 * (spec 06 W1, spec README). Reads return plain rows with secrets never selected; writes go
 * through the same service code as the REST routes (createTask, createBug, MessageService.send,
 * SpendService.log, the approval gate) so validation, guardrails pre-checks, events, webhooks and
 * hooks all apply. Only the operator-inbox fan-out has no core service: the host writes those
 * rows the way the inbox routes do and emits `inbox_item_created`, here and nowhere else.
 */

export interface AgentInfo {
  id: string;
  name: string;
  project_id: string;
  status: string;
  role: string;
  agent_type: string;
  last_heartbeat: string | null;
}
export interface ProjectInfo {
  id: string;
  name: string;
  status: string;
}
export interface BugRow {
  id: number;
  project_id: string;
  title: string;
  description: string;
  severity: string;
  status: string;
  reporter: string;
  assignee: string | null;
  created_at: string;
  updated_at: string;
}
export interface InboxNotice {
  type: string;
  entity_type: string;
  entity_id: string | number;
  title: string;
  summary?: string;
  data?: Record<string, unknown>;
  priority?: 'urgent' | 'normal' | 'low';
}
export interface SpendRecord {
  agent_id: string;
  project_id?: string;
  cost_usd: number;
  model?: string;
  tokens_in?: number;
  tokens_out?: number;
  source?: string;
  description?: string;
}
export interface ResolvedRequest {
  id: number;
  from_agent: string;
  to_agent: string | null;
  project_id: string | null;
  content: string;
  resolved_by: string | null;
  /** The resolver's reply text, or null when it resolved without one. */
  response: string | null;
}
export interface SpendGroupRow {
  key: string;
  total_cost: number;
  tokens_in: number;
  tokens_out: number;
  entry_count: number;
}

export interface CoreApi {
  /**
   * The approval gate for a gated action (declared in the manifest's `gatedActions`): admins pass;
   * others must present an approved approval of that type they requested, consumed on use.
   */
  /** `target`: the resource acted on; an approval bound to another resource is refused (spec 04 A5). */
  approvals: {
    gate(
      principal: Principal,
      actionType: string,
      approvalId: unknown,
      target?: { kind: string; id: string | number },
    ): Promise<{ approval_id?: number; approval_warning?: string }>;
  };
  agents: { list(): Promise<AgentInfo[]>; get(id: string): Promise<AgentInfo | null> };
  projects: {
    list(): Promise<ProjectInfo[]>;
    /** The core project-scope rule for writes (spec 07, 06 W3): humans pass; an agent only in its own or its teams' projects, else 403. */
    assertWrite(principal: Principal, projectId: string | null): Promise<void>;
    /** Projects whose private plugin data the caller may read: null = all (humans, admin); an agent: its own and its teams'. */
    readableBy(principal: Principal): Promise<string[] | null>;
  };
  /** One namespaced context key (spec 04 §3), for plugins that index or score context. */
  context: {
    get(
      namespace: string,
      key: string,
    ): Promise<{ namespace: string; key: string; data: string; project_id: string | null; updated_at: string } | null>;
  };
  tasks: {
    get(id: number): Promise<TaskRow | null>;
    /** Tasks whose status is `status` and that changed in [since, until) (SQLite datetime text). */
    changedBetween(opts: { status?: string; since: string; until: string; projectId?: string }): Promise<TaskRow[]>;
    /** Creates a task exactly as POST /tasks (guardrails, events); `actor` is the requester. */
    create(input: CreateTaskInput, actor?: string): Promise<TaskRow>;
    /** Auto-dispatch style assignment: an open, unassigned task gets `agentId` (one compare-and-set). */
    assign(taskId: number, agentId: string): Promise<{ ok: boolean; reason?: string }>;
    /** Moves a task's status exactly as PUT /tasks/:id does (guardrails, done-cascade, events); `actor` is the writer. */
    setStatus(taskId: number, status: TaskStatus, actor?: string): Promise<void>;
  };
  bugs: {
    get(id: number): Promise<BugRow | null>;
    changedBetween(opts: { status?: string; since: string; until: string; projectId?: string }): Promise<BugRow[]>;
    file(
      input: { title: string; description: string; project_id?: string; severity?: string; category?: string },
      actor?: string,
    ): Promise<BugRow>;
    /** Moves a bug's status exactly as PUT /bugs/:id does (events, webhooks, completion credit). */
    setStatus(bugId: number, status: (typeof BUG_STATUSES)[number], actor?: string): Promise<void>;
  };
  planSteps: {
    completedBetween(
      since: string,
      until: string,
      projectId?: string,
    ): Promise<{ id: number; title: string; plan_title: string; assignee: string | null; project_id: string }[]>;
  };
  messages: {
    send(
      input: {
        to_agent?: string | null;
        content: string;
        project_id?: string | null;
        msg_type?: string;
        channel_id?: number;
      },
      actor?: string,
    ): Promise<{ id: number }>;
    countBetween(since: string, until: string, projectId?: string): Promise<number>;
    /** A resolved request and the reply its resolver sent (null when there is no such request). */
    resolvedRequest(id: number): Promise<ResolvedRequest | null>;
  };
  /** One inbox item per active operator, each with an `inbox_item_created` event (agent = actor). */
  inbox: { notifyOperators(n: InboxNotice, actor?: string): Promise<number> };
  spend: {
    /**
     * Appends to the core spend ledger through the same service as POST /spend (budgets, events).
     * `principal` is the authenticated caller the plugin is acting for (default: the agent itself).
     */
    record(r: SpendRecord, principal?: Principal): Promise<{ ok: boolean; id: number; budget_warnings?: unknown[] }>;
    entries(o: {
      since: string;
      until: string;
      agentId?: string;
      projectId?: string;
      limit: number;
      offset: number;
    }): Promise<Record<string, unknown>[]>;
    /** Ledger totals grouped by agent, project, model or UTC day, over [since, until). */
    totals(opts: {
      by: 'agent' | 'project' | 'model' | 'day';
      since: string;
      until: string;
      agentId?: string;
      projectId?: string;
    }): Promise<SpendGroupRow[]>;
  };
}

/** Host principal for writes a plugin makes on its own behalf; `who` is the attribution. */
function systemPrincipal(actor = '__system__'): Principal {
  return { kind: 'admin', isAdmin: true, who: actor, actingAs: actor };
}

const AGENT_COLS = 'id, name, project_id, status, role, agent_type, last_heartbeat';
const BUG_COLS = 'id, project_id, title, description, severity, status, reporter, assignee, created_at, updated_at';

function between(col: string, opts: { status?: string; since: string; until: string; projectId?: string }) {
  const where = [`${col} >= ?`, `${col} < ?`];
  const args: (string | number)[] = [opts.since, opts.until];
  if (opts.status) {
    where.push('status = ?');
    args.push(opts.status);
  }
  if (opts.projectId) {
    where.push('project_id = ?');
    args.push(opts.projectId);
  }
  return { where: where.join(' AND '), args };
}

export function createCoreApi(ctx: AppContext): CoreApi {
  const db = ctx.db;
  return {
    approvals: {
      gate: (p, actionType, approvalId, target) => checkApprovalGate(ctx, p, actionType, approvalId, target),
    },
    agents: {
      list: () => db.all<AgentInfo>(`SELECT ${AGENT_COLS} FROM agents ORDER BY id`),
      get: async (id) => (await db.get<AgentInfo>(`SELECT ${AGENT_COLS} FROM agents WHERE id = ?`, [id])) ?? null,
    },
    projects: {
      list: () => db.all<ProjectInfo>('SELECT id, name, status FROM projects ORDER BY id'),
      assertWrite: (p, projectId) => assertProjectScope(db, p, projectId),
      readableBy: async (p) => {
        if (p.kind !== 'agent' || p.isAdmin) return null;
        return agentProjectIds(db, p.id, p.projectId);
      },
    },
    context: {
      get: async (namespace, key) => {
        const r = await contextRepo.get(db, namespace, key);
        return r
          ? {
              namespace: r.namespace,
              key: r.key,
              data: String(r.data ?? ''),
              project_id: r.project_id,
              updated_at: r.updated_at,
            }
          : null;
      },
    },
    tasks: {
      get: async (id) => (await db.get<TaskRow>('SELECT * FROM tasks WHERE id = ?', [id])) ?? null,
      changedBetween: (o) => {
        const w = between('updated_at', o);
        return db.all<TaskRow>(`SELECT * FROM tasks WHERE ${w.where} ORDER BY id LIMIT 1000`, w.args);
      },
      async create(input, actor) {
        const p = systemPrincipal(actor);
        // POST /tasks runs this pre-check in its route; plugin-made tasks get the same one.
        await ctx.guards.check('task.create', { ...input }, p);
        return createTask(ctx, p, input);
      },
      async assign(taskId, agentId) {
        // The event commits with the assignment (issue 17); a refused assignment writes neither. The
        // project is read for the event only; the assignment's compare-and-set decides.
        const task = await db.get<{ project_id: string | null }>('SELECT project_id FROM tasks WHERE id = ?', [taskId]);
        const r = await claimTaskFor(ctx, taskId, agentId, 'assign', {
          type: 'task_assigned',
          agent: '__automation__',
          projectId: task?.project_id ?? null,
          summary: `Task #${taskId} assigned to ${agentId}`,
          data: { task_id: taskId, assignee: agentId },
        });
        if (!r.ok) return { ok: false, reason: r.reason };
        return { ok: true };
      },
      async setStatus(taskId, status, actor) {
        if (!(TASK_STATUSES as readonly string[]).includes(status)) throw invalidEnum('status', status, TASK_STATUSES);
        const p = systemPrincipal(actor);
        // PUT /tasks/:id runs this pre-check in its route; plugin-made changes get the same one.
        await ctx.guards.check('task.update', { status, task_id: taskId }, p);
        await updateTask(ctx, p, taskId, { status });
      },
    },
    bugs: {
      get: async (id) => (await db.get<BugRow>(`SELECT ${BUG_COLS} FROM bugs WHERE id = ?`, [id])) ?? null,
      changedBetween: (o) => {
        const w = between('updated_at', o);
        return db.all<BugRow>(`SELECT ${BUG_COLS} FROM bugs WHERE ${w.where} ORDER BY id LIMIT 1000`, w.args);
      },
      async file(input, actor = '__system__') {
        const title = input.title.trim();
        if (!title) throw badRequest('title is required');
        if (input.severity !== undefined && !(BUG_SEVERITIES as readonly string[]).includes(input.severity))
          throw invalidEnum('severity', input.severity, BUG_SEVERITIES);
        const p = systemPrincipal(actor);
        // POST /bugs runs this pre-check in its route; plugin-filed bugs get the same one (SEC-37).
        await ctx.guards.check('bug.create', { ...input, title }, p);
        const { id } = await createBug(ctx, p, {
          title: title.slice(0, 500),
          description: input.description || title,
          project_id: input.project_id ?? '',
          category: input.category,
          severity: input.severity,
        });
        return (await db.get<BugRow>(`SELECT ${BUG_COLS} FROM bugs WHERE id = ?`, [id]))!;
      },
      async setStatus(bugId, status, actor) {
        if (!(BUG_STATUSES as readonly string[]).includes(status)) throw invalidEnum('status', status, BUG_STATUSES);
        await updateBug(ctx, systemPrincipal(actor), bugId, { status });
      },
    },
    planSteps: {
      completedBetween: (since, until, projectId) =>
        db.all(
          `SELECT s.id, s.title, p.title AS plan_title, s.assignee, p.project_id
             FROM plan_steps s JOIN plans p ON p.id = s.plan_id
            WHERE s.status = 'completed' AND COALESCE(s.completed_at, s.updated_at) >= ? AND COALESCE(s.completed_at, s.updated_at) < ?
              ${projectId ? 'AND p.project_id = ?' : ''}
            ORDER BY s.id LIMIT 1000`,
          projectId ? [since, until, projectId] : [since, until],
        ),
    },
    messages: {
      send: (input, actor) => new MessageService(ctx).send(systemPrincipal(actor), { ...input }),
      countBetween: async (since, until, projectId) => {
        const r = await db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM messages WHERE created_at >= ? AND created_at < ? ${projectId ? 'AND project_id = ?' : ''}`,
          projectId ? [since, until, projectId] : [since, until],
        );
        return Number(r?.n ?? 0);
      },
      async resolvedRequest(id) {
        const m = await db.get<Omit<ResolvedRequest, 'response'> & { thread_id: string | null; msg_type: string }>(
          `SELECT id, from_agent, to_agent, project_id, content, resolved_by, thread_id, msg_type FROM messages
            WHERE id = ? AND msg_type IN ('request', 'directive') AND resolved_at IS NOT NULL`,
          [id],
        );
        if (!m) return null;
        // The reply is the message the resolver sent back to the requester right after (messages service resolve()).
        const reply = m.resolved_by
          ? await db.get<{ content: string }>(
              `SELECT content FROM messages WHERE id > ? AND from_agent = ? AND to_agent = ? AND thread_id IS ?
                ORDER BY id LIMIT 1`,
              [id, m.resolved_by, m.from_agent, m.thread_id],
            )
          : undefined;
        return {
          id: m.id,
          from_agent: m.from_agent,
          to_agent: m.to_agent,
          project_id: m.project_id,
          content: m.content,
          resolved_by: m.resolved_by,
          response: reply?.content ?? null,
        };
      },
    },
    inbox: {
      async notifyOperators(n, actor = '__system__') {
        const ops = await db.all<{ id: string }>("SELECT id FROM operators WHERE status = 'active'");
        if (!ops.length) return 0;
        // Each item is followed by its event, which names the id that insert just got: one batch.
        const w = atomicWrite(ctx);
        for (const o of ops) {
          w.add(
            null,
            inboxRepo.insertFor(o.id, {
              type: n.type,
              entity_type: n.entity_type,
              entity_id: String(n.entity_id),
              title: n.title.slice(0, 500),
              summary: (n.summary ?? '').slice(0, 2000),
              data: n.data ?? {},
              priority: n.priority ?? 'normal',
            }),
          ).eventWithNewId(
            {
              type: 'inbox_item_created',
              agent: actor,
              projectId: null,
              summary: n.title.slice(0, 200),
              data: { inbox_id: 0, operator_id: o.id, type: n.type },
            },
            'inbox_id',
          );
        }
        await w.commit();
        return ops.length;
      },
    },
    spend: {
      async record(r, principal) {
        if (!Number.isFinite(r.cost_usd) || r.cost_usd < 0) throw badRequest('cost_usd must be a non-negative number');
        const p = principal ?? systemPrincipal(r.agent_id);
        await ctx.guards.check('spend.log', { ...r }, p);
        // The core ledger's own path: project scope, hard-stop budgets, budget events.
        return new SpendService(ctx).log(p, {
          agent_id: r.agent_id,
          project_id: r.project_id,
          cost_usd: r.cost_usd,
          model: r.model ?? '',
          tokens_in: r.tokens_in ?? 0,
          tokens_out: r.tokens_out ?? 0,
          source: r.source ?? '',
          description: r.description ?? '',
        });
      },
      entries: (o) => spendRepo.window(db, o) as unknown as Promise<Record<string, unknown>[]>,
      async totals(o) {
        const rows = await spendRepo.totalsBy(db, o);
        return rows.map((r) => ({
          key: String(r.key),
          total_cost: Number(r.total_cost ?? 0),
          tokens_in: Number(r.tokens_in ?? 0),
          tokens_out: Number(r.tokens_out ?? 0),
          entry_count: Number(r.entry_count),
        }));
      },
    },
  };
}
