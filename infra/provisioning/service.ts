import type { Db } from '../../worker/src/db/db.js';
import { CloudflareClient } from './cloudflare.js';
import type { ProvisioningConfig } from './config.js';
import { normalizeRepo } from './config.js';
import { ProvisioningError, UpstreamError } from './errors.js';
import { pollHealth, type HealthPollResult } from './health.js';
import {
  noopEvents,
  noopInbox,
  realSleep,
  systemClock,
  type Clock,
  type EventEmitterPort,
  type InboxNotifier,
  type Sleep,
} from './ports.js';
import { DEPLOY_FAILED, DEPLOY_SUCCESS, RailwayClient } from './railway.js';
import { InstanceRepo, toPublicInstance, type InstanceRow, type PublicInstance, type StepRow } from './repo.js';
import { generateTenantSecrets, hashTenantSecrets, matchesHash, type TenantSecrets } from './secrets.js';

/** The provisioning steps, in order. Each records its upstream id, so a rerun resumes at the first unfinished one. */
export const STEPS = [
  'project',
  'service',
  'variables',
  'volume',
  'domain',
  'dns',
  'deploy',
  'health',
  'admin',
] as const;
export type StepName = (typeof STEPS)[number];

export const INSTANCE_STATUSES = [
  'provisioning',
  'deployed',
  'active',
  'failed',
  'suspended',
  'archived',
  'tearing_down',
  'deleted',
] as const;
export const HEALTH_STATUSES = ['unknown', 'healthy', 'unhealthy', 'error'] as const;

/** Railway variable that carries the first operator's password until the operator exists. */
export const BOOTSTRAP_PASSWORD_VAR = 'MYCELIUM_BOOTSTRAP_ADMIN_PASSWORD';
export const DATA_MOUNT_PATH = '/data';

export interface ProvisioningTiming {
  /** Wall time one advance() call may spend before it stops and leaves the rest to the next call. */
  advanceBudgetMs: number;
  /** How long the deploy step may wait for Railway, counted from its first start. */
  deployTimeoutMs: number;
  deployPollIntervalMs: number;
  /** How long the health step may wait for the new tenant, counted from its first start. */
  healthTimeoutMs: number;
  healthIntervalMs: number;
  healthAttemptTimeoutMs: number;
  /** Budget and interval of an on-demand health check (POST /instances/:id/health-check). */
  manualHealthBudgetMs: number;
  manualHealthIntervalMs: number;
  /** Per upstream call deadline. */
  upstreamTimeoutMs: number;
  suspendedDaysBeforeArchive: number;
  archivedDaysBeforeDelete: number;
}

export const DEFAULT_TIMING: ProvisioningTiming = {
  advanceBudgetMs: 25_000,
  deployTimeoutMs: 20 * 60_000,
  deployPollIntervalMs: 5_000,
  healthTimeoutMs: 5 * 60_000,
  healthIntervalMs: 5_000,
  healthAttemptTimeoutMs: 10_000,
  manualHealthBudgetMs: 15_000,
  manualHealthIntervalMs: 5_000,
  upstreamTimeoutMs: 15_000,
  suspendedDaysBeforeArchive: 30,
  archivedDaysBeforeDelete: 90,
};

export interface ProvisioningDeps {
  db: Db;
  config: ProvisioningConfig;
  fetch?: typeof fetch;
  clock?: Clock;
  sleep?: Sleep;
  events?: EventEmitterPort;
  inbox?: InboxNotifier;
  timing?: Partial<ProvisioningTiming>;
  /** Base URL of a tenant; `https://<domain>` unless overridden (tests point it at a local server). */
  tenantUrl?: (domain: string) => string;
}

export interface CreateInstanceInput {
  orgId: string;
  slug: string;
  /** Same key → same job. Defaults to `slug:<slug>`. */
  idempotencyKey?: string;
  customerEmail?: string | null;
  adminUsername?: string;
  /** Overrides the configured default source. */
  source?: { repo: string; branch?: string } | { image: string };
}

export interface CreateInstanceResult {
  /** false when the idempotency key (or slug) already had a job: nothing new was started. */
  created: boolean;
  instance: PublicInstance;
  /** Present only on the call that created the job: shown once, never stored in clear. */
  secrets?: TenantSecrets;
}

export interface AdvanceResult {
  instance: PublicInstance;
  /** Steps this call completed. */
  completed: StepName[];
  /** `busy`: another runner holds the job; `blocked`: secrets needed — call resume(). */
  outcome: 'active' | 'in_progress' | 'failed' | 'blocked' | 'busy' | 'not_provisioning';
  error?: string;
}

type StepOutcome =
  | { kind: 'done'; upstreamId?: string | null; detail?: object }
  | { kind: 'wait'; detail?: object }
  | { kind: 'blocked'; reason: string };

const SLUG_RE = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;

export class ProvisioningService {
  readonly repo: InstanceRepo;
  readonly railway: RailwayClient;
  readonly cloudflare: CloudflareClient;
  private readonly fetchFn: typeof fetch;
  private readonly clock: Clock;
  private readonly sleep: Sleep;
  private readonly events: EventEmitterPort;
  private readonly inbox: InboxNotifier;
  readonly timing: ProvisioningTiming;
  private readonly tenantUrl: (domain: string) => string;

