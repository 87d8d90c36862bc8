import { toDbTime } from '../../db/time.js';
import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { agentProjectIds, assertProjectScope } from '../../auth/scope.js';
import { AppError, badRequest, forbidden, invalidEnum, notFound } from '../../http/errors.js';
import { RISK_TIERS, type RiskTier } from '../config/keys.js';
import { readRiskTiers } from '../config/service.js';
import { appendSleepLog, isAutonomous, sleepState } from '../admin/sleep.js';
import { approvalsRepo, toPublicApproval, type ApprovalRow } from './repo.js';
import { identityKey, voterName } from './identity.js';

/** Core gated actions (spec 04 §2.2) plus the tier-map names ours accepts (recommendation 4). */
const CORE_ACTIONS = ['deploy', 'git_push', 'plan_create', 'money_action', 'delete', 'external_comm'];
const EXTRA_ACTIONS = ['delete_agent', 'instance_config', 'context_change', 'outreach_send'];
const pluginActions: string[] = [];

/** Plugins declare `gatedActions` in their manifest; the host registers them here at load. */
export function registerGatedAction(name: string): void {
  if (!pluginActions.includes(name)) pluginActions.push(name);
}

export const tierRank = (t: RiskTier) => RISK_TIERS.indexOf(t);
const maxTier = (a: RiskTier, b: RiskTier): RiskTier => (tierRank(a) >= tierRank(b) ? a : b);

export interface CreateApprovalInput {
  action_type: string;
  title: string;
  payload: unknown;
  project_id?: string;
  risk_tier?: RiskTier;
  required_approvals?: number;
  subject?: string;
}

const QUEUED_MESSAGE = 'Queued for operator review — all operators are away. Continue with other work.';

