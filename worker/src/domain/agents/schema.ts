import { z } from 'zod';
import { nameParam, queryInt } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';
import { idString } from '../../http/validate.js';

/**
 * The wire shapes of the agent registry (spec 01 §2.8, 02 §3.1–3.2). An agent row never carries
 * its key hash (`api_key_hash`); a key leaves exactly once, in the answer that minted it.
 */

export const AgentIdParams = z.object({ id: nameParam });
export const AgentSkillsParams = z.object({ agentId: nameParam });

const shortText = z.string().max(200);
export const RegisterAgent = z.object({
  id: idString(128),
  name: z.string().trim().min(1).max(200),
  project_id: z.string().trim().min(1).max(200),
  capabilities: z.array(z.string().max(100)).max(100).optional(),
  template_id: z.string().max(128).optional(),
  agent_type: shortText.optional(),
  llm_backend: shortText.optional(),
  llm_model: shortText.optional(),
  runtime: shortText.optional(),
});

const optText = z
  .string()
  .optional()
  .transform((v) => v || undefined);
export const AgentListQuery = z.object({ status: optText, project_id: optText, agent_type: optText, role: optText });
export const LeaderboardQuery = z.object({ limit: queryInt(20, 1, 100) });

export const UpdateAgentBody = z.looseObject({
  name: documented({ type: 'string', maxLength: 200 }),
  project_id: documented({ type: 'string' }),
  role: documented({ type: 'string', description: 'Admins only' }),
  capabilities: documented({ type: 'array', items: { type: 'string' } }),
  avatar_url: documented({ type: 'string' }),
  operator_id: documented({ type: 'string' }),
  agent_type: documented({ type: 'string' }),
  llm_backend: documented({ type: 'string' }),
  llm_model: documented({ type: 'string' }),
  runtime: documented({ type: 'string' }),
});
export const UpdateProfileBody = z.looseObject({
  display_name: documented({ type: 'string' }),
  specializations: documented({ type: 'array', items: { type: 'string' } }),
  preferred_projects: documented({ type: 'array', items: { type: 'string' } }),
  max_concurrent: documented({ type: 'integer' }),
  profile_data: documented({ type: 'object' }),
});
export const UpdateIdentityBody = z.looseObject({
  capabilities: documented({ type: 'array', items: { type: 'string' } }),
  responsibilities: documented({ type: 'array', items: { type: 'string' } }),
  guardrails: documented({ type: 'array', items: { type: 'string' } }),
});

export const Agent = z
  .object({
    id: z.string(),
    name: z.string(),
    project_id: z.string(),
    project: z.string(),
    status: z.string().meta({ description: 'Derived presence: a silent agent reads offline' }),
    working_on: z.string(),
    last_heartbeat: z.string().nullable(),
    capabilities: z.string().meta({ description: 'JSON array text' }),
    avatar_url: z.string(),
    role: z.string(),
    operator_id: z.string(),
    system_diagnostics: z.string().meta({ description: 'JSON object text' }),
    agent_type: z.string(),
    llm_backend: z.string(),
    llm_model: z.string(),
    runtime: z.string(),
    created_at: z.string(),
    primary_team_id: z.string().nullable(),
  })
  .meta({ id: 'Agent' });

export const AgentProfile = z
  .object({
    agent_id: z.string(),
    display_name: z.string(),
    specializations: z.array(z.unknown()),
    preferred_projects: z.array(z.unknown()),
    max_concurrent: z.number().int(),
    total_tasks_completed: z.number().int(),
    total_bugs_fixed: z.number().int(),
    total_prs_created: z.number().int(),
    session_count: z.number().int(),
    capability_history: z.array(z.unknown()),
    profile_data: z.record(z.string(), z.unknown()).meta({ description: 'Free-form JSON the agent stored' }),
    first_seen_at: z.string(),
    last_active_at: z.string(),
  })
  .meta({ id: 'AgentProfile' });

export const LeaderboardEntry = z.object({
  agent_id: z.string(),
  display_name: z.string(),
  specializations: z.array(z.unknown()),
  total_tasks_completed: z.number().int(),
  total_bugs_fixed: z.number().int(),
  total_prs_created: z.number().int(),
  session_count: z.number().int(),
  first_seen_at: z.string(),
  last_active_at: z.string(),
});

/** The MCP client configuration for an agent (its key in place). */
const McpConfig = z.record(z.string(), z.unknown()).meta({ id: 'McpConfig' });