  constructor(private readonly deps: ProvisioningDeps) {
    this.repo = new InstanceRepo(deps.db);
    this.fetchFn = deps.fetch ?? ((...a) => fetch(...a));
    this.clock = deps.clock ?? systemClock;
    this.sleep = deps.sleep ?? realSleep;
    this.events = deps.events ?? noopEvents;
    this.inbox = deps.inbox ?? noopInbox;
    this.timing = { ...DEFAULT_TIMING, ...deps.timing };
    this.tenantUrl = deps.tenantUrl ?? ((d) => `https://${d}`);
    const c = deps.config;
    this.railway = new RailwayClient({
      token: c.railwayToken,
      apiUrl: c.railwayApiUrl,
      fetch: this.fetchFn,
      timeoutMs: this.timing.upstreamTimeoutMs,
    });
    this.cloudflare = new CloudflareClient({
      token: c.cloudflareToken,
      zoneId: c.cloudflareZoneId,
      apiUrl: c.cloudflareApiUrl,
      fetch: this.fetchFn,
      timeoutMs: this.timing.upstreamTimeoutMs,
    });
  }

  private nowIso(): string {
    return this.clock().toISOString();
  }

  private async safeEmit(type: string, summary: string, data?: object): Promise<void> {
    try {
      await this.events.emit(type, summary, data);
    } catch {
      /* events must never break a job */
    }
  }

  private async safeNotify(item: Parameters<InboxNotifier['notify']>[0]): Promise<void> {
    try {
      await this.inbox.notify(item);
    } catch {
      /* same */
    }
  }

  // ───────────────────────────── reads ─────────────────────────────

  async get(id: number): Promise<PublicInstance & { steps: StepRow[] }> {
    const row = await this.repo.get(id);
    if (!row) throw new ProvisioningError('not_found', 'Instance not found');
    return { ...toPublicInstance(row), steps: await this.repo.steps(id) };
  }

  async list(f: { status?: string; orgId?: string; limit?: number; offset?: number } = {}): Promise<PublicInstance[]> {
    const limit = Math.min(Math.max(1, f.limit ?? 100), 1000);
    return (await this.repo.list({ ...f, limit })).map(toPublicInstance);
  }

  // ───────────────────────────── create ─────────────────────────────

  /**
   * Registers the tenant job (idempotently) and returns its secrets once. It calls no
   * upstream: the caller then runs `advance(id, { secrets })` — on Workers inside
   * `waitUntil` — so the steps that need the clear secrets run while they are in memory.
   */
  async createInstance(input: CreateInstanceInput): Promise<CreateInstanceResult> {
    const slug = (input.slug ?? '').trim().toLowerCase();
    if (!SLUG_RE.test(slug))
      throw new ProvisioningError('invalid', 'slug must be 1-32 characters of a-z, 0-9 and inner hyphens');
    const orgId = (input.orgId ?? '').trim();
    if (!orgId) throw new ProvisioningError('invalid', 'org_id is required');
    const idempotencyKey = (input.idempotencyKey ?? '').trim() || `slug:${slug}`;
    if (idempotencyKey.length > 200)
      throw new ProvisioningError('invalid', 'idempotency_key must be at most 200 characters');
    const adminUsername = (input.adminUsername ?? 'admin').trim() || 'admin';

    let sourceRepo: string | null = null;
    let sourceImage: string | null = null;
    if (input.source && 'image' in input.source) sourceImage = input.source.image.trim() || null;
    else if (input.source && 'repo' in input.source) {
      sourceRepo = normalizeRepo(input.source.repo);
      if (!sourceRepo) throw new ProvisioningError('invalid', 'source.repo must be a GitHub owner/repo');
    } else if (this.deps.config.sourceImage) sourceImage = this.deps.config.sourceImage;
    else sourceRepo = this.deps.config.sourceRepo;
    if (!sourceRepo && !sourceImage)
      throw new ProvisioningError(
        'invalid',
        'No service source: pass source.repo or source.image, or set PROVISIONING_SOURCE_REPO / PROVISIONING_SOURCE_IMAGE',
      );

    const secrets = generateTenantSecrets();
    const hashes = await hashTenantSecrets(secrets);
    const now = this.nowIso();
    const row = await this.repo.insertIfAbsent({
      orgId,
      slug,
      idempotencyKey,
      domain: `${slug}.${this.deps.config.baseDomain}`,
      sourceRepo,
      sourceImage,
      adminUsername,
      customerEmail: input.customerEmail ?? null,
      ...hashes,
      now,
    });
    if (row) {
      await this.safeEmit('instance_provisioning_started', `Provisioning ${row.domain}`, {
        instance_id: row.id,
        org_id: orgId,
        slug,
      });
      return { created: true, instance: toPublicInstance(row), secrets };
    }
    const byKey = await this.repo.findByIdempotencyKey(idempotencyKey);
    if (byKey) {
      if (byKey.slug !== slug)
        throw new ProvisioningError('conflict', 'idempotency_key was already used for a different slug');
      return { created: false, instance: toPublicInstance(byKey) };
    }
    throw new ProvisioningError('conflict', `slug "${slug}" is already taken`);
  }

  // ───────────────────────────── the runner ─────────────────────────────

