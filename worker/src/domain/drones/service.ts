import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, conflict, forbidden, notFound } from '../../http/errors.js';
import { parseArray, parseObject } from '../agents/json.js';
import { messagesRepo } from '../messages/repo.js';
import { atomicWrite } from '../events/write.js';
import { hardwareIssues, tokenize, type Diagnostics } from './render.js';
import { effectiveDiagnostics, requiresOf } from './jobs-service.js';
import {
  dronesRepo,
  TEMPLATE_COLUMNS,
  type AssignmentRow,
  type DroneAgentRow,
  type ProfileColumn,
  type ProfileRow,
  type TemplateColumn,
  type TemplateRow,
} from './repo.js';

/**
 * Drones as participants (spec 05 §1, §3), job templates (§6) and drone profiles (§7).
 * A drone is an agent (`agent_type` drone, or project `drone`); this area never stores a
 * second copy of it. Each change commits in one batch with its event (issue 17, `atomicWrite`);
 * a change that finds nothing to change (a lost race with a delete) writes no event.
 */

function snapshotExtras(snapshot: string | undefined) {
  if (snapshot === undefined) return {};
  const s = parseObject(snapshot);
  const info = s.system_info;
  return {
    system_info: info && typeof info === 'object' && !Array.isArray(info) ? info : null,
    warnings: Array.isArray(s.warnings) ? s.warnings : [],
    worker_version: typeof s.worker_version === 'string' ? s.worker_version : null,
  };
}

const clip = (v: unknown, n = 200) => (typeof v === 'string' ? v.slice(0, n) : '');

/** Profile `env` may hold secrets: only admins and the drones it is assigned to read it (§17.1). */
function canReadEnv(p: Principal, droneIds: string[]): boolean {
  return p.isAdmin || (p.kind === 'agent' && droneIds.includes(p.id));
}

export class DroneService {
  constructor(private readonly app: AppContext) {}

  private get db() {
    return this.app.db;
  }

  private async droneOr404(id: string) {
    const d = await dronesRepo.drone(this.db, id);
    if (!d) throw notFound('Drone not found');
    return d;
  }

  /** GET /drones. */
  async list() {
    const drones = await dronesRepo.drones(this.db);
    const snaps = new Map(
      (
        await dronesRepo.latestSnapshots(
          this.db,
          drones.map((d) => d.id),
        )
      ).map((s) => [s.agent_id, s.state_snapshot]),
    );
    return drones.map((d) => ({
      id: d.id,
      name: d.name,
      project_id: d.project_id,
      agent_type: d.agent_type,
      status: d.status,
      working_on: d.working_on,
      last_heartbeat: d.last_heartbeat,
      capabilities: d.capabilities,
      created_at: d.created_at,
      ...snapshotExtras(snaps.get(d.id)),
    }));
  }

  /** GET /drones/:id: the agent row (no key hash), recent jobs, failures, profiles. */
  async detail(p: Principal, id: string) {
    const { api_key_hash: _hidden, ...drone } = await this.droneOr404(id);
    const recent = await dronesRepo.recentJobsOf(this.db, id, 20);
    const [snap] = await dronesRepo.latestSnapshots(this.db, [id]);
    const out: Record<string, unknown> = { ...drone, recent_jobs: recent, ...snapshotExtras(snap?.state_snapshot) };
    const failed = recent.filter((j) => j.status === 'failed');
    if (failed.length) {
      out.error_summary = failed.slice(0, 5).map((j) => {
        const r = parseObject(j.result_data);
        return {
          job_id: j.id,
          title: j.title,
          error_type: typeof r.error_type === 'string' ? r.error_type : 'unknown',
          message: clip(r.message) || clip(j.error),
          suggestion: clip(r.suggestion),
          failed_at: j.completed_at,
        };
      });
    }
    const showEnv = canReadEnv(p, [id]);
    out.profiles = (await dronesRepo.assignmentsOf(this.db, id)).map((a) => ({
      ...a,
      requires: parseObject(a.requires),
      artifacts: parseArray(a.artifacts),
      env: showEnv ? a.env : '{}',
    }));
    return out;
  }

