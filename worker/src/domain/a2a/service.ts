import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { agentProjectIds } from '../../auth/scope.js';
import { AppError, badRequest, notFound } from '../../http/errors.js';
import { assertPublicUrl, guardedFetch, SsrfBlockedError, type GuardOptions } from '../../http/ssrf.js';
import { addComment, addTaskCreate, updateTask } from '../tasks/service.js';
import type { TaskRow } from '../tasks/repo.js';
import { MessageService } from '../messages/service.js';
import type { Statement } from '../../db/types.js';
import { atomicWrite } from '../events/write.js';
import {
  a2aRepo,
  toWireExternalAgent,
  type ExternalAgentRow,
  type InboundWithTask,
  type OutboundTaskRow,
} from './repo.js';
import {
  A2A_VERSION,
  inboundState,
  messageText,
  normaliseState,
  RPC,
  RpcError,
  TERMINAL,
  wireTask,
  type A2AState,
} from './protocol.js';

const DISCOVER_TIMEOUT_MS = 10_000;
const SEND_TIMEOUT_MS = 30_000;
const MAX_TEXT = 100_000;

/** The server's own hand, for effects the caller asked for but may not perform itself (cancelling the task it caused). */
const SYSTEM: Principal = { kind: 'admin', isAdmin: true, who: '__system__', actingAs: null };

type Params = Record<string, unknown>;
const obj = (v: unknown): Params => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Params) : {});
const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

export class A2AService {
  constructor(private readonly app: AppContext) {}

  private guard(): GuardOptions {
    const rt = this.app.runtime;
    // The one outbound allow-list (MYCELIUM_WEBHOOK_ALLOW_LOOPBACK), empty by default (SEC-31).
    return {
      allow: this.app.config.webhookAllowLoopback,
      resolveHost: rt.resolveHost ? (h) => rt.resolveHost!(h) : undefined,
    };
  }

  // ---------------------------------------------------------------- inbound (JSON-RPC) ----

  private wire(row: InboundWithTask, legacy: boolean, historyLength?: number) {
    return wireTask(
      {
        id: row.id,
        contextId: row.context_id,
        state: inboundState(row.status, row.task_status),
        input: row.input_text,
        result: row.result,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        metadata: { mycelium_task_id: row.mycelium_task_id, assigned_agent: row.target_agent_id },
      },
      legacy,
      historyLength,
    );
  }

  /** Visible to the caller that created it, and to admins (A2A v1: tasks are scoped to the caller). */
  private async visible(p: Principal, id: unknown): Promise<InboundWithTask> {
    if (typeof id !== 'string' || !id) throw new RpcError(RPC.invalidParams, 'Task ID required');
    const row = await a2aRepo.inbound(this.app.db, id);
    if (!row || (!p.isAdmin && row.caller !== p.who)) throw new RpcError(RPC.taskNotFound, 'Task not found');
    return row;
  }

  /** A capable online agent the caller may give work to: its own projects for an agent, any for an admin. */
  private async pickTarget(p: Principal, meta: Params): Promise<{ id: string; project_id: string } | null> {
    const scope = p.kind === 'agent' ? await agentProjectIds(this.app.db, p.id, p.projectId) : null;
    const self = p.kind === 'agent' ? p.id : null;
    let candidates = (await a2aRepo.onlineAgents(this.app.db, scope)).filter((a) => a.id !== self);
    const wanted = str(meta.agent_id);
    if (wanted) {
      const hit = candidates.find((a) => a.id === wanted);
      if (!hit) throw new RpcError(RPC.invalidParams, `Agent ${wanted} is not online or not reachable by this caller`);
      return hit;
    }
    const capability = str(meta.capability) ?? str(meta.skill);
    if (capability) {
      candidates = candidates.filter((a) => {
        try {
          const caps = JSON.parse(a.capabilities);
          return Array.isArray(caps) && caps.includes(capability);
        } catch {
          return false;
        }
      });
    }
    return candidates[0] ?? null;
  }

