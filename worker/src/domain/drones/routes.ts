import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest, forbidden } from '../../http/errors.js';
import { hitAgentWrite } from '../../http/rate-limit.js';
import { idString, parseIntId, parseWith } from '../../http/validate.js';
import { instanceUrl } from '../../http/instance-url.js';
import { principalOf, resolveAny } from '../../auth/principal.js';
import { DroneJobService } from './jobs-service.js';
import { DroneService } from './service.js';
import { ARTIFACT_ADMIN_ONLY, ArtifactService } from './artifacts.js';
import { TEMPLATE_COLUMNS, type TemplateColumn } from './repo.js';
import {
  ArtifactNameParams,
  ArtifactUploaded,
  AssignBody,
  ByDroneParams,
  ClaimBody,
  Deleted,
  Drone,
  DroneArtifact,
  DroneClaim,
  DroneCompatibility,
  DroneDetail,
  DroneIdParams,
  DroneJob,
  DronePaused,
  DroneProfile,
  DroneProfileAssignment,
  DroneProfileCreated,
  DroneStatus,
  JobCancelled,
  JobCleanupQuery,
  JobFromTemplate,
  JobIdParams,
  JobListQuery,
  JobQueued,
  JobsCleaned,
  JobTemplate,
  JobUpdated,
  ProfileAssigned,
  ProfileDroneParams,
  ProfileFields,
  ProfileIdParams,
  ProfileUnassigned,
  QueueJob,
  SetupCompleteBody,
  SetupCompleted,
  TemplateFields,
  TemplateIdParams,
  UpdateJob,
  type ProfileInput,
  type TemplateInput,
} from './schema.js';

/**
 * Drones, drone jobs, templates, profiles and artifacts (spec 05 §3–§8). Literal sub-paths are
 * registered before `/drones/:id`, so `/drones/templates/pause` is a template, never a drone
 * (§17.2). `/drone-jobs` is the original SDK's path for the same job routes.
 */

const tags = ['Drones'];

/** Template body → column values (arrays stored as JSON text). */
function templateColumns(input: TemplateInput): Partial<Record<TemplateColumn, string | number>> {
  const out: Partial<Record<TemplateColumn, string | number>> = {};
  for (const c of TEMPLATE_COLUMNS) {
    const v = input[c];
    if (v === undefined) continue;
    out[c] = Array.isArray(v) ? JSON.stringify(v) : (v as string | number);
  }
  return out;
}

function profileColumns(input: ProfileInput) {
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

/**
 * Artifact uploads are admin only, decided before the multipart body is parsed or anything is
 * stored (SEC-27): no credentials → 401, any non-admin identity → 403.
 */
const artifactAdmin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const p = await resolveAny(c.get('credentials'));
  if (!p.isAdmin) throw forbidden(ARTIFACT_ADMIN_ONLY);
  c.set('principal', p);
  await next();
};

