import type { Db } from '../../worker/src/db/db.js';
import type { SqlValue } from '../../worker/src/db/types.js';

/** All SQL of the provisioning tables lives here. */

export interface InstanceRow {
  id: number;
  org_id: string;
  slug: string;
  idempotency_key: string;
  railway_project_id: string | null;
  railway_service_id: string | null;
  railway_environment_id: string | null;
  railway_volume_id: string | null;
  railway_domain_id: string | null;
  railway_deployment_id: string | null;
  dns_target: string | null;
  domain: string | null;
  cloudflare_record_id: string | null;
  source_repo: string | null;
  source_image: string | null;
  status: string;
  current_step: string | null;
  last_error: string | null;
  version: string | null;
  health_status: string;
  health_detail: string | null;
  last_health_check: string | null;
  admin_username: string | null;
  customer_email: string | null;
  admin_key_hash: string | null;
  jwt_secret_hash: string | null;
  admin_password_hash: string | null;
  secrets_issued_at: string | null;
  lease_owner: string | null;
  lease_until: string | null;
  suspended_at: string | null;
  archived_at: string | null;
  deleted_at: string | null;
  snapshot_url: string | null;
  created_at: string;
  updated_at: string;
}

export interface StepRow {
  instance_id: number;
  step: string;
  status: string;
  attempts: number;
  upstream_id: string | null;
  detail: string | null;
  error: string | null;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

/** Columns a caller may never see: hashes and the runner's lease. */
const HIDDEN = new Set([
  'admin_key_hash',
  'jwt_secret_hash',
  'admin_password_hash',
  'lease_owner',
  'lease_until',
  'idempotency_key',
]);

export type PublicInstance = Omit<
  InstanceRow,
  'admin_key_hash' | 'jwt_secret_hash' | 'admin_password_hash' | 'lease_owner' | 'lease_until' | 'idempotency_key'
>;

export function toPublicInstance(row: InstanceRow): PublicInstance {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (!HIDDEN.has(k)) out[k] = v;
  return out as PublicInstance;
}

export class InstanceRepo {
  constructor(private readonly db: Db) {}

  /**
   * The creation lock: one conditional INSERT. The UNIQUE constraints on slug and
   * idempotency_key make a second or concurrent insert a no-op (zero rows returned).
   */
  insertIfAbsent(v: {
    orgId: string;
    slug: string;
    idempotencyKey: string;
    domain: string;
    sourceRepo: string | null;
    sourceImage: string | null;
    adminUsername: string;
    customerEmail: string | null;
    adminKeyHash: string;
    jwtSecretHash: string;
    adminPasswordHash: string;
    now: string;
  }): Promise<InstanceRow | undefined> {
    return this.db.get<InstanceRow>(
      `INSERT INTO customer_instances
         (org_id, slug, idempotency_key, domain, source_repo, source_image, admin_username, customer_email,
          admin_key_hash, jwt_secret_hash, admin_password_hash, secrets_issued_at, status, current_step, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'provisioning', 'project', ?, ?)
       ON CONFLICT DO NOTHING
       RETURNING *`,
      [
        v.orgId,
        v.slug,
        v.idempotencyKey,
        v.domain,
        v.sourceRepo,
        v.sourceImage,
        v.adminUsername,
        v.customerEmail,
        v.adminKeyHash,
        v.jwtSecretHash,
        v.adminPasswordHash,
        v.now,
        v.now,
        v.now,
      ],
    );
  }

  get(id: number): Promise<InstanceRow | undefined> {
    return this.db.get<InstanceRow>('SELECT * FROM customer_instances WHERE id = ?', [id]);
  }

  findByIdempotencyKey(key: string): Promise<InstanceRow | undefined> {
    return this.db.get<InstanceRow>('SELECT * FROM customer_instances WHERE idempotency_key = ?', [key]);
  }

  findBySlug(slug: string): Promise<InstanceRow | undefined> {
    return this.db.get<InstanceRow>('SELECT * FROM customer_instances WHERE slug = ?', [slug]);
  }