  async sendMessage(p: Principal, params: Params, legacy: boolean, callerUrl: string) {
    const message = params.message;
    const text = messageText(message);
    if (!text) throw new RpcError(RPC.invalidParams, 'No input text in message');
    if (text.length > MAX_TEXT)
      throw new RpcError(RPC.invalidParams, `Message text is longer than ${MAX_TEXT} characters`);
    const m = obj(message);
    const meta = { ...obj(params.metadata), ...obj(m.metadata) };

    // A message naming an existing task continues it: the text becomes a comment on the Mycelium task.
    const continuing = str(m.taskId);
    if (continuing) {
      const row = await this.visible(p, continuing);
      if (TERMINAL.has(inboundState(row.status, row.task_status)))
        throw new RpcError(RPC.invalidParams, 'Task is in a terminal state and takes no more messages');
      if (row.mycelium_task_id) {
        await addComment(this.app, p, row.mycelium_task_id, text, undefined);
      }
      return this.wire((await a2aRepo.inbound(this.app.db, row.id))!, legacy);
    }

    const target = await this.pickTarget(p, meta);
    const id = crypto.randomUUID();
    const contextId = str(m.contextId) ?? str(params.contextId) ?? crypto.randomUUID();
    const caller = p.who;
    const projectId = target?.project_id ?? (p.kind === 'agent' ? p.projectId : '');
    const title = `A2A: ${text.replace(/\s+/g, ' ').slice(0, 100)}`;
    await this.app.guards.check('task.create', { title, project_id: projectId, assignee: target?.id }, p);
    // The task (with its task_created event), the inbound row naming it and the inbound row's
    // event commit together (issue 17): a failure leaves no task without its inbound row.
    const w = atomicWrite(this.app);
    await addTaskCreate(
      this.app,
      p,
      {
        title,
        description: `${text}\n\n— A2A task ${id} from ${caller}${callerUrl ? ` (${callerUrl})` : ''}`,
        project_id: projectId,
        assignee: target?.id ?? null,
      },
      w,
    );
    w.add(
      null,
      a2aRepo.insertInboundForNewTask({
        id,
        context_id: contextId,
        caller,
        caller_url: callerUrl,
        target_agent_id: target?.id ?? null,
        input_text: text,
      }),
    ).eventPerRow(
      { type: 'a2a_task_received', agent: caller, projectId: projectId || null },
      a2aRepo.receivedEvent(id, target?.id ?? null),
    );
    const task = (await w.commit()).row<TaskRow>('task')!;
    if (target) {
      // A directive blocks the agent's queue, so only admins may cause one (as over REST); an agent caller sends a message.
      await new MessageService(this.app)
        .send(p, {
          to_agent: target.id,
          content: `A2A TASK #${task.id}: ${text}`,
          msg_type: p.isAdmin ? 'directive' : 'message',
          metadata: { a2a_task_id: id, mycelium_task_id: task.id },
        })
        .catch((err) =>
          this.app.log.warn('a2a: notifying the target agent failed', {
            a2a_task_id: id,
            error: (err as Error).message,
          }),
        );
    }
    return this.wire((await a2aRepo.inbound(this.app.db, id))!, legacy);
  }

  async getTask(p: Principal, params: Params, legacy: boolean) {
    const hl = typeof params.historyLength === 'number' ? params.historyLength : undefined;
    return this.wire(await this.visible(p, params.id), legacy, hl);
  }