export const Registered = z.object({
  id: z.string(),
  api_key: z.string().meta({ description: 'Shown once: store it' }),
  mcp_config: McpConfig,
  message: z.string(),
});
export const KeyRotated = z.object({ id: z.string(), api_key: z.string(), message: z.string() });
export const AgentUpdated = z.object({ ok: z.literal(true), id: z.string(), updated: z.array(z.string()) });
export const AgentDeleted = z.object({ ok: z.literal(true), deleted: z.string() });
export const IdentityUpdated = z.object({ ok: z.literal(true), updated: z.record(z.string(), z.unknown()) });
export const McpConfigAnswer = z.object({ agent_id: z.string(), mcp_config: McpConfig, note: z.string() });

const Labelled = z.object({ value: z.unknown(), source: z.string(), locked: z.boolean() });
export const Identity = z
  .object({
    agent: z.object({
      id: z.string(),
      name: z.string(),
      agent_type: z.string(),
      role: z.string(),
      status: z.string(),
      avatar_url: z.string(),
      operator_id: z.string(),
      llm_backend: z.string(),
      llm_model: z.string(),
      runtime: z.string(),
    }),
    capabilities: z.array(z.string()),
    forbidden_capabilities: z.array(z.string()),
    projects: z.array(z.object({ id: z.string(), name: z.string() })),
    teams: z.array(z.object({ id: z.string(), name: z.string(), role: z.string(), is_primary: z.number().int() })),
    responsibilities: z.array(Labelled),
    guardrails: z.array(Labelled),
    profile_stats: z
      .object({
        session_count: z.number().int(),
        total_tasks_completed: z.number().int(),
        total_bugs_fixed: z.number().int(),
        total_prs_created: z.number().int(),
        specializations: z.array(z.unknown()),
        first_seen_at: z.string(),
        last_active_at: z.string(),
      })
      .nullable(),
    calibration: z.object({
      layers_applied: z.array(z.unknown()),
      md_checkpoints: z.array(z.unknown()),
      md_blocklist: z.array(z.unknown()),
    }),
  })
  .meta({ id: 'AgentIdentity' });

/** An installed skill: the skill row with its install time and config (the skills area owns the row). */
export const InstalledSkill = z.record(z.string(), z.unknown());

// Calibration ("node") profiles (spec 02 §3.10).

export const ProfileIdParams = z.object({ id: z.string().meta({ example: 'platform-base' }) });
export const ResolveParams = z.object({ agentId: nameParam });
export const ProfileListQuery = z.object({ node_type: z.string().optional(), layer: z.string().optional() });

const jsonField = (type: 'object' | 'array') =>
  documented({ type: [type, 'string'], description: `A JSON ${type} (or its JSON text)` });
export const ProfileBody = z.looseObject({
  id: documented({ type: 'string', maxLength: 128, description: 'On create' }),
  node_type: documented({ type: 'string', maxLength: 128 }),
  layer: documented({ type: 'string', maxLength: 128, description: '`platform` is refused' }),
  parent_id: documented({ type: ['string', 'null'], maxLength: 128 }),
  rules: jsonField('object'),
  mcp_config: jsonField('object'),
  required_concepts: jsonField('array'),
  tool_whitelist: jsonField('array'),
  repo_list: jsonField('array'),
  md_checkpoints: jsonField('array'),
  md_blocklist: jsonField('array'),
});

/** JSON columns come back parsed (left as the stored text when unparsable, spec 02 §1.5). */
const stored = (description: string) => z.unknown().meta({ description });
export const NodeProfile = z
  .object({
    id: z.string(),
    node_type: z.string(),
    layer: z.string(),
    parent_id: z.string().nullable(),
    rules: stored('Object of rules'),
    required_concepts: stored('Array'),
    tool_whitelist: stored('Array'),
    repo_list: stored('Array'),
    md_checkpoints: stored('Array'),
    md_blocklist: stored('Array'),
    mcp_config: stored('Object'),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'NodeProfile' });

export const ProfileList = z.object({ count: z.number().int(), profiles: z.array(NodeProfile) });
export const ProfileDeleted = z.object({ ok: z.literal(true), deleted: NodeProfile });
export const ResolvedChain = z
  .object({
    rules: z.record(z.string(), z.record(z.string(), z.unknown())),
    required_concepts: z.array(z.unknown()),
    mcp_config: z.record(z.string(), z.unknown()),
    tool_whitelist: z.array(z.unknown()),
    repo_list: z.array(z.unknown()),
    md_checkpoints: z.array(z.unknown()),
    md_blocklist: z.array(z.unknown()),
    layers_applied: z.array(z.object({ id: z.string(), layer: z.string(), node_type: z.string() })),
  })
  .meta({ id: 'CalibrationChain' });
