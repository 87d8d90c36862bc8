import type { Queryable } from '../db/db.js';
import type { SqlValue } from '../db/types.js';
import { forbidden } from '../http/errors.js';
import type { Principal } from './principal.js';

/**
 * Project scope (spec 07 "Project-scope rule", spec README decisions). An agent writes only in
 * its own project, a project of a team it belongs to, or on a resource assigned to it. Humans
 * and admins pass. GETs pass unless the resource is strict-read (context keys).
 */
export async function assertProjectScope(
  db: Queryable,
  p: Principal,
  resourceProjectId: string | null | undefined,
  opts: { assignee?: string | null; write?: boolean; strictRead?: boolean } = {},
): Promise<void> {
  if (await inProjectScope(db, p, resourceProjectId, opts)) return;
  const agentId = p.who;
  throw forbidden(`Agent ${agentId} cannot access resources in project ${resourceProjectId}`);
}

export async function inProjectScope(
  db: Queryable,
  p: Principal,
  resourceProjectId: string | null | undefined,
  opts: { assignee?: string | null; write?: boolean; strictRead?: boolean } = {},
): Promise<boolean> {
  if (p.isAdmin || p.kind !== 'agent') return true;
  if (!resourceProjectId) return true;
  const write = opts.write ?? true;
  if (!write && !opts.strictRead) return true;
  if (p.projectId === resourceProjectId) return true;
  if (opts.assignee && opts.assignee === p.id) return true;
  const viaTeam = await db.get(
    `SELECT 1 AS ok FROM projects pr JOIN team_members tm ON tm.team_id = pr.team_id
     WHERE pr.id = ? AND tm.user_id = ? AND tm.user_type = 'agent' LIMIT 1`,
    [resourceProjectId, p.id],
  );
  return !!viaTeam;
}

/**
 * `inProjectScope(…, {write: true})` as a SQL condition over a row's columns, to put inside the
 * write's own compare-and-set (so the check costs no separate read and cannot race the write).
 * `assigneeCol` is the resource's assignee (an agent may write what is assigned to it).
 */
export function projectScopeSql(
  p: Principal,
  projectCol: string,
  assigneeCol?: string,
): { sql: string; args: SqlValue[] } {
  if (p.isAdmin || p.kind !== 'agent') return { sql: '1', args: [] };
  const parts = [`COALESCE(${projectCol}, '') = ''`, `${projectCol} = ?`];
  const args: SqlValue[] = [p.projectId];
  if (assigneeCol) {
    parts.push(`${assigneeCol} = ?`);
    args.push(p.id);
  }
  parts.push(`EXISTS (SELECT 1 FROM projects pr JOIN team_members tm ON tm.team_id = pr.team_id
    WHERE pr.id = ${projectCol} AND tm.user_id = ? AND tm.user_type = 'agent')`);
  args.push(p.id);
  return { sql: `(${parts.join(' OR ')})`, args };
}

/** The 403 `assertProjectScope` answers, for callers that checked the scope in SQL. */
export function outOfScope(p: Principal, resourceProjectId: string | null | undefined) {
  const agentId = p.who;
  return forbidden(`Agent ${agentId} cannot access resources in project ${resourceProjectId}`);
}

/** Projects an agent may write in: its own plus its teams' (for list filters and dispatch). */
export async function agentProjectIds(db: Queryable, agentId: string, homeProject: string): Promise<string[]> {
  const rows = await db.all<{ id: string }>(
    `SELECT pr.id FROM projects pr JOIN team_members tm ON tm.team_id = pr.team_id
     WHERE tm.user_id = ? AND tm.user_type = 'agent'`,
    [agentId],
  );
  return [...new Set([homeProject, ...rows.map((r) => r.id)])];
}

/**
 * The identity a write is attributed to. Body-supplied identity (`author`, `agent_id`, `from`…)
 * is honoured only for admins; everyone else acts as themselves (spec 07 SEC-12/13, README).
 */
export function actingIdentity(p: Principal, requested: unknown): string {
  if (p.isAdmin && typeof requested === 'string' && requested.trim()) return requested.trim();
  return p.who;
}
