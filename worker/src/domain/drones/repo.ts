import type { Queryable } from '../../db/db.js';
import type { SqlArgs, Statement } from '../../db/types.js';
import { whereAll } from '../../db/sql.js';

/**
 * The drone area's SQL: drone_jobs, job_templates, drone_profiles, drone_profile_assignments,
 * drone_artifacts, and the reads of agents/savepoints that describe drones. Nothing else here.
 */

export const DRONE_JOB_STATUSES = [
  'pending',
  'claimed',
  'done',
  'completed',
  'failed',
  'cancelled',
  'dismissed',
] as const;
export type DroneJobStatus = (typeof DRONE_JOB_STATUSES)[number];

/** One rule for "is a drone" (spec 05 §1.1, spec 02 W40). */
const IS_DRONE_SQL = "(agent_type = 'drone' OR project_id = 'drone' OR role = 'drone')";

/** The claim lease: a claimed job with no progress for this long is stale (spec 05 §5.5). */
export const LEASE_MINUTES = 60;
const STALE = `status = 'claimed' AND julianday(COALESCE(progress_at, started_at)) < julianday('now', ?)`;
const leaseArg = (minutes = LEASE_MINUTES) => `-${minutes} minutes`;
/**
 * A report's fencing check (issue 17, migration 0024): the job's latest claim handed out this token.
 * Used with the status condition of the same UPDATE (`claimed`), so an ended lease never matches.
 */
const LEASE_HELD = 'EXISTS (SELECT 1 FROM drone_job_leases l WHERE l.job_id = drone_jobs.id AND l.lease_token = ?)';
const SILENT = `status IN ('online', 'idle', 'busy')
  AND (last_heartbeat IS NULL OR julianday(last_heartbeat) < julianday('now', ?))`;
const NOT_FROZEN = "NOT EXISTS (SELECT 1 FROM instance_config WHERE key = 'admin_status' AND value = 'frozen')";

export interface DroneJobRow {
  id: number;
  title: string;
  command: string;
  command_argv: string;
  input_data: string;
  requires: string;
  requester: string;
  requester_key: string;
  drone_id: string | null;
  status: string;
  priority: number;
  workspace_repo: string | null;
  workspace_branch: string;
  profile_id: string | null;
  result_url: string | null;
  result_data: string;
  error: string | null;
  skip_reason: string | null;
  started_at: string | null;
  progress_at: string | null;
  completed_at: string | null;
  created_at: string;
  job_type: string | null;
}

export type NewDroneJob = Pick<
  DroneJobRow,
  | 'title'
  | 'command'
  | 'input_data'
  | 'requires'
  | 'requester'
  | 'requester_key'
  | 'priority'
  | 'workspace_repo'
  | 'workspace_branch'
  | 'profile_id'
  | 'job_type'
>;

export interface DroneAgentRow {
  id: string;
  name: string;
  project_id: string;
  agent_type: string;
  role: string;
  status: string;
  working_on: string;
  last_heartbeat: string | null;
  capabilities: string;
  system_diagnostics: string;
  created_at: string;
}

export interface TemplateRow {
  id: string;
  name: string;
  project_id: string;
  requires: string;
  min_vram_gb: number;
  min_disk_gb: number;
  python_deps: string;
  python_deps_install: string;
  artifacts: string;
  setup_repo: string;
  command_template: string;
  workspace_name: string;
  created_at: string;
}
export const TEMPLATE_COLUMNS = [
  'name',
  'project_id',
  'requires',
  'min_vram_gb',
  'min_disk_gb',
  'python_deps',
  'python_deps_install',
  'artifacts',
  'setup_repo',
  'command_template',
  'workspace_name',
] as const;
export type TemplateColumn = (typeof TEMPLATE_COLUMNS)[number];

export interface ProfileRow {
  id: string;
  name: string;
  description: string;
  requires: string;
  artifacts: string;
  setup_script: string;
  workspace: string;
  env: string;
  created_at: string;
  updated_at: string;
}
const PROFILE_COLUMNS = ['name', 'description', 'requires', 'artifacts', 'setup_script', 'workspace', 'env'] as const;
export type ProfileColumn = (typeof PROFILE_COLUMNS)[number];

