import { z } from 'zod';

/**
 * Every instance_config key the server knows (spec 01 §5.1, 04 §1.3), with its type and who may
 * read it. PUT validates against this table (weak spot 26: no free-form values for keys the
 * server reads); GET hides everything not marked `agentVisible` from agents (SEC-56).
 * Other areas register their own keys with `registerConfigKey` when their module loads.
 */
export interface ConfigKeyDef {
  key: string;
  /** Schema of the decoded value; stored form is the string itself or its JSON encoding. */
  schema: z.ZodType;
  description: string;
  /** Readable by agents (and non-admin operators). Anything else is admin-only. */
  agentVisible: boolean;
  /** Never shown to non-admins and redacted in lists for them. */
  secret?: boolean;
}

export const RISK_TIERS = ['low', 'medium', 'high', 'critical'] as const;
export type RiskTier = (typeof RISK_TIERS)[number];

export const DEFAULT_RISK_TIERS: Record<string, RiskTier> = {
  plan_create: 'low',
  context_change: 'low',
  deploy: 'medium',
  git_push: 'medium',
  delete: 'medium',
  external_comm: 'high',
  money_action: 'critical',
  delete_agent: 'critical',
  instance_config: 'critical',
};

const minutes = z.number().int().min(1).max(10_080);
const boolText = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => String(v));
const jsonObject = z.record(z.string(), z.unknown());

const defs = new Map<string, ConfigKeyDef>();

function registerConfigKey(def: ConfigKeyDef): void {
  defs.set(def.key, def);
}

export function configKeyDef(key: string): ConfigKeyDef | undefined {
  return defs.get(key);
}

for (const def of [
  { key: 'instance_mode', schema: z.string().trim().min(1).max(64), description: 'informational', agentVisible: true },
  {
    key: 'admin_agent_id',
    schema: z
      .string()
      .trim()
      .max(128)
      .regex(/^([A-Za-z0-9][A-Za-z0-9._:-]*)?$/, 'must be an agent id'),
    description: 'agent receiving POST /work/request',
    agentVisible: true,
  },
  { key: 'admin_status', schema: z.enum(['coordinator', 'frozen']), description: 'kill switch', agentVisible: true },
  {
    key: 'risk_tiers',
    schema: z.record(
      z
        .string()
        .min(1)
        .max(64)
        .regex(/^[a-z0-9_]+$/, 'action types are lower_snake_case'),
      z.enum(RISK_TIERS),
    ),
    description: 'approval tier per action type',
    agentVisible: true,
  },
  {
    key: 'approval_gate_threshold',
    schema: z.enum(RISK_TIERS),
    description: 'tier from which gated actions need an approved approval (SEC-48)',
    agentVisible: true,
  },
  {
    key: 'sleep_mode',
    schema: z
      .object({
        active: z.boolean(),
        directive: z.string().max(5000).optional(),
        priorities: z.array(z.unknown()).max(100).optional(),
        approval_policy: z.enum(['queue_high', 'normal']).optional(),
        auto_wake_at: z.string().max(64).nullable().optional(),
        started_at: z.string().max(64).nullable().optional(),
        started_by: z.string().max(200).nullable().optional(),
      })
      .strict(),
    description: 'sleep mode state',
    agentVisible: true,
  },
  { key: 'sleep_mode_log', schema: jsonObject, description: 'sleep mode log', agentVisible: false },
  {
    key: 'sleep_mode_operator_starts',
    schema: z.record(z.string(), z.string().max(64)),
    description: 'operator sleep starts',
    agentVisible: false,
  },
  {
    key: 'sleep_mode_auto_away',
    schema: z.array(z.string().max(128)).max(1000),
    description: 'operators auto-marked away',
    agentVisible: false,
  },
  { key: 'patrol_enabled', schema: boolText, description: "'false' disables the 5-minute patrol", agentVisible: true },
  { key: 'patrol_stale_agent_minutes', schema: minutes, description: 'patrol threshold', agentVisible: true },
  { key: 'patrol_stale_task_minutes', schema: minutes, description: 'patrol threshold', agentVisible: true },
  { key: 'patrol_stale_request_minutes', schema: minutes, description: 'patrol threshold', agentVisible: true },
  { key: 'patrol_stale_drone_minutes', schema: minutes, description: 'patrol threshold', agentVisible: true },
  { key: 'patrol_stale_plan_step_minutes', schema: minutes, description: 'patrol threshold', agentVisible: true },
  {
    key: 'smart_boot_max_keys',
    schema: z.number().int().min(0).max(200),
    description: 'smart boot key budget',
    agentVisible: true,
  },
  {
    key: 'instance_url',
    schema: z
      .string()
      .trim()
      .max(2048)
      .regex(/^https?:\/\/[^\s]+$/, 'must be an http(s) URL'),
    description: 'public URL of this instance',
    agentVisible: true,
  },
] satisfies ConfigKeyDef[]) {
  registerConfigKey(def);
}

/** Key names that look like credentials are secret even when nobody registered them. */
export function isSecretKey(key: string): boolean {
  return defs.get(key)?.secret === true || /(secret|token|password|api[_-]?key|private)/i.test(key);
}

export function isAgentVisible(key: string): boolean {
  const def = defs.get(key);
  return !!def && def.agentVisible && !def.secret;
}
