import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { fields, pageQuery } from '../work-items/fields.js';
import { BUG_SEVERITIES, BUG_STATUSES } from './repo.js';

/**
 * The wire shapes of bugs (spec 03 §6). A bug row never carries the claim's fencing token
 * (`lease_token`); the claim answer hands it to the claimer once.
 */

export const BugIdParams = z.object({ id: idParam });

export const Bug = z
  .object({
    id: z.number().int(),
    project_id: z.string(),
    title: z.string(),
    description: z.string(),
    category: z.string(),
    severity: z.string(),
    status: z.string(),
    reporter: z.string(),
    assignee: z.string().nullable(),
    admin_notes: z.string(),
    diagnostic_data: z.string().nullable().meta({ description: 'Text or JSON text the reporter attached' }),
    linked_ticket_id: z.number().int().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
    attempt: z.number().int().meta({ description: 'Times a lapsed lease sent the bug back to the queue' }),
  })
  .meta({ id: 'Bug' });

export const BugListQuery = z.object({
  project_id: z.string().optional(),
  status: z.string().optional(),
  assignee: z.string().optional(),
  reporter: z.string().optional(),
  severity: z.string().optional(),
  category: z.string().optional(),
  ...pageQuery,
});

export const BugList = z.object({
  bugs: z.array(Bug),
  counts: z
    .object({ open: z.number().int(), in_progress: z.number().int(), fixed: z.number().int(), total: z.number().int() })
    .meta({ description: 'Global counts, whatever the filters' }),
});

export const CreateBug = z.object({
  title: z.string().trim().max(500),
  description: fields.description,
  project_id: fields.projectId.optional(),
  category: z.string().max(100).optional(),
  severity: z.enum(BUG_SEVERITIES).optional(),
  assignee: fields.who.nullable().optional(),
  diagnostic_data: z
    .union([z.string().max(200_000), z.record(z.string(), z.unknown()), z.array(z.unknown())])
    .nullable()
    .optional(),
});

export const UpdateBug = z.object({
  status: z.enum(BUG_STATUSES).optional(),
  severity: z.enum(BUG_SEVERITIES).optional(),
  assignee: fields.who.nullable().optional(),
  admin_notes: z.string().max(50_000).optional(),
  lease_token: fields.leaseToken.optional(),
});

export const ClaimBug = z.object({ agent_id: fields.who.optional(), force: z.boolean().optional() });

export const BugOk = z.object({ ok: z.literal(true), id: z.number().int() });
export const BugClaimed = z.object({
  ok: z.literal(true),
  id: z.number().int(),
  assignee: z.string(),
  status: z.literal('in_progress'),
  lease_token: z.string().nullable().meta({ description: 'Fencing token: quote it on later writes' }),
  lease_ttl_seconds: z.number(),
});
