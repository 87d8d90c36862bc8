import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { SqlValue } from '../../db/types.js';
import { conflict, notFound } from '../../http/errors.js';
import type { EventInput } from '../events/bus.js';
import { atomicWrite } from '../events/write.js';
import { projectsRepo, type ProjectRow, type WritableProjectColumn } from './repo.js';

/**
 * Projects (spec 04 §5) with the recommended fixes (P1, P2): a duplicate create is a 409, update
 * and delete emit events, and a project still referenced by agents or work is not deleted.
 */

export async function requireProject(ctx: AppContext, id: string): Promise<ProjectRow> {
  const p = await projectsRepo.get(ctx.db, id);
  if (!p) throw notFound('Project not found');
  return p;
}

export interface CreateProjectInput {
  id: string;
  name: string;
  description?: string;
  org_id?: string;
  repo_url?: string;
  repo_path?: string;
  type?: string;
}

export async function createProject(ctx: AppContext, p: Principal, input: CreateProjectInput) {
  const who = p.who;
  const row = {
    id: input.id,
    name: input.name,
    description: input.description ?? '',
    org_id: input.org_id ?? '',
    repo_url: input.repo_url ?? '',
    repo_path: input.repo_path ?? '',
    type: input.type ?? 'software',
  };
  const ev: EventInput = {
    type: 'project_created',
    agent: who,
    projectId: row.id,
    summary: `Project created: ${row.name}`,
    data: { project_id: row.id },
  };
  const res = await atomicWrite(ctx)
    .add('project', projectsRepo.insert(row))
    .requireChanged('project exists')
    .event(ev)
    .commitUnlessAborted();
  const created = res?.row<ProjectRow>('project');
  if (!created) throw conflict(`Project ${input.id} already exists`);
  return created;
}

export type UpdateProjectInput = Partial<
  Record<Exclude<WritableProjectColumn, 'bug_categories' | 'team_id'>, string>
> & {
  bug_categories?: string[];
  team_id?: string | null;
};

export async function updateProject(ctx: AppContext, p: Principal, id: string, input: UpdateProjectInput) {
  await requireProject(ctx, id);
  const fields: Partial<Record<WritableProjectColumn, SqlValue>> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    fields[k as WritableProjectColumn] = k === 'bug_categories' ? JSON.stringify(v) : (v as string | null);
  }
  const who = p.who;
  const ev: EventInput = {
    type: 'project_updated',
    agent: who,
    projectId: id,
    summary: `Project updated: ${id}`,
    data: { project_id: id, fields: Object.keys(fields) },
  };
  const w = atomicWrite(ctx).add('project', projectsRepo.update(id, fields));
  if (Object.keys(fields).length > 0) w.requireChanged('project gone').event(ev);
  const row = (await w.commitUnlessAborted())?.row<ProjectRow>('project');
  if (!row) throw notFound('Project not found');
  return row;
}

export async function deleteProject(ctx: AppContext, p: Principal, id: string) {
  await requireProject(ctx, id);
  const who = p.who;
  const gone = await atomicWrite(ctx)
    .add(null, projectsRepo.deleteIfUnused(id))
    .requireChanged('project in use')
    .event({
      type: 'project_deleted',
      agent: who,
      projectId: id,
      summary: `Project deleted: ${id}`,
      data: { project_id: id },
    })
    .commitUnlessAborted();
  if (!gone) {
    if (!(await projectsRepo.get(ctx.db, id))) throw notFound('Project not found');
    const dependants = await projectsRepo.dependants(ctx.db, id);
    throw conflict(`Project ${id} is still in use; move or delete its agents, tasks, plans and bugs first`, {
      dependants,
    });
  }
  return { ok: true, deleted: id };
}
