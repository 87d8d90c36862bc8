import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { badRequest, forbidden, notFound } from '../../http/errors.js';
import { idString, parseWith } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { defineRoute } from '../../http/contract.js';
import { resolveCalibrationChain, type NodeProfileRow } from './calibration.js';
import { agentsRepo } from './repo.js';
import { profilesRepo } from './profiles-repo.js';
import { createProfile, deleteProfile, updateProfile } from './profiles.js';
import {
  NodeProfile,
  ProfileBody,
  ProfileDeleted,
  ProfileIdParams,
  ProfileList,
  ProfileListQuery,
  ResolvedChain,
  ResolveParams,
} from './schema.js';

const tags = ['Calibration profiles'];

/** Calibration ("node") profiles, admin only (spec 02 §3.10). Platform layers are immutable (W35). */

const JSON_OBJECTS = ['rules', 'mcp_config'] as const;
const JSON_ARRAYS = ['required_concepts', 'tool_whitelist', 'repo_list', 'md_checkpoints', 'md_blocklist'] as const;
const TEXT = ['node_type', 'layer', 'parent_id'] as const;

function present(r: NodeProfileRow) {
  const out: Record<string, unknown> = { ...r };
  for (const f of [...JSON_OBJECTS, ...JSON_ARRAYS]) {
    try {
      out[f] = JSON.parse(r[f]);
    } catch {
      out[f] = r[f]; // left as the stored string when unparsable (spec 02 §1.5)
    }
  }
  return out;
}

/** Validated column values from a body; objects/arrays JSON-encoded, JSON strings accepted. */
function columns(body: Record<string, unknown>): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of TEXT) {
    const v = body[f];
    if (v === undefined) continue;
    if (f === 'parent_id' && v === null) {
      out[f] = null;
      continue;
    }
    if (typeof v !== 'string' || v.length > 128) throw badRequest(`${f} must be a string`);
    out[f] = v;
  }
  if (out.layer === 'platform') throw forbidden('Cannot create or modify platform-layer profiles');
  for (const f of JSON_OBJECTS) {
    const v = body[f];
    if (v === undefined) continue;
    const parsed = typeof v === 'string' ? safeParse(v) : v;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest(`${f} must be an object`);
    out[f] = JSON.stringify(parsed);
  }
  for (const f of JSON_ARRAYS) {
    const v = body[f];
    if (v === undefined) continue;
    const parsed = typeof v === 'string' ? safeParse(v) : v;
    if (!Array.isArray(parsed)) throw badRequest(`${f} must be an array`);
    out[f] = JSON.stringify(parsed);
  }
  return out;
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

export function calibrationRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const get = (id: string) => profilesRepo.get(app.db, id);

  defineRoute(
    r,
    {
      method: 'get',
      path: '/profiles',
      tags,
      summary: 'Calibration profiles',
      access: 'admin',
      query: ProfileListQuery,
      response: ProfileList,
    },
    async (_c, { query: q }) => {
      const rows = await profilesRepo.list(app.db, {
        node_type: q.node_type || undefined,
        layer: q.layer || undefined,
      });
      return { count: rows.length, profiles: rows.map(present) };
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/profiles/resolve/:agentId',
      tags,
      summary: "An agent's resolved calibration chain",
      access: 'admin',
      params: ResolveParams,
      response: ResolvedChain,
    },
    async (_c, { params }) => {
      const id = params.agentId;
      const agent = await agentsRepo.get(app.db, id);
      const chain = await resolveCalibrationChain(app.db, id, agent?.agent_type || 'agent');
      const rules = Object.fromEntries(Object.entries(chain.rules).map(([k, { source: _s, ...rule }]) => [k, rule]));
      return { ...chain, rules };
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/profiles/:id',
      tags,
      summary: 'One calibration profile',
      access: 'admin',
      params: ProfileIdParams,
      response: NodeProfile,
      errors: [404],
    },
    async (_c, { params }) => {
      const row = await get(params.id);
      if (!row) throw notFound('Profile not found');
      return present(row);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/profiles',
      tags,
      summary: 'Create a calibration profile (not in the platform layer)',
      access: 'admin',
      body: ProfileBody,
      response: NodeProfile,
      status: 201,
      errors: [403, 409],
    },
    async (c) => {
      const body = bodyOf(c);
      if (body.id === undefined || body.id === null || body.id === '') throw badRequest('id is required');
      const { id } = parseWith(z.object({ id: idString(128) }), { id: body.id });
      return present(await createProfile(app, principalOf(c).who, id, columns(body)));
    },
  );

  defineRoute(
    r,
    {
      method: 'put',
      path: '/profiles/:id',
      tags,
      summary: 'Update a calibration profile (platform layers are immutable)',
      access: 'admin',
      params: ProfileIdParams,
      body: ProfileBody,
      response: NodeProfile,
      errors: [403, 404],
    },
    async (c, { params }) => {
      const id = params.id;
      const existing = await get(id);
      if (!existing) throw notFound('Profile not found');
      if (existing.layer === 'platform') throw forbidden('Cannot modify platform-layer profiles');
      return present(await updateProfile(app, principalOf(c).who, id, columns(bodyOf(c))));
    },
  );

  defineRoute(
    r,
    {
      method: 'delete',
      path: '/profiles/:id',
      tags,
      summary: 'Delete a calibration profile (platform layers are immutable)',
      access: 'admin',
      params: ProfileIdParams,
      response: ProfileDeleted,
      errors: [403, 404],
    },
    async (c, { params }) => {
      const id = params.id;
      const existing = await get(id);
      if (!existing) throw notFound('Profile not found');
      if (existing.layer === 'platform') throw forbidden('Cannot delete platform-layer profiles');
      return { ok: true, deleted: present(await deleteProfile(app, principalOf(c).who, id)) };
    },
  );

  return r;
}
