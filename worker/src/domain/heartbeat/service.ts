import { parseDbTime, toDbTime } from '../../db/time.js';
import { composedBatch, StatementCapture } from '../../db/captured.js';
import type { AppContext } from '../../context.js';
import type { Statement } from '../../db/types.js';
import { badRequest, invalidEnum, notFound } from '../../http/errors.js';
import { frozenStatement, frozenValue } from '../admin/freeze.js';
import { agentsRepo, agentWrites, type BeatFacts, type WritableAgentColumn } from '../agents/repo.js';
import { asObject } from '../agents/json.js';
import { calibrationBlock, resolveCalibrationChain } from '../agents/calibration.js';
import { deliveredFrom, INBOX_UNREAD, inboxListsFrom, messagesRepo, type InboxItem } from '../messages/repo.js';
import { savepointsRepo } from '../savepoints/repo.js';
import { autoDispatch, dispatchFreshSince, type DispatchRecord, type IdleCandidate } from '../dispatch/service.js';
import { dispatchRepo } from '../dispatch/repo.js';
import { abortIf, isBatchAbort } from '../../db/batch-abort.js';
import { approvalsFrom, heartbeatRepo } from './repo.js';
import { WebhookService } from '../webhooks/service.js';

export const HEARTBEAT_STATUSES = ['online', 'offline', 'idle', 'busy'] as const;
const CALIBRATION_REFRESH_MS = 6 * 3_600_000;
const META_FIELDS = ['avatar_url', 'llm_backend', 'llm_model', 'runtime'] as const;

export interface HeartbeatInput {
  status: (typeof HEARTBEAT_STATUSES)[number];
  working_on: string;
  session_id: string | null;
  state_snapshot: Record<string, unknown>;
  /** `state_snapshot` as stored (serialised once, for the size check and the savepoint). */
  state_text: string;
  messages_acked: number[];
  meta: Partial<Record<WritableAgentColumn, string>>;
}

/** State snapshots arrive as objects or JSON strings; anything unreadable becomes {} (spec 02 §3.3). */
function snapshotOf(v: unknown): Record<string, unknown> {
  return asObject(v) ?? {};
}

function ackedOf(v: unknown): number[] {
  let arr: unknown = v;
  if (typeof v === 'string') {
    try {
      arr = JSON.parse(v);
    } catch {
      return [];
    }
  }
  if (!Array.isArray(arr)) return [];
  return arr
    .map((x) => Number(x))
    .filter((n) => Number.isInteger(n) && n > 0)
    .slice(0, 500);
}

/** Validates the whole body before anything is written. `asAdmin` allows agent_type (spec 02 W19). */
export function parseHeartbeat(body: Record<string, unknown>, asAdmin: boolean): HeartbeatInput {
  const status = body.status ?? 'online';
  if (typeof status !== 'string' || !(HEARTBEAT_STATUSES as readonly string[]).includes(status))
    throw invalidEnum('status', status, HEARTBEAT_STATUSES);
  const wo = body.working_on ?? '';
  if (typeof wo !== 'string') throw badRequest('working_on must be a string');
  if (wo.length > 2000) throw badRequest('working_on exceeds max length (2000 chars)');
  const sid = body.session_id ?? null;
  if (sid !== null && (typeof sid !== 'string' || sid.length > 200))
    throw badRequest('session_id must be a string of at most 200 characters');
  const meta: HeartbeatInput['meta'] = {};
  for (const f of META_FIELDS) {
    const v = body[f];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v.length > 2000) throw badRequest(`${f} must be a string`);
    meta[f] = v;
  }
  if (asAdmin && body.agent_type !== undefined) {
    if (typeof body.agent_type !== 'string' || body.agent_type.length > 50)
      throw badRequest('agent_type must be a string');
    meta.agent_type = body.agent_type;
  }
  if (body.system_diagnostics !== undefined && body.system_diagnostics !== null) {
    const d = body.system_diagnostics;
    if (typeof d !== 'string' && (typeof d !== 'object' || Array.isArray(d)))
      throw badRequest('system_diagnostics must be an object');
    meta.system_diagnostics = typeof d === 'string' ? JSON.stringify(snapshotOf(d)) : JSON.stringify(d);
  }
  const snapshot = snapshotOf(body.state_snapshot);
  const stateText = JSON.stringify(snapshot);
  if (stateText.length > 200_000) throw badRequest('state_snapshot exceeds max length (200000 chars)');
  const sysInfo = snapshot.system_info;
  if (sysInfo && typeof sysInfo === 'object' && !Array.isArray(sysInfo))
    meta.system_diagnostics = JSON.stringify(sysInfo);
  return {
    status: status as HeartbeatInput['status'],
    working_on: wo,
    session_id: sid as string | null,
    state_snapshot: snapshot,
    state_text: stateText,
    messages_acked: ackedOf(body.messages_acked),
    meta,
  };
}

