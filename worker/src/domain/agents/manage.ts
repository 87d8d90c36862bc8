import { atomicWrite } from '../events/write.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { isSelfOrAdmin } from '../../auth/principal.js';
import { badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import { agentsRepo, agentWrites, profilesRepo, type ProfileRow, type WritableAgentColumn } from './repo.js';
import { arrayInput, objectInput, parseArray, parseObject, parseStringArray } from './json.js';
import { resolveCalibrationChain } from './calibration.js';
import { savepointsRepo } from '../savepoints/repo.js';

/**
 * Agent self-service and admin management beyond registration (spec 02 §3.1–§3.2): update,
 * identity, profile, removal. Mass assignment is impossible: every writable field is listed.
 */

const SELF_FIELDS = ['name', 'avatar_url', 'llm_backend', 'llm_model', 'runtime'] as const;
const ADMIN_FIELDS = ['role', 'operator_id', 'project', 'project_id', 'capabilities', 'status', 'agent_type'] as const;
const DRONE_FORBIDDEN = ['code', 'coordination', 'admin'];

function str(field: string, v: unknown, max = 500): string {
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (v.length > max) throw badRequest(`${field} exceeds max length (${max} chars)`);
  return v;
}

export async function updateAgent(app: AppContext, p: Principal, id: string, body: Record<string, unknown>) {
  if (!isSelfOrAdmin(p, id)) throw forbidden('Can only update your own profile');
  const agent = await agentsRepo.get(app.db, id);
  if (!agent) throw notFound('Agent not found');
  const fields: Partial<Record<WritableAgentColumn, string>> = {};
  for (const f of SELF_FIELDS) if (body[f] !== undefined) fields[f] = str(f, body[f], f === 'avatar_url' ? 2000 : 200);
  // Admin-only fields are silently ignored for agents (wire contract), never stored.
  if (p.isAdmin) {
    for (const f of ADMIN_FIELDS) {
      const v = body[f];
      if (v === undefined) continue;
      if (f === 'capabilities') {
        const caps = arrayInput('capabilities', v);
        if (!caps.every((x) => typeof x === 'string')) throw badRequest('capabilities must be an array of strings');
        fields.capabilities = JSON.stringify(caps);
      } else if (f === 'status') {
        if (v !== 'retired')
          throw badRequest("status can only be set to 'retired' here; presence derives from heartbeats");
        fields.status = 'retired';
      } else {
        fields[f] = str(f, v, 200);
      }
    }
  }
  if (fields.name !== undefined) {
    if (!fields.name.trim()) throw badRequest('name is required');
    const taken = await agentWrites.nameTaken(app.db, fields.name, id);
    if (taken) throw conflict(`Agent name ${fields.name} is already taken`);
  }
  const updated = Object.keys(fields);
  if (!updated.length) throw badRequest('Nothing to update');
  await app.db.batch([agentWrites.update(id, fields)]);
  // A project or role change must not linger in the key cache (spec 02 W37).
  if (fields.project_id !== undefined || fields.role !== undefined) app.keyCache.forgetAgent(id);
  return { ok: true, id, updated };
}

export function presentProfile(r: ProfileRow) {
  return {
    ...r,
    specializations: parseArray(r.specializations),
    preferred_projects: parseArray(r.preferred_projects),
    capability_history: parseArray(r.capability_history),
    profile_data: parseObject(r.profile_data),
  };
}

export async function getProfile(app: AppContext, id: string) {
  const row = await profilesRepo.get(app.db, id);
  if (!row) throw notFound('Profile not found');
  return presentProfile(row);
}

export async function updateProfile(app: AppContext, p: Principal, id: string, body: Record<string, unknown>) {
  if (!isSelfOrAdmin(p, id)) throw forbidden('Can only update your own profile');
  if (!(await agentsRepo.get(app.db, id))) throw notFound('Agent not found');
  const fields: Parameters<typeof profilesRepo.update>[1] = {};
  if (body.display_name !== undefined) fields.display_name = str('display_name', body.display_name, 200);
  if (body.specializations !== undefined)
    fields.specializations = JSON.stringify(arrayInput('specializations', body.specializations));
  if (body.preferred_projects !== undefined)
    fields.preferred_projects = JSON.stringify(arrayInput('preferred_projects', body.preferred_projects));
  if (body.profile_data !== undefined)
    fields.profile_data = JSON.stringify(objectInput('profile_data', body.profile_data));
  if (body.max_concurrent !== undefined) {
    const n = typeof body.max_concurrent === 'string' ? Number.parseInt(body.max_concurrent, 10) : body.max_concurrent;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 1000)
      throw badRequest('max_concurrent must be an integer between 0 and 1000');
    fields.max_concurrent = n;
  }
  await app.db.batch([
    profilesRepo.ensure(id),
    ...(Object.keys(fields).length ? [profilesRepo.update(id, fields)] : []),
  ]);
  return getProfile(app, id);
}

