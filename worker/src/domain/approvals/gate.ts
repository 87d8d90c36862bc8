import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { AppError, badRequest } from '../../http/errors.js';
import { RISK_TIERS, type RiskTier } from '../config/keys.js';
import { configRepo } from '../config/repo.js';
import { approvalsRepo } from './repo.js';
import { identityKey } from './identity.js';
import { ApprovalService, boundSubject, subjectMatches, tierRank } from './service.js';

export interface GateResult {
  /** Set when the action proceeds without an approval below the threshold (compatibility). */
  approval_warning?: string;
  /** The approval consumed by this action, if any. */
  approval_id?: number;
}

const refuse = (msg: string) => new AppError(403, msg, { approval_required: true });

/**
 * The approval gate for gated actions (spec 04 §2.4, SEC-48). Admins pass. For an action whose
 * tier is at or above `approval_gate_threshold` (default medium) an agent or operator must
 * present an approved approval of that action type that it requested; the approval is consumed
 * (marked executed) atomically, so a second use is refused. An approval bound to a resource (its
 * payload named one) passes only for that `target`. Below the threshold the original's soft
 * warning is kept.
 */
export async function checkApprovalGate(
  app: AppContext,
  p: Principal,
  actionType: string,
  rawApprovalId: unknown,
  target?: { kind: string; id: string | number },
): Promise<GateResult> {
  if (p.isAdmin) return {};
  const service = new ApprovalService(app);
  const threshold = await gateThreshold(app);
  const tier = await service.tierFor(actionType);
  const hasId = rawApprovalId !== undefined && rawApprovalId !== null && rawApprovalId !== '';
  // A number or a digit string only: Number([[7]]) is 7, and a nested value must not stand in for an id.
  if (
    hasId &&
    typeof rawApprovalId !== 'number' &&
    !(typeof rawApprovalId === 'string' && /^\d{1,16}$/.test(rawApprovalId))
  ) {
    throw badRequest('approval_id must be an integer');
  }
  if (!hasId) {
    if (tierRank(tier) >= tierRank(threshold)) throw refuse(`Approval required for ${actionType}`);
    return {
      approval_warning: `This action (${actionType}) should use the approval system. Call mycelium_request_approval first.`,
    };
  }
  const id = Number(rawApprovalId);
  const row = Number.isSafeInteger(id) && id > 0 ? await approvalsRepo.get(app.db, id) : undefined;
  if (!row) throw refuse(`Approval #${String(rawApprovalId)} not found`);
  if (row.status !== 'approved') throw refuse(`Approval #${id} is ${row.status}, not approved`);
  if (row.action_type !== actionType) throw refuse(`Approval #${id} is for ${row.action_type}, not ${actionType}`);
  if (row.requester_key !== identityKey(p))
    throw refuse(`Approval #${id} belongs to ${row.requested_by}, not ${p.who}`);
  // Target binding: an approval whose payload named a resource approves that one only.
  const bound = boundSubject(row.subject);
  if (bound !== null && target && !subjectMatches(bound, target)) {
    throw refuse(`Approval #${id} is for ${bound}, not ${target.kind} ${String(target.id)}`);
  }
  const used = await atomicWrite(app)
    .add(null, approvalsRepo.markExecuted(id))
    .requireChanged('approval used')
    .event({
      type: 'approval_executed',
      agent: p.who,
      projectId: row.project_id,
      summary: `${p.who} executed [${row.action_type}] ${row.title}`,
      data: { approval_id: id },
    })
    .commitUnlessAborted();
  if (!used) throw refuse(`Approval #${id} is executed, not approved`);
  return { approval_id: id };
}

async function gateThreshold(app: AppContext): Promise<RiskTier> {
  const v = await configRepo.value(app.db, 'approval_gate_threshold');
  return v && (RISK_TIERS as readonly string[]).includes(v) ? (v as RiskTier) : 'medium';
}
