/**
 * A2A wire shapes (protocol v1.0, JSON-RPC binding) and the legacy ones the original's clients
 * send (the early draft's `tasks/send` and v0.3's `message/send`, lowercase states, `kind`).
 */

export const A2A_VERSION = '1.0';

/** JSON-RPC and A2A error codes (A2A v1.0 §JSON-RPC error mapping). */
export const RPC = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internal: -32603,
  taskNotFound: -32001,
  taskNotCancelable: -32002,
  unsupportedOperation: -32004,
  versionNotSupported: -32009,
} as const;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Our stored A2A states (lowercase, v0.3 spelling). */
export type A2AState =
  | 'submitted'
  | 'working'
  | 'input-required'
  | 'completed'
  | 'canceled'
  | 'failed'
  | 'rejected'
  | 'auth-required';
export const TERMINAL = new Set<A2AState>(['completed', 'canceled', 'failed', 'rejected']);

const V1_PREFIX = 'TASK_STATE_';
const toV1State = (s: A2AState) => `${V1_PREFIX}${s.replace('-', '_').toUpperCase()}`;

/** Any spelling a remote agent may answer with (v1 enum, v0.3 lowercase) → our stored state. */
export function normaliseState(raw: unknown): A2AState | null {
  if (typeof raw !== 'string') return null;
  const s = raw.startsWith(V1_PREFIX) ? raw.slice(V1_PREFIX.length).toLowerCase().replace('_', '-') : raw.toLowerCase();
  const known: A2AState[] = [
    'submitted',
    'working',
    'input-required',
    'completed',
    'canceled',
    'failed',
    'rejected',
    'auth-required',
  ];
  if ((known as string[]).includes(s)) return s as A2AState;
  if (s === 'cancelled') return 'canceled';
  return null;
}

/** The A2A state of an inbound task: a settled state is final; otherwise the Mycelium task's live status decides. */
export function inboundState(stored: string, taskStatus: string | null): A2AState {
  const s = normaliseState(stored) ?? 'submitted';
  if (TERMINAL.has(s)) return s;
  switch (taskStatus) {
    case 'in_progress':
    case 'review':
      return 'working';
    case 'done':
      return 'completed';
    case 'cancelled':
      return 'canceled';
    default:
      return s;
  }
}

/** Text of a message: v1 parts `{text}` / `{data}`, legacy `{type|kind:'text', text}`, or a plain string. */
export function messageText(message: unknown): string {
  if (typeof message === 'string') return message.trim();
  if (!message || typeof message !== 'object') return '';
  const parts = (message as { parts?: unknown }).parts;
  if (!Array.isArray(parts)) return '';
  const out: string[] = [];
  for (const p of parts) {
    if (!p || typeof p !== 'object') continue;
    const part = p as { text?: unknown; data?: unknown };
    if (typeof part.text === 'string') out.push(part.text);
    else if (part.data !== undefined) out.push(JSON.stringify(part.data));
  }
  return out.join('\n').trim();
}

/** DB time (`YYYY-MM-DD HH:MM:SS`, UTC) → ISO 8601 with milliseconds, as v1 wants. */
const isoOf = (db: string) => (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(db) ? `${db.replace(' ', 'T')}.000Z` : db);

export interface WireTaskInput {
  id: string;
  contextId: string;
  state: A2AState;
  input: string;
  result: string | null;
  createdAt: string;
  updatedAt: string;
  metadata: Record<string, unknown>;
}

/** A task in the v1.0 shape, or in the legacy shape for `tasks/*` and `message/*` callers. */
export function wireTask(t: WireTaskInput, legacy: boolean, historyLength?: number) {
  const text = (s: string) => (legacy ? { kind: 'text', type: 'text', text: s } : { text: s, mediaType: 'text/plain' });
  const artifacts =
    t.result === null ? [] : [{ artifactId: `${t.id}-result`, name: 'result', parts: [text(t.result)] }];
  const history =
    historyLength === 0
      ? []
      : [
          {
            messageId: `${t.id}-input`,
            role: legacy ? 'user' : 'ROLE_USER',
            parts: [text(t.input)],
            contextId: t.contextId,
            taskId: t.id,
            ...(legacy ? { kind: 'message' } : {}),
          },
        ];
  const status = { state: legacy ? t.state : toV1State(t.state), timestamp: isoOf(t.updatedAt) };
  return legacy
    ? { kind: 'task', id: t.id, contextId: t.contextId, status, artifacts, history, metadata: t.metadata }
    : {
        id: t.id,
        contextId: t.contextId,
        status,
        artifacts,
        history,
        metadata: t.metadata,
        createdAt: isoOf(t.createdAt),
        lastModified: isoOf(t.updatedAt),
      };
}

/** The Agent Card (v1.0). The legacy card adds the v0.3 top-level `url` and `protocolVersion`. */
export function agentCard(baseUrl: string, version: string, legacy: boolean) {
  const rpcUrl = `${baseUrl}/api/mycelium/a2a/rpc`;
  const card = {
    name: 'Mycelium',
    description:
      'Coordination server for AI agents, drones and human operators. Messages become Mycelium tasks routed to a capable online agent.',
    version,
    supportedInterfaces: [{ url: rpcUrl, protocolBinding: 'JSONRPC', protocolVersion: A2A_VERSION }],
    provider: { organization: 'Mycelium', url: baseUrl },
    documentationUrl: `${baseUrl}/docs`,
    capabilities: { streaming: false, pushNotifications: false, extendedAgentCard: false },
    // Only agent or admin credentials are accepted (spec 07 SEC-35); agent ids are not listed.
    securitySchemes: {
      agentKey: {
        apiKeySecurityScheme: { location: 'header', name: 'X-Agent-Key', description: 'A Mycelium agent key (dvk_…)' },
      },
      bearer: {
        httpAuthSecurityScheme: { scheme: 'Bearer', description: 'A Mycelium agent key or admin operator token' },
      },
    },
    securityRequirements: [{ schemes: { agentKey: { list: [] } } }, { schemes: { bearer: { list: [] } } }],
    defaultInputModes: ['text/plain', 'application/json'],
    defaultOutputModes: ['text/plain'],
    skills: [
      {
        id: 'task-management',
        name: 'Task Management',
        description:
          'Turns a request into a Mycelium task assigned to a capable online agent; the A2A task completes when that task is done.',
        tags: ['tasks', 'delegation'],
      },
      {
        id: 'agent-coordination',
        name: 'Agent Coordination',
        description:
          'Routes work among the agents of a Mycelium network (metadata.agent_id or metadata.capability narrow the choice).',
        tags: ['coordination', 'routing'],
      },
    ],
  };
  return legacy
    ? {
        ...card,
        url: rpcUrl,
        protocolVersion: '0.3.0',
        preferredTransport: 'JSONRPC',
        authentication: { schemes: ['apiKey', 'bearer'] },
      }
    : card;
}