  async listTasks(p: Principal, params: Params) {
    const size =
      typeof params.pageSize === 'number' ? params.pageSize : typeof params.limit === 'number' ? params.limit : 50;
    if (!Number.isInteger(size) || size < 1 || size > 100)
      throw new RpcError(RPC.invalidParams, 'pageSize must be an integer from 1 to 100');
    const token = str(params.pageToken) ?? str(params.cursor);
    const offset = token ? Number(token) : 0;
    if (!Number.isInteger(offset) || offset < 0)
      throw new RpcError(RPC.invalidParams, 'pageToken is not one this server issued');
    const wantState = params.status === undefined ? null : normaliseState(params.status);
    if (params.status !== undefined && !wantState) throw new RpcError(RPC.invalidParams, 'status is not a task state');
    const [rows, total] = await a2aRepo.listInbound(
      this.app.db,
      { caller: p.isAdmin ? undefined : p.who, contextId: str(params.contextId) },
      size,
      offset,
    );
    const tasks = rows
      .map((r) => this.wire(r, false, 0))
      .filter((t) => !wantState || t.status.state === `TASK_STATE_${wantState.replace('-', '_').toUpperCase()}`);
    const next = offset + rows.length < total ? String(offset + rows.length) : '';
    return { tasks, nextPageToken: next, pageSize: size, totalSize: total };
  }

  async cancelTask(p: Principal, params: Params, legacy: boolean) {
    const row = await this.visible(p, params.id);
    const state = inboundState(row.status, row.task_status);
    if (TERMINAL.has(state)) throw new RpcError(RPC.taskNotCancelable, `Task is not cancelable (state ${state})`);
    await a2aRepo.settleInbound(this.app.db, row.id, 'canceled', null);
    if (row.mycelium_task_id && row.task_status && !['done', 'cancelled'].includes(row.task_status)) {
      await updateTask(this.app, SYSTEM, row.mycelium_task_id, { status: 'cancelled' }).catch((err) =>
        this.app.log.warn('a2a: cancelling the Mycelium task failed', {
          task_id: row.mycelium_task_id,
          error: (err as Error).message,
        }),
      );
    }
    return this.wire((await a2aRepo.inbound(this.app.db, row.id))!, legacy);
  }

  /** Completing (or cancelling) the Mycelium task settles the A2A task, with the agent's answer as the artifact. */
  async onTaskEvent(type: string, data: unknown, summary: string) {
    const taskId = Number(obj(data).task_id);
    if (!Number.isInteger(taskId) || taskId < 1) return;
    if (type === 'task_done') {
      const answer = (await a2aRepo.taskAnswer(this.app.db, taskId)) ?? summary;
      await a2aRepo.settleInboundByTask(this.app.db, taskId, 'completed', answer);
    } else if (type === 'task_cancelled') {
      await a2aRepo.settleInboundByTask(this.app.db, taskId, 'canceled', null);
    }
  }

  // ---------------------------------------------------------------- outbound (management) ----

