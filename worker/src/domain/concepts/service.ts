import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { assertProjectScope, inProjectScope } from '../../auth/scope.js';
import { forbidden, notFound } from '../../http/errors.js';
import { checkApprovalGate } from '../approvals/gate.js';
import { atomicWrite } from '../events/write.js';
import { conceptsRepo, parseData, type ConceptRow } from './repo.js';

export const CONCEPT_TYPES = ['character', 'style', 'ruleset', 'library', 'brand', 'custom'] as const;

/** Stored form of `data`: JSON text. A string that is JSON is taken as that JSON (weak spot K1). */
function encodeData(data: unknown): string {
  if (typeof data === 'string') {
    try {
      JSON.parse(data);
      return data;
    } catch {
      return JSON.stringify(data);
    }
  }
  return JSON.stringify(data ?? {});
}

export class ConceptService {
  constructor(private readonly app: AppContext) {}

  private async withProjects(row: ConceptRow) {
    return { ...row, data: parseData(row.data), projects: await conceptsRepo.projectsOf(this.app.db, row.id) };
  }

  private async load(id: number | null): Promise<ConceptRow> {
    const row = id === null ? undefined : await conceptsRepo.get(this.app.db, id);
    if (!row) throw notFound('Concept not found');
    return row;
  }

  /**
   * Who may change a concept (weak spot K1): humans; the agent that created it; an agent in
   * scope of a project it is linked to.
   */
  private async assertCanEdit(p: Principal, row: ConceptRow): Promise<void> {
    if (p.kind !== 'agent' || row.created_by === p.id) return;
    for (const { project_id } of await conceptsRepo.linkedProjectIds(this.app.db, row.id)) {
      if (await inProjectScope(this.app.db, p, project_id, { write: true })) return;
    }
    throw forbidden(`Agent ${p.id} cannot modify concept #${row.id}`);
  }

  async list(type?: string) {
    return Promise.all((await conceptsRepo.list(this.app.db, type)).map((r) => this.withProjects(r)));
  }

  async get(id: number | null) {
    return this.withProjects(await this.load(id));
  }

  async create(p: Principal, input: { name: string; type: string; description: string; data: unknown }) {
    const res = await atomicWrite(this.app)
      .add('concept', conceptsRepo.insert({ ...input, data: encodeData(input.data), by: p.who }))
      .eventWithNewId(
        {
          type: 'concept_created',
          agent: p.who,
          summary: `Created concept: ${input.name} (${input.type})`,
          data: { concept_id: 0 },
        },
        'concept_id',
      )
      .commit();
    const row = res.row<ConceptRow>('concept');
    return { ...row!, data: parseData(row!.data), projects: [] };
  }

  async update(
    p: Principal,
    id: number | null,
    fields: { name?: string; type?: string; description?: string; data?: unknown },
  ) {
    const row = await this.load(id);
    await this.assertCanEdit(p, row);
    const set: Partial<Pick<ConceptRow, 'name' | 'type' | 'description' | 'data'>> = {};
    if (fields.name !== undefined) set.name = fields.name;
    if (fields.type !== undefined) set.type = fields.type;
    if (fields.description !== undefined) set.description = fields.description;
    if (fields.data !== undefined) set.data = encodeData(fields.data);
    if (Object.keys(set).length === 0) return this.withProjects(row);
    const res = await atomicWrite(this.app)
      .add('concept', conceptsRepo.update(row.id, set))
      .requireChanged('concept gone')
      .event({
        type: 'concept_updated',
        agent: p.who,
        summary: `Updated concept: ${set.name ?? row.name}`,
        data: { concept_id: row.id },
      })
      .commitUnlessAborted();
    const updated = res?.row<ConceptRow>('concept');
    if (!updated) throw notFound('Concept not found');
    return this.withProjects(updated);
  }

  /** Existence and ownership first, then the approval gate (which consumes the approval), then the delete. */
  async remove(p: Principal, id: number | null, approvalId: unknown) {
    const row = await this.load(id);
    await this.assertCanEdit(p, row);
    const gate = await checkApprovalGate(this.app, p, 'delete', approvalId, { kind: 'concept', id: row.id });
    const ev = {
      type: 'concept_deleted',
      agent: p.who,
      summary: `${p.who} deleted concept: ${row.name}`,
      data: { concept_id: row.id },
    };
    await atomicWrite(this.app).addAll(conceptsRepo.deleteWithLinks(row.id)).event(ev).commit();
    return gate.approval_warning ? { ok: true, approval_warning: gate.approval_warning } : { ok: true };
  }

  async link(p: Principal, id: number | null, projectId: string) {
    const row = await this.load(id);
    await assertProjectScope(this.app.db, p, projectId, { write: true });
    // The event only when the link is new (INSERT OR IGNORE changed a row).
    await atomicWrite(this.app)
      .add(null, conceptsRepo.link(row.id, projectId, p.who))
      .eventIfChanged({
        type: 'concept_linked',
        agent: p.who,
        projectId,
        summary: `Linked concept "${row.name}" to project ${projectId}`,
        data: { concept_id: row.id },
      })
      .commit();
    return { ok: true, concept_id: row.id, project: projectId };
  }

  async unlink(p: Principal, id: number | null, projectId: string) {
    await assertProjectScope(this.app.db, p, projectId, { write: true });
    if (id === null) return { ok: true };
    await atomicWrite(this.app)
      .add(null, conceptsRepo.unlink(id, projectId))
      .eventIfChanged({
        type: 'concept_unlinked',
        agent: p.who,
        projectId,
        summary: `Unlinked concept #${id} from project ${projectId}`,
        data: { concept_id: id },
      })
      .commit();
    return { ok: true };
  }

  async forProject(projectId: string) {
    return (await conceptsRepo.forProject(this.app.db, projectId)).map((r) => ({ ...r, data: parseData(r.data) }));
  }
}