export function droneRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const jobs = new DroneJobService(app);
  const drones = new DroneService(app);
  const artifacts = new ArtifactService(app);
  app.jobs.push({ name: 'drone_sweep', everyMs: 15 * 60_000, run: () => jobs.sweep() });

  defineRoute(
    r,
    { method: 'get', path: '/drones', tags, summary: 'List drones', access: 'any', response: z.array(Drone) },
    () => drones.list(),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/drones/claim',
      tags,
      summary: 'Claim the next pending job this drone can run',
      description: 'The claim answer carries the lease token, for the claimer only.',
      access: 'agent',
      body: ClaimBody,
      response: DroneClaim,
      errors: [503],
    },
    (c, { body }) => jobs.claim(principalOf(c), body.capabilities ?? []),
  );

  // ── jobs, under both paths ──────────────────────────────────────────────
  for (const base of ['/drones/jobs', '/drone-jobs']) {
    const alias = base === '/drone-jobs';
    defineRoute(
      r,
      {
        method: 'post',
        path: base,
        tags,
        summary: 'Queue a drone job',
        access: 'any',
        body: QueueJob,
        lazyBody: true,
        response: JobQueued,
        errors: [403, 429],
        alias,
      },
      async (c, input) => {
        const p = principalOf(c);
        hitAgentWrite(app.limiters, p, c.get('clientIp'));
        const body = bodyOf(c);
        await app.guards.check('drone_job.queue', { agent: p.who, title: body.title }, p);
        return jobs.queue(p, input.body);
      },
    );

    defineRoute(
      r,
      {
        method: 'post',
        path: `${base}/from-template`,
        tags,
        summary: 'Queue a drone job from a template',
        access: 'any',
        body: JobFromTemplate,
        response: JobQueued,
        errors: [404],
        alias,
      },
      (c, { body }) => jobs.fromTemplate(principalOf(c), body.template_id, body.input_data, body.priority ?? 0),
    );

    defineRoute(
      r,
      {
        method: 'get',
        path: base,
        tags,
        summary: 'List drone jobs, newest first',
        access: 'any',
        query: JobListQuery,
        response: z.array(DroneJob),
        alias,
      },
      (_c, { query: q }) =>
        jobs.list(
          { status: q.status, drone_id: q.drone_id, requester: q.requester },
          !q.limit ? 50 : Math.min(q.limit, 200),
          q.offset ?? 0,
        ),
    );

    // Bulk cleanup: the query is parsed strictly and bound, never pasted into SQL (SEC-42).
    defineRoute(
      r,
      {
        method: 'delete',
        path: base,
        tags,
        summary: 'Dismiss failed and/or done jobs',
        access: 'admin',
        query: JobCleanupQuery,
        response: JobsCleaned,
        alias,
      },
      (c, { query: q }) => {
        const status = (q.status ?? 'failed') as 'failed' | 'done' | 'both';
        const days = q.older_than_days as string | undefined;
        return jobs.cleanup(principalOf(c), status, days ? Number(days) : 0);
      },
    );

    defineRoute(
      r,
      {
        method: 'get',
        path: `${base}/:id`,
        tags,
        summary: 'One drone job',
        access: 'any',
        params: JobIdParams,
        response: DroneJob,
        errors: [404],
        alias,
      },
      (_c, { params }) => jobs.get(parseIntId(params.id)),
    );

    defineRoute(
      r,
      {
        method: 'put',
        path: `${base}/:id`,
        tags,
        summary: 'Report progress or the outcome of a drone job',
        access: 'any',
        params: JobIdParams,
        body: UpdateJob,
        lazyBody: true,
        response: JobUpdated,
        errors: [403, 404, 409],
        alias,
      },
      async (c, input) => {
        const { params } = input;
        const id = parseIntId(params.id);
        await jobs.get(id); // 404 before body validation
        return jobs.update(principalOf(c), id, input.body);
      },
    );

    defineRoute(
      r,
      {
        method: 'delete',
        path: `${base}/:id`,
        tags,
        summary: 'Cancel a drone job',
        access: 'admin',
        params: JobIdParams,
        response: JobCancelled,
        errors: [404, 409],
        alias,
      },
      (c, { params }) => jobs.cancel(principalOf(c), parseIntId(params.id)),
    );
  }

  // ── templates ────────────────────────────────────────────────────────────
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/templates',
      tags,
      summary: 'List job templates',
      access: 'any',
      response: z.array(JobTemplate),
    },
    () => drones.listTemplates(),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/templates/:id',
      tags,
      summary: 'One job template',
      access: 'any',
      params: TemplateIdParams,
      response: JobTemplate,
      errors: [404],
    },
    (_c, { params }) => drones.template(params.id),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/drones/templates',
      tags,
      summary: 'Create a job template',
      access: 'admin',
      body: TemplateFields,
      lazyBody: true,
      response: JobTemplate,
      errors: [409],
    },
    (c, input) => {
      const id = slug(bodyOf(c).id, 'id is required');
      return drones.createTemplate(principalOf(c), id, templateColumns(input.body));
    },
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/drones/templates/:id',
      tags,
      summary: 'Update a job template',
      access: 'admin',
      params: TemplateIdParams,
      body: TemplateFields,
      lazyBody: true,
      response: JobTemplate,
      errors: [404],
    },
    async (c, input) => {
      const { params } = input;
      await drones.template(params.id); // 404 before body validation
      return drones.updateTemplate(principalOf(c), params.id, templateColumns(input.body));
    },
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/drones/templates/:id',
      tags,
      summary: 'Delete a job template',
      access: 'admin',
      params: TemplateIdParams,
      response: Deleted,
      errors: [404],
    },
    (c, { params }) => drones.deleteTemplate(principalOf(c), params.id),
  );

  // ── profiles ─────────────────────────────────────────────────────────────
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/profiles',
      tags,
      summary: 'List drone profiles',
      access: 'any',
      response: z.array(DroneProfile),
    },
    (c) => drones.listProfiles(principalOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/profiles/by-drone/:droneId',
      tags,
      summary: "A drone's profile assignments",
      access: 'any',
      params: ByDroneParams,
      response: z.array(DroneProfileAssignment),
    },
    (c, { params }) => drones.byDrone(principalOf(c), params.droneId),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/drones/profiles',
      tags,
      summary: 'Create a drone profile',
      access: 'admin',
      body: ProfileFields,
      lazyBody: true,
      response: DroneProfileCreated,
      errors: [409],
    },
    (c, input) => {
      const raw = bodyOf(c);
      const id = slug(raw.id, 'id is required (slug, e.g. "kc-art-gen")');
      if (raw.name === undefined || raw.name === null || raw.name === '') throw badRequest('name is required');
      const cols = profileColumns(input.body);
      return drones.createProfile(principalOf(c), id, { ...cols, name: cols.name! });
    },
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/profiles/:profileId',
      tags,
      summary: 'One drone profile',
      access: 'any',
      params: ProfileIdParams,
      response: DroneProfile,
      errors: [404],
    },
    (c, { params }) => drones.profile(principalOf(c), params.profileId),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/drones/profiles/:profileId',
      tags,
      summary: 'Update a drone profile',
      access: 'admin',
      params: ProfileIdParams,
      body: ProfileFields,
      response: DroneProfile,
      errors: [404],
    },
    (c, { params, body }) => drones.updateProfile(principalOf(c), params.profileId, profileColumns(body)),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/drones/profiles/:profileId',
      tags,
      summary: 'Delete a drone profile',
      access: 'admin',
      params: ProfileIdParams,
      response: Deleted,
      errors: [404],
    },
    (c, { params }) => drones.deleteProfile(principalOf(c), params.profileId),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/drones/profiles/:profileId/assign',
      tags,
      summary: 'Assign a profile to a drone',
      access: 'admin',
      params: ProfileIdParams,
      body: AssignBody,
      response: ProfileAssigned,
      errors: [404],
    },
    (c, { params, body }) => drones.assign(principalOf(c), params.profileId, body.drone_id as string),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/drones/profiles/:profileId/assign/:droneId',
      tags,
      summary: 'Remove a profile from a drone',
      access: 'admin',
      params: ProfileDroneParams,
      response: ProfileUnassigned,
      errors: [404],
    },
    (_c, { params }) => drones.unassign(params.profileId, params.droneId),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/drones/profiles/:profileId/setup-complete',
      tags,
      summary: "A drone reports a profile's setup done",
      access: 'agent',
      params: ProfileIdParams,
      body: SetupCompleteBody,
      response: SetupCompleted,
      errors: [403, 404],
    },
    (c, { params, body }) => drones.setupComplete(principalOf(c), params.profileId, body.checksum ?? ''),
  );

  // ── artifacts ────────────────────────────────────────────────────────────
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/artifacts',
      tags,
      summary: 'List drone artifacts',
      access: 'any',
      response: z.array(DroneArtifact),
    },
    (c) => artifacts.list(instanceUrl(app.config, c.req.raw)),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/drones/artifacts',
      tags,
      summary: 'Upload a drone artifact',
      access: 'admin',
      guard: artifactAdmin,
      rawBody: { contentType: 'multipart/form-data', description: 'The file in form field `file`, optional `name`' },
      response: ArtifactUploaded,
      errors: [413],
    },
    async (c) => {
      const base = instanceUrl(app.config, c.req.raw);
      const form = await formOf(c);
      const f = form?.get('file');
      const file = f && typeof f !== 'string' ? { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) } : null;
      const name = form?.get('name');
      return artifacts.upload(principalOf(c), file, typeof name === 'string' ? name : undefined, base);
    },
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/artifacts/:name',
      tags,
      summary: 'Download a drone artifact',
      access: 'any',
      params: ArtifactNameParams,
      response: {
        contentType: 'application/octet-stream',
        description: 'The file, as an attachment (X-Artifact-Sha256)',
      },
      errors: [404],
    },
    async (_c, { params }) => {
      const { row, bytes } = await artifacts.download(params.name);
      return new Response(bytes as Uint8Array<ArrayBuffer>, {
        status: 200,
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Disposition': `attachment; filename="${row.name}"`,
          'Content-Length': String(bytes.length),
          'X-Artifact-Sha256': row.sha256,
        },
      });
    },
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/drones/artifacts/:name',
      tags,
      summary: 'Delete a drone artifact',
      access: 'admin',
      params: ArtifactNameParams,
      response: Deleted,
      errors: [404],
    },
    (_c, { params }) => artifacts.remove(params.name),
  );

  // ── one drone (after every literal /drones/<word> path) ──────────────────
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/:id',
      tags,
      summary: 'One drone: recent jobs, failures, profiles',
      access: 'any',
      params: DroneIdParams,
      response: DroneDetail,
      errors: [404],
    },
    (c, { params }) => drones.detail(principalOf(c), params.id),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/:id/status',
      tags,
      summary: "A drone's status and the jobs it could take",
      access: 'any',
      params: DroneIdParams,
      response: DroneStatus,
      errors: [404],
    },
    (_c, { params }) => drones.status(params.id),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/drones/:id/compatibility',
      tags,
      summary: 'Which templates a drone can run',
      access: 'any',
      params: DroneIdParams,
      response: DroneCompatibility,
      errors: [404],
    },
    (_c, { params }) => drones.compatibility(params.id),
  );
  for (const [action, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const)
    defineRoute(
      r,
      {
        method: 'put',
        path: `/drones/:id/${action}`,
        tags,
        summary: paused ? 'Pause a drone' : 'Resume a drone',
        access: 'any',
        params: DroneIdParams,
        response: DronePaused,
        errors: [403, 404],
      },
      (c, { params }) => drones.setPaused(principalOf(c), params.id, paused),
    );

  return r;
}