  async discover(p: Principal, rawUrl: unknown) {
    if (typeof rawUrl !== 'string' || !rawUrl.trim()) throw badRequest('url is required');
    const base = rawUrl.trim().replace(/\/+$/, '');
    try {
      await assertPublicUrl(base, this.guard());
    } catch (err) {
      if (err instanceof SsrfBlockedError)
        throw badRequest(`Invalid or blocked URL — must be public http(s): ${err.message}`);
      throw err;
    }
    let card: Params | null = null;
    for (const path of ['/.well-known/agent-card.json', '/.well-known/agent.json']) {
      const res = await this.fetchGuarded(
        `${base}${path}`,
        { method: 'GET', headers: { Accept: 'application/json' } },
        DISCOVER_TIMEOUT_MS,
        'Failed to discover agent',
      );
      if (res.status === 404 && path.endsWith('agent-card.json')) {
        await res.body?.cancel().catch(() => undefined);
        continue;
      }
      if (!res.ok) throw new AppError(502, `Failed to fetch Agent Card: HTTP ${res.status}`);
      try {
        card = obj(JSON.parse((await res.text()).slice(0, 1_000_000)));
      } catch {
        throw new AppError(502, 'Failed to discover agent: the Agent Card is not JSON');
      }
      break;
    }
    if (!card) throw new AppError(502, 'Failed to fetch Agent Card: HTTP 404');
    const ifaces = Array.isArray(card.supportedInterfaces) ? card.supportedInterfaces.map(obj) : [];
    const jsonRpc = ifaces.find((i) => String(i.protocolBinding ?? '').toUpperCase() === 'JSONRPC');
    let rpc = str(jsonRpc?.url) ?? str(card.url) ?? `${base}/a2a`;
    try {
      rpc = new URL(rpc, `${base}/`).toString();
    } catch {
      throw new AppError(502, 'Failed to discover agent: the Agent Card has an invalid URL');
    }
    const version = str(jsonRpc?.protocolVersion) ?? str(card.protocolVersion) ?? '0.3';
    const skills = Array.isArray(card.skills) ? card.skills.map((s) => str(obj(s).id)).filter(Boolean) : [];
    const upsert = a2aRepo.upsertExternal({
      agent_url: base,
      rpc_url: rpc,
      protocol_version: version,
      name: (str(card.name) ?? base).slice(0, 200),
      description: (str(card.description) ?? '').slice(0, 2000),
      capabilities: JSON.stringify(skills),
      agent_card: JSON.stringify(card),
      discovered_by: p.who,
    });
    // An upsert has no new rowid to name on refresh, so the event reads the row's id by its URL.
    const res = await atomicWrite(this.app)
      .add('agent', upsert)
      .eventPerRow(
        { type: 'a2a_agent_discovered', agent: p.who },
        {
          summarySql: "'Discovered A2A agent ' || name || ' (' || agent_url || ')'",
          dataSql: "json_object('agent_url', agent_url, 'agent_id', id)",
          rest: 'FROM a2a_external_agents WHERE agent_url = ?',
          args: [base],
        },
      )
      .commit();
    const row = res.row<ExternalAgentRow>('agent')!;
    return { ok: true, id: row.id, agent: toWireExternalAgent(row) };
  }

