import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { conflict, forbidden, notFound, badRequest } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { HUMANS_AVAILABLE_SQL, operatorsRepo, toAgentView, type OperatorRow, type OperatorUpdate } from './repo.js';

export const AVAILABILITY = ['available', 'away', 'sleeping'] as const;

/**
 * The canonical identity of a caller in people-facing features (channels, inbox, teams):
 * an operator JWT linked to an operators row acts as that operator's id, so membership and
 * authorship use one id across subsystems (spec 03 weak spot W27); otherwise the wire `who`.
 */
export async function canonicalWho(app: AppContext, p: Principal): Promise<string> {
  if (p.kind === 'agent') return p.id;
  if (p.kind === 'operator') return (await operatorsRepo.byStudioUser(app.db, p.userId))?.id ?? p.who;
  return p.who;
}

export class OperatorService {
  constructor(private readonly app: AppContext) {}

  private view(p: Principal, row: OperatorRow) {
    return p.kind === 'agent' ? toAgentView(row) : row;
  }

  /** One login ↔ one operator: "the caller's operator" must be unambiguous (inbox ownership, W27). */
  private async checkLink(studioUserId: number, operatorId: string) {
    if (!(await operatorsRepo.studioUserExists(this.app.db, studioUserId)))
      throw badRequest(`studio_user_id ${studioUserId} does not exist`);
    const linked = await operatorsRepo.byStudioUser(this.app.db, studioUserId);
    if (linked && linked.id !== operatorId)
      throw conflict(`Studio user ${studioUserId} is already linked to operator ${linked.id}`);
  }

  async list(p: Principal) {
    return (await operatorsRepo.list(this.app.db)).map((r) => this.view(p, r));
  }

  async get(p: Principal, id: string) {
    const row = await operatorsRepo.get(this.app.db, id);
    if (!row) throw notFound('Operator not found');
    return this.view(p, row);
  }

  async create(
    p: Principal,
    input: {
      id: string;
      display_name: string;
      role?: string;
      responsibilities?: string;
      email?: string;
      studio_user_id?: number | null;
    },
  ) {
    if (input.studio_user_id != null) await this.checkLink(input.studio_user_id, input.id);
    const res = await atomicWrite(this.app)
      .add(
        'operator',
        operatorsRepo.insert({
          id: input.id,
          display_name: input.display_name,
          role: input.role ?? 'member',
          responsibilities: input.responsibilities ?? '',
          email: input.email ?? '',
          studio_user_id: input.studio_user_id ?? null,
        }),
      )
      .requireChanged('operator exists')
      .add(null, operatorsRepo.joinDefaultChannels(input.id))
      .event({ type: 'operator_created', agent: p.who, summary: `Operator ${input.id} created` })
      .commitUnlessAborted();
    const row = res?.row<OperatorRow>('operator');
    if (!row) throw conflict('Operator already exists');
    return row;
  }

  async update(p: Principal, id: string, input: OperatorUpdate) {
    if (!(await operatorsRepo.get(this.app.db, id))) throw notFound('Operator not found');
    if (input.studio_user_id != null) await this.checkLink(input.studio_user_id, id);
    const res = await atomicWrite(this.app)
      .add('operator', operatorsRepo.update(id, input))
      .abortIf('NOT EXISTS (SELECT 1 FROM operators WHERE id = ?)', [id], 'operator gone')
      .event({ type: 'operator_updated', agent: p.who, summary: `Operator ${id} updated` })
      .commitUnlessAborted();
    const row = res?.row<OperatorRow>('operator');
    if (!row) throw notFound('Operator not found');
    return row;
  }

  async remove(p: Principal, id: string) {
    if (!(await operatorsRepo.get(this.app.db, id))) throw notFound('Operator not found');
    await atomicWrite(this.app)
      .addAll(operatorsRepo.deleteStatements(id))
      .event({ type: 'operator_deleted', agent: p.who, summary: `Operator ${id} deleted` })
      .commit();
    return { ok: true as const };
  }

  /**
   * Admins set anyone's availability; an operator may set their own (spec 01 §2.7 "Ours",
   * weak spot 28). Flipping the network into or out of autonomy emits the semantic events and,
   * on return, tells every active agent that humans are available again.
   */
  async setAvailability(p: Principal, id: string, availability: string, message: string) {
    const existing = await operatorsRepo.get(this.app.db, id);
    if (!existing) throw notFound('Operator not found');
    if (!p.isAdmin) {
      const self = p.kind === 'operator' ? await operatorsRepo.byStudioUser(this.app.db, p.userId) : undefined;
      if (!self || self.id !== id) throw forbidden('You can only change your own availability');
    }
    const before = await operatorsRepo.isAutonomous(this.app.db);
    const name = existing.display_name || existing.id;
    // The change, the flip it causes (judged inside the batch, right after the change) and the
    // events commit together (issue 17).
    const w = atomicWrite(this.app).add('operator', operatorsRepo.setAvailability(id, availability, message));
    if (!before) {
      w.eventPerRow(
        { type: 'autonomous_mode_on', agent: p.who },
        {
          summarySql: '?',
          dataSql: "'{}'",
          rest: `WHERE NOT ${HUMANS_AVAILABLE_SQL}`,
          args: ['All operators away — network is autonomous'],
        },
      );
    } else {
      w.add(null, operatorsRepo.notifyActiveAgents(`Operator ${name} is back. Human operators available.`));
      w.eventPerRow(
        { type: 'autonomous_mode_off', agent: p.who },
        {
          summarySql: '?',
          dataSql: "'{}'",
          rest: `WHERE ${HUMANS_AVAILABLE_SQL}`,
          args: [`${name} is back — autonomous mode ended`],
        },
      );
    }
    w.event({
      type: 'operator_availability',
      agent: p.who,
      summary: `${name} is now ${availability}`,
      data: { operator_id: id, availability },
    });
    return (await w.commit()).row<OperatorRow>('operator')!;
  }
}
