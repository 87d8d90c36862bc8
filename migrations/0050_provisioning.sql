-- Tenant provisioning (infra/provisioning). A tenant is a persisted, resumable job:
-- one customer_instances row per tenant plus one customer_instance_steps row per step.
-- The UNIQUE constraints on slug and idempotency_key are the lock that keeps repeated or
-- concurrent create requests from ever starting a second Railway project.
CREATE TABLE IF NOT EXISTS customer_instances (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  org_id TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  idempotency_key TEXT NOT NULL UNIQUE,
  railway_project_id TEXT,
  railway_service_id TEXT,
  railway_environment_id TEXT,
  railway_volume_id TEXT,
  railway_domain_id TEXT,
  railway_deployment_id TEXT,
  dns_target TEXT,
  domain TEXT,
  cloudflare_record_id TEXT,
  source_repo TEXT,
  source_image TEXT,
  status TEXT NOT NULL DEFAULT 'provisioning',
  current_step TEXT,
  last_error TEXT,
  version TEXT,
  health_status TEXT NOT NULL DEFAULT 'unknown',
  health_detail TEXT,
  last_health_check TEXT,
  admin_username TEXT,
  customer_email TEXT,
  admin_key_hash TEXT,
  jwt_secret_hash TEXT,
  admin_password_hash TEXT,
  secrets_issued_at TEXT,
  lease_owner TEXT,
  lease_until TEXT,
  suspended_at TEXT,
  archived_at TEXT,
  deleted_at TEXT,
  snapshot_url TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS idx_customer_instances_org ON customer_instances(org_id);
CREATE INDEX IF NOT EXISTS idx_customer_instances_status ON customer_instances(status);
CREATE INDEX IF NOT EXISTS idx_customer_instances_domain ON customer_instances(domain);
CREATE TABLE IF NOT EXISTS customer_instance_steps (
  instance_id INTEGER NOT NULL REFERENCES customer_instances(id) ON DELETE CASCADE,
  step TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  upstream_id TEXT,
  detail TEXT,
  error TEXT,
  started_at TEXT,
  finished_at TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (instance_id, step)
);
CREATE INDEX IF NOT EXISTS idx_customer_instance_steps_status ON customer_instance_steps(status);
