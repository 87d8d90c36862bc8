import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { AppError, badRequest, conflict, notFound, unavailable } from '../../http/errors.js';
import { parseIntId, parseWith, queryInt } from '../../http/validate.js';
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

/**
 * Tenant provisioning routes (spec 01 §4.4), admin only. Thin: parse → call the
 * infra/provisioning service → shape. Without the provisioning tokens every route answers
 * 503 {"error":"Provisioning not configured"} and calls nothing upstream.
 */
const NOT_CONFIGURED = 'Provisioning not configured';

const createSchema = z.object({
  org_id: z.string().trim().min(1).max(200),
  slug: z.string().trim().min(1).max(32),
  idempotency_key: z.string().trim().min(1).max(200).optional(),
  customer_email: z.string().trim().max(320).optional(),
  admin_username: z.string().trim().min(1).max(64).optional(),
  source_repo: z.string().trim().min(1).max(300).optional(),
  source_branch: z.string().trim().min(1).max(200).optional(),
  source_image: z.string().trim().min(1).max(300).optional(),
});

const updateSchema = z.object({
  version: z.string().trim().max(100).nullable().optional(),
  customer_email: z.string().trim().max(320).nullable().optional(),
  admin_username: z.string().trim().min(1).max(64).nullable().optional(),
  status: z.enum(['active', 'suspended']).optional(),
});

const recordSchema = z.object({
  version: z.string().trim().min(1).max(100),
  instance_ids: z.array(z.number().int().positive()).max(10_000).optional(),
});

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
  const idOf = (c: Context<AppEnv>): number => {
    const id = parseIntId(c.req.param('id'));
    if (id === null) throw notFound('Instance not found');
    return id;
  };

  r.get('/instances', async (c) => {
    const s = svc();
    const q = c.req.query();
    const limit = queryInt(q.limit, 'limit', 100, 1, 1000);
    const offset = queryInt(q.offset, 'offset', 0, 0, 1_000_000);
    return c.json({
      instances: await s.list({ status: q.status || undefined, orgId: q.org_id || undefined, limit, offset }),
    });
  });

  r.post('/instances', async (c) => {
    const s = svc();
    const b = parseWith(createSchema, bodyOf(c));
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
    if (!result.created) return c.json({ created: false, instance: result.instance }, 200);
    // The secrets stay in this isolate's memory for the first advance, which installs them.
    app.runtime.waitUntil(
      s
        .advance(result.instance.id, { secrets: result.secrets })
        .catch((err) =>
          app.log.error('provisioning advance failed', { instance_id: result.instance.id, error: String(err) }),
        ),
    );
    return c.json(
      {
        created: true,
        instance: result.instance,
        secrets: {
          admin_key: result.secrets!.adminKey,
          jwt_secret: result.secrets!.jwtSecret,
          admin_username: result.instance.admin_username,
          admin_password: result.secrets!.adminPassword,
        },
        note: 'Shown once: only hashes are stored.',
      },
      202,
    );
  });

  r.get('/instances/:id', async (c) => c.json(await mapErrors(() => svc().get(idOf(c)))));

  r.put('/instances/:id', async (c) => {
    const s = svc();
    const id = idOf(c);
    const patch = parseWith(updateSchema, bodyOf(c));
    return c.json(await mapErrors(() => s.update(id, patch)));
  });

  r.delete('/instances/:id', async (c) => {
    const s = svc();
    const id = idOf(c);
    return c.json({ ok: true, instance: await mapErrors(() => s.teardown(id)) });
  });

  r.post('/instances/:id/resume', async (c) => {
    const s = svc();
    const id = idOf(c);
    const out = await mapErrors(() => s.resume(id, { budgetMs: 10_000 }));
    const body: Record<string, unknown> = { outcome: out.outcome, completed: out.completed, instance: out.instance };
    if (out.error) body.error = out.error;
    if (out.secrets) {
      body.secrets = {
        admin_key: out.secrets.adminKey,
        jwt_secret: out.secrets.jwtSecret,
        admin_username: out.instance.admin_username,
        admin_password: out.secrets.adminPassword,
      };
      body.note = 'New secrets were issued because the earlier ones never reached the tenant. Shown once.';
    }
    return c.json(body, 202);
  });

  r.post('/instances/:id/health-check', async (c) => {
    const s = svc();
    const id = idOf(c);
    const res = await mapErrors(() => s.checkHealth(id));
    const body: Record<string, unknown> = {
      ok: res.ok,
      attempts: res.attempts,
      elapsed: res.elapsed,
      health_status: res.instance.health_status,
    };
    if (res.error) body.error = res.error;
    return c.json(body);
  });

  r.get('/admin/deploy/status', async (c) => c.json(await svc().deployStatus()));

  r.post('/admin/deploy/record', async (c) => {
    const s = svc();
    const body = bodyOf(c);
    if (body.version === undefined || body.version === null || body.version === '')
      throw badRequest('version required');
    const b = parseWith(recordSchema, body);
    return c.json(await mapErrors(() => s.recordDeploy(b.version, b.instance_ids)));
  });

  r.post('/admin/deploy/health-check-all', async (c) => c.json(await svc().healthCheckAll()));

  r.post('/admin/churn-check', async (c) => c.json(await svc().churnCheck()));

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
