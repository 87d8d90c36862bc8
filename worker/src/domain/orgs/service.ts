import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { SqlValue } from '../../db/types.js';
import { conflict, notFound } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { orgsRepo, type OrgRow, type WritableOrgColumn } from './repo.js';

/**
 * Organisations (spec 01 §2.9): a free grouping of projects and teams. Ours answers 409 on a
 * duplicate id and refuses to delete an org that projects or teams still reference (spec 01 #27).
 */

export async function requireOrg(ctx: AppContext, id: string): Promise<OrgRow> {
  const org = await orgsRepo.get(ctx.db, id);
  if (!org) throw notFound('Organization not found');
  return org;
}

export async function createOrg(
  ctx: AppContext,
  p: Principal,
  input: { id: string; name: string; description?: string },
) {
  const who = p.who;
  const s = orgsRepo.insert({ id: input.id, name: input.name, description: input.description ?? '', owner_id: who });
  const res = await atomicWrite(ctx)
    .add('org', s)
    .requireChanged('org exists')
    .event({
      type: 'org_created',
      agent: who,
      projectId: null,
      summary: `Organization created: ${input.name}`,
      data: { org_id: input.id },
    })
    .commitUnlessAborted();
  if (!res) throw conflict('Organization already exists');
  return res.row<OrgRow>('org')!;
}

export async function updateOrg(
  ctx: AppContext,
  p: Principal,
  id: string,
  input: Partial<Record<WritableOrgColumn, string>>,
) {
  const org = await requireOrg(ctx, id);
  const fields: Partial<Record<WritableOrgColumn, SqlValue>> = {};
  for (const [k, v] of Object.entries(input)) if (v !== undefined) fields[k as WritableOrgColumn] = v;
  const s = orgsRepo.update(id, fields);
  const w = atomicWrite(ctx).add('org', s);
  if (Object.keys(fields).length) {
    const who = p.who;
    // The update must have matched (else 404 and no event); the summary names the name it wrote.
    w.requireChanged('org gone').event({
      type: 'org_updated',
      agent: who,
      projectId: null,
      summary: `Organization updated: ${fields.name ?? org.name}`,
      data: { org_id: id, fields: Object.keys(fields) },
    });
  }
  const row = (await w.commitUnlessAborted())?.row<OrgRow>('org');
  if (!row) throw notFound('Organization not found');
  return row;
}

export async function deleteOrg(ctx: AppContext, p: Principal, id: string) {
  const org = await requireOrg(ctx, id);
  const who = p.who;
  const deleted = await atomicWrite(ctx)
    .add(null, orgsRepo.deleteIfUnused(id))
    .requireChanged('org in use')
    .event({
      type: 'org_deleted',
      agent: who,
      projectId: null,
      summary: `Organization deleted: ${org.name}`,
      data: { org_id: id },
    })
    .commitUnlessAborted();
  if (!deleted) {
    if (!(await orgsRepo.get(ctx.db, id))) throw notFound('Organization not found');
    const references = await orgsRepo.references(ctx.db, id);
    throw conflict('Organization still has projects or teams; move or delete them first', references);
  }
  return { ok: true };
}