  /** GET /drones/:id/status: `queued_jobs` counts the pending jobs this drone could take (§17.2 L1). */
  async status(id: string) {
    const d = await this.droneOr404(id);
    const caps = parseArray(d.capabilities).filter((x): x is string => typeof x === 'string');
    const pending = await dronesRepo.pendingRequires(this.db);
    const queued = caps.length
      ? pending.filter((j) => requiresOf(j.requires).every((r) => caps.includes(r))).length
      : pending.length;
    return {
      id: d.id,
      name: d.name,
      status: d.status,
      paused: d.status === 'paused',
      working_on: d.working_on,
      capabilities: caps,
      last_heartbeat: d.last_heartbeat,
      queued_jobs: queued,
    };
  }

  /** GET /drones/:id/compatibility: hardware and (when the drone lists any) capability checks. */
  async compatibility(id: string) {
    const d = await this.droneOr404(id);
    const diag = await effectiveDiagnostics(this.app, d);
    if (!diag) return { drone_id: id, error: 'No diagnostics available', compatible: [], incompatible: [] };
    const caps = parseArray(d.capabilities).filter((x): x is string => typeof x === 'string');
    const compatible: unknown[] = [];
    const incompatible: unknown[] = [];
    for (const t of await dronesRepo.templates(this.db)) {
      const reasons = hardwareIssues(t, diag);
      if (caps.length)
        for (const r of requiresOf(t.requires))
          if (r !== 'gpu' && !caps.includes(r)) reasons.push(`Requires capability "${r}"`);
      if (reasons.length) incompatible.push({ template: t.id, name: t.name, status: 'incompatible', reasons });
      else compatible.push({ template: t.id, name: t.name, status: 'ready', notes: notesOf(diag) });
    }
    return { drone_id: id, compatible, incompatible };
  }

  /**
   * PUT /drones/:id/pause|resume: an admin, any human operator, or the drone itself (§17.1).
   * The state lives on the agent row and survives heartbeats (REL-17); the drone also gets a
   * message so a running worker can release its GPU at once.
   */
  async setPaused(p: Principal, id: string, paused: boolean) {
    const d = await this.droneOr404(id);
    const mayAct = p.isAdmin || p.kind === 'operator' || (p.kind === 'agent' && p.id === d.id);
    if (!mayAct) throw forbidden('Only an admin, an operator or the drone itself may pause or resume a drone');
    const action = paused ? 'pause' : 'resume';
    await this.db.batch([
      dronesRepo.setPaused(d.id, paused),
      messagesRepo.insert({
        from_agent: p.who,
        to_agent: d.id,
        thread_id: null,
        project_id: 'mycelium',
        content: JSON.stringify({ action }),
        metadata: '{}',
        msg_type: 'message',
        status: 'sent',
        channel_id: null,
        priority: 'normal',
      }),
    ]);
    return { ok: true, status: paused ? 'paused' : 'online' };
  }

  // ── templates (§6) ─────────────────────────────────────────────────────────
  listTemplates() {
    return dronesRepo.templates(this.db);
  }

  async template(id: string) {
    const t = await dronesRepo.template(this.db, id);
    if (!t) throw notFound('Template not found');
    return t;
  }

  async createTemplate(p: Principal, id: string, input: Partial<Record<TemplateColumn, string | number>>) {
    checkTemplate(input);
    const fields = {
      name: input.name || id,
      project_id: input.project_id ?? '',
      requires: input.requires ?? '["cpu"]',
      min_vram_gb: input.min_vram_gb ?? 0,
      // The original turned 0 into 5; an explicit 0 means "no disk requirement" here (§17.2).
      min_disk_gb: input.min_disk_gb ?? 5,
      python_deps: input.python_deps ?? '[]',
      python_deps_install: input.python_deps_install ?? '',
      artifacts: input.artifacts ?? '[]',
      setup_repo: input.setup_repo ?? '',
      command_template: input.command_template ?? '',
      workspace_name: input.workspace_name ?? '',
    } as Record<TemplateColumn, string | number>;
    const written = await atomicWrite(this.app)
      .add('template', dronesRepo.insertTemplate(id, fields))
      .requireChanged('template exists')
      .event({
        type: 'job_template_created',
        agent: p.who,
        projectId: 'drone',
        summary: `Created job template: ${id}`,
        data: {},
      })
      .commitUnlessAborted();
    if (!written) throw conflict(`Template already exists: ${id}`);
    return written.row<TemplateRow>('template')!;
  }