function randomToken(): string {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** The subject an approval is about: explicit, else a resource id in the payload, else the title. */
function subjectOf(input: CreateApprovalInput): string {
  if (input.subject) return input.subject;
  const p = input.payload;
  if (p && typeof p === 'object' && !Array.isArray(p)) {
    for (const k of ['subject', 'target', 'resource_id', 'id']) {
      const v = (p as Record<string, unknown>)[k];
      if (typeof v === 'string' || typeof v === 'number') return `${k}:${String(v)}`.slice(0, 500);
    }
  }
  return `title:${input.title}`.slice(0, 500);
}

/**
 * The resource an approval is bound to (target binding, spec 04 §2.4 recommendation / A5): the
 * value of the `subject`/`target`/`resource_id`/`id` its payload named, or null when it named
 * none (then only the action type and single use bind it, as for the original's clients).
 */
export function boundSubject(subject: string): string | null {
  const m = subject.match(/^(subject|target|resource_id|id):(.*)$/s);
  return m ? m[2] : null;
}

/** Whether a bound value names this resource: its id, or `<kind>:<id>`. */
export function subjectMatches(bound: string, target: { kind: string; id: string | number }): boolean {
  const id = String(target.id);
  return bound === id || bound.toLowerCase() === `${target.kind}:${id}`.toLowerCase();
}

export class ApprovalService {
  constructor(private readonly app: AppContext) {}

  async allowedActions(): Promise<string[]> {
    const tiers = await readRiskTiers(this.app.db);
    return [...new Set([...CORE_ACTIONS, ...pluginActions, ...EXTRA_ACTIONS, ...Object.keys(tiers)])];
  }

  /** Effective tier: the configured one for the action (unmapped → medium), raised by the request. */
  async tierFor(actionType: string, requested?: RiskTier): Promise<RiskTier> {
    const tiers = await readRiskTiers(this.app.db);
    const configured = tiers[actionType] ?? 'medium';
    return requested ? maxTier(configured, requested) : configured;
  }

  /**
   * Quorum from the tier (spec README): low 0, medium 1, high 2 distinct humans, critical every
   * admin operator (but the requester, who never votes on its own request; at least one). The
   * floor is never lowered to fit a small instance: a high request there waits for a second
   * human rather than passing on one voice. A requester may ask for more, up to the humans who
   * could ever vote.
   */
  private async quorumFor(tier: RiskTier, requester: Principal, requested?: number): Promise<number> {
    if (tier === 'low') return 0;
    const { humans, admins } = await approvalsRepo.voterCounts(this.app.db);
    if (tier === 'critical') return Math.max(1, admins - (requester.kind === 'operator' && requester.isAdmin ? 1 : 0));
    const floor = tier === 'high' ? 2 : 1;
    const eligible = humans - (requester.kind !== 'agent' ? 1 : 0);
    return Math.max(floor, Math.min(requested ?? 0, eligible));
  }

  async create(p: Principal, input: CreateApprovalInput) {
    const allowed = await this.allowedActions();
    if (!allowed.includes(input.action_type)) throw badRequest(`action_type must be one of: ${allowed.join(', ')}`);
    // Without project_id (as the original clients send it) an agent asks within its own project;
    // defaulting it to 'mycelium' would put most agents out of their own scope (403).
    const projectId = input.project_id || (p.kind === 'agent' && p.projectId) || 'mycelium';
    await assertProjectScope(this.app.db, p, projectId, { write: true });
    const tier = await this.tierFor(input.action_type, input.risk_tier);
    const required = await this.quorumFor(tier, p, input.required_approvals);
    const who = p.who;
    const payload = typeof input.payload === 'string' ? input.payload : JSON.stringify(input.payload);
    const subject = subjectOf(input);
    const queued = tier === 'high' || tier === 'critical' ? await this.shouldQueueForMorning() : false;
    const token = randomToken();
    const auto = tier === 'low';

    const requested = {
      type: 'approval_requested',
      agent: who,
      projectId,
      summary: `${who} requested approval: [${input.action_type}] ${input.title}`,
      data: {
        approval_id: null as number | null,
        action_type: input.action_type,
        risk_tier: tier,
        required_approvals: required,
      },
    };
    const approved = auto
      ? {
          type: 'approval_approved',
          agent: '__system__',
          projectId,
          summary: `__system__ approved [${input.action_type}] ${input.title} (low risk)`,
          data: { approval_id: null as number | null, action_type: input.action_type },
        }
      : undefined;
    const row = {
      action_type: input.action_type,
      requested_by: who,
      requester_key: identityKey(p),
      title: input.title,
      payload,
      subject,
      project_id: projectId,
      risk_tier: tier,
      required_approvals: required,
      status: auto ? ('approved' as const) : ('pending' as const),
      decided_by: auto ? '__system__' : null,
      reason: auto ? 'Auto-approved (low risk)' : '',
      queued_for_morning: queued,
      token,
    };
    // The steps after the insert find the new row by this create's token, so a duplicate (the
    // insert adds nothing) writes no inbox item and no event either.
    const w = atomicWrite(this.app)
      .add('approval', approvalsRepo.insert(row))
      .eventPerRow(requested, approvalsRepo.createdEvent(requested, token));
    if (!auto) w.add(null, approvalsRepo.notifyOperators(row));
    if (approved) w.eventPerRow(approved, approvalsRepo.createdEvent(approved, token));
    const res = await w.commit();
    const id = Number(res.row<{ id: number }>('approval')?.id ?? 0);
    if (!id) {
      // One pending approval per (action, project, subject): a duplicate gets the existing one.
      const existing = await approvalsRepo.pendingFor(this.app.db, input.action_type, projectId, subject);
      if (!existing) throw new AppError(409, 'Approval was decided concurrently; retry');
      return { id: existing.id, status: existing.status, approval_required: true, duplicate: true };
    }
    if (approved) return { id, status: 'approved', approval_required: false, risk_tier: tier };
    if (queued) {
      await appendSleepLog(this.app, 'approvals_queued', [
        {
          id,
          action_type: input.action_type,
          title: input.title,
          requested_by: who,
          time: this.app.clock.now().toISOString(),
        },
      ]);
      return { id, status: 'queued_for_morning', queued: true, message: QUEUED_MESSAGE };
    }
    return { id, status: 'pending', approval_required: true, risk_tier: tier, required_approvals: required };
  }

  /** Sleep mode with `queue_high` while no operator is around (spec 01 §5.3). */
  private async shouldQueueForMorning(): Promise<boolean> {
    const sleep = await sleepState(this.app);
    if (sleep.active !== true || (sleep.approval_policy ?? 'queue_high') !== 'queue_high') return false;
    return isAutonomous(this.app);
  }

  private async load(id: number | null): Promise<ApprovalRow> {
    const row = id === null ? undefined : await approvalsRepo.get(this.app.db, id);
    if (!row) throw notFound('Approval not found');
    return row;
  }

  /** Agents read approvals of their projects and their own requests (A6); humans read all. */
  private async assertReadable(p: Principal, row: ApprovalRow): Promise<void> {
    if (p.kind !== 'agent') return;
    if (row.requester_key === identityKey(p)) return;
    const projects = await agentProjectIds(this.app.db, p.id, p.projectId);
    if (!projects.includes(row.project_id)) throw notFound('Approval not found');
  }

  async list(
    p: Principal,
    f: { status?: string; action_type?: string; requested_by?: string; project_id?: string; limit: number },
  ) {
    const scope =
      p.kind === 'agent'
        ? { projects: await agentProjectIds(this.app.db, p.id, p.projectId), requesterKey: identityKey(p) }
        : undefined;
    return (await approvalsRepo.list(this.app.db, { ...f, scope })).map(toPublicApproval);
  }

  async get(p: Principal, id: number | null) {
    const row = await this.load(id);
    await this.assertReadable(p, row);
    return toPublicApproval(row);
  }

  async votes(p: Principal, id: number | null) {
    if (id === null) return [];
    const row = await approvalsRepo.get(this.app.db, id);
    if (!row) return [];
    await this.assertReadable(p, row);
    return approvalsRepo.votes(this.app.db, id);
  }

  /**
   * One vote. Eligibility first (requester never, agents never at medium+, critical needs an
   * admin), then one batch: upsert this voter's vote, decide from the stored votes, and the
   * decision's side effects keyed on the decision token.
   */
  async vote(p: Principal, id: number | null, vote: 'approve' | 'deny', notes: string, direct?: { reason: string }) {
    const row = await this.load(id);
    if (row.status !== 'pending') throw badRequest(`Approval is already ${row.status}`);
    const tier = (RISK_TIERS as readonly string[]).includes(row.risk_tier) ? (row.risk_tier as RiskTier) : 'medium';
    const key = identityKey(p);
    if (key === row.requester_key) throw forbidden('The requester cannot vote on its own approval');
    if (p.kind === 'agent' && tierRank(tier) >= tierRank('medium'))
      throw forbidden(`Agents cannot vote on ${tier} risk approvals`);
    if (tier === 'critical' && !p.isAdmin) throw forbidden('Critical approvals are decided by admin operators');
    const voter = voterName(p);
    const token = randomToken();
    // A direct decision (PUT /approvals/:id) that decides is worded as spec 04 §2.3 words it: the
    // decider's reason is stored and told to the requester, and the event names the decision.
    const reasonDeny = direct ? direct.reason : notes || `Denied by ${voter}`;
    const base = `[${row.action_type}] ${row.title}`;
    const ev = {
      approved: {
        type: 'approval_approved',
        agent: voter,
        projectId: row.project_id,
        summary: direct ? `${voter} approved ${base}` : `${voter} approved #${row.id}: ${row.title} (quorum reached)`,
        data: { approval_id: row.id, action_type: row.action_type },
      },
      denied: {
        type: 'approval_denied',
        agent: voter,
        projectId: row.project_id,
        summary: direct ? `${voter} denied ${base}` : `${voter} denied approval #${row.id}: ${row.title}`,
        data: { approval_id: row.id, action_type: row.action_type },
      },
    };
    const said = direct?.reason ? ` — ${direct.reason}` : '';
    const notice = direct
      ? { approved: `APPROVED: ${base}${said}`, denied: `DENIED: ${base}${said}` }
      : {
          approved: `APPROVED: ${base} — Quorum reached`,
          denied: `DENIED: ${base}${reasonDeny ? ` — ${reasonDeny}` : ''}`,
        };
    const voteEv = { type: 'approval_vote', agent: voter, projectId: row.project_id };
    const res = await atomicWrite(this.app)
      .add('vote', approvalsRepo.upsertVote(row.id, voter, key, vote, notes))
      .add(null, approvalsRepo.syncApprovalCount(row.id))
      .add('decided', approvalsRepo.decide(row.id, voter, reasonDeny, token, direct ? direct.reason : null))
      .addAll(approvalsRepo.decisionEffects(row.id, token, notice))
      // Each decision event is written only if this vote's token decided it that way.
      .eventPerRow(ev.approved, approvalsRepo.decisionEvent(ev.approved, row.id, token, 'approved'))
      .eventPerRow(ev.denied, approvalsRepo.decisionEvent(ev.denied, row.id, token, 'denied'))
      .add(null, approvalsRepo.notifyRequesterOperator(row.id, token, notice))
      // A vote that leaves the approval pending is recorded in the same batch (issue 17); its
      // summary counts the approvals stored at that point.
      .eventPerRow(voteEv, {
        summarySql: "? || (SELECT COUNT(*) FROM approval_votes WHERE approval_id = ? AND vote = 'approve') || ?",
        dataSql: "json_object('approval_id', CAST(? AS INTEGER), 'vote', ?)",
        rest: "WHERE EXISTS (SELECT 1 FROM approvals WHERE id = ? AND status = 'pending')",
        args: [`${voter} voted ${vote} on #${row.id} (`, row.id, `/${row.required_approvals})`, row.id, vote, row.id],
      })
      .commit();
    if (res.rows('vote').length === 0) {
      const now = await this.load(row.id);
      throw badRequest(`Approval is already ${now.status}`);
    }
    const tally = (await approvalsRepo.tally(this.app.db, row.id)) ?? { approves: 0, denies: 0 };
    const votes = { approves: Number(tally.approves), denies: Number(tally.denies) };
    const decided = res.row<ApprovalRow>('decided');
    if (decided) {
      if (decided.status === 'denied') return { ok: true, status: 'denied', votes, message: 'Approval denied.' };
      return { ok: true, status: 'approved', votes, message: 'Quorum reached. Approval granted.' };
    }
    const fresh = await this.load(row.id);
    if (fresh.status !== 'pending') {
      // Another voter's concurrent vote decided it; report the outcome.
      return { ok: true, status: fresh.status, votes };
    }
    return { ok: true, status: 'pending', votes, remaining: Math.max(0, row.required_approvals - votes.approves) };
  }

  /**
   * Admin decision (PUT /approvals/:id). Recorded as that admin's vote (weak spot A4), so it
   * never bypasses quorum: a deny denies at once; an approve counts as one approver.
   */
  async decide(p: Principal, id: number | null, status: 'approved' | 'denied', reason: string) {
    const row = await this.load(id);
    if (row.status !== 'pending') throw badRequest(`Approval already ${row.status}`);
    const r = await this.vote(p, row.id, status === 'approved' ? 'approve' : 'deny', reason || 'override', { reason });
    return { ...r, ok: true, id: row.id, status: r.status };
  }

  /** approved → executed; only the requester or an admin (weak spot A6). */
  async markExecuted(p: Principal, id: number | null) {
    const row = await this.load(id);
    if (!p.isAdmin && row.requester_key !== identityKey(p))
      throw forbidden('Only the requester or an admin may mark an approval executed');
    if (row.status !== 'approved') throw badRequest(`Approval is ${row.status}, not approved`);
    const done = await atomicWrite(this.app)
      .add(null, approvalsRepo.markExecuted(row.id))
      .requireChanged('not approved')
      .event({
        type: 'approval_executed',
        agent: p.who,
        projectId: row.project_id,
        summary: `${p.who} executed [${row.action_type}] ${row.title}`,
        data: { approval_id: row.id },
      })
      .commitUnlessAborted();
    if (!done) {
      const now = await this.load(row.id);
      throw badRequest(`Approval is ${now.status}, not approved`);
    }
    return { ok: true, id: row.id, status: 'executed' };
  }

  /**
   * Maintenance: pending approvals older than APPROVAL_EXPIRY_HOURS expire (spec 04 A9), with an
   * event each and the requesting agent told. Returns how many expired.
   */
  async expireStale(): Promise<number> {
    const hours = this.app.config.approvalExpiryHours;
    if (!hours) return 0;
    const cutoff = toDbTime(this.app.clock.now().getTime() - hours * 3_600_000);
    const token = randomToken();
    const res = await atomicWrite(this.app)
      .addAll(approvalsRepo.expireBatch(cutoff, token, hours))
      .eventPerRow(
        { type: 'approval_expired', agent: '__system__', projectId: null },
        approvalsRepo.expiredEvents(token),
        'expired',
      )
      .commit();
    return res.eventsOf('expired').length;
  }

  /** Pending and approved requests of this caller (heartbeat/boot `approvals`). */
  async openFor(p: Principal) {
    return (await approvalsRepo.openByRequester(this.app.db, identityKey(p))).map(toPublicApproval);
  }
}

export function parseRiskTier(v: unknown): RiskTier | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string' || !(RISK_TIERS as readonly string[]).includes(v))
    throw invalidEnum('risk_tier', v, RISK_TIERS);
  return v as RiskTier;
}