  list(f: { status?: string; orgId?: string; limit: number; offset?: number }): Promise<InstanceRow[]> {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (f.status) {
      where.push('status = ?');
      args.push(f.status);
    }
    if (f.orgId) {
      where.push('org_id = ?');
      args.push(f.orgId);
    }
    args.push(f.limit, f.offset ?? 0);
    return this.db.all<InstanceRow>(
      `SELECT * FROM customer_instances ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      args,
    );
  }

  /** One page of rows in a status, by id, for sweeps that must see every row (no cap). */
  pageByStatus(
    status: string,
    afterId: number,
    pageSize: number,
    olderThan?: { column: 'suspended_at' | 'archived_at'; iso: string },
  ): Promise<InstanceRow[]> {
    const cond = olderThan ? ` AND ${olderThan.column} IS NOT NULL AND ${olderThan.column} <= ?` : '';
    const args: SqlValue[] = [status, afterId];
    if (olderThan) args.push(olderThan.iso);
    args.push(pageSize);
    return this.db.all<InstanceRow>(
      `SELECT * FROM customer_instances WHERE status = ? AND id > ?${cond} ORDER BY id LIMIT ?`,
      args,
    );
  }

  /** Rows the maintenance sweep should push forward: unleased (or lease expired) jobs. */
  runnable(nowIso: string, limit: number): Promise<InstanceRow[]> {
    return this.db.all<InstanceRow>(
      `SELECT * FROM customer_instances
       WHERE status IN ('provisioning', 'tearing_down') AND (lease_until IS NULL OR lease_until < ?)
       ORDER BY updated_at LIMIT ?`,
      [nowIso, limit],
    );
  }

  /** Takes the runner lease if it is free and the row is in one of `statuses`. */
  acquireLease(
    id: number,
    owner: string,
    nowIso: string,
    untilIso: string,
    statuses: string[],
  ): Promise<InstanceRow | undefined> {
    return this.db.get<InstanceRow>(
      `UPDATE customer_instances SET lease_owner = ?, lease_until = ?
       WHERE id = ? AND status IN (${statuses.map(() => '?').join(', ')}) AND (lease_until IS NULL OR lease_until < ?)
       RETURNING *`,
      [owner, untilIso, id, ...statuses, nowIso],
    );
  }

  async releaseLease(id: number, owner: string): Promise<void> {
    await this.db.run(
      'UPDATE customer_instances SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?',
      [id, owner],
    );
  }

  /** Updates the given columns; `updated_at` always moves. Returns the new row. */
  update(
    id: number,
    cols: Partial<Record<keyof InstanceRow, SqlValue>>,
    nowIso: string,
    where?: { status?: string[] },
  ): Promise<InstanceRow | undefined> {
    const keys = Object.keys(cols) as (keyof InstanceRow)[];
    const sets = keys.map((k) => `${String(k)} = ?`);
    sets.push('updated_at = ?');
    const args: SqlValue[] = keys.map((k) => cols[k] as SqlValue);
    args.push(nowIso, id);
    let cond = '';
    if (where?.status) {
      cond = ` AND status IN (${where.status.map(() => '?').join(', ')})`;
      args.push(...where.status);
    }
    return this.db.get<InstanceRow>(
      `UPDATE customer_instances SET ${sets.join(', ')} WHERE id = ?${cond} RETURNING *`,
      args,
    );
  }

  steps(instanceId: number): Promise<StepRow[]> {
    return this.db.all<StepRow>('SELECT * FROM customer_instance_steps WHERE instance_id = ? ORDER BY rowid', [
      instanceId,
    ]);
  }

  getStep(instanceId: number, step: string): Promise<StepRow | undefined> {
    return this.db.get<StepRow>('SELECT * FROM customer_instance_steps WHERE instance_id = ? AND step = ?', [
      instanceId,
      step,
    ]);
  }

  /** Marks a step running and counts the attempt; the first start time is kept across attempts. */
  startStep(instanceId: number, step: string, nowIso: string): Promise<StepRow | undefined> {
    return this.db.get<StepRow>(
      `INSERT INTO customer_instance_steps (instance_id, step, status, attempts, started_at, updated_at)
       VALUES (?, ?, 'running', 1, ?, ?)
       ON CONFLICT (instance_id, step) DO UPDATE SET
         status = 'running', attempts = attempts + 1, error = NULL,
         started_at = COALESCE(started_at, excluded.started_at), updated_at = excluded.updated_at
       RETURNING *`,
      [instanceId, step, nowIso, nowIso],
    );
  }

  async finishStep(
    instanceId: number,
    step: string,
    status: 'done' | 'failed' | 'waiting' | 'blocked',
    nowIso: string,
    extra: { upstreamId?: string | null; detail?: object; error?: string } = {},
  ): Promise<void> {
    await this.db.run(
      `UPDATE customer_instance_steps SET status = ?,
         upstream_id = COALESCE(?, upstream_id), detail = COALESCE(?, detail), error = ?,
         finished_at = CASE WHEN ? IN ('done', 'failed') THEN ? ELSE finished_at END, updated_at = ?
       WHERE instance_id = ? AND step = ?`,
      [
        status,
        extra.upstreamId ?? null,
        extra.detail ? JSON.stringify(extra.detail) : null,
        extra.error ?? null,
        status,
        nowIso,
        nowIso,
        instanceId,
        step,
      ],
    );
  }

  /** Forgets a step's progress so the next run starts it afresh (e.g. a new deployment). */
  async resetStep(instanceId: number, step: string, nowIso: string): Promise<void> {
    await this.db.run(
      `UPDATE customer_instance_steps SET status = 'pending', started_at = NULL, finished_at = NULL, updated_at = ? WHERE instance_id = ? AND step = ?`,
      [nowIso, instanceId, step],
    );
  }
}