  async updateTemplate(p: Principal, id: string, input: Partial<Record<TemplateColumn, string | number>>) {
    const current = await this.template(id);
    checkTemplate(input);
    const present = TEMPLATE_COLUMNS.filter((c) => input[c] !== undefined);
    if (!present.length) return current;
    const written = await atomicWrite(this.app)
      .add('template', dronesRepo.updateTemplate(id, input))
      .requireChanged('template deleted')
      .event({
        type: 'job_template_updated',
        agent: p.who,
        projectId: 'drone',
        summary: `Updated job template: ${id}`,
        data: {},
      })
      .commitUnlessAborted();
    if (!written) throw notFound('Template not found');
    return written.row<TemplateRow>('template') ?? current;
  }

  async deleteTemplate(p: Principal, id: string) {
    await this.template(id);
    const written = await atomicWrite(this.app)
      .add(null, dronesRepo.deleteTemplate(id))
      .requireChanged('template deleted')
      .event({
        type: 'job_template_deleted',
        agent: p.who,
        projectId: 'drone',
        summary: `Deleted job template: ${id}`,
        data: {},
      })
      .commitUnlessAborted();
    if (!written) throw notFound('Template not found');
    return { ok: true, deleted: id };
  }

  // ── profiles (§7) ──────────────────────────────────────────────────────────
  private presentProfile(p: Principal, row: ProfileRow, drones?: { drone_id: string }[]) {
    const ids = (drones ?? []).map((d) => d.drone_id);
    return {
      ...row,
      requires: parseObject(row.requires),
      artifacts: parseArray(row.artifacts),
      env: canReadEnv(p, ids) ? parseObject(row.env) : {},
      ...(drones ? { drones } : {}),
    };
  }

  private async dronesByProfile() {
    const m = new Map<
      string,
      {
        drone_id: string;
        setup_done: number;
        setup_at: string | null;
        checksum: string;
        status: string;
        last_heartbeat: string | null;
      }[]
    >();
    for (const { profile_id, ...a } of await dronesRepo.profileDrones(this.db)) {
      const list = m.get(profile_id) ?? [];
      list.push(a);
      m.set(profile_id, list);
    }
    return m;
  }

  async listProfiles(p: Principal) {
    const by = await this.dronesByProfile();
    return (await dronesRepo.profiles(this.db)).map((r) => this.presentProfile(p, r, by.get(r.id) ?? []));
  }

  private async profileOr404(id: string, message = 'Profile not found') {
    const r = await dronesRepo.profile(this.db, id);
    if (!r) throw notFound(message);
    return r;
  }

  async profile(p: Principal, id: string) {
    const row = await this.profileOr404(id);
    return this.presentProfile(p, row, (await this.dronesByProfile()).get(id) ?? []);
  }

  async createProfile(p: Principal, id: string, input: Partial<Record<ProfileColumn, string>> & { name: string }) {
    const fields: Record<ProfileColumn, string> = {
      name: input.name,
      description: input.description ?? '',
      requires: input.requires ?? '{}',
      artifacts: input.artifacts ?? '[]',
      setup_script: input.setup_script ?? '',
      workspace: input.workspace ?? '',
      env: input.env ?? '{}',
    };
    const written = await atomicWrite(this.app)
      .add('profile', dronesRepo.insertProfile(id, fields))
      .requireChanged('profile exists')
      .event({
        type: 'drone_profile_created',
        agent: '__admin__',
        projectId: 'drone',
        summary: `Created drone profile: ${id}`,
        data: { by: p.who },
      })
      .commitUnlessAborted();
    if (!written) throw conflict(`Profile already exists: ${id}`);
    return written.row<ProfileRow>('profile')!;
  }