export function heartbeatSummary(
  id: string,
  prevStatus: string,
  prevWorking: string,
  status: string,
  workingOn: string,
): string {
  if (status !== prevStatus && status === 'online') return `${id} came online${workingOn ? `: ${workingOn}` : ''}`;
  if (status !== prevStatus && status === 'offline') return `${id} went offline`;
  if (workingOn && workingOn !== prevWorking) return `${id}: ${workingOn}`;
  return `${id} is ${status}${workingOn ? `: ${workingOn}` : ''}`;
}

export interface Inbox {
  directives: InboxItem[];
  requests: InboxItem[];
  messages: InboxItem[];
}

export class HeartbeatService {
  constructor(private readonly app: AppContext) {}

  /**
   * POST /agents/heartbeat (spec 02 §3.3), as ONE batch (issue 11; one pipeline request on
   * Workers): the previous row with the kill switch, the standup time and the open approvals (one
   * statement), the writes (each conditional where it depends on that row, each writing only what
   * changed), then the inbox the answer needs with its delivery marks. A second request happens
   * only when the calibration block is due (every 6 h) or an idle heartbeat finds an agent that
   * can take work.
   */
  async beat(agentId: string, body: Record<string, unknown>, asAdmin: boolean) {
    const { app } = this;
    const input = parseHeartbeat(body, asAdmin);
    const at = toDbTime(app.clock.now().getTime());
    const wantsWork = !input.working_on && (input.status === 'online' || input.status === 'idle');

    // Read before the writes; none of the writes touches the kill switch, the standup key or
    // approvals. Acks can settle a broadcast directive, so with acks the pending directives and
    // requests are read after them; without (most beats) nothing before the reads touches them.
    const acks = input.messages_acked.length > 0;
    const facts = agentsRepo.beatFactsStatement(agentId, {
      admin_status: frozenStatement(),
      standup_at: heartbeatRepo.standupAtSql(agentId),
      approvals: heartbeatRepo.openApprovalsJson(agentId),
      ...(acks ? {} : messagesRepo.pendingInboxLists(agentId)),
    });
    // No orphan savepoints, reads or keys for unknown agents (spec 02 W20): the guard rolls the batch
    // back. First in the batch: it reads only the agents row, and a write first tells the Node driver
    // at once that the batch needs the write lock.
    const guard = abortIf('NOT EXISTS (SELECT 1 FROM agents WHERE id = ?)', [agentId]);
    const writes: Statement[] = [];
    if (Object.keys(input.meta).length) writes.push(agentWrites.update(agentId, input.meta));
    // Webhook only from the agent's own heartbeat, on a real change (spec 02 §3.3 step 5): decided
    // in SQL against the row as it is before the update (a paused agent stays paused: no change);
    // its outbox row commits with the heartbeat.
    const hooks = new WebhookService(app);
    const webhookAt = writes.length;
    writes.push(
      hooks.enqueueStatementWhen(
        'agent_status_changed',
        agentId,
        { agent_id: agentId, previous_status: '', new_status: input.status, working_on: input.working_on },
        {
          sql: "EXISTS (SELECT 1 FROM agents WHERE id = ? AND status != 'paused' AND status != ?)",
          args: [agentId, input.status],
        },
        { field: 'previous_status', value: { sql: 'SELECT status FROM agents WHERE id = ?', args: [agentId] } },
      ),
      ...agentWrites.heartbeatChanges(agentId, input.status, input.working_on, at),
      savepointsRepo.recordHeartbeat({
        agentId,
        sessionId: input.session_id,
        workingOn: input.working_on,
        stateSnapshot: input.state_text,
        messagesAcked: JSON.stringify(input.messages_acked),
      }),
      ...messagesRepo.markRead(agentId, input.messages_acked),
    );
    const mdReport = input.state_snapshot.md_report;
    if (mdReport && typeof mdReport === 'object' && !Array.isArray(mdReport))
      writes.push(heartbeatRepo.storeMdReport(agentId, JSON.stringify(mdReport)));

    // Read after the heartbeat's own update, so the caller counts as the idle agent it now is.
    const reads = wantsWork ? new StatementCapture(app.db) : null;
    const candidatesRead = reads ? dispatchRepo.idleCandidates(reads.db, dispatchFreshSince(app)) : null;
    // The inbox (spec 02 §3.3 step 10): unread regular messages delivered — read and marked by
    // one statement — and, after acks, the pending directives and requests.
    // The mark statement right after the delivery: it reads the delivery's changes().
    const inbox: Statement[] = [
      messagesRepo.deliverUnreadStatement(agentId, INBOX_UNREAD),
      messagesRepo.markDrainedStatement(agentId, INBOX_UNREAD),
    ];
    if (acks) inbox.push(messagesRepo.pendingInboxStatement(agentId));
    let res: Awaited<ReturnType<typeof composedBatch>>;
    try {
      res = await composedBatch((stmts) => app.db.batch(stmts), [[guard], [facts], writes, reads ?? [], inbox]);
    } catch (err) {
      if (isBatchAbort(err)) throw notFound('Agent not found');
      throw err;
    }
    const row = res[1][0].rows[0] as BeatFacts & {
      admin_status: string | null;
      standup_at: string | null;
      approvals: string;
    };
    const prev: BeatFacts = {
      id: row.id,
      status: row.status,
      working_on: row.working_on,
      agent_type: row.agent_type,
      project_id: row.project_id,
    };
    const status = prev.status === 'paused' ? 'paused' : input.status;
    // Send at once only what was queued (a status change with a subscriber): no idle outbox poll.
    if (res[2][webhookAt].rowsAffected > 0) hooks.kick();
    this.announce(prev, status, input.working_on);

    const box: Inbox = { ...inboxListsFrom(acks ? res[4][2].rows[0] : row), messages: deliveredFrom(res[4][0].rows) };
    const frozen = frozenValue(row.admin_status);
    const approvals = approvalsFrom(row.approvals);
    const pending = box.directives.length + box.requests.length + box.messages.length;
    const out: Record<string, unknown> = {
      ok: true,
      pending,
      wake: box.directives.length + box.requests.length > 0,
    };
    // Regular messages were marked delivered in the batch; directives and requests stay until handled.
    if (pending > 0) out.inbox = box;
    const now = app.clock.now();
    const calibrationDue = !row.standup_at || now.getTime() - parseDbTime(row.standup_at) >= CALIBRATION_REFRESH_MS;
    const [dispatched] = await Promise.all([
      !frozen && wantsWork && candidatesRead ? this.dispatch(agentId, await candidatesRead) : [],
      calibrationDue ? this.refreshCalibration(prev, input.state_snapshot) : undefined,
    ]);
    if (frozen) out.admin_status = 'frozen';
    else if (dispatched.length) out.auto_dispatched = dispatched;
    if (approvals.length) out.approvals = approvals;
    return out;
  }

