import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { badRequest, forbidden, notFound } from '../../http/errors.js';
import { atomicWrite } from '../events/write.js';
import { operatorsRepo } from '../operators/repo.js';
import { inboxRepo, toInboxView, type InboxRow, type NewInboxItem } from './repo.js';

/** One item for one operator; emits `inbox_item_created` (spec 03 §11). For other areas and plugins. */
export async function createInboxItem(app: AppContext, operatorId: string, item: NewInboxItem): Promise<number> {
  // The item and its event commit together; the event names the id the insert just got.
  const res = await atomicWrite(app)
    .add('item', inboxRepo.insertFor(operatorId, item))
    .eventWithNewId(
      {
        type: 'inbox_item_created',
        agent: '__system__',
        summary: `Inbox item for ${operatorId}: ${item.title}`,
        data: { inbox_id: 0, operator_id: operatorId, type: item.type },
      },
      'inbox_id',
    )
    .commit();
  return Number(res.row('item')!.id);
}

/** One item per active operator, one statement (no event, as in the original). */
export async function createInboxItemForAllOperators(app: AppContext, item: NewInboxItem): Promise<number[]> {
  const res = await atomicWrite(app).add('items', inboxRepo.insertForAllActive(item)).commit();
  return res.rows('items').map((row) => Number(row.id));
}

/**
 * The operator inbox with ownership (weak spot W10): a non-admin operator sees and changes only
 * its own operator's items — anything else answers as if it did not exist. Admins (admin key or
 * admin JWT) may name any operator.
 */
export class InboxService {
  constructor(private readonly app: AppContext) {}

  /** The operator whose items a request addresses. */
  private async ownerFor(p: Principal, requested: string | undefined): Promise<string> {
    if (p.kind === 'operator') {
      const own = await operatorsRepo.byStudioUser(this.app.db, p.userId);
      if (requested && (p.isAdmin || requested === own?.id)) return requested;
      if (requested) throw forbidden('You can only access your own inbox');
      if (!own) throw notFound('No operator linked to this account');
      return own.id;
    }
    if (!requested) throw badRequest('operator_id is required');
    return requested;
  }

  /** The item, if the caller may touch it. */
  private async item(p: Principal, id: number | null): Promise<InboxRow> {
    const row = id === null ? undefined : await inboxRepo.get(this.app.db, id);
    if (!row) throw notFound('Inbox item not found');
    if (!p.isAdmin) {
      const own = p.kind === 'operator' ? await operatorsRepo.byStudioUser(this.app.db, p.userId) : undefined;
      if (!own || own.id !== row.operator_id) throw notFound('Inbox item not found');
    }
    return row;
  }

  async list(
    p: Principal,
    q: { operatorId?: string; status?: string; type?: string; entityType?: string; limit: number; offset: number },
  ) {
    const owner = await this.ownerFor(p, q.operatorId);
    return (await inboxRepo.list(this.app.db, { ...q, operatorId: owner })).map(toInboxView);
  }

  async count(p: Principal, operatorId: string | undefined) {
    let owner: string | undefined = operatorId;
    if (p.kind === 'operator') {
      const own = await operatorsRepo.byStudioUser(this.app.db, p.userId);
      if (operatorId && !p.isAdmin && operatorId !== own?.id) throw forbidden('You can only access your own inbox');
      owner = operatorId ?? own?.id;
      if (!owner && !p.isAdmin) throw notFound('No operator linked to this account');
    }
    if (!owner)
      return inboxRepo
        .unreadCounts(this.app.db)
        .then((rows) => rows.map((r) => ({ operator_id: r.operator_id, count: Number(r.count) })));
    const n = await inboxRepo.unreadCount(this.app.db, owner);
    return { operator_id: owner, unread: n, count: n };
  }

  async get(p: Principal, id: number | null) {
    return toInboxView(await this.item(p, id));
  }

  async read(p: Principal, id: number | null) {
    await inboxRepo.markRead(this.app.db, (await this.item(p, id)).id);
    return { ok: true as const };
  }

  async action(p: Principal, id: number | null) {
    await inboxRepo.markActioned(this.app.db, (await this.item(p, id)).id);
    return { ok: true as const };
  }

  async dismiss(p: Principal, id: number | null) {
    await inboxRepo.dismiss(this.app.db, (await this.item(p, id)).id);
    return { ok: true as const };
  }

  async bulkDismiss(p: Principal, input: { ids?: number[]; all?: boolean; operator_id?: string }) {
    if (input.all) {
      const owner = await this.ownerFor(p, input.operator_id);
      return { ok: true as const, dismissed: (await inboxRepo.dismissAll(this.app.db, owner)).changes };
    }
    if (!input.ids) throw badRequest('ids array or all=true required');
    let owner: string | null = null;
    if (!p.isAdmin) {
      const own = p.kind === 'operator' ? await operatorsRepo.byStudioUser(this.app.db, p.userId) : undefined;
      if (!own) throw notFound('No operator linked to this account');
      owner = own.id;
    }
    return { ok: true as const, dismissed: (await inboxRepo.dismissIds(this.app.db, input.ids, owner)).changes };
  }
}