  /**
   * Performs the next step(s) of a provisioning job within the time budget and returns.
   * Safe to call from anywhere at any time (waitUntil, cron, a retry): a lease taken with one
   * conditional UPDATE guarantees a single runner per job.
   */
  async advance(id: number, opts: { secrets?: TenantSecrets; budgetMs?: number } = {}): Promise<AdvanceResult> {
    const budget = opts.budgetMs ?? this.timing.advanceBudgetMs;
    const deadline = this.clock().getTime() + budget;
    const owner = crypto.randomUUID();
    const leaseUntil = new Date(deadline + 2 * this.timing.upstreamTimeoutMs + 5_000).toISOString();
    let row = await this.repo.acquireLease(id, owner, this.nowIso(), leaseUntil, ['provisioning']);
    if (!row) {
      const cur = await this.repo.get(id);
      if (!cur) throw new ProvisioningError('not_found', 'Instance not found');
      return {
        instance: toPublicInstance(cur),
        completed: [],
        outcome: cur.status === 'provisioning' ? 'busy' : 'not_provisioning',
      };
    }
    const completed: StepName[] = [];
    try {
      if (opts.secrets) await this.assertSecretsMatch(row, opts.secrets);
      for (;;) {
        const steps = await this.repo.steps(id);
        const done = new Set(steps.filter((s) => s.status === 'done').map((s) => s.step));
        const next = STEPS.find((s) => !done.has(s));
        if (!next) {
          row =
            (await this.repo.update(id, { status: 'active', current_step: null, last_error: null }, this.nowIso(), {
              status: ['provisioning'],
            })) ?? row;
          await this.safeEmit('instance_provisioned', `Instance ${row.domain} is live`, {
            instance_id: id,
            domain: row.domain,
          });
          await this.safeNotify({
            type: 'instance_provisioned',
            title: `Instance ${row.domain} is ready`,
            data: { instance_id: id, domain: row.domain },
          });
          return { instance: toPublicInstance(row), completed, outcome: 'active' };
        }
        // At least one step per call, so even a tiny budget makes progress. The clear secrets
        // exist only in the creating call's memory: that call never stops before they are
        // installed, or the job would block and need new secrets (short Workers budgets).
        const holdsSecrets = opts.secrets !== undefined && !done.has('variables');
        if (completed.length > 0 && !holdsSecrets && this.clock().getTime() >= deadline) {
          return { instance: toPublicInstance(row), completed, outcome: 'in_progress' };
        }
        await this.repo.update(id, { current_step: next }, this.nowIso());
        const step = (await this.repo.startStep(id, next, this.nowIso()))!;
        let outcome: StepOutcome;
        try {
          outcome = await this.runStep(next, row, step, { secrets: opts.secrets, deadline });
        } catch (err) {
          const message = errorMessage(err);
          await this.repo.finishStep(id, next, 'failed', this.nowIso(), { error: message });
          row =
            (await this.repo.update(id, { status: 'failed', last_error: `${next}: ${message}` }, this.nowIso())) ?? row;
          await this.safeEmit('instance_provision_failed', `Provisioning ${row.domain} failed at ${next}: ${message}`, {
            instance_id: id,
            step: next,
            error: message,
          });
          await this.safeNotify({
            type: 'instance_provision_failed',
            title: `Provisioning ${row.domain} failed at step ${next}`,
            body: message,
            urgent: true,
            data: { instance_id: id, step: next },
          });
          return { instance: toPublicInstance(row), completed, outcome: 'failed', error: message };
        }
        row = (await this.repo.get(id))!;
        if (outcome.kind === 'done') {
          await this.repo.finishStep(id, next, 'done', this.nowIso(), {
            upstreamId: outcome.upstreamId ?? null,
            detail: outcome.detail,
          });
          completed.push(next);
          continue;
        }
        if (outcome.kind === 'wait') {
          await this.repo.finishStep(id, next, 'waiting', this.nowIso(), { detail: outcome.detail });
          return { instance: toPublicInstance(row), completed, outcome: 'in_progress' };
        }
        await this.repo.finishStep(id, next, 'blocked', this.nowIso(), { error: outcome.reason });
        row = (await this.repo.update(id, { last_error: `${next}: ${outcome.reason}` }, this.nowIso())) ?? row;
        return { instance: toPublicInstance(row), completed, outcome: 'blocked', error: outcome.reason };
      }
    } finally {
      await this.repo.releaseLease(id, owner);
    }
  }

  /**
   * Restarts a failed (or secret-blocked) job at its failed step. If the tenant's secrets never
   * reached Railway, fresh ones are generated, their hashes replace the old ones, and they
   * are returned here — once — because the ones from create were never installed anywhere.
   */
  async resume(id: number, opts: { budgetMs?: number } = {}): Promise<AdvanceResult & { secrets?: TenantSecrets }> {
    const row = await this.repo.get(id);
    if (!row) throw new ProvisioningError('not_found', 'Instance not found');
    if (row.status === 'failed') {
      const moved = await this.repo.update(id, { status: 'provisioning', last_error: null }, this.nowIso(), {
        status: ['failed'],
      });
      if (!moved) throw new ProvisioningError('conflict', 'Instance changed state; retry');
    } else if (row.status !== 'provisioning') {
      throw new ProvisioningError(
        'conflict',
        `Instance is ${row.status}; only failed or provisioning jobs can be resumed`,
      );
    }
    const variables = await this.repo.getStep(id, 'variables');
    let secrets: TenantSecrets | undefined;
    if (variables?.status !== 'done') {
      secrets = generateTenantSecrets();
      const h = await hashTenantSecrets(secrets);
      await this.repo.update(
        id,
        {
          admin_key_hash: h.adminKeyHash,
          jwt_secret_hash: h.jwtSecretHash,
          admin_password_hash: h.adminPasswordHash,
          secrets_issued_at: this.nowIso(),
        },
        this.nowIso(),
      );
    }
    const result = await this.advance(id, { secrets, budgetMs: opts.budgetMs });
    return secrets ? { ...result, secrets } : result;
  }

