import { z } from 'zod';
import { idParam, nameParam } from '../../http/contract.js';
import { S, sentence } from '../../http/contract-fields.js';
import { DRONE_JOB_STATUSES } from './repo.js';

/**
 * Drones, drone jobs, templates, profiles and artifacts (spec 05 §3–§8): request and answer
 * shapes. Answers pass through these schemas, so a drone job's `requester_key` (the requester's
 * identity key), an artifact's `blob_key` and an agent's key hash never leave.
 */

// ── request pieces ──────────────────────────────────────────────────────────

const text = (max: number) => z.string().max(max);

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** A string array, or a JSON string of one (MCP clients send strings). */
const stringList = (max = 50) =>
  z.preprocess((v) => (typeof v === 'string' ? safeJson(v) : v), z.array(z.string().max(200)).max(max));

/** The original parsed priority with parseInt; here an integer or an integer string, nothing else. */
const intLike = z.preprocess(
  (v) => (typeof v === 'string' && /^-?\d{1,9}$/.test(v.trim()) ? Number(v) : v),
  z.number().int().min(-1_000_000).max(1_000_000),
);

/** Job list paging: strict digits (spec 05 §4), `<field> must be a non-negative integer` otherwise. */
const strictInt = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d{1,9}$/.test(raw)) {
      ctx.addIssue({ code: 'custom', message: 'must be a non-negative integer', params: { sentence: true } });
      return z.NEVER;
    }
    return Number(raw);
  })
  .meta({ description: 'Non-negative integer' });

export const DroneIdParams = z.object({ id: nameParam });
export const JobIdParams = z.object({ id: idParam });
export const TemplateIdParams = z.object({ id: nameParam });
export const ProfileIdParams = z.object({ profileId: nameParam });
export const ProfileDroneParams = z.object({ profileId: nameParam, droneId: nameParam });
export const ByDroneParams = z.object({ droneId: nameParam });
export const ArtifactNameParams = z.object({ name: nameParam });

export const ClaimBody = z.object({ capabilities: stringList().optional() });

export const QueueJob = z.object({
  title: z.string().trim().min(1).max(500),
  command: text(100_000).optional(),
  input_data: z.unknown().optional(),
  requires: stringList().optional(),
  priority: intLike.optional(),
  workspace_repo: text(2000).nullable().optional(),
  workspace_branch: text(200).optional(),
  profile_id: text(128).nullable().optional(),
  job_type: text(128).nullable().optional(),
});
export type QueueJobInput = z.infer<typeof QueueJob>;

export const JobFromTemplate = z.object({
  template_id: z.string().trim().min(1).max(128),
  input_data: z.unknown().optional(),
  priority: intLike.optional(),
});

export const UpdateJob = z.object({
  status: z.enum(DRONE_JOB_STATUSES).optional(),
  result_url: text(2000).nullable().optional(),
  result_data: z.union([text(200_000), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  error: text(20_000).nullable().optional(),
  drone_id: text(128).nullable().optional(),
  lease_token: z.string().min(1).max(100).optional(),
});

export const JobListQuery = z.object({
  status: z.string().optional(),
  drone_id: z.string().optional(),
  requester: z.string().optional(),
  limit: strictInt,
  offset: strictInt,
});

export const JobCleanupQuery = z.object({
  status: sentence({ type: 'string', enum: ['failed', 'done', 'both'], default: 'failed' }, (v) =>
    v === undefined || v === 'failed' || v === 'done' || v === 'both' ? null : 'must be failed, done, or both',
  ),
  older_than_days: sentence({ type: 'integer', minimum: 0, description: 'Days (default 0)' }, (v) =>
    v === undefined || v === '' || (typeof v === 'string' && /^\d{1,5}$/.test(v))
      ? null
      : 'must be a non-negative integer',
  ),
});

/** The create slug is checked by the route first (its sentence names the missing id). */
const slugDoc = { ...S, maxLength: 128, description: 'Required on create: a slug' };

export const TemplateFields = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  project_id: text(200).optional(),
  requires: stringList().optional(),
  min_vram_gb: z.number().min(0).max(100_000).optional(),
  min_disk_gb: z.number().min(0).max(1_000_000).optional(),
  python_deps: z
    .preprocess(
      (v) => (typeof v === 'string' ? safeJson(v) : v),
      z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/, 'must be module names')).max(100),
    )
    .optional(),
  python_deps_install: text(2000).optional(),
  artifacts: stringList(100).optional(),
  setup_repo: text(2000).optional(),
  command_template: text(20_000).optional(),
  workspace_name: z
    .string()
    .max(200)
    .regex(/^[A-Za-z0-9_.-]*$/, 'may contain only letters, digits, ".", "_" and "-"')
    .optional(),
  id: z.unknown().optional().meta(slugDoc),
});
export type TemplateInput = z.infer<typeof TemplateFields>;

