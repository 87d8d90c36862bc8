import { z } from 'zod';
import { idParam } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';

/**
 * A2A (spec 06 §5.6, issue 12). The JSON-RPC endpoint and the Agent Card answer in the protocol's
 * own shapes and are described as raw JSON; the management routes answer named rows. Bodies are
 * checked by the service with its sentences (`url is required`, `agent_id and message are required`).
 */

export const ExternalAgent = z
  .object({
    id: z.number().int(),
    agent_url: z.string(),
    rpc_url: z.string(),
    protocol_version: z.string(),
    name: z.string(),
    description: z.string(),
    capabilities: z.unknown().meta({ description: 'Parsed from the card' }),
    agent_card: z.unknown().meta({ description: 'The remote Agent Card as fetched' }),
    status: z.string(),
    discovered_by: z.string(),
    last_discovered_at: z.string(),
  })
  .meta({ id: 'A2AExternalAgent' });

export const OutboundTask = z
  .object({
    id: z.string(),
    external_agent_id: z.number().int(),
    remote_task_id: z.string().nullable(),
    context_id: z.string().nullable(),
    mycelium_task_id: z.number().int().nullable(),
    mycelium_agent_id: z.string(),
    method: z.string(),
    input_text: z.string(),
    status: z.string(),
    result: z.unknown().meta({ description: 'Stored text; parsed JSON on the single-task read' }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'A2AOutboundTask' });

export const AgentIdParams = z.object({ id: idParam });
export const TaskIdParams = z.object({ id: z.string().meta({ description: 'Outbound task id' }) });

export const AgentsQuery = z.object({ status: z.string().optional() });
export const OutboundQuery = z.object({
  status: z.string().optional(),
  limit: z.string().optional().meta({ description: 'Default 50, at most 200' }),
});

export const DiscoverBody = z.looseObject({
  url: documented({ type: 'string', description: "The remote agent's base URL" }),
});
export const SendBody = z.looseObject({
  agent_id: documented({ type: 'integer' }),
  message: documented({ description: 'Text, or an A2A message object' }),
});

export const Discovered = z.object({ ok: z.literal(true), id: z.number().int(), agent: ExternalAgent });
export const Sent = z.object({ ok: z.literal(true), task_id: z.string(), status: z.string(), result: z.unknown() });
export const Deleted = z.object({ ok: z.literal(true) });

export const RpcResponse = {
  contentType: 'application/json',
  description: 'A JSON-RPC 2.0 answer (`result` or `error`), with the `A2A-Version` header',
};
export const RpcBody = z.looseObject({
  jsonrpc: documented({ type: 'string', const: '2.0' }),
  id: documented({ type: ['string', 'integer', 'null'] }),
  method: documented({
    type: 'string',
    description: 'SendMessage, GetTask, ListTasks, CancelTask (and the v0.3 names)',
  }),
  params: documented({ type: 'object' }),
});
export const CardResponse = { contentType: 'application/json', description: 'The A2A Agent Card' };
