import { z } from 'zod';
import { nameParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { HEARTBEAT_STATUSES } from './service.js';

/**
 * The wire shapes of heartbeats (spec 02 §3.3). The body is validated by the service, whose
 * sentences the spec pins; the schema documents it and passes it through whole.
 */

export const AgentIdParams = z.object({ id: nameParam });

export const HeartbeatBody = z.looseObject({
  agent_id: documented({ type: 'string', description: 'With X-Admin-Key: the agent to beat for' }),
  status: documented({ type: 'string', enum: [...HEARTBEAT_STATUSES], default: 'online' }),
  working_on: documented({ type: 'string', maxLength: 2000 }),
  session_id: documented({ type: ['string', 'null'], maxLength: 200 }),
  state_snapshot: documented({ type: ['object', 'string'], description: 'Saved as a savepoint (≤ 200000 chars)' }),
  messages_acked: documented({ type: 'array', items: { type: 'integer' }, description: 'Message ids read' }),
  avatar_url: documented({ type: 'string', maxLength: 2000 }),
  llm_backend: documented({ type: 'string', maxLength: 2000 }),
  llm_model: documented({ type: 'string', maxLength: 2000 }),
  runtime: documented({ type: 'string', maxLength: 2000 }),
  agent_type: documented({ type: 'string', maxLength: 50, description: 'Admin key only' }),
  system_diagnostics: documented({ type: 'object' }),
});

export const AdminHeartbeatBody = z.looseObject({
  status: documented({ type: 'string', enum: [...HEARTBEAT_STATUSES], default: 'online' }),
  working_on: documented({ type: 'string', maxLength: 2000 }),
});

/** A message as an agent's inbox delivers it. */
export const InboxItem = z
  .object({
    id: z.number().int(),
    from_agent: z.string(),
    to_agent: z.string().nullable().optional(),
    content: z.string(),
    msg_type: z.string(),
    priority: z.string(),
    project_id: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'InboxItem' });

export const Inbox = z
  .object({ directives: z.array(InboxItem), requests: z.array(InboxItem), messages: z.array(InboxItem) })
  .meta({ id: 'Inbox' });

export const DispatchRecord = z
  .object({ agent: z.string(), type: z.enum(['plan_step', 'task']), id: z.number().int(), title: z.string() })
  .meta({ id: 'DispatchRecord' });

const OpenApproval = z.object({
  id: z.number().int(),
  action_type: z.string(),
  title: z.string(),
  status: z.string(),
  risk_tier: z.string().nullable(),
  project_id: z.string().nullable(),
  created_at: z.string(),
  decided_at: z.string().nullable(),
});

export const HeartbeatAnswer = z.object({
  ok: z.literal(true),
  pending: z.number().int().meta({ description: 'Items waiting in the inbox' }),
  wake: z.boolean().meta({ description: 'A directive or request is pending' }),
  inbox: Inbox.optional(),
  admin_status: z.literal('frozen').optional(),
  auto_dispatched: z.array(DispatchRecord).optional(),
  approvals: z.array(OpenApproval).optional(),
});

export const AdminHeartbeatAnswer = z.object({ ok: z.literal(true), agent: z.string(), status: z.string() });
