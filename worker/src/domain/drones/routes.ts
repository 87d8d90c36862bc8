import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest, forbidden } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { idString, parseIntId, parseWith } from '../../http/validate.js';
import { instanceUrl } from '../../http/instance-url.js';
import { principalOf, requireAdmin, requireAgent, requireAny, resolveAny } from '../../auth/principal.js';
import { DroneJobService } from './jobs-service.js';
import { DroneService } from './service.js';
import { ARTIFACT_ADMIN_ONLY, ArtifactService } from './artifacts.js';
import { DRONE_JOB_STATUSES, TEMPLATE_COLUMNS, type TemplateColumn } from './repo.js';

/**
 * Drones, drone jobs, templates, profiles and artifacts (spec 05 §3–§8). Literal sub-paths are
 * registered before `/drones/:id`, so `/drones/templates/pause` is a template, never a drone
 * (§17.2). `/drone-jobs` is the original SDK's path for the same job routes.
 */

const text = (max: number) => z.string().max(max);

/** A string array, or a JSON string of one (MCP clients send strings). */
const stringList = (max = 50) =>
  z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    },
    z.array(z.string().max(200)).max(max),
  );

/** The original parsed priority with parseInt; here an integer or an integer string, nothing else. */
const intLike = z.preprocess(
  (v) => (typeof v === 'string' && /^-?\d{1,9}$/.test(v.trim()) ? Number(v) : v),
  z.number().int().min(-1_000_000).max(1_000_000),
);