const jsonObject = z.preprocess((v) => (typeof v === 'string' ? safeJson(v) : v), z.record(z.string(), z.unknown()));

export const ProfileFields = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: text(5000).optional(),
  requires: jsonObject.optional(),
  artifacts: stringList(100).optional(),
  setup_script: text(100_000).optional(),
  workspace: text(2000).optional(),
  env: z
    .preprocess((v) => (typeof v === 'string' ? safeJson(v) : v), z.record(z.string(), z.string().max(10_000)))
    .optional(),
  id: z.unknown().optional().meta(slugDoc),
});
export type ProfileInput = z.infer<typeof ProfileFields>;

export const AssignBody = z.object({
  drone_id: sentence(
    { ...S, maxLength: 128 },
    (v) =>
      v === null || v === '' ? 'is required' : typeof v !== 'string' || v.length > 128 ? 'must be a string' : null,
    { required: true },
  ),
});

export const SetupCompleteBody = z.object({ checksum: text(200).optional() });

// ── answers ─────────────────────────────────────────────────────────────────

const ok = z.literal(true);

export const DroneJob = z
  .object({
    id: z.number().int(),
    title: z.string(),
    command: z.string(),
    command_argv: z.string().meta({ description: 'JSON array text: the rendered argv' }),
    input_data: z.string().meta({ description: 'JSON object text' }),
    requires: z.string().meta({ description: 'JSON array text' }),
    requester: z.string(),
    drone_id: z.string().nullable(),
    status: z.string(),
    priority: z.number().int(),
    workspace_repo: z.string().nullable(),
    workspace_branch: z.string(),
    profile_id: z.string().nullable(),
    result_url: z.string().nullable(),
    result_data: z.string().meta({ description: 'JSON text' }),
    error: z.string().nullable(),
    skip_reason: z.string().nullable(),
    started_at: z.string().nullable(),
    progress_at: z.string().nullable(),
    completed_at: z.string().nullable(),
    created_at: z.string(),
    job_type: z.string().nullable(),
  })
  .meta({ id: 'DroneJob' });

const snapshotExtras = {
  system_info: z.record(z.string(), z.unknown()).nullable().optional(),
  warnings: z.array(z.unknown()).optional(),
  worker_version: z.string().nullable().optional(),
};

export const Drone = z
  .object({
    id: z.string(),
    name: z.string(),
    project_id: z.string(),
    agent_type: z.string(),
    status: z.string(),
    working_on: z.string(),
    last_heartbeat: z.string().nullable(),
    capabilities: z.string().meta({ description: 'JSON array text' }),
    created_at: z.string(),
    ...snapshotExtras,
  })
  .meta({ id: 'Drone' });

const Assignment = z.object({
  drone_id: z.string(),
  profile_id: z.string(),
  setup_done: z.number().int(),
  setup_at: z.string().nullable(),
  checksum: z.string(),
  name: z.string(),
  description: z.string(),
  requires: z.record(z.string(), z.unknown()),
  artifacts: z.array(z.unknown()),
  setup_script: z.string(),
  workspace: z.string(),
  profile_updated_at: z.string(),
});

/** A drone's profile assignment; `env` is `{}` unless the caller may read it. */
export const DroneProfileAssignment = Assignment.extend({ env: z.record(z.string(), z.unknown()) }).meta({
  id: 'DroneProfileAssignment',
});

export const DroneDetail = z
  .object({
    id: z.string(),
    name: z.string(),
    project_id: z.string(),
    status: z.string(),
    working_on: z.string(),
    last_heartbeat: z.string().nullable(),
    capabilities: z.string().meta({ description: 'JSON array text' }),
    avatar_url: z.string().optional(),
    role: z.string().optional(),
    operator_id: z.string().nullable().optional(),
    system_diagnostics: z.string().meta({ description: 'JSON object text' }),
    agent_type: z.string(),
    llm_backend: z.string().nullable().optional(),
    llm_model: z.string().nullable().optional(),
    runtime: z.string().nullable().optional(),
    created_at: z.string(),
    primary_team_id: z.string().nullable().optional(),
    recent_jobs: z.array(DroneJob),
    ...snapshotExtras,
    error_summary: z
      .array(
        z.object({
          job_id: z.number().int(),
          title: z.string(),
          error_type: z.string(),
          message: z.string(),
          suggestion: z.string(),
          failed_at: z.string().nullable(),
        }),
      )
      .optional(),
    profiles: z.array(
      Assignment.extend({ env: z.string().meta({ description: "JSON object text, '{}' when hidden" }) }),
    ),
  })
  .meta({ id: 'DroneDetail' });

