import { z } from 'zod';
import { idParam } from '../../http/contract.js';

/**
 * Tenant provisioning (spec 01 §4.4). An instance is answered without its secret hashes, the
 * runner's lease and the idempotency key (infra/provisioning `toPublicInstance`); the schema names
 * the public columns, so a hash can never leave even if a service forgot to strip it. Fresh secrets
 * are answered once, on creation or on a resume that had to issue new ones.
 */

export const InstanceIdParams = z.object({ id: idParam });

const str = z.string().nullable();

export const Instance = z
  .object({
    id: z.number().int(),
    org_id: z.string(),
    slug: z.string(),
    railway_project_id: str,
    railway_service_id: str,
    railway_environment_id: str,
    railway_volume_id: str,
    railway_domain_id: str,
    railway_deployment_id: str,
    dns_target: str,
    domain: str,
    cloudflare_record_id: str,
    source_repo: str,
    source_image: str,
    status: z.string(),
    current_step: str,
    last_error: str,
    version: str,
    health_status: z.string(),
    health_detail: str,
    last_health_check: str,
    admin_username: str,
    customer_email: str,
    secrets_issued_at: str,
    suspended_at: str,
    archived_at: str,
    deleted_at: str,
    snapshot_url: str,
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Instance' });

const InstanceStep = z
  .object({
    instance_id: z.number().int(),
    step: z.string(),
    status: z.string(),
    attempts: z.number().int(),
    upstream_id: str,
    detail: str,
    error: str,
    started_at: str,
    finished_at: str,
    updated_at: z.string(),
  })
  .meta({ id: 'InstanceStep' });

export const InstanceDetail = Instance.extend({ steps: z.array(InstanceStep) }).meta({ id: 'InstanceDetail' });

/** Documented; parsed in the handler after the 503 of an unconfigured server, as before. */
export const InstanceListQuery = z.object({
  status: z.string().optional(),
  org_id: z.string().optional(),
  limit: z.string().optional().meta({ description: 'Integer (default 100, 1..1000)' }),
  offset: z.string().optional().meta({ description: 'Integer (default 0)' }),
});

export const CreateInstance = z.object({
  org_id: z.string().trim().min(1).max(200),
  slug: z.string().trim().min(1).max(32),
  idempotency_key: z.string().trim().min(1).max(200).optional(),
  customer_email: z.string().trim().max(320).optional(),
  admin_username: z.string().trim().min(1).max(64).optional(),
  source_repo: z.string().trim().min(1).max(300).optional(),
  source_branch: z.string().trim().min(1).max(200).optional(),
  source_image: z.string().trim().min(1).max(300).optional(),
});

export const UpdateInstance = z.object({
  version: z.string().trim().max(100).nullable().optional(),
  customer_email: z.string().trim().max(320).nullable().optional(),
  admin_username: z.string().trim().min(1).max(64).nullable().optional(),
  status: z.enum(['active', 'suspended']).optional(),
});

export const RecordDeploy = z.object({
  version: z.string().trim().min(1).max(100),
  instance_ids: z.array(z.number().int().positive()).max(10_000).optional(),
});

const Secrets = z
  .object({ admin_key: z.string(), jwt_secret: z.string(), admin_username: str, admin_password: z.string() })
  .meta({ id: 'InstanceSecrets', description: 'Shown once: only hashes are stored' });

export const InstanceCreated = z.object({
  created: z.boolean(),
  instance: Instance,
  secrets: Secrets.optional(),
  note: z.string().optional(),
});

export const InstanceList = z.object({ instances: z.array(Instance) });
export const InstanceDeleted = z.object({ ok: z.literal(true), instance: Instance });

export const Resumed = z.object({
  outcome: z.string(),
  completed: z.array(z.string()).meta({ description: 'Steps this call completed' }),
  instance: Instance,
  error: z.string().optional(),
  secrets: Secrets.optional(),
  note: z.string().optional(),
});

export const HealthChecked = z.object({
  ok: z.boolean(),
  attempts: z.number().int(),
  elapsed: z.number(),
  health_status: z.string(),
  error: z.string().optional(),
});

export const DeployStatus = z.object({
  instances: z.array(
    z.object({
      id: z.number().int(),
      org_id: z.string(),
      domain: str,
      version: str,
      health_status: z.string(),
      last_health_check: str,
    }),
  ),
});

export const DeployRecorded = z.object({
  ok: z.literal(true),
  version: z.string(),
  updated: z.array(z.number().int()),
  skipped: z.array(z.number().int()),
});

export const HealthCheckedAll = z.object({
  ok: z.literal(true),
  results: z.array(
    z.object({ id: z.number().int(), domain: z.string(), ok: z.boolean(), error: z.string().optional() }),
  ),
});

export const ChurnChecked = z.object({
  ok: z.literal(true),
  results: z.object({
    archived: z.array(z.number().int()),
    deleted: z.array(z.number().int()),
    errors: z.array(z.object({ id: z.number().int(), error: z.string() })),
  }),
});