const queueSchema = z.object({
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

const fromTemplateSchema = z.object({
  template_id: z.string().trim().min(1).max(128),
  input_data: z.unknown().optional(),
  priority: intLike.optional(),
});

const updateSchema = z.object({
  status: z.enum(DRONE_JOB_STATUSES).optional(),
  result_url: text(2000).nullable().optional(),
  result_data: z.union([text(200_000), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  error: text(20_000).nullable().optional(),
  drone_id: text(128).nullable().optional(),
  lease_token: z.string().min(1).max(100).optional(),
});

const templateSchema = z.object({
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
});

const jsonObject = z.preprocess((v) => (typeof v === 'string' ? safeJson(v) : v), z.record(z.string(), z.unknown()));
const profileSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: text(5000).optional(),
  requires: jsonObject.optional(),
  artifacts: stringList(100).optional(),
  setup_script: text(100_000).optional(),
  workspace: text(2000).optional(),
  env: z
    .preprocess((v) => (typeof v === 'string' ? safeJson(v) : v), z.record(z.string(), z.string().max(10_000)))
    .optional(),
});

function safeJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Template body → column values (arrays stored as JSON text). */
function templateColumns(input: z.infer<typeof templateSchema>): Partial<Record<TemplateColumn, string | number>> {
  const out: Partial<Record<TemplateColumn, string | number>> = {};
  for (const c of TEMPLATE_COLUMNS) {
    const v = input[c];
    if (v === undefined) continue;
    out[c] = Array.isArray(v) ? JSON.stringify(v) : (v as string | number);
  }
  return out;
}

function profileColumns(input: z.infer<typeof profileSchema>) {
  return {
    name: input.name,
    description: input.description,
    requires: input.requires === undefined ? undefined : JSON.stringify(input.requires),
    artifacts: input.artifacts === undefined ? undefined : JSON.stringify(input.artifacts),
    setup_script: input.setup_script,
    workspace: input.workspace,
    env: input.env === undefined ? undefined : JSON.stringify(input.env),
  };
}

/** The required slug of a create body, with the spec's sentence when it is missing. */
function slug(v: unknown, missing: string): string {
  if (v === undefined || v === null || v === '') throw badRequest(missing);
  return parseWith(z.object({ id: idString(128) }), { id: v }).id;
}

/** Strict `limit`/`offset` for job lists: default 50, at most 200 (spec 05 §4). */
function page(q: Record<string, string>) {
  const int = (raw: string | undefined, field: string) => {
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d{1,9}$/.test(raw)) throw badRequest(`${field} must be a non-negative integer`);
    return Number(raw);
  };
  const limit = int(q.limit, 'limit');
  return { limit: !limit ? 50 : Math.min(limit, 200), offset: int(q.offset, 'offset') ?? 0 };
}

/** The multipart body of an upload: read from the bytes the pipeline kept, or from the request. */
async function formOf(c: Context<AppEnv>): Promise<FormData | null> {
  const type = c.req.header('content-type') ?? '';
  if (!/^multipart\/form-data/i.test(type)) return null;
  try {
    const raw = c.get('rawBody');
    if (raw)
      return await new Request('http://upload.local/', {
        method: 'POST',
        headers: { 'content-type': type },
        body: raw as Uint8Array<ArrayBuffer>,
      }).formData();
    return await c.req.raw.formData();
  } catch {
    throw badRequest('Malformed multipart body');
  }
}

export function droneRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const jobs = new DroneJobService(app);
  const drones = new DroneService(app);
  const artifacts = new ArtifactService(app);
  app.jobs.push({ name: 'drone_sweep', everyMs: 15 * 60_000, run: () => jobs.sweep() });

  r.get('/drones', requireAny, async (c) => c.json(await drones.list()));

  r.post('/drones/claim', requireAgent, async (c) => {
    const { capabilities } = parseWith(z.object({ capabilities: stringList().optional() }), bodyOf(c));
    return c.json(await jobs.claim(principalOf(c), capabilities ?? []));
  });

  // ── jobs, under both paths ──────────────────────────────────────────────
  for (const base of ['/drones/jobs', '/drone-jobs']) {
    r.post(base, requireAny, async (c) => {
      const p = principalOf(c);
      hitAgentWrite(app.limiters, p, c.get('clientIp'));
      const body = bodyOf(c);
      await app.guards.check('drone_job.queue', { agent: p.who, title: body.title }, p);
      return c.json(await jobs.queue(p, parseWith(queueSchema, body)));
    });

    r.post(`${base}/from-template`, requireAny, async (c) => {
      const input = parseWith(fromTemplateSchema, bodyOf(c));
      return c.json(await jobs.fromTemplate(principalOf(c), input.template_id, input.input_data, input.priority ?? 0));
    });

    r.get(base, requireAny, async (c) => {
      const q = queryOf(c);
      const { limit, offset } = page(q);
      return c.json(await jobs.list({ status: q.status, drone_id: q.drone_id, requester: q.requester }, limit, offset));
    });

    // Bulk cleanup: the query is parsed strictly and bound, never pasted into SQL (SEC-42).
    r.delete(base, requireAdmin, async (c) => {
      const q = queryOf(c);
      const status = q.status ?? 'failed';
      if (status !== 'failed' && status !== 'done' && status !== 'both')
        throw badRequest('status must be failed, done, or both');
      const raw = q.older_than_days;
      if (raw !== undefined && raw !== '' && !/^\d{1,5}$/.test(raw))
        throw badRequest('older_than_days must be a non-negative integer');
      return c.json(await jobs.cleanup(principalOf(c), status, raw ? Number(raw) : 0));
    });

    r.get(`${base}/:id`, requireAny, async (c) => c.json(await jobs.get(parseIntId(c.req.param('id')))));

    r.put(`${base}/:id`, requireAny, async (c) => {
      const id = parseIntId(c.req.param('id'));
      await jobs.get(id); // 404 before body validation
      return c.json(await jobs.update(principalOf(c), id, parseWith(updateSchema, bodyOf(c))));
    });

    r.delete(`${base}/:id`, requireAdmin, async (c) =>
      c.json(await jobs.cancel(principalOf(c), parseIntId(c.req.param('id')))),
    );
  }

  // ── templates ────────────────────────────────────────────────────────────
  r.get('/drones/templates', requireAny, async (c) => c.json(await drones.listTemplates()));
  r.get('/drones/templates/:id', requireAny, async (c) => c.json(await drones.template(c.req.param('id'))));
  r.post('/drones/templates', requireAdmin, async (c) => {
    const body = bodyOf(c);
    const id = slug(body.id, 'id is required');
    return c.json(
      await drones.createTemplate(
        principalOf(c),
        id,
        templateColumns(parseWith(templateSchema, { ...body, id: undefined })),
      ),
    );
  });
  r.put('/drones/templates/:id', requireAdmin, async (c) => {
    const id = c.req.param('id');
    await drones.template(id);
    return c.json(
      await drones.updateTemplate(
        principalOf(c),
        id,
        templateColumns(parseWith(templateSchema, { ...bodyOf(c), id: undefined })),
      ),
    );
  });
  r.delete('/drones/templates/:id', requireAdmin, async (c) =>
    c.json(await drones.deleteTemplate(principalOf(c), c.req.param('id'))),
  );

  // ── profiles ─────────────────────────────────────────────────────────────
  r.get('/drones/profiles', requireAny, async (c) => c.json(await drones.listProfiles(principalOf(c))));
  r.get('/drones/profiles/by-drone/:droneId', requireAny, async (c) =>
    c.json(await drones.byDrone(principalOf(c), c.req.param('droneId'))),
  );
  r.post('/drones/profiles', requireAdmin, async (c) => {
    const body = bodyOf(c);
    const id = slug(body.id, 'id is required (slug, e.g. "kc-art-gen")');
    if (body.name === undefined || body.name === null || body.name === '') throw badRequest('name is required');
    const input = profileColumns(parseWith(profileSchema, { ...body, id: undefined }));
    return c.json(await drones.createProfile(principalOf(c), id, { ...input, name: input.name! }));
  });
  r.get('/drones/profiles/:profileId', requireAny, async (c) =>
    c.json(await drones.profile(principalOf(c), c.req.param('profileId'))),
  );
  r.put('/drones/profiles/:profileId', requireAdmin, async (c) =>
    c.json(
      await drones.updateProfile(
        principalOf(c),
        c.req.param('profileId'),
        profileColumns(parseWith(profileSchema, { ...bodyOf(c), id: undefined })),
      ),
    ),
  );
  r.delete('/drones/profiles/:profileId', requireAdmin, async (c) =>
    c.json(await drones.deleteProfile(principalOf(c), c.req.param('profileId'))),
  );
  r.post('/drones/profiles/:profileId/assign', requireAdmin, async (c) => {
    const droneId = bodyOf(c).drone_id;
    if (droneId === undefined || droneId === null || droneId === '') throw badRequest('drone_id is required');
    if (typeof droneId !== 'string' || droneId.length > 128) throw badRequest('drone_id must be a string');
    return c.json(await drones.assign(principalOf(c), c.req.param('profileId'), droneId));
  });
  r.delete('/drones/profiles/:profileId/assign/:droneId', requireAdmin, async (c) =>
    c.json(await drones.unassign(c.req.param('profileId'), c.req.param('droneId'))),
  );
  r.post('/drones/profiles/:profileId/setup-complete', requireAgent, async (c) => {
    const { checksum } = parseWith(z.object({ checksum: text(200).optional() }), bodyOf(c));
    return c.json(await drones.setupComplete(principalOf(c), c.req.param('profileId'), checksum ?? ''));
  });

  // ── artifacts ────────────────────────────────────────────────────────────
  r.get('/drones/artifacts', requireAny, async (c) => c.json(await artifacts.list(instanceUrl(app.config, c.req.raw))));
  // Admin only, decided before the multipart body is parsed or anything is stored (SEC-27):
  // no credentials → 401, any non-admin identity → 403.
  r.post(
    '/drones/artifacts',
    async (c, next) => {
      const p = await resolveAny(c.get('credentials'));
      if (!p.isAdmin) throw forbidden(ARTIFACT_ADMIN_ONLY);
      c.set('principal', p);
      await next();
    },
    async (c) => {
      const base = instanceUrl(app.config, c.req.raw);
      const form = await formOf(c);
      const f = form?.get('file');
      const file = f && typeof f !== 'string' ? { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) } : null;
      const name = form?.get('name');
      return c.json(await artifacts.upload(principalOf(c), file, typeof name === 'string' ? name : undefined, base));
    },
  );
  r.get('/drones/artifacts/:name', requireAny, async (c) => {
    const { row, bytes } = await artifacts.download(c.req.param('name'));
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Disposition': `attachment; filename="${row.name}"`,
        'Content-Length': String(bytes.length),
        'X-Artifact-Sha256': row.sha256,
      },
    });
  });
  r.delete('/drones/artifacts/:name', requireAdmin, async (c) => c.json(await artifacts.remove(c.req.param('name'))));

  // ── one drone (after every literal /drones/<word> path) ──────────────────
  r.get('/drones/:id', requireAny, async (c) => c.json(await drones.detail(principalOf(c), c.req.param('id'))));
  r.get('/drones/:id/status', requireAny, async (c) => c.json(await drones.status(c.req.param('id'))));
  r.get('/drones/:id/compatibility', requireAny, async (c) => c.json(await drones.compatibility(c.req.param('id'))));
  r.put('/drones/:id/pause', requireAny, async (c) =>
    c.json(await drones.setPaused(principalOf(c), c.req.param('id'), true)),
  );
  r.put('/drones/:id/resume', requireAny, async (c) =>
    c.json(await drones.setPaused(principalOf(c), c.req.param('id'), false)),
  );

  return r;
}
