import { Hono, type MiddlewareHandler } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { AppError, badRequest, conflict, notFound, unavailable } from '../../http/errors.js';
import { defineRoute } from '../../http/contract.js';
import { parseIntId, queryInt } from '../../http/validate.js';
import { inboxRepo } from '../inbox/repo.js';
import { requireAdmin } from '../../auth/principal.js';
import {
  DEFAULT_TIMING,
  ProvisioningError,
  ProvisioningService,
  UpstreamError,
  provisioningConfigFromEnv,
  type EnvLike,
  type InboxNotifier,
  type ProvisioningConfig,
} from '../../../../infra/provisioning/index.js';
import {
  ChurnChecked,
  CreateInstance,
  DeployRecorded,
  DeployStatus,
  HealthChecked,
  HealthCheckedAll,
  InstanceCreated,
  InstanceDeleted,
  InstanceDetail,
  InstanceIdParams,
  InstanceList,
  InstanceListQuery,
  RecordDeploy,
  Resumed,
  UpdateInstance,
  Instance,
} from './schema.js';

/**
 * Tenant provisioning routes (spec 01 §4.4), admin only. Thin: parse → call the
 * infra/provisioning service → shape. Without the provisioning tokens every route answers
 * 503 {"error":"Provisioning not configured"} and calls nothing upstream.
 */
const NOT_CONFIGURED = 'Provisioning not configured';

const tags = ['Instances'];
/** The admin check runs once, in the `r.use` guards below (they also cover unmatched paths). */
const guarded: MiddlewareHandler<AppEnv> = (_c, next) => next();
const admin = { tags, access: 'admin' as const, guard: guarded };

export interface InstanceRoutesOptions {
  /** Overrides for tests: the config (instead of the env) and the fetch used upstream. */
  config?: ProvisioningConfig | null;
  fetch?: typeof fetch;
}