  async updateProfile(p: Principal, id: string, input: Partial<Record<ProfileColumn, string>>) {
    const current = await this.profileOr404(id);
    const changed = (Object.keys(input) as ProfileColumn[]).filter(
      (k) => input[k] !== undefined && input[k] !== current[k],
    );
    if (!changed.length) return this.presentProfile(p, current);
    const written = await atomicWrite(this.app)
      .add('profile', dronesRepo.updateProfile(id, input))
      .requireChanged('profile deleted')
      .add(null, dronesRepo.invalidateAssignments(id))
      .event({
        type: 'drone_profile_updated',
        agent: '__admin__',
        projectId: 'drone',
        summary: `Updated drone profile ${id}; assigned drones must run setup again`,
        data: { by: p.who, changed },
      })
      .commitUnlessAborted();
    if (!written) throw notFound('Profile not found');
    return this.presentProfile(p, written.row<ProfileRow>('profile')!);
  }

  async deleteProfile(p: Principal, id: string) {
    await this.profileOr404(id);
    // Pending jobs gated on this profile could never be claimed again: fail them now (§17.2).
    const [assignments, profile] = dronesRepo.deleteProfile(id);
    const written = await atomicWrite(this.app)
      .add(null, dronesRepo.failPendingOfProfile(id))
      .add(null, assignments)
      .add(null, profile)
      .requireChanged('profile deleted')
      .event({
        type: 'drone_profile_deleted',
        agent: '__admin__',
        projectId: 'drone',
        summary: `Deleted drone profile: ${id}`,
        data: { by: p.who },
      })
      .commitUnlessAborted();
    if (!written) throw notFound('Profile not found');
    return { ok: true, deleted: id };
  }

  async assign(p: Principal, profileId: string, droneId: string) {
    await this.profileOr404(profileId, `Profile not found: ${profileId}`);
    if (!(await dronesRepo.drone(this.db, droneId))) throw notFound(`Drone not found: ${droneId}`);
    await atomicWrite(this.app)
      .add(null, dronesRepo.assign(droneId, profileId))
      .event({
        type: 'drone_profile_assigned',
        agent: '__admin__',
        projectId: 'drone',
        summary: `Assigned drone profile ${profileId} to ${droneId}`,
        data: { by: p.who, drone_id: droneId, profile_id: profileId },
      })
      .commit();
    return { ok: true, drone_id: droneId, profile_id: profileId };
  }

  async unassign(profileId: string, droneId: string) {
    await dronesRepo.unassign(this.db, droneId, profileId);
    return { ok: true, unassigned: true };
  }

  async byDrone(p: Principal, droneId: string) {
    const showEnv = canReadEnv(p, [droneId]);
    return (await dronesRepo.assignmentsOf(this.db, droneId)).map((a: AssignmentRow) => ({
      ...a,
      requires: parseObject(a.requires),
      artifacts: parseArray(a.artifacts),
      env: showEnv ? parseObject(a.env) : {},
    }));
  }

  async setupComplete(p: Principal, profileId: string, checksum: string) {
    if (p.kind !== 'agent') throw forbidden('Only the drone itself reports setup');
    await this.profileOr404(profileId);
    await atomicWrite(this.app)
      .add(null, dronesRepo.markSetupDone(p.id, profileId, checksum))
      .event({
        type: 'drone_profile_setup_done',
        agent: p.id,
        projectId: 'drone',
        summary: `${p.id} finished setup of profile ${profileId}`,
        data: { profile_id: profileId },
      })
      .commit();
    return { ok: true, profile_id: profileId, setup_done: true };
  }
}

function notesOf(d: Diagnostics): string {
  const parts: string[] = [];
  if (typeof d.gpu_name === 'string' && d.gpu_name)
    parts.push(`${d.gpu_name} ${typeof d.gpu_vram_gb === 'number' ? d.gpu_vram_gb : '?'} GB VRAM`);
  if (typeof d.disk_free_gb === 'number') parts.push(`${d.disk_free_gb} GB free disk`);
  return parts.join(', ');
}

/** A command template must split into arguments (balanced quotes) before it is stored. */
function checkTemplate(input: Partial<Record<TemplateColumn, string | number>>) {
  if (typeof input.command_template === 'string') {
    try {
      tokenize(input.command_template);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
  }
}

export type { DroneAgentRow };