export async function getIdentity(app: AppContext, id: string) {
  const a = await agentsRepo.get(app.db, id);
  if (!a) throw notFound('Agent not found');
  const profile = await profilesRepo.get(app.db, id);
  const pd = parseObject(profile?.profile_data);
  const home = a.project_id || a.project;
  const projects = await app.db.all<{ id: string; name: string }>(
    `SELECT id, name FROM projects WHERE id = ?
     UNION SELECT pr.id, pr.name FROM projects pr JOIN team_members tm ON tm.team_id = pr.team_id
       WHERE tm.user_id = ? AND tm.user_type = 'agent'`,
    [home, id],
  );
  projects.sort((x, y) => (x.id === home ? -1 : y.id === home ? 1 : x.id.localeCompare(y.id)));
  const teams = await app.db.all<{ id: string; name: string; role: string; is_primary: number }>(
    `SELECT t.id, t.name, tm.role, tm.is_primary FROM team_members tm JOIN teams t ON t.id = tm.team_id
     WHERE tm.user_id = ? AND tm.user_type = 'agent' ORDER BY tm.is_primary DESC, t.name`,
    [id],
  );
  const chain = await resolveCalibrationChain(app.db, id, a.agent_type || 'agent');
  const guardrails = [
    ...Object.entries(chain.rules).map(([key, rule]) => ({
      value: rule.description ? `${key}: ${rule.description}` : key,
      // Each rule keeps the label of the layer it came from (spec 02 W34).
      source: rule.source,
      locked: true,
    })),
    ...parseArray(JSON.stringify(pd.guardrails ?? [])).map((v) => ({ value: v, source: 'custom', locked: false })),
  ];
  const responsibilities = parseArray(JSON.stringify(pd.responsibilities ?? [])).map((v) => ({
    value: v,
    source: 'custom',
    locked: false,
  }));
  return {
    agent: {
      id: a.id,
      name: a.name,
      agent_type: a.agent_type || 'agent',
      role: a.role || 'agent',
      status: a.status,
      avatar_url: a.avatar_url ?? '',
      operator_id: a.operator_id ?? '',
      llm_backend: a.llm_backend ?? '',
      llm_model: a.llm_model ?? '',
      runtime: a.runtime ?? '',
    },
    capabilities: parseStringArray(a.capabilities),
    forbidden_capabilities: a.agent_type === 'drone' ? DRONE_FORBIDDEN : [],
    projects,
    teams,
    responsibilities,
    guardrails,
    profile_stats: profile
      ? {
          session_count: profile.session_count,
          total_tasks_completed: profile.total_tasks_completed,
          total_bugs_fixed: profile.total_bugs_fixed,
          total_prs_created: profile.total_prs_created,
          specializations: parseArray(profile.specializations),
          first_seen_at: profile.first_seen_at,
          last_active_at: profile.last_active_at,
        }
      : null,
    calibration: {
      layers_applied: chain.layers_applied,
      md_checkpoints: chain.md_checkpoints,
      md_blocklist: chain.md_blocklist,
    },
  };
}

export async function updateIdentity(app: AppContext, id: string, body: Record<string, unknown>) {
  const a = await agentsRepo.get(app.db, id);
  if (!a) throw notFound('Agent not found');
  // Validate everything before the first write (spec 02 §3.2, REL-18).
  const updated: Record<string, unknown> = {};
  let caps: string[] | undefined;
  if (body.capabilities !== undefined) {
    if (!Array.isArray(body.capabilities) || !body.capabilities.every((x) => typeof x === 'string'))
      throw badRequest('capabilities must be an array');
    caps = body.capabilities as string[];
    if (a.agent_type === 'drone')
      for (const c of caps)
        if (DRONE_FORBIDDEN.includes(c)) throw badRequest(`Capability "${c}" is forbidden for drones`);
    updated.capabilities = caps;
  }
  for (const f of ['responsibilities', 'guardrails'] as const) {
    if (body[f] === undefined) continue;
    if (!Array.isArray(body[f])) throw badRequest(`${f} must be an array`);
    updated[f] = body[f];
  }
  const stmts = [];
  if (caps) stmts.push(agentWrites.update(id, { capabilities: JSON.stringify(caps) }));
  if (updated.responsibilities !== undefined || updated.guardrails !== undefined) {
    const profile = await profilesRepo.get(app.db, id);
    const pd = parseObject(profile?.profile_data);
    if (updated.responsibilities !== undefined) pd.responsibilities = updated.responsibilities;
    if (updated.guardrails !== undefined) pd.guardrails = updated.guardrails;
    stmts.push(profilesRepo.ensure(id), profilesRepo.update(id, { profile_data: JSON.stringify(pd) }));
  }
  await app.db.batch(stmts);
  return { ok: true, updated };
}

/** DELETE /admin/agents/:id per spec README: key revoked, open work unassigned, history kept. */
export async function removeAgent(app: AppContext, id: string) {
  const a = await agentsRepo.get(app.db, id);
  if (!a) throw notFound('Agent not found');
  const ev = {
    type: 'agent_removed',
    agent: '__admin__',
    summary: `Admin removed agent: ${id}`,
    data: { agent_id: id },
  };
  await atomicWrite(app)
    .addAll(agentWrites.removalStatements(id))
    .add(null, savepointsRepo.deleteForAgent(id))
    .event(ev)
    .commit();
  app.keyCache.forgetAgent(id);
  return { ok: true, deleted: id };
}