export interface AssignmentRow {
  drone_id: string;
  profile_id: string;
  setup_done: number;
  setup_at: string | null;
  checksum: string;
  name: string;
  description: string;
  requires: string;
  artifacts: string;
  setup_script: string;
  workspace: string;
  env: string;
  profile_updated_at: string;
}

export interface ArtifactRow {
  name: string;
  blob_key: string;
  size: number;
  sha256: string;
  uploaded_by: string;
  created_at: string;
  updated_at: string;
}

const JOB_INSERT_COLUMNS = [
  'title',
  'command',
  'input_data',
  'requires',
  'requester',
  'requester_key',
  'priority',
  'workspace_repo',
  'workspace_branch',
  'profile_id',
  'job_type',
] as const;

export const dronesRepo = {
  // ── drones (agents rows) ────────────────────────────────────────────────
  drone(db: Queryable, id: string) {
    return db.get<DroneAgentRow & Record<string, unknown>>(`SELECT * FROM agents WHERE id = ? AND ${IS_DRONE_SQL}`, [
      id,
    ]);
  },

  drones(db: Queryable) {
    return db.all<DroneAgentRow>(
      `SELECT id, name, project_id, agent_type, role, status, working_on, last_heartbeat, capabilities, system_diagnostics, created_at
       FROM agents WHERE ${IS_DRONE_SQL} ORDER BY created_at ASC, rowid ASC`,
    );
  },

  droneIds(db: Queryable) {
    return db.all<{ id: string }>(`SELECT id FROM agents WHERE ${IS_DRONE_SQL}`);
  },

  /** Latest savepoint snapshot per drone (for enrichment and the diagnostics fallback). */
  latestSnapshots(db: Queryable, ids: string[]) {
    if (!ids.length) return Promise.resolve([] as { agent_id: string; state_snapshot: string }[]);
    return db.all<{ agent_id: string; state_snapshot: string }>(
      `SELECT s.agent_id, s.state_snapshot FROM agent_savepoints s
       JOIN (SELECT agent_id, MAX(id) AS id FROM agent_savepoints WHERE agent_id IN (${ids.map(() => '?').join(',')}) GROUP BY agent_id) m ON m.id = s.id`,
      ids,
    );
  },

  /** Operator pause (REL-17): only resume clears it; heartbeats keep it (agents repo). */
  setPaused(id: string, paused: boolean): Statement {
    return paused
      ? { sql: "UPDATE agents SET status = 'paused', working_on = 'Paused (GPU released)' WHERE id = ?", args: [id] }
      : { sql: "UPDATE agents SET status = 'online', working_on = '' WHERE id = ?", args: [id] };
  },

  /** Drones still marked live whose heartbeat is older than `minutes` (read; `markOffline` moves each). */
  silentDrones(db: Queryable, minutes: number) {
    return db.all<{ id: string; last_heartbeat: string | null }>(
      `SELECT id, last_heartbeat FROM agents WHERE ${IS_DRONE_SQL} AND ${SILENT}`,
      [`-${minutes} minutes`],
    );
  },

  /**
   * One silent drone → offline, re-checking the silence in the same statement (a heartbeat that
   * arrived since the read keeps it live), so the event after it is written only for a real change.
   */
  markOffline(id: string, minutes: number): Statement {
    return {
      sql: `UPDATE agents SET status = 'offline', working_on = '' WHERE id = ? AND ${IS_DRONE_SQL} AND ${SILENT}`,
      args: [id, `-${minutes} minutes`],
    };
  },

  // ── jobs ─────────────────────────────────────────────────────────────────
  insertJob(j: NewDroneJob): Statement {
    return {
      sql: `INSERT INTO drone_jobs (${JOB_INSERT_COLUMNS.join(', ')}) VALUES (${JOB_INSERT_COLUMNS.map(() => '?').join(', ')}) RETURNING *`,
      args: JOB_INSERT_COLUMNS.map((c) => j[c]),
    };
  },

  job(db: Queryable, id: number) {
    return db.get<DroneJobRow>('SELECT * FROM drone_jobs WHERE id = ?', [id]);
  },

  listJobs(
    db: Queryable,
    f: { status?: string; drone_id?: string; requester?: string },
    limit: number,
    offset: number,
  ) {
    const w = whereAll([
      ...(f.status !== undefined ? [['status = ?', f.status] as [string, string]] : []),
      ...(f.drone_id !== undefined ? [['drone_id = ?', f.drone_id] as [string, string]] : []),
      ...(f.requester !== undefined ? [['requester = ?', f.requester] as [string, string]] : []),
    ]);
    return db.all<DroneJobRow>(`SELECT * FROM drone_jobs ${w.sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, [
      ...w.args,
      limit,
      offset,
    ]);
  },

  recentJobsOf(db: Queryable, droneId: string, limit = 20) {
    return db.all<DroneJobRow>(
      'SELECT * FROM drone_jobs WHERE drone_id = ? ORDER BY created_at DESC, id DESC LIMIT ?',
      [droneId, limit],
    );
  },

  pendingRequires(db: Queryable) {
    return db.all<{ requires: string }>("SELECT requires FROM drone_jobs WHERE status = 'pending'");
  },

  /**
   * Claim candidates for one drone in claim order: priority (higher first), then age, then id
   * (spec 05 §5.2). Only jobs whose every required capability is in `caps` (unreadable `requires`
   * counts as ["cpu"]) and whose profile, if any, this drone has set up — filtered here so a
   * deep queue of jobs for other drones costs nothing.
   */
  claimCandidates(db: Queryable, droneId: string, caps: string[], limit: number) {
    return db.all<DroneJobRow>(
      `SELECT * FROM drone_jobs j
       WHERE j.status = 'pending'
         AND CASE WHEN json_valid(j.requires) AND json_type(j.requires) = 'array'
               THEN NOT EXISTS (SELECT 1 FROM json_each(j.requires) r WHERE r.value NOT IN (SELECT value FROM json_each(?)))
               ELSE ? END
         AND (j.profile_id IS NULL OR j.profile_id IN (SELECT profile_id FROM drone_profile_assignments WHERE drone_id = ? AND setup_done = 1))
       ORDER BY j.priority DESC, j.created_at ASC, j.id ASC LIMIT ?`,
      [JSON.stringify(caps), caps.includes('cpu') ? 1 : 0, droneId, limit],
    );
  },

  /**
   * The compare-and-set claim (REL-02): takes the job only if it is still pending and the kill
   * switch is off, in one statement; stores the command rendered for this drone with it and hands
   * out a new fencing token (issue 17, `claimLease` right after it in the same batch). A statement,
   * so its lease and event commit with it.
   */
  claimJob(id: number, droneId: string, rendered: { command: string; argv: string; input_data: string } | null) {
    const sets = [
      "status = 'claimed'",
      'drone_id = ?',
      "started_at = datetime('now')",
      'progress_at = NULL',
      'skip_reason = NULL',
    ];
    const args: SqlArgs = [droneId];
    if (rendered) {
      sets.push("command = CASE WHEN command = '' THEN ? ELSE command END", 'command_argv = ?', 'input_data = ?');
      args.push(rendered.command, rendered.argv, rendered.input_data);
    }
    return {
      sql: `UPDATE drone_jobs SET ${sets.join(', ')} WHERE id = ? AND status = 'pending' AND ${NOT_FROZEN} RETURNING *`,
      args: [...args, id],
    };
  },

  /** The claim's new fencing token; put right after `claimJob` (and its abort guard) in the claim's batch. */
  claimLease(id: number): Statement {
    return {
      sql: `INSERT INTO drone_job_leases (job_id, lease_token) VALUES (?, lower(hex(randomblob(16))))
            ON CONFLICT(job_id) DO UPDATE SET lease_token = excluded.lease_token RETURNING lease_token`,
      args: [id],
    };
  },

  /** The token of the claim a job is under; null when it is not claimed (its lease ended). */
  async leaseToken(db: Queryable, id: number): Promise<string | null> {
    const r = await db.get<{ lease_token: string }>(
      `SELECT l.lease_token FROM drone_job_leases l JOIN drone_jobs j ON j.id = l.job_id
       WHERE l.job_id = ? AND j.status = 'claimed'`,
      [id],
    );
    return r?.lease_token ?? null;
  },

  /** Why a drone passed over a pending job (§17.2 L9); written only when it changes. */
  noteSkip(db: Queryable, id: number, reason: string) {
    return db.run(
      "UPDATE drone_jobs SET skip_reason = ? WHERE id = ? AND status = 'pending' AND skip_reason IS NOT ?",
      [reason, id, reason],
    );
  },

  /** A pending job that can never run (its template or profile is gone) is failed, not left to block. */
  failPending(id: number, error: string): Statement {
    return {
      sql: "UPDATE drone_jobs SET status = 'failed', error = ?, completed_at = datetime('now') WHERE id = ? AND status = 'pending' RETURNING *",
      args: [error, id],
    };
  },

  /**
   * A status move as one conditional statement: applies only while the job is still in `from`,
   * so two concurrent reports cannot both make the same transition (REL-05). Leaving `claimed`
   * ends the lease; with `leaseToken` the job must still be under that claim (see `LEASE_HELD`).
   */
  transition(
    id: number,
    from: string,
    to: string,
    fields: { result_url?: string | null; result_data?: string; error?: string | null; drone_id?: string | null },
    leaseToken?: string,
  ): Statement {
    const sets = ['status = ?'];
    const args: SqlArgs = [to];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      sets.push(`${k} = ?`);
      args.push(v);
    }
    if (to === 'done' || to === 'failed' || to === 'cancelled')
      sets.push("completed_at = COALESCE(completed_at, datetime('now'))");
    if (to === 'pending') sets.push('drone_id = NULL', 'started_at = NULL', 'progress_at = NULL');
    const fence = leaseToken !== undefined ? ` AND ${LEASE_HELD}` : '';
    return {
      sql: `UPDATE drone_jobs SET ${sets.join(', ')} WHERE id = ? AND status = ?${fence} RETURNING *`,
      args: leaseToken !== undefined ? [...args, id, from, leaseToken] : [...args, id, from],
    };
  },

  /** Progress without a status change: results so far, and the lease is renewed (§17.2). */
  progress(
    db: Queryable,
    id: number,
    status: string,
    fields: { result_url?: string | null; result_data?: string; error?: string | null; drone_id?: string | null },
    leaseToken?: string,
  ) {
    const sets: string[] = [];
    const args: SqlArgs = [];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      sets.push(`${k} = ?`);
      args.push(v);
    }
    if (status === 'claimed') sets.push("progress_at = datetime('now')");
    const fence = leaseToken !== undefined ? ` AND ${LEASE_HELD}` : '';
    const fenceArgs = leaseToken !== undefined ? [leaseToken] : [];
    if (!sets.length) return db.get<DroneJobRow>(`SELECT * FROM drone_jobs WHERE id = ?${fence}`, [id, ...fenceArgs]);
    return db.get<DroneJobRow>(
      `UPDATE drone_jobs SET ${sets.join(', ')} WHERE id = ? AND status = ?${fence} RETURNING *`,
      [...args, id, status, ...fenceArgs],
    );
  },

  /**
   * Claims past their lease (at most `limit`, oldest first); `droneId` limits it to one drone
   * (claim-time release). None while the kill switch is on (a frozen network releases nothing).
   */
  staleJobs(db: Queryable, limit: number, droneId?: string) {
    return db.all<DroneJobRow>(
      `SELECT * FROM drone_jobs WHERE ${STALE}${droneId !== undefined ? ' AND drone_id = ?' : ''} AND ${NOT_FROZEN}
       ORDER BY id LIMIT ?`,
      droneId !== undefined ? [leaseArg(), droneId, limit] : [leaseArg(), limit],
    );
  },

  /**
   * Those claims → failed (which ends their leases: tokens count only while claimed), each only if
   * it is still past its lease and the kill switch is still off; the caller guards that all moved.
   */
  failStale(ids: number[], error: string): Statement {
    return {
      sql: `UPDATE drone_jobs SET status = 'failed', error = ?, completed_at = datetime('now')
            WHERE id IN (${ids.map(() => '?').join(', ')}) AND ${STALE} AND ${NOT_FROZEN}`,
      args: [error, ...ids, leaseArg()],
    };
  },

  /** Bulk cleanup: finished jobs are hidden (`dismissed`), their history kept (§17.2). */
  dismissFinished(statuses: string[], olderThanDays: number): Statement {
    const age = olderThanDays > 0 ? " AND julianday(completed_at) < julianday('now', ?)" : '';
    return {
      sql: `UPDATE drone_jobs SET status = 'dismissed' WHERE status IN (${statuses.map(() => '?').join(',')})${age} RETURNING id, title`,
      args: olderThanDays > 0 ? [...statuses, `-${olderThanDays} days`] : statuses,
    };
  },

  failPendingOfProfile(profileId: string): Statement {
    return {
      sql: "UPDATE drone_jobs SET status = 'failed', error = ?, completed_at = datetime('now') WHERE profile_id = ? AND status = 'pending'",
      args: [`Profile deleted: ${profileId}`, profileId],
    };
  },

  /** An agent's own jobs (requested or run) created, started or finished since `since` (savepoint diff, spec 02 §3.7 W23). */
  changedSince(db: Queryable, agentId: string, since: string, limit = 20) {
    return db.all<DroneJobRow>(
      `SELECT * FROM drone_jobs WHERE (requester_key = ? OR drone_id = ?)
         AND (julianday(created_at) > julianday(?) OR julianday(started_at) > julianday(?) OR julianday(completed_at) > julianday(?))
       ORDER BY id DESC LIMIT ?`,
      [`agent:${agentId}`, agentId, since, since, since, limit],
    );
  },

  failedJobs(db: Queryable, limit = 50) {
    return db.all<DroneJobRow>(
      "SELECT * FROM drone_jobs WHERE status = 'failed' ORDER BY completed_at DESC, id DESC LIMIT ?",
      [limit],
    );
  },

  // ── templates ────────────────────────────────────────────────────────────
  templates(db: Queryable) {
    return db.all<TemplateRow>('SELECT * FROM job_templates ORDER BY created_at ASC, rowid ASC');
  },

  template(db: Queryable, id: string) {
    return db.get<TemplateRow>('SELECT * FROM job_templates WHERE id = ?', [id]);
  },

  insertTemplate(id: string, fields: Record<TemplateColumn, string | number>) {
    const cols = ['id', ...TEMPLATE_COLUMNS];
    return {
      sql: `INSERT INTO job_templates (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ON CONFLICT(id) DO NOTHING RETURNING *`,
      args: [id, ...TEMPLATE_COLUMNS.map((c) => fields[c])],
    };
  },

  updateTemplate(id: string, fields: Partial<Record<TemplateColumn, string | number>>): Statement {
    const cols = TEMPLATE_COLUMNS.filter((c) => fields[c] !== undefined);
    return {
      sql: `UPDATE job_templates SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ? RETURNING *`,
      args: [...cols.map((c) => fields[c] as string | number), id],
    };
  },

  deleteTemplate(id: string): Statement {
    return { sql: 'DELETE FROM job_templates WHERE id = ?', args: [id] };
  },

  // ── profiles ─────────────────────────────────────────────────────────────
  profiles(db: Queryable) {
    return db.all<ProfileRow>('SELECT * FROM drone_profiles ORDER BY created_at ASC, rowid ASC');
  },

  profile(db: Queryable, id: string) {
    return db.get<ProfileRow>('SELECT * FROM drone_profiles WHERE id = ?', [id]);
  },

  insertProfile(id: string, fields: Record<ProfileColumn, string>): Statement {
    const cols = ['id', ...PROFILE_COLUMNS];
    return {
      sql: `INSERT INTO drone_profiles (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')}) ON CONFLICT(id) DO NOTHING RETURNING *`,
      args: [id, ...PROFILE_COLUMNS.map((c) => fields[c])],
    };
  },

  updateProfile(id: string, fields: Partial<Record<ProfileColumn, string>>): Statement {
    const cols = PROFILE_COLUMNS.filter((c) => fields[c] !== undefined);
    return {
      sql: `UPDATE drone_profiles SET ${[...cols.map((c) => `${c} = ?`), "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      args: [...cols.map((c) => fields[c] as string), id],
    };
  },

  /** A changed profile must be set up again by every drone that has it. */
  invalidateAssignments(profileId: string): Statement {
    return {
      sql: "UPDATE drone_profile_assignments SET setup_done = 0, checksum = '' WHERE profile_id = ?",
      args: [profileId],
    };
  },

  deleteProfile(id: string): Statement[] {
    return [
      { sql: 'DELETE FROM drone_profile_assignments WHERE profile_id = ?', args: [id] },
      { sql: 'DELETE FROM drone_profiles WHERE id = ?', args: [id] },
    ];
  },

  /** Assignments of each profile joined with their (still existing) drones. */
  profileDrones(db: Queryable) {
    return db.all<{
      profile_id: string;
      drone_id: string;
      setup_done: number;
      setup_at: string | null;
      checksum: string;
      status: string;
      last_heartbeat: string | null;
    }>(
      `SELECT a.profile_id, a.drone_id, a.setup_done, a.setup_at, a.checksum, g.status, g.last_heartbeat
       FROM drone_profile_assignments a JOIN agents g ON g.id = a.drone_id ORDER BY a.drone_id`,
    );
  },

  assign(droneId: string, profileId: string): Statement {
    return {
      sql: `INSERT INTO drone_profile_assignments (drone_id, profile_id) VALUES (?, ?)
            ON CONFLICT(drone_id, profile_id) DO UPDATE SET setup_done = 0, setup_at = NULL, checksum = ''`,
      args: [droneId, profileId],
    };
  },

  unassign(db: Queryable, droneId: string, profileId: string) {
    return db.run('DELETE FROM drone_profile_assignments WHERE drone_id = ? AND profile_id = ?', [droneId, profileId]);
  },

  assignmentsOf(db: Queryable, droneId: string) {
    return db.all<AssignmentRow>(
      `SELECT a.drone_id, a.profile_id, a.setup_done, a.setup_at, a.checksum, p.name, p.description, p.requires, p.artifacts,
              p.setup_script, p.workspace, p.env, p.updated_at AS profile_updated_at
       FROM drone_profile_assignments a JOIN drone_profiles p ON p.id = a.profile_id
       WHERE a.drone_id = ? ORDER BY p.created_at ASC, p.rowid ASC`,
      [droneId],
    );
  },

  markSetupDone(droneId: string, profileId: string, checksum: string): Statement {
    return {
      sql: "UPDATE drone_profile_assignments SET setup_done = 1, setup_at = datetime('now'), checksum = ? WHERE drone_id = ? AND profile_id = ?",
      args: [checksum, droneId, profileId],
    };
  },

  // ── artifacts (metadata; bytes are in the blob store) ─────────────────────
  artifacts(db: Queryable) {
    return db.all<ArtifactRow>('SELECT * FROM drone_artifacts ORDER BY name');
  },

  artifact(db: Queryable, name: string) {
    return db.get<ArtifactRow>('SELECT * FROM drone_artifacts WHERE name = ?', [name]);
  },

  /** The blob key an artifact name points at now; in the upload's batch before `putArtifact`. */
  artifactKey(name: string): Statement {
    return { sql: 'SELECT blob_key FROM drone_artifacts WHERE name = ?', args: [name] };
  },

  /** Upsert by name (the bytes are already stored under the new key). */
  putArtifact(a: Omit<ArtifactRow, 'created_at' | 'updated_at'>): Statement {
    return {
      sql: `INSERT INTO drone_artifacts (name, blob_key, size, sha256, uploaded_by) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(name) DO UPDATE SET blob_key = excluded.blob_key, size = excluded.size, sha256 = excluded.sha256,
              uploaded_by = excluded.uploaded_by, updated_at = datetime('now')`,
      args: [a.name, a.blob_key, a.size, a.sha256, a.uploaded_by],
    };
  },

  deleteArtifact(db: Queryable, name: string) {
    return db.get<{ blob_key: string }>('DELETE FROM drone_artifacts WHERE name = ? RETURNING blob_key', [name]);
  },
};