export const DroneStatus = z.object({
  id: z.string(),
  name: z.string(),
  status: z.string(),
  paused: z.boolean(),
  working_on: z.string(),
  capabilities: z.array(z.string()),
  last_heartbeat: z.string().nullable(),
  queued_jobs: z.number().int(),
});

const TemplateCheck = z.object({
  template: z.string(),
  name: z.string(),
  status: z.enum(['ready', 'incompatible']),
  notes: z.string().optional(),
  reasons: z.array(z.string()).optional(),
});
export const DroneCompatibility = z.object({
  drone_id: z.string(),
  error: z.string().optional(),
  compatible: z.array(TemplateCheck),
  incompatible: z.array(TemplateCheck),
});

export const DronePaused = z.object({ ok, status: z.enum(['paused', 'online']) });

export const DroneClaim = z.object({
  job: DroneJob.nullable(),
  lease_token: z.string().optional().meta({ description: 'Fencing token for the claimer: quote it on later writes' }),
  lease_ttl_seconds: z.number().optional(),
  paused: z.boolean().optional(),
  skipped: z.object({ job_id: z.number().int(), reason: z.string() }).optional(),
  stale_released: z.number().int(),
});

export const JobQueued = z.object({ ok, id: z.number().int(), title: z.string(), job_type: z.string().nullable() });
export const JobUpdated = z.object({ ok, id: z.number().int(), unchanged: z.boolean().optional() });
export const JobCancelled = z.object({ ok, id: z.number().int(), cancelled: z.literal(true) });
export const JobsCleaned = z.object({
  ok,
  cancelled: z.number().int(),
  dismissed: z.number().int(),
  jobs: z.array(z.object({ id: z.number().int(), title: z.string() })),
});

export const JobTemplate = z
  .object({
    id: z.string(),
    name: z.string(),
    project_id: z.string(),
    requires: z.string().meta({ description: 'JSON array text' }),
    min_vram_gb: z.number(),
    min_disk_gb: z.number(),
    python_deps: z.string().meta({ description: 'JSON array text' }),
    python_deps_install: z.string(),
    artifacts: z.string().meta({ description: 'JSON array text' }),
    setup_repo: z.string(),
    command_template: z.string(),
    workspace_name: z.string(),
    created_at: z.string(),
  })
  .meta({ id: 'JobTemplate' });

export const Deleted = z.object({ ok, deleted: z.string() });

const profileColumns = {
  id: z.string(),
  name: z.string(),
  description: z.string(),
  setup_script: z.string(),
  workspace: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
};

/** A profile as read: JSON columns parsed, `env` `{}` unless the caller may read it. */
export const DroneProfile = z
  .object({
    ...profileColumns,
    requires: z.record(z.string(), z.unknown()),
    artifacts: z.array(z.unknown()),
    env: z.record(z.string(), z.unknown()),
    drones: z
      .array(
        z.object({
          drone_id: z.string(),
          setup_done: z.number().int(),
          setup_at: z.string().nullable(),
          checksum: z.string(),
          status: z.string(),
          last_heartbeat: z.string().nullable(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'DroneProfile' });

/** The row as created (admins only): JSON columns as stored text. */
export const DroneProfileCreated = z.object({
  ...profileColumns,
  requires: z.string(),
  artifacts: z.string(),
  env: z.string(),
});

export const ProfileAssigned = z.object({ ok, drone_id: z.string(), profile_id: z.string() });
export const ProfileUnassigned = z.object({ ok, unassigned: z.literal(true) });
export const SetupCompleted = z.object({ ok, profile_id: z.string(), setup_done: z.literal(true) });

export const DroneArtifact = z
  .object({ name: z.string(), size: z.number().int(), sha256: z.string(), uploaded: z.string(), url: z.string() })
  .meta({ id: 'DroneArtifact' });
export const ArtifactUploaded = z.object({
  ok,
  name: z.string(),
  url: z.string(),
  size: z.number().int(),
  sha256: z.string(),
});
