import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agentKey = '';
let erin: { id: number; token: string };
let fred: { id: number; token: string };
let boss: { id: number; token: string };
beforeAll(async () => {
  t = await startTarget();
  agentKey = (await registerAgent(t, 'ib-agent', 'p')).key;
  erin = await createOperator(t, 'erin', 'operator');
  fred = await createOperator(t, 'fred', 'operator');
  boss = await createOperator(t, 'boss', 'admin');
  await t.call('POST', '/operators', {
    admin: true,
    body: { id: 'erin-op', display_name: 'Erin', studio_user_id: erin.id },
  });
  await t.call('POST', '/operators', {
    admin: true,
    body: { id: 'fred-op', display_name: 'Fred', studio_user_id: fred.id },
  });
});
afterAll(async () => t?.close());

const item = (body: Record<string, unknown>) => t.call('POST', '/inbox', { admin: true, body });

describe('operator inbox', () => {
  it('auth: agent keys get 401 Authentication required; POST is admin only', async () => {
    const r = await t.call('GET', '/inbox', { agentKey });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('Authentication required');
    expect((await t.call('POST', '/inbox', { token: erin.token, body: { operator_id: 'erin-op' } })).status).toBe(403);
  });

  it('creates items (single with event, all_operators without), validates', async () => {
    const one = await item({ operator_id: 'erin-op', title: 'Hello', data: { x: 1 } });
    expect(one.body).toEqual({ ok: true, id: expect.any(Number) });
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'inbox_item_created'");
    expect(ev.agent).toBe('__system__');
    expect(JSON.parse(ev.data)).toEqual({ inbox_id: one.body.id, operator_id: 'erin-op', type: 'message' });
    const all = await item({ all_operators: true, title: 'Everyone', priority: 'low' });
    expect(all.body.ids).toHaveLength(2);
    expect((await item({ title: 'nobody' })).body.error).toBe('operator_id or all_operators required');
    expect((await item({ operator_id: 'erin-op', priority: 'whenever' })).status).toBe(400);
  });

  it('lists own items by priority rank (urgent > high > normal > low) with data parsed; dismissed hidden', async () => {
    await item({ operator_id: 'erin-op', title: 'H', priority: 'high' });
    await item({ operator_id: 'erin-op', title: 'U', priority: 'urgent' });
    const list = await t.call('GET', '/inbox', { token: erin.token });
    expect(list.status).toBe(200);
    expect(list.body.map((i: any) => i.title)).toEqual(['U', 'H', 'Hello', 'Everyone']);
    expect(list.body[2].data).toEqual({ x: 1 });
    expect(list.body.every((i: any) => i.operator_id === 'erin-op')).toBe(true);
  });

  it("W10: an operator cannot list, read, action or dismiss another operator's items", async () => {
    const fredItem = (await item({ operator_id: 'fred-op', title: 'for fred' })).body.id;
    expect((await t.call('GET', '/inbox?operator_id=fred-op', { token: erin.token })).status).toBe(403);
    expect((await t.call('GET', `/inbox/${fredItem}`, { token: erin.token })).body).toEqual({
      error: 'Inbox item not found',
    });
    expect((await t.call('PUT', `/inbox/${fredItem}/read`, { token: erin.token })).status).toBe(404);
    expect((await t.call('PUT', `/inbox/${fredItem}/action`, { token: erin.token })).status).toBe(404);
    expect((await t.call('DELETE', `/inbox/${fredItem}`, { token: erin.token })).status).toBe(404);
    const bulk = await t.call('POST', '/inbox/bulk-dismiss', { token: erin.token, body: { ids: [fredItem] } });
    expect(bulk.body).toEqual({ ok: true, dismissed: 0 });
    expect(
      (await t.call('POST', '/inbox/bulk-dismiss', { token: erin.token, body: { all: true, operator_id: 'fred-op' } }))
        .status,
    ).toBe(403);
    const row = await t.db.get<any>('SELECT status FROM operator_inbox WHERE id = ?', [fredItem]);
    expect(row.status).toBe('unread');
    // Admins may look into any inbox.
    expect(
      (await t.call('GET', '/inbox?operator_id=fred-op', { token: boss.token })).body.map((i: any) => i.title),
    ).toContain('for fred');
    expect((await t.call('GET', `/inbox/${fredItem}`, { admin: true })).status).toBe(200);
  });

  it('read / action / dismiss move status; counts follow', async () => {
    const id = (await item({ operator_id: 'fred-op', title: 'cycle' })).body.id;
    const before = await t.call('GET', '/inbox/count', { token: fred.token });
    expect(before.body).toEqual({ operator_id: 'fred-op', unread: before.body.unread, count: before.body.unread });
    expect((await t.call('PUT', `/inbox/${id}/read`, { token: fred.token })).body).toEqual({ ok: true });
    let row = await t.db.get<any>('SELECT * FROM operator_inbox WHERE id = ?', [id]);
    expect(row.status).toBe('read');
    expect(row.read_at).not.toBeNull();
    expect((await t.call('GET', '/inbox/count', { token: fred.token })).body.unread).toBe(before.body.unread - 1);
    await t.call('PUT', `/inbox/${id}/action`, { token: fred.token });
    row = await t.db.get<any>('SELECT * FROM operator_inbox WHERE id = ?', [id]);
    expect(row.status).toBe('actioned');
    await t.call('DELETE', `/inbox/${id}`, { token: fred.token });
    expect((await t.db.get<any>('SELECT status FROM operator_inbox WHERE id = ?', [id])).status).toBe('dismissed');
    const list = await t.call('GET', '/inbox', { token: fred.token });
    expect(list.body.map((i: any) => i.id)).not.toContain(id);
    const dismissedOnly = await t.call('GET', '/inbox?status=dismissed', { token: fred.token });
    expect(dismissedOnly.body.map((i: any) => i.id)).toContain(id);
    expect((await t.call('GET', '/inbox/999999', { token: fred.token })).status).toBe(404);
    expect((await t.call('GET', '/inbox/abc', { token: fred.token })).status).toBe(404);
  });

  it('count without an operator: admin key gets per-operator counts; admin key must name operator_id to list', async () => {
    const counts = await t.call('GET', '/inbox/count', { admin: true });
    expect(Array.isArray(counts.body)).toBe(true);
    expect(counts.body.map((c: any) => c.operator_id).sort()).toEqual(['erin-op', 'fred-op']);
    expect((await t.call('GET', '/inbox', { admin: true })).body).toEqual({ error: 'operator_id is required' });
    const unlinked = await createOperator(t, 'nolink', 'operator');
    expect((await t.call('GET', '/inbox', { token: unlinked.token })).body).toEqual({
      error: 'No operator linked to this account',
    });
  });

  it('bulk-dismiss: ids (own only) or all', async () => {
    expect((await t.call('POST', '/inbox/bulk-dismiss', { token: erin.token, body: {} })).body.error).toBe(
      'ids array or all=true required',
    );
    const ids = [
      (await item({ operator_id: 'erin-op', title: 'b1' })).body.id,
      (await item({ operator_id: 'erin-op', title: 'b2' })).body.id,
    ];
    expect((await t.call('POST', '/inbox/bulk-dismiss', { token: erin.token, body: { ids } })).body).toEqual({
      ok: true,
      dismissed: 2,
    });
    const all = await t.call('POST', '/inbox/bulk-dismiss', { token: erin.token, body: { all: true } });
    expect(all.body.dismissed).toBeGreaterThan(0);
    expect((await t.call('GET', '/inbox', { token: erin.token })).body).toEqual([]);
  });
});