  async send(p: Principal, body: Params) {
    const agentId = body.agent_id;
    const text = typeof body.message === 'string' ? body.message.trim() : messageText(body.message);
    if (agentId === undefined || agentId === null || !text) throw badRequest('agent_id and message are required');
    if (typeof agentId !== 'number' || !Number.isInteger(agentId) || agentId < 1)
      throw badRequest('agent_id must be an integer');
    if (text.length > MAX_TEXT) throw badRequest(`message is longer than ${MAX_TEXT} characters`);
    const contextId = body.context_id === undefined ? null : str(body.context_id);
    if (body.context_id !== undefined && !contextId) throw badRequest('context_id must be a non-empty string');
    const agent = await a2aRepo.external(this.app.db, agentId);
    if (!agent) throw notFound('External agent not found');
    try {
      await assertPublicUrl(agent.rpc_url, this.guard());
    } catch (err) {
      if (err instanceof SsrfBlockedError)
        throw badRequest('Agent URL is blocked — private/internal addresses not allowed');
      throw err;
    }
    const v1 = agent.protocol_version.startsWith('1');
    const id = crypto.randomUUID();
    const method = v1 ? 'SendMessage' : 'message/send';
    const message = v1
      ? { messageId: crypto.randomUUID(), role: 'ROLE_USER', parts: [{ text }], ...(contextId ? { contextId } : {}) }
      : {
          kind: 'message',
          messageId: crypto.randomUUID(),
          role: 'user',
          parts: [{ kind: 'text', text }],
          ...(contextId ? { contextId } : {}),
        };
    await a2aRepo.insertOutbound(this.app.db, {
      id,
      external_agent_id: agent.id,
      mycelium_agent_id: p.who,
      method,
      input_text: text,
      context_id: contextId ?? null,
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (v1) headers['A2A-Version'] = A2A_VERSION;
    const rpcBody = JSON.stringify({ jsonrpc: '2.0', id, method, params: { message } });
    let answer: Params;
    try {
      const res = await this.fetchGuarded(
        agent.rpc_url,
        { method: 'POST', headers, body: rpcBody },
        SEND_TIMEOUT_MS,
        'Failed to send A2A task',
        true,
      );
      const raw = await res.text();
      try {
        answer = obj(JSON.parse(raw.slice(0, 1_000_000)));
      } catch {
        throw new AppError(502, `Failed to send A2A task: HTTP ${res.status}, not a JSON-RPC answer`);
      }
    } catch (err) {
      await this.run(
        a2aRepo.finishOutbound(id, {
          status: 'failed',
          result: JSON.stringify({ error: (err as Error).message }),
          remote_task_id: null,
          context_id: null,
        }),
      );
      throw err;
    }
    if (answer.error) {
      const e = obj(answer.error);
      await this.run(
        a2aRepo.finishOutbound(id, {
          status: 'failed',
          result: JSON.stringify(e),
          remote_task_id: null,
          context_id: null,
        }),
      );
      throw new AppError(502, `A2A error: ${String(e.message ?? 'unknown error')}`);
    }
    const result = obj(answer.result);
    // v1 answers {task} or {message}; v0.3 answers the task or message itself.
    const task = result.task ? obj(result.task) : result.status ? result : null;
    const status: A2AState = task ? (normaliseState(obj(task.status).state) ?? 'submitted') : 'completed';
    const finish = a2aRepo.finishOutbound(id, {
      status,
      result: JSON.stringify(result),
      remote_task_id: task ? (str(task.id) ?? null) : null,
      context_id: str(task?.contextId) ?? str(obj(result.message ?? result).contextId) ?? null,
    });
    const res = await atomicWrite(this.app)
      .add('task', finish)
      .event({
        type: 'a2a_task_sent',
        agent: p.who,
        summary: `A2A task ${id} sent to ${agent.name}`,
        data: { task_id: id, agent_url: agent.agent_url },
      })
      .commit();
    const row = res.row<OutboundTaskRow>('task');
    return { ok: true, task_id: id, status: row?.status ?? status, result };
  }

  private run(s: Statement) {
    return this.app.db.run(s.sql, s.args);
  }

  private async fetchGuarded(
    url: string,
    init: RequestInit,
    timeoutMs: number,
    failure: string,
    preserve = false,
  ): Promise<Response> {
    try {
      return await guardedFetch(
        url,
        { ...init, signal: AbortSignal.timeout(timeoutMs) },
        { ...this.guard(), maxRedirects: 3, methodPreservingOnly: preserve },
      );
    } catch (err) {
      if (err instanceof SsrfBlockedError)
        throw badRequest(`Invalid or blocked URL — must be public http(s): ${err.message}`);
      if (err instanceof AppError) throw err;
      throw new AppError(502, `${failure}: ${(err as Error).message}`);
    }
  }

  async listOutbound(p: Principal, q: Record<string, string>) {
    const n = Number(q.limit);
    const limit = /^\d+$/.test(q.limit ?? '') && n >= 1 ? Math.min(n, 200) : 50;
    return a2aRepo.listOutbound(
      this.app.db,
      { status: q.status || undefined, agentId: p.isAdmin ? undefined : p.who },
      limit,
    );
  }

  async getOutbound(p: Principal, id: string) {
    const row = await a2aRepo.outbound(this.app.db, id);
    if (!row || (!p.isAdmin && row.mycelium_agent_id !== p.who)) throw notFound('Task not found');
    let result: unknown = row.result;
    try {
      result = row.result === null ? null : JSON.parse(row.result);
    } catch {
      // kept as text
    }
    return { ...row, result };
  }

  async listExternal(status?: string) {
    return (await a2aRepo.listExternal(this.app.db, status)).map(toWireExternalAgent);
  }

  async deleteExternal(id: number) {
    await a2aRepo.deleteExternal(this.app.db, id);
    return { ok: true };
  }
}
