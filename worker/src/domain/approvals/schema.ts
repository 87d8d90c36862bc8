import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { sentence } from '../../http/contract-fields.js';

/**
 * Approvals (spec 04 §2, README quorum rule). An answer carries the public approval: the
 * requester's identity key (`requester_key`, which binds the approval to who asked) and the
 * internal `decision_id` never leave; `payload` is parsed JSON.
 */

export const ApprovalIdParams = z.object({ id: idParam });

const falsy = (v: unknown) => v === undefined || v === null || v === '' || v === 0 || v === false;

export const CreateApproval = z.object({
  action_type: sentence(
    { type: 'string', maxLength: 64 },
    (v) => (typeof v !== 'string' || !v ? 'is required' : null),
    {
      required: true,
    },
  ).pipe(z.string().max(64)),
  title: sentence({ type: 'string', maxLength: 500 }, (v) => (!v ? 'is required' : null), { required: true }).pipe(
    z.string().max(500),
  ),
  payload: sentence({ description: 'What the action will do (any JSON)' }, (v) => (falsy(v) ? 'is required' : null), {
    required: true,
  }),
  project_id: z.string().trim().max(200).optional(),
  risk_tier: z
    .unknown()
    .optional()
    .meta({ type: 'string', enum: ['low', 'medium', 'high', 'critical'] }),
  required_approvals: z.number().int().min(0).max(100).optional(),
  subject: z.string().trim().max(500).optional(),
});

export const ApprovalListQuery = z.object({
  status: z.string().optional(),
  action_type: z.string().optional(),
  requested_by: z.string().optional(),
  project_id: z.string().optional(),
  limit: z
    .string()
    .optional()
    .transform((v) => (/^\d+$/.test(v ?? '') && Number(v) >= 1 ? Math.min(Number(v), 500) : 50))
    .meta({ description: 'Default 50, at most 500' }),
});

export const Decide = z.object({
  status: sentence(
    { type: 'string', enum: ['approved', 'denied'] },
    (v) => (v !== 'approved' && v !== 'denied' ? 'must be approved or denied' : null),
    { always: true },
  ).pipe(z.enum(['approved', 'denied'])),
  reason: z.string().max(5000).optional(),
});

export const Vote = z.object({
  vote: sentence(
    { type: 'string', enum: ['approve', 'deny'] },
    (v) => (v !== 'approve' && v !== 'deny' ? 'must be approve or deny' : null),
    { always: true },
  ).pipe(z.enum(['approve', 'deny'])),
  notes: z.string().max(5000).optional(),
});

export const Approval = z
  .object({
    id: z.number().int(),
    action_type: z.string(),
    requested_by: z.string(),
    title: z.string(),
    payload: z.unknown().meta({ description: 'Parsed JSON when it is JSON, else the stored text' }),
    subject: z.string(),
    status: z.string(),
    reason: z.string(),
    admin_notes: z.string(),
    decided_by: z.string().nullable(),
    decided_at: z.string().nullable(),
    executed_at: z.string().nullable(),
    project_id: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    risk_tier: z.string(),
    required_approvals: z.number().int(),
    current_approvals: z.number().int(),
    queued_for_morning: z.boolean(),
  })
  .meta({ id: 'Approval' });

export const ApprovalVote = z
  .object({
    id: z.number().int(),
    approval_id: z.number().int(),
    voter: z.string(),
    vote: z.string(),
    notes: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'ApprovalVote' });

export const ApprovalRequested = z.object({
  id: z.number().int(),
  status: z.string(),
  approval_required: z.boolean().optional(),
  duplicate: z.literal(true).optional(),
  risk_tier: z.string().optional(),
  required_approvals: z.number().int().optional(),
  queued: z.literal(true).optional(),
  message: z.string().optional(),
});

const Tally = z.object({ approves: z.number().int(), denies: z.number().int() });

export const VoteResult = z.object({
  ok: z.literal(true),
  id: z.number().int().optional(),
  status: z.string(),
  votes: Tally,
  message: z.string().optional(),
  remaining: z.number().int().optional(),
});

export const Executed = z.object({ ok: z.literal(true), id: z.number().int(), status: z.literal('executed') });