  private async assertSecretsMatch(row: InstanceRow, s: TenantSecrets): Promise<void> {
    const ok =
      (await matchesHash(s.adminKey, row.admin_key_hash)) &&
      (await matchesHash(s.jwtSecret, row.jwt_secret_hash)) &&
      (await matchesHash(s.adminPassword, row.admin_password_hash));
    if (!ok) throw new ProvisioningError('invalid', 'secrets do not belong to this instance');
  }

  private async runStep(
    step: StepName,
    row: InstanceRow,
    rec: StepRow,
    ctx: { secrets?: TenantSecrets; deadline: number },
  ): Promise<StepOutcome> {
    const now = () => this.nowIso();
    const cfg = this.deps.config;
    const retry = rec.attempts > 1;
    switch (step) {
      case 'project': {
        if (row.railway_project_id && row.railway_environment_id)
          return { kind: 'done', upstreamId: row.railway_project_id };
        const name = projectName(row.slug);
        let project = null as null | { id: string; environments: { id: string; name: string }[] };
        if (row.railway_project_id) project = await this.railway.getProject(row.railway_project_id);
        // A previous attempt may have created the project and lost the answer: adopt it, never create a second.
        if (!project && retry)
          project = (await this.railway.findProjectsByName(name, cfg.railwayTeamId ?? undefined))[0] ?? null;
        if (!project) {
          project = await this.railway.createProject(name, cfg.railwayTeamId ?? undefined);
          await this.repo.update(row.id, { railway_project_id: project.id }, now());
        }
        let env: { id: string; name: string } | null =
          project.environments.find((e) => e.name === 'production') ?? project.environments[0] ?? null;
        if (!env) env = await this.railway.findEnvironment(project.id);
        if (!env) throw new UpstreamError('railway', 200, 'project has no environment', 'Project');
        await this.repo.update(row.id, { railway_project_id: project.id, railway_environment_id: env.id }, now());
        return { kind: 'done', upstreamId: project.id, detail: { environment_id: env.id } };
      }
      case 'service': {
        if (row.railway_service_id) return { kind: 'done', upstreamId: row.railway_service_id };
        const projectId = must(row.railway_project_id, 'project id');
        const name = 'mycelium';
        let service: { id: string; name: string } | null = null;
        if (retry) service = (await this.railway.getProject(projectId)).services.find((s) => s.name === name) ?? null;
        if (!service) {
          const source = row.source_image
            ? { image: row.source_image }
            : { repo: must(row.source_repo, 'source repo'), branch: cfg.sourceBranch ?? undefined };
          service = await this.railway.createService({ projectId, name, source });
        }
        await this.repo.update(row.id, { railway_service_id: service.id }, now());
        return { kind: 'done', upstreamId: service.id };
      }
      case 'variables': {
        if (!ctx.secrets)
          return { kind: 'blocked', reason: 'tenant secrets are not in memory; call resume to issue new ones' };
        const s = ctx.secrets;
        await this.railway.upsertVariables({
          projectId: must(row.railway_project_id, 'project id'),
          environmentId: must(row.railway_environment_id, 'environment id'),
          serviceId: must(row.railway_service_id, 'service id'),
          variables: {
            ADMIN_KEY: s.adminKey,
            JWT_SECRET: s.jwtSecret,
            NODE_ENV: 'production',
            DATA_DIR: DATA_MOUNT_PATH,
            PUBLIC_BASE_URL: `https://${row.domain}`,
            [BOOTSTRAP_PASSWORD_VAR]: s.adminPassword,
          },
        });
        return {
          kind: 'done',
          detail: {
            names: ['ADMIN_KEY', 'JWT_SECRET', 'NODE_ENV', 'DATA_DIR', 'PUBLIC_BASE_URL', BOOTSTRAP_PASSWORD_VAR],
          },
        };
      }
      case 'volume': {
        if (row.railway_volume_id) return { kind: 'done', upstreamId: row.railway_volume_id };
        const projectId = must(row.railway_project_id, 'project id');
        let volume: { id: string } | null = null;
        if (retry) volume = (await this.railway.getProject(projectId)).volumes[0] ?? null;
        if (!volume) {
          volume = await this.railway.createVolume({
            projectId,
            serviceId: must(row.railway_service_id, 'service id'),
            environmentId: must(row.railway_environment_id, 'environment id'),
            mountPath: DATA_MOUNT_PATH,
          });
        }
        await this.repo.update(row.id, { railway_volume_id: volume.id }, now());
        return { kind: 'done', upstreamId: volume.id, detail: { mount_path: DATA_MOUNT_PATH } };
      }
      case 'domain': {
        if (row.railway_domain_id && row.dns_target) return { kind: 'done', upstreamId: row.railway_domain_id };
        const ids = {
          projectId: must(row.railway_project_id, 'project id'),
          environmentId: must(row.railway_environment_id, 'environment id'),
          serviceId: must(row.railway_service_id, 'service id'),
          domain: must(row.domain, 'domain'),
        };
        let domain = retry || row.railway_domain_id ? await this.railway.findCustomDomain(ids) : null;
        if (!domain) domain = await this.railway.createCustomDomain(ids);
        await this.repo.update(row.id, { railway_domain_id: domain.id }, now());
        if (!domain.cnameTarget)
          throw new UpstreamError(
            'railway',
            200,
            'Railway returned no CNAME target for the custom domain yet',
            'CustomDomainCreate',
          );
        await this.repo.update(row.id, { dns_target: domain.cnameTarget }, now());
        return { kind: 'done', upstreamId: domain.id, detail: { target: domain.cnameTarget } };
      }
      case 'dns': {
        if (row.cloudflare_record_id) return { kind: 'done', upstreamId: row.cloudflare_record_id };
        const name = must(row.domain, 'domain');
        const target = must(row.dns_target, 'dns target');
        const existing = (await this.cloudflare.findCname(name))[0];
        let record;
        if (existing && existing.content.toLowerCase() === target.toLowerCase() && existing.proxied !== false)
          record = existing;
        else if (existing) record = await this.cloudflare.updateCname(existing.id, name, target);
        else record = await this.cloudflare.createCname(name, target);
        await this.repo.update(row.id, { cloudflare_record_id: record.id }, now());
        return { kind: 'done', upstreamId: record.id, detail: { name: record.name, content: record.content } };
      }
      case 'deploy': {
        const serviceId = must(row.railway_service_id, 'service id');
        const environmentId = must(row.railway_environment_id, 'environment id');
        let deploymentId = row.railway_deployment_id;
        if (!deploymentId) {
          deploymentId = await this.railway.deployService({ serviceId, environmentId });
          await this.repo.update(row.id, { railway_deployment_id: deploymentId }, now());
        }
        const startedAt = Date.parse(rec.started_at ?? now());
        for (;;) {
          const d = await this.railway.getDeployment(deploymentId);
          if (DEPLOY_SUCCESS.has(d.status)) {
            return { kind: 'done', upstreamId: deploymentId, detail: { status: d.status } };
          }
          if (DEPLOY_FAILED.has(d.status)) {
            // The next attempt triggers a fresh deployment instead of re-reading this one.
            await this.repo.update(row.id, { railway_deployment_id: null }, now());
            await this.repo.resetStep(row.id, 'deploy', now());
            throw new UpstreamError('railway', 200, `deployment ${deploymentId} ended ${d.status}`, 'Deployment');
          }
          const t = this.clock().getTime();
          if (t - startedAt >= this.timing.deployTimeoutMs) {
            await this.repo.update(row.id, { railway_deployment_id: null }, now());
            await this.repo.resetStep(row.id, 'deploy', now());
            throw new UpstreamError(
              'railway',
              0,
              `deployment ${deploymentId} still ${d.status} after ${Math.round(this.timing.deployTimeoutMs / 1000)} s`,
              'Deployment',
            );
          }
          if (t + this.timing.deployPollIntervalMs >= ctx.deadline)
            return { kind: 'wait', detail: { deployment_id: deploymentId, status: d.status } };
          await this.sleep(this.timing.deployPollIntervalMs);
        }
      }
      case 'health': {
        const startedAt = Date.parse(rec.started_at ?? now());
        const overallLeft = this.timing.healthTimeoutMs - (this.clock().getTime() - startedAt);
        const callLeft = ctx.deadline - this.clock().getTime();
        // pollHealth always makes one full attempt (own deadline), however little of the call's
        // budget is left; further attempts only within the budget, so a call never sleeps past
        // it (on Workers a waitUntil has ~30 s; the next cron pass polls again).
        const budgetMs = Math.max(0, Math.min(overallLeft, callLeft));
        const result = await this.pollTenant(must(row.domain, 'domain'), budgetMs, this.timing.healthIntervalMs);
        if (result.ok) {
          await this.recordHealth(row, result);
          return { kind: 'done', detail: { attempts: result.attempts, elapsed: result.elapsed } };
        }
        if (this.clock().getTime() - startedAt >= this.timing.healthTimeoutMs) {
          await this.recordHealth(row, result);
          await this.repo.resetStep(row.id, 'health', now()); // a resume gets a fresh health budget
          throw new UpstreamError(
            'tenant',
            result.status ?? 0,
            `not healthy after ${Math.round(this.timing.healthTimeoutMs / 1000)} s: ${result.error ?? 'unknown'}`,
            'GET /health',
          );
        }
        return { kind: 'wait', detail: { attempts: result.attempts, error: result.error } };
      }
      case 'admin': {
        const ids = {
          projectId: must(row.railway_project_id, 'project id'),
          environmentId: must(row.railway_environment_id, 'environment id'),
          serviceId: must(row.railway_service_id, 'service id'),
        };
        const vars = await this.railway.getVariables(ids);
        const password = vars[BOOTSTRAP_PASSWORD_VAR];
        // The staging variable is removed only after the operator exists, so its absence means done.
        if (!password) return { kind: 'done', detail: { note: 'operator already created' } };
        const adminKey = vars.ADMIN_KEY ?? '';
        if (
          !(await matchesHash(adminKey, row.admin_key_hash)) ||
          !(await matchesHash(password, row.admin_password_hash))
        ) {
          throw new UpstreamError('railway', 200, 'tenant variables do not match the issued secrets', 'Variables');
        }
        const username = row.admin_username ?? 'admin';
        const url = `${this.tenantUrl(must(row.domain, 'domain'))}/api/mycelium/studio/users`;
        let res: Response;
        try {
          res = await this.fetchFn(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-Admin-Key': adminKey },
            body: JSON.stringify({ username, password, display_name: username, role: 'admin' }),
            signal: AbortSignal.timeout(this.timing.upstreamTimeoutMs),
          });
        } catch (err) {
          throw new UpstreamError('tenant', 0, errorMessage(err), 'POST /studio/users');
        }
        if (!res.ok && res.status !== 409) {
          const text = await res.text().catch(() => '');
          throw new UpstreamError('tenant', res.status, text.slice(0, 300) || res.statusText, 'POST /studio/users');
        }
        await this.railway.deleteVariable({ ...ids, name: BOOTSTRAP_PASSWORD_VAR });
        return { kind: 'done', detail: { username, existed: res.status === 409 } };
      }
    }
  }

  // ───────────────────────────── health ─────────────────────────────

  private pollTenant(domain: string, budgetMs: number, intervalMs: number): Promise<HealthPollResult> {
    return pollHealth({
      fetch: this.fetchFn,
      url: `${this.tenantUrl(domain)}/health`,
      budgetMs,
      intervalMs,
      attemptTimeoutMs: this.timing.healthAttemptTimeoutMs,
      clock: this.clock,
      sleep: this.sleep,
    });
  }

  private async recordHealth(row: InstanceRow, r: HealthPollResult): Promise<InstanceRow> {
    const health = r.ok ? 'healthy' : 'unhealthy';
    const updated =
      (await this.repo.update(
        row.id,
        { health_status: health, last_health_check: this.nowIso(), health_detail: JSON.stringify(r) },
        this.nowIso(),
      )) ?? row;
    if (row.health_status !== health) {
      await this.safeEmit('instance_health_changed', `Instance ${row.domain} is ${health}`, {
        instance_id: row.id,
        from: row.health_status,
        to: health,
      });
    }
    return updated;
  }

  /** On-demand check (POST /instances/:id/health-check): polls with the manual budget and records the result. */
  async checkHealth(id: number): Promise<HealthPollResult & { instance: PublicInstance }> {
    const row = await this.repo.get(id);
    if (!row) throw new ProvisioningError('not_found', 'Instance not found');
    if (!row.domain) throw new ProvisioningError('invalid', 'Instance has no domain');
    const result = await this.pollTenant(
      row.domain,
      this.timing.manualHealthBudgetMs,
      this.timing.manualHealthIntervalMs,
    );
    const updated = await this.recordHealth(row, result);
    return { ...result, instance: toPublicInstance(updated) };
  }

  async healthCheckAll(): Promise<{
    ok: true;
    results: { id: number; domain: string; ok: boolean; error?: string }[];
  }> {
    const results: { id: number; domain: string; ok: boolean; error?: string }[] = [];
    for (let after = 0; ; ) {
      const page = await this.repo.pageByStatus('active', after, 100);
      if (page.length === 0) break;
      for (const row of page) {
        after = row.id;
        if (!row.domain) continue;
        const r = await this.checkHealth(row.id);
        results.push(
          r.ok
            ? { id: row.id, domain: row.domain, ok: true }
            : { id: row.id, domain: row.domain, ok: false, error: r.error },
        );
      }
    }
    return { ok: true, results };
  }

  // ───────────────────────────── deploy bookkeeping ─────────────────────────────

  async deployStatus(): Promise<{
    instances: Pick<PublicInstance, 'id' | 'org_id' | 'domain' | 'version' | 'health_status' | 'last_health_check'>[];
  }> {
    const out: Pick<PublicInstance, 'id' | 'org_id' | 'domain' | 'version' | 'health_status' | 'last_health_check'>[] =
      [];
    for (let after = 0; ; ) {
      const page = await this.repo.pageByStatus('active', after, 100);
      if (page.length === 0) break;
      for (const r of page) {
        after = r.id;
        out.push({
          id: r.id,
          org_id: r.org_id,
          domain: r.domain,
          version: r.version,
          health_status: r.health_status,
          last_health_check: r.last_health_check,
        });
      }
    }
    return { instances: out };
  }

  /** Records a rolled-out version on active instances (all of them, or the given ids). */
  async recordDeploy(
    version: string,
    instanceIds?: number[],
  ): Promise<{ ok: true; version: string; updated: number[]; skipped: number[] }> {
    const v = (version ?? '').trim();
    if (!v) throw new ProvisioningError('invalid', 'version required');
    const ids = instanceIds ?? (await this.deployStatus()).instances.map((i) => i.id);
    const updated: number[] = [];
    const skipped: number[] = [];
    for (const id of ids) {
      const r = await this.repo.update(id, { version: v }, this.nowIso(), { status: ['active'] });
      (r ? updated : skipped).push(id);
    }
    return { ok: true, version: v, updated, skipped };
  }

  // ───────────────────────────── edits ─────────────────────────────

  /**
   * Operator edits. Infrastructure ids, hashes and job state belong to the runner and are not
   * editable; status may only move between active and suspended here.
   */
  async update(
    id: number,
    patch: {
      version?: string | null;
      customer_email?: string | null;
      admin_username?: string | null;
      status?: 'active' | 'suspended';
    },
  ): Promise<PublicInstance> {
    const row = await this.repo.get(id);
    if (!row) throw new ProvisioningError('not_found', 'Instance not found');
    const cols: Record<string, string | null> = {};
    if (patch.version !== undefined) cols.version = patch.version;
    if (patch.customer_email !== undefined) cols.customer_email = patch.customer_email;
    if (patch.admin_username !== undefined) cols.admin_username = patch.admin_username;
    let requireStatus: string[] | undefined;
    if (patch.status !== undefined && patch.status !== row.status) {
      if (patch.status === 'suspended') {
        requireStatus = ['active', 'deployed'];
        cols.suspended_at = this.nowIso();
      } else if (patch.status === 'active') {
        requireStatus = ['suspended'];
        cols.suspended_at = null;
      }
      if (!requireStatus?.includes(row.status))
        throw new ProvisioningError('conflict', `Cannot move an instance from ${row.status} to ${patch.status}`);
      cols.status = patch.status;
    }
    if (Object.keys(cols).length === 0) return toPublicInstance(row);
    const updated = await this.repo.update(
      id,
      cols as never,
      this.nowIso(),
      requireStatus ? { status: requireStatus } : undefined,
    );
    if (!updated) throw new ProvisioningError('conflict', 'Instance changed state; retry');
    if (cols.status)
      await this.safeEmit(
        `instance_${cols.status === 'suspended' ? 'suspended' : 'reactivated'}`,
        `Instance ${row.domain} ${cols.status}`,
        { instance_id: id },
      );
    return toPublicInstance(updated);
  }

  // ───────────────────────────── teardown & churn ─────────────────────────────

  /**
   * Deletes what the job created, in reverse order: the Cloudflare record first (so the name
   * stops resolving), then the Railway project (which takes its service, volume and custom
   * domain with it). Resumable: a failure leaves status `tearing_down` with the error, and a
   * second call continues. Already-gone upstream objects count as deleted.
   */
  async teardown(id: number, reason = 'teardown requested'): Promise<PublicInstance> {
    const owner = crypto.randomUUID();
    const leaseUntil = new Date(this.clock().getTime() + 4 * this.timing.upstreamTimeoutMs + 5_000).toISOString();
    let row = await this.repo.acquireLease(id, owner, this.nowIso(), leaseUntil, [
      'provisioning',
      'deployed',
      'active',
      'failed',
      'suspended',
      'archived',
      'tearing_down',
    ]);
    if (!row) {
      const cur = await this.repo.get(id);
      if (!cur) throw new ProvisioningError('not_found', 'Instance not found');
      if (cur.status === 'deleted') return toPublicInstance(cur);
      throw new ProvisioningError('conflict', 'A provisioning step is running for this instance; retry in a minute');
    }
    try {
      row =
        (await this.repo.update(id, { status: 'tearing_down', current_step: 'teardown_dns' }, this.nowIso())) ?? row;
      await this.repo.startStep(id, 'teardown_dns', this.nowIso());
      try {
        if (row.cloudflare_record_id) {
          await ignoreNotFound(() => this.cloudflare.deleteRecord(row!.cloudflare_record_id!));
        } else if (row.domain && row.dns_target) {
          // The record id may have been lost between create and write: remove records we own by content.
          for (const r of await this.cloudflare.findCname(row.domain)) {
            if (r.content.toLowerCase() === row.dns_target.toLowerCase())
              await ignoreNotFound(() => this.cloudflare.deleteRecord(r.id));
          }
        }
        row = (await this.repo.update(id, { cloudflare_record_id: null }, this.nowIso())) ?? row;
        await this.repo.finishStep(id, 'teardown_dns', 'done', this.nowIso());
      } catch (err) {
        return await this.teardownFailed(row, 'teardown_dns', err);
      }
      await this.repo.update(id, { current_step: 'teardown_project' }, this.nowIso());
      await this.repo.startStep(id, 'teardown_project', this.nowIso());
      try {
        if (row.railway_project_id) await ignoreNotFound(() => this.railway.deleteProject(row!.railway_project_id!));
        await this.repo.finishStep(id, 'teardown_project', 'done', this.nowIso(), {
          upstreamId: row.railway_project_id,
        });
      } catch (err) {
        return await this.teardownFailed(row, 'teardown_project', err);
      }
      const now = this.nowIso();
      // The slug and key are freed (suffixed) so the name can be provisioned again later.
      row =
        (await this.repo.update(
          id,
          {
            status: 'deleted',
            deleted_at: now,
            current_step: null,
            last_error: null,
            snapshot_url: null,
            railway_project_id: null,
            railway_service_id: null,
            railway_environment_id: null,
            railway_volume_id: null,
            railway_domain_id: null,
            railway_deployment_id: null,
            health_status: 'unknown',
            slug: `${row.slug}~deleted~${id}`,
            idempotency_key: `${row.idempotency_key}~deleted~${id}`,
          },
          now,
        )) ?? row;
      await this.safeEmit('instance_deleted', `Instance ${row.domain} torn down (${reason})`, {
        instance_id: id,
        domain: row.domain,
        reason,
      });
      return toPublicInstance(row);
    } finally {
      await this.repo.releaseLease(id, owner);
    }
  }

  private async teardownFailed(row: InstanceRow, step: string, err: unknown): Promise<never> {
    const message = errorMessage(err);
    await this.repo.finishStep(row.id, step, 'failed', this.nowIso(), { error: message });
    await this.repo.update(row.id, { last_error: `${step}: ${message}` }, this.nowIso());
    await this.safeEmit('instance_teardown_failed', `Teardown of ${row.domain} failed at ${step}: ${message}`, {
      instance_id: row.id,
      step,
      error: message,
    });
    await this.safeNotify({
      type: 'instance_teardown_failed',
      title: `Teardown of ${row.domain} failed`,
      body: message,
      urgent: true,
      data: { instance_id: row.id, step },
    });
    throw err;
  }

  /**
   * Stops a suspended tenant's running deployment (the project, volume and data stay, so it
   * can be restored by a redeploy) and marks it archived.
   */
  async archive(id: number): Promise<PublicInstance> {
    const row = await this.repo.get(id);
    if (!row) throw new ProvisioningError('not_found', 'Instance not found');
    if (row.railway_project_id && row.railway_environment_id && row.railway_service_id) {
      const deployments = await this.railway.listDeployments(
        {
          projectId: row.railway_project_id,
          environmentId: row.railway_environment_id,
          serviceId: row.railway_service_id,
        },
        5,
      );
      for (const d of deployments) {
        if (!DEPLOY_FAILED.has(d.status)) await ignoreNotFound(() => this.railway.removeDeployment(d.id));
      }
    }
    const now = this.nowIso();
    const updated = await this.repo.update(
      id,
      { status: 'archived', archived_at: now, health_status: 'unknown' },
      now,
      { status: ['suspended'] },
    );
    if (!updated) throw new ProvisioningError('conflict', 'Instance is no longer suspended');
    await this.safeEmit('instance_archived', `Instance ${row.domain} archived`, { instance_id: id });
    return toPublicInstance(updated);
  }

  /** suspended ≥ N days → archived (deployment stopped); archived ≥ M days → deleted (full teardown). Every row, no cap. */
  async churnCheck(): Promise<{
    ok: true;
    results: { archived: number[]; deleted: number[]; errors: { id: number; error: string }[] };
  }> {
    const day = 86_400_000;
    const now = this.clock().getTime();
    const archived: number[] = [];
    const deleted: number[] = [];
    const errors: { id: number; error: string }[] = [];
    const archiveBefore = new Date(now - this.timing.suspendedDaysBeforeArchive * day).toISOString();
    for (let after = 0; ; ) {
      const page = await this.repo.pageByStatus('suspended', after, 100, {
        column: 'suspended_at',
        iso: archiveBefore,
      });
      if (page.length === 0) break;
      for (const r of page) {
        after = r.id;
        try {
          await this.archive(r.id);
          archived.push(r.id);
        } catch (err) {
          errors.push({ id: r.id, error: errorMessage(err) });
        }
      }
    }
    const deleteBefore = new Date(now - this.timing.archivedDaysBeforeDelete * day).toISOString();
    for (let after = 0; ; ) {
      const page = await this.repo.pageByStatus('archived', after, 100, { column: 'archived_at', iso: deleteBefore });
      if (page.length === 0) break;
      for (const r of page) {
        after = r.id;
        try {
          await this.teardown(r.id, 'churn: archived too long');
          deleted.push(r.id);
        } catch (err) {
          errors.push({ id: r.id, error: errorMessage(err) });
        }
      }
    }
    if (archived.length || deleted.length || errors.length) {
      await this.safeNotify({
        type: 'instance_churn',
        title: `Churn check: ${archived.length} archived, ${deleted.length} deleted, ${errors.length} errors`,
        urgent: errors.length > 0,
        data: { archived, deleted, errors },
      });
    }
    return { ok: true, results: { archived, deleted, errors } };
  }

  /**
   * The cron / maintenance entry: pushes every unleased provisioning job one advance() further
   * and retries unfinished teardowns. Jobs blocked on secrets stay blocked until resume().
   */
  async maintenance(
    opts: { limit?: number; budgetMs?: number } = {},
  ): Promise<{ advanced: number[]; tornDown: number[]; errors: { id: number; error: string }[] }> {
    const rows = await this.repo.runnable(this.nowIso(), opts.limit ?? 20);
    const advanced: number[] = [];
    const tornDown: number[] = [];
    const errors: { id: number; error: string }[] = [];
    for (const r of rows) {
      try {
        if (r.status === 'tearing_down') {
          await this.teardown(r.id);
          tornDown.push(r.id);
          continue;
        }
        const step = r.current_step ? await this.repo.getStep(r.id, r.current_step) : undefined;
        if (step?.status === 'blocked') continue;
        await this.advance(r.id, { budgetMs: opts.budgetMs });
        advanced.push(r.id);
      } catch (err) {
        errors.push({ id: r.id, error: errorMessage(err) });
      }
    }
    return { advanced, tornDown, errors };
  }
}

export function projectName(slug: string): string {
  return `mycelium-${slug}`;
}

function must<T>(v: T | null | undefined, what: string): T {
  if (v === null || v === undefined || v === '') throw new Error(`internal: ${what} missing before this step`);
  return v;
}

async function ignoreNotFound(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof UpstreamError && err.isNotFound) return;
    throw err;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
