import { parseDbTime } from '../../db/time.js';
import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Statement } from '../../db/types.js';
import type { Principal } from '../../auth/principal.js';
import { generateAgentKey, hashAgentKey } from '../../auth/agent-keys.js';
import { badRequest, conflict, notFound } from '../../http/errors.js';
import { templatesRepo, toWireTemplate } from '../templates/repo.js';
import { agentsRepo, toPublicAgent, type AgentRow, type PublicAgent } from './repo.js';

export const DEFAULT_CAPABILITIES = ['code', 'assets'];

/** Ids that literal routes shadow (`/agents/heartbeat` …) can never be reached, so they are refused. */
export const RESERVED_AGENT_IDS = new Set([
  'heartbeat',
  'rekey',
  'profiles',
  'leaderboard',
  '__system__',
  '__admin__',
  '__global__',
]);

/**
 * MCP client config for an agent: the stdio package (spec 02 W27) and, next to it, the server's own
 * remote endpoint (streamable HTTP, nothing to install; the key travels as a header).
 */
export function mcpConfig(baseUrl: string, agentId: string, apiKey: string) {
  const apiUrl = `${baseUrl}/api/mycelium`;
  return {
    mcpServers: {
      mycelium_remote: { type: 'http', url: `${apiUrl}/mcp`, headers: { 'X-Agent-Key': apiKey } },
      mycelium: {
        command: 'npx',
        args: ['-y', '@softbacon/mycelium-mcp@latest'],
        env: {
          MYCELIUM_API_KEY: apiKey,
          MYCELIUM_AGENT_ID: agentId,
          MYCELIUM_URL: apiUrl,
          MYCELIUM_API_URL: apiUrl,
          MYCELIUM_ROLE: 'agent',
        },
      },
    },
  };
}

export interface RegisterInput {
  id: string;
  name: string;
  project_id: string;
  capabilities?: string[];
  agent_type?: string;
  llm_backend?: string;
  llm_model?: string;
  runtime?: string;
  template_id?: string;
}

export class AgentService {
  constructor(private readonly app: AppContext) {}

  async register(input: RegisterInput, actor: Principal, baseUrl: string) {
    const { db } = this.app;
    if (await agentsRepo.get(db, input.id)) throw conflict(`Agent ${input.id} already exists`);
    // The template is resolved before anything is written (spec 02 §3.1 step 3, REL-18).
    const template = input.template_id ? await templatesRepo.get(db, input.template_id) : undefined;
    if (input.template_id && !template) throw badRequest(`Template ${input.template_id} not found`);
    const tpl = template ? toWireTemplate(template) : undefined;
    const tplCaps = tpl?.capabilities.filter((x): x is string => typeof x === 'string');
    const apiKey = generateAgentKey();
    const isDroneRegistration = input.project_id === 'drone' || input.agent_type === 'drone';
    const insert = agentsRepo.insert({
      id: input.id,
      name: input.name,
      project_id: input.project_id,
      api_key_hash: await hashAgentKey(apiKey),
      // A drone registers with project 'drone' (spec 05 §1.1); the agent defaults `code`/`assets`
      // are capabilities a drone may not hold, so a drone starts with none.
      capabilities: input.capabilities ?? (tplCaps?.length ? tplCaps : isDroneRegistration ? [] : DEFAULT_CAPABILITIES),
      agent_type: input.agent_type || template?.agent_type || (input.project_id === 'drone' ? 'drone' : 'agent'),
      llm_backend: input.llm_backend || template?.llm_backend || '',
      llm_model: input.llm_model || template?.llm_model || '',
      runtime: input.runtime || template?.runtime || '',
    });
    const teamIds = (tpl?.team_ids ?? []).filter((x): x is string => typeof x === 'string');
    const ev = {
      type: 'agent_registered',
      agent: '__admin__',
      summary: `Admin registered agent: ${input.id}`,
      data: { agent_id: input.id, by: actor.who },
    };
    try {
      await atomicWrite(this.app)
        .add(null, insert)
        .event(ev)
        .addAll(this.afterRegister(input.id))
        .addAll(templatesRepo.joinTeams(input.id, teamIds))
        .commit();
    } catch (err) {
      if (/UNIQUE|constraint/i.test((err as Error).message)) throw conflict(`Agent ${input.id} already exists`);
      throw err;
    }
    return {
      id: input.id,
      api_key: apiKey,
      mcp_config: mcpConfig(baseUrl, input.id, apiKey),
      message: 'Store this key — it will not be shown again. MCP config included for agent setup.',
    };
  }

  /** Statements committed with a registration, so it stays one atomic write. */
  protected afterRegister(agentId: string): Statement[] {
    return [
      {
        // Every agent joins #general (spec 03 §9.2).
        sql: `INSERT OR IGNORE INTO channel_members (channel_id, user_id, user_type, role)
              SELECT id, ?, 'agent', 'member' FROM channels WHERE slug = 'general'`,
        args: [agentId],
      },
    ];
  }

  /** Replaces the key; the old one stops working immediately (cache dropped too). */
  async rotateKey(agentId: string, by: 'admin' | 'self') {
    const { db, keyCache } = this.app;
    const agent = await agentsRepo.get(db, agentId);
    if (!agent) throw notFound('Agent not found');
    const apiKey = generateAgentKey();
    const ev =
      by === 'admin'
        ? { type: 'agent_key_regenerated', agent: '__admin__', summary: `Admin regenerated key for: ${agentId}` }
        : { type: 'agent_key_rotated', agent: agentId, summary: `${agentId} rotated their API key` };
    await atomicWrite(this.app)
      .add(null, agentsRepo.setKeyHash(agentId, await hashAgentKey(apiKey)))
      .event(ev)
      .commit();
    keyCache.forgetAgent(agentId);
    return {
      id: agentId,
      api_key: apiKey,
      message:
        by === 'admin'
          ? 'Store this key — it will not be shown again'
          : 'Key rotated — update your config with this new key',
    };
  }

  /**
   * Roster. Optional exact filters (additive to the original, which honoured none): `status`
   * matches the derived presence, so `?status=online` never lists a silent agent.
   */
  async list(
    f: { status?: string; project_id?: string; agent_type?: string; role?: string } = {},
  ): Promise<PublicAgent[]> {
    return (await agentsRepo.list(this.app.db))
      .map((a) => this.present(a))
      .filter(
        (a) =>
          (f.status === undefined || a.status === f.status) &&
          (f.project_id === undefined || a.project_id === f.project_id) &&
          (f.agent_type === undefined || a.agent_type === f.agent_type) &&
          (f.role === undefined || (a.role || 'agent') === f.role),
      );
  }

  async get(id: string): Promise<PublicAgent> {
    const row = await agentsRepo.get(this.app.db, id);
    if (!row) throw notFound('Agent not found');
    return this.present(row);
  }

  /** Presence derives from heartbeat age: a stale online/idle/busy agent reads offline (spec 02 §2.3). */
  present(row: AgentRow): PublicAgent {
    const out = toPublicAgent(row);
    out.status = derivePresence(row.status, row.last_heartbeat, this.app.clock.now());
    return out;
  }
}

export const PRESENCE_STALE_MS = 900_000;
const LIVE = new Set(['online', 'idle', 'busy']);

export function derivePresence(status: string, lastHeartbeat: string | null, now: Date): string {
  if (!LIVE.has(status)) return status;
  if (!lastHeartbeat) return 'offline';
  const t = parseDbTime(lastHeartbeat);
  if (Number.isNaN(t) || now.getTime() - t >= PRESENCE_STALE_MS) return 'offline';
  return status;
}