export function instanceRoutes(app: AppContext, opts: InstanceRoutesOptions = {}) {
  const r = new Hono<AppEnv>();
  const config = opts.config !== undefined ? opts.config : provisioningConfigFromEnv(app.config.env as EnvLike);
  const service = config
    ? new ProvisioningService({
        db: app.db,
        config,
        fetch: opts.fetch,
        clock: () => app.clock.now(),
        // Not atomicWrite: the leaf library (infra/provisioning) reports progress through this port
        // after its own job-state writes and never lets an event fail a job; the job resumes from
        // its stored state, so a lost event loses a notice, not state.
        events: { emit: async (type, summary, data) => void (await app.events.emit({ type, summary, data })) },
        inbox: operatorInbox(app),
        // Where background work is cut off after the response (Workers: ~30 s), a step may run one
        // upstream deadline past the budget: keep each advance to a third of it; the cron (every
        // minute) carries the job on.
        timing: {
          advanceBudgetMs:
            config.advanceBudgetMs ??
            (app.runtime.backgroundBudgetMs !== undefined
              ? Math.floor(app.runtime.backgroundBudgetMs / 3)
              : DEFAULT_TIMING.advanceBudgetMs),
        },
      })
    : null;

  if (service) {
    // Workers cannot run a job in one call: the cron (and Node's timer) push jobs forward.
    app.jobs.push({ name: 'provisioning_jobs', everyMs: 60_000, run: () => service.maintenance() });
  }

  r.use('/instances', requireAdmin);
  r.use('/instances/*', requireAdmin);
  r.use('/admin/deploy/*', requireAdmin);
  r.use('/admin/churn-check', requireAdmin);

  const svc = (): ProvisioningService => {
    if (!service) throw unavailable(NOT_CONFIGURED);
    return service;
  };
  const idOf = (raw: string): number => {
    const id = parseIntId(raw);
    if (id === null) throw notFound('Instance not found');
    return id;
  };
  const secretsOf = (
    sec: { adminKey: string; jwtSecret: string; adminPassword: string },
    adminUsername: string | null,
  ) => ({
    admin_key: sec.adminKey,
    jwt_secret: sec.jwtSecret,
    admin_username: adminUsername,
    admin_password: sec.adminPassword,
  });

  // Order of checks as before: admin (r.use), 503 when unconfigured, 404 for a bad id, then the body.
  defineRoute(
    r,
    {
      ...admin,
      method: 'get',
      path: '/instances',
      summary: 'List instances',
      query: InstanceListQuery,
      response: InstanceList,
      errors: [503],
    },
    async (_c, { query: q }) => {
      const s = svc();
      const limit = queryInt(q.limit, 'limit', 100, 1, 1000);
      const offset = queryInt(q.offset, 'offset', 0, 0, 1_000_000);
      return {
        instances: await s.list({ status: q.status || undefined, orgId: q.org_id || undefined, limit, offset }),
      };
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'post',
      path: '/instances',
      summary: 'Provision an instance (202 with its secrets, shown once; 200 when the idempotency key repeats)',
      body: CreateInstance,
      lazyBody: true,
      response: InstanceCreated,
      status: 202,
      errors: [409, 502, 503],
    },
    async (c, input) => {
      const s = svc();
      const b = input.body;
      if (b.source_repo && b.source_image) throw badRequest('Give source_repo or source_image, not both');
      const source = b.source_image
        ? { image: b.source_image }
        : b.source_repo
          ? { repo: b.source_repo, branch: b.source_branch }
          : undefined;
      const result = await mapErrors(() =>
        s.createInstance({
          orgId: b.org_id,
          slug: b.slug,
          idempotencyKey: b.idempotency_key ?? c.req.header('Idempotency-Key') ?? undefined,
          customerEmail: b.customer_email ?? null,
          adminUsername: b.admin_username,
          source,
        }),
      );
      if (!result.created) return c.json(InstanceCreated.parse({ created: false, instance: result.instance }), 200);
      // The secrets stay in this isolate's memory for the first advance, which installs them.
      app.runtime.waitUntil(
        s
          .advance(result.instance.id, { secrets: result.secrets })
          .catch((err) =>
            app.log.error('provisioning advance failed', { instance_id: result.instance.id, error: String(err) }),
          ),
      );
      return {
        created: true,
        instance: result.instance,
        secrets: secretsOf(result.secrets!, result.instance.admin_username),
        note: 'Shown once: only hashes are stored.',
      };
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'get',
      path: '/instances/:id',
      summary: 'One instance with its steps',
      params: InstanceIdParams,
      response: InstanceDetail,
      errors: [404, 503],
    },
    (_c, { params }) => {
      const s = svc();
      return mapErrors(() => s.get(idOf(params.id)));
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'put',
      path: '/instances/:id',
      summary: 'Edit version, contact, admin username or active/suspended',
      params: InstanceIdParams,
      body: UpdateInstance,
      lazyBody: true,
      response: Instance,
      errors: [404, 409, 503],
    },
    async (_c, input) => {
      const s = svc();
      const id = idOf(input.params.id);
      const patch = input.body;
      return mapErrors(() => s.update(id, patch));
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'delete',
      path: '/instances/:id',
      summary: 'Tear an instance down',
      params: InstanceIdParams,
      response: InstanceDeleted,
      errors: [404, 502, 503],
    },
    async (_c, { params }) => {
      const s = svc();
      const id = idOf(params.id);
      return { ok: true, instance: await mapErrors(() => s.teardown(id)) };
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'post',
      path: '/instances/:id/resume',
      summary: 'Carry a provisioning job on (new secrets when the old ones never arrived)',
      params: InstanceIdParams,
      response: Resumed,
      status: 202,
      errors: [404, 409, 502, 503],
    },
    async (_c, { params }) => {
      const s = svc();
      const id = idOf(params.id);
      const out = await mapErrors(() => s.resume(id, { budgetMs: 10_000 }));
      const body: Record<string, unknown> = { outcome: out.outcome, completed: out.completed, instance: out.instance };
      if (out.error) body.error = out.error;
      if (out.secrets) {
        body.secrets = secretsOf(out.secrets, out.instance.admin_username);
        body.note = 'New secrets were issued because the earlier ones never reached the tenant. Shown once.';
      }
      return body;
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'post',
      path: '/instances/:id/health-check',
      summary: "Poll an instance's health now",
      params: InstanceIdParams,
      response: HealthChecked,
      errors: [404, 503],
    },
    async (_c, { params }) => {
      const s = svc();
      const id = idOf(params.id);
      const res = await mapErrors(() => s.checkHealth(id));
      const body: Record<string, unknown> = {
        ok: res.ok,
        attempts: res.attempts,
        elapsed: res.elapsed,
        health_status: res.instance.health_status,
      };
      if (res.error) body.error = res.error;
      return body;
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'get',
      path: '/admin/deploy/status',
      summary: 'Versions and health of active instances',
      response: DeployStatus,
      errors: [503],
    },
    () => svc().deployStatus(),
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'post',
      path: '/admin/deploy/record',
      summary: 'Record a rolled-out version on active instances',
      body: RecordDeploy,
      lazyBody: true,
      response: DeployRecorded,
      errors: [503],
    },
    async (c, input) => {
      const s = svc();
      const raw = bodyOf(c);
      if (raw.version === undefined || raw.version === null || raw.version === '') throw badRequest('version required');
      const b = input.body;
      return mapErrors(() => s.recordDeploy(b.version, b.instance_ids));
    },
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'post',
      path: '/admin/deploy/health-check-all',
      summary: 'Poll every active instance',
      response: HealthCheckedAll,
      errors: [503],
    },
    () => svc().healthCheckAll(),
  );

  defineRoute(
    r,
    {
      ...admin,
      method: 'post',
      path: '/admin/churn-check',
      summary: 'Archive and delete long-suspended instances',
      response: ChurnChecked,
      errors: [503],
    },
    () => svc().churnCheck(),
  );

  return r;
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ProvisioningError) {
      if (err.code === 'not_found') throw notFound(err.message);
      if (err.code === 'conflict') throw conflict(err.message);
      throw badRequest(err.message);
    }
    if (err instanceof UpstreamError)
      throw new AppError(502, err.message, { upstream: err.upstream, upstream_status: err.status });
    throw err;
  }
}

/** Delivers provisioning alerts to every active operator's inbox (spec 03 §2.13 table). */
function operatorInbox(app: AppContext): InboxNotifier {
  return {
    async notify(item) {
      const data = item.data as { instance_id?: number } | undefined;
      await app.db.batch([
        inboxRepo.insertForAllActive({
          type: item.type,
          entity_type: 'customer_instance',
          entity_id: data?.instance_id ? String(data.instance_id) : '',
          title: item.title,
          summary: item.body ?? '',
          data: item.data ?? {},
          priority: item.urgent ? 'urgent' : 'normal',
        }),
      ]);
    },
  };
}