  /** Auto-dispatch (spec 02 §3.3 step 12) over the candidates read in the heartbeat's batch; never fails the heartbeat. */
  private async dispatch(agentId: string, candidates: IdleCandidate[]): Promise<DispatchRecord[]> {
    try {
      return await autoDispatch(this.app, `heartbeat:${agentId}`, { candidates });
    } catch (err) {
      this.app.log.warn('auto-dispatch failed', { agent: agentId, error: (err as Error).message });
      return [];
    }
  }

  /** Rebuilds the stored calibration block when missing or 6 h old (spec 02 §3.3 step 9); never fails the heartbeat. */
  private async refreshCalibration(agent: BeatFacts, snapshot: Record<string, unknown>) {
    try {
      const now = this.app.clock.now();
      const chain = await resolveCalibrationChain(this.app.db, agent.id, agent.agent_type || 'agent');
      const md =
        snapshot.md_report && typeof snapshot.md_report === 'object' && !Array.isArray(snapshot.md_report)
          ? (snapshot.md_report as Record<string, unknown>)
          : null;
      await this.app.db.batch([
        heartbeatRepo.storeAgentKey(
          agent.id,
          agent.project_id,
          'standup',
          JSON.stringify(calibrationBlock(chain, md, now.toISOString())),
        ),
      ]);
    } catch (err) {
      this.app.log.warn('calibration refresh failed', { agent: agent.id, error: (err as Error).message });
    }
  }

  /** PUT /admin/agents/:id/heartbeat: liveness on the agent's behalf; no inbox, no dispatch. */
  async adminBeat(agentId: string, body: Record<string, unknown>) {
    const { app } = this;
    const status = body.status ?? 'online';
    if (typeof status !== 'string' || !(HEARTBEAT_STATUSES as readonly string[]).includes(status))
      throw invalidEnum('status', status, HEARTBEAT_STATUSES);
    const wo = body.working_on ?? '';
    if (typeof wo !== 'string' || wo.length > 2000) throw badRequest('working_on must be a string');
    const prev = await agentsRepo.get(app.db, agentId);
    if (!prev) throw notFound('Agent not found');
    await app.db.batch([
      agentWrites.heartbeat(agentId, status, wo, toDbTime(app.clock.now().getTime())),
      savepointsRepo.insert({ agentId, workingOn: wo }),
    ]);
    this.announce(prev, prev.status === 'paused' ? 'paused' : status, wo);
    return { ok: true, agent: agentId, status };
  }

  /** Liveness pings are broadcast, not persisted (spec 02 §4); the status change rides in data. */
  private announce(prev: BeatFacts, status: string, workingOn: string) {
    void this.app.events.emit({
      type: 'agent_heartbeat',
      agent: prev.id,
      projectId: null,
      summary: heartbeatSummary(prev.id, prev.status, prev.working_on ?? '', status, workingOn),
      data:
        prev.status !== status
          ? {
              agent_id: prev.id,
              previous_status: prev.status,
              new_status: status,
              working_on: workingOn,
              status_changed: true,
            }
          : {},
    });
  }
}
