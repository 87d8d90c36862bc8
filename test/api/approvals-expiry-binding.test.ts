import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

/**
 * Approvals (spec 04 A9 and §2.4 recommendation / A5; issue 17): pending approvals expire after
 * APPROVAL_EXPIRY_HOURS with an event and the requester told, and an approval whose payload names
 * a resource approves that resource only.
 */
let t: Target;
let a: { id: string; key: string };
let op: { id: number; token: string };

beforeAll(async () => {
  t = await startTarget({ env: { APPROVAL_EXPIRY_HOURS: '24' } });
  a = await registerAgent(t, 'apx-agent', 'apx');
  op = await createOperator(t, 'apx-op', 'operator');
});
afterAll(async () => t?.close());

const requestApproval = (body: Record<string, unknown>) =>
  t.call('POST', '/approvals', {
    agentKey: a.key,
    body: { action_type: 'delete', title: 'cleanup', payload: {}, project: 'apx', ...body },
  });
const approve = (id: number) => t.call('PUT', `/approvals/${id}/vote`, { token: op.token, body: { vote: 'approve' } });
const createPlan = async (title: string) =>
  (await t.call('POST', '/plans', { admin: true, body: { title, project_id: 'apx' } })).body.id as number;

describe('approval expiry (spec 04 A9)', () => {
  it('A9: a pending approval older than APPROVAL_EXPIRY_HOURS expires at the maintenance tick, with an event and the requester told; fresh ones stay', async () => {
    const old = await requestApproval({ title: 'old request', payload: { id: 'x-old' } });
    const fresh = await requestApproval({ title: 'fresh request', payload: { id: 'x-fresh' } });
    expect(old.body.status).toBe('pending');
    // As if requested 25 hours ago.
    await t.db.run("UPDATE approvals SET created_at = datetime('now', '-25 hours') WHERE id = ?", [old.body.id]);
    await t.scheduled();

    const gotOld = await t.call('GET', `/approvals/${old.body.id}`, { agentKey: a.key });
    expect(gotOld.body).toMatchObject({
      status: 'expired',
      decided_by: '__system__',
      reason: 'Expired after 24 h without a decision',
    });
    expect((await t.call('GET', `/approvals/${fresh.body.id}`, { agentKey: a.key })).body.status).toBe('pending');

    const ev = await t.db.get<any>(
      "SELECT * FROM events WHERE type = 'approval_expired' AND json_extract(data, '$.approval_id') = ?",
      [old.body.id],
    );
    expect(ev).toMatchObject({ agent: '__system__', project_id: 'apx' });
    expect(JSON.parse(ev.data)).toEqual({ approval_id: old.body.id, action_type: 'delete', requested_by: a.id });
    const note = await t.db.get<any>(
      "SELECT * FROM messages WHERE to_agent = ? AND from_agent = '__system__' AND content LIKE 'EXPIRED:%'",
      [a.id],
    );
    expect(note.content).toBe('EXPIRED: [delete] old request — Expired after 24 h without a decision');
    // Only one event per expiry, even if maintenance runs again.
    await t.db.run("DELETE FROM maintenance_runs WHERE job = 'approvals_expire'");
    await t.scheduled();
    expect(
      (
        await t.db.get<any>(
          "SELECT COUNT(*) AS n FROM events WHERE type = 'approval_expired' AND json_extract(data, '$.approval_id') = ?",
          [old.body.id],
        )
      ).n,
    ).toBe(1);
  });

  it('A9: an expired approval can no longer be voted on or used; the same request can be made again', async () => {
    const r = await requestApproval({ title: 'late vote', payload: { id: 'x-late' } });
    await t.db.run("UPDATE approvals SET created_at = datetime('now', '-2 days') WHERE id = ?", [r.body.id]);
    await t.db.run("DELETE FROM maintenance_runs WHERE job = 'approvals_expire'");
    await t.scheduled();
    const v = await approve(r.body.id);
    expect(v.status).toBe(400);
    expect(v.body.error).toBe('Approval is already expired');
    const plan = await createPlan('expired-use');
    const use = await t.call('DELETE', `/plans/${plan}`, { agentKey: a.key, body: { approval_id: r.body.id } });
    expect(use.status).toBe(403);
    expect(use.body).toEqual({ error: `Approval #${r.body.id} is expired, not approved`, approval_required: true });
    const again = await requestApproval({ title: 'late vote', payload: { id: 'x-late' } });
    expect(again.status).toBe(200);
    expect(again.body.id).not.toBe(r.body.id);
  });
});

describe('approval target binding (spec 04 §2.4, A5)', () => {
  it('an approval naming plan P approves deleting P only: another plan is refused with 403 and the approval stays usable for P', async () => {
    const p1 = await createPlan('bound-1');
    const p2 = await createPlan('bound-2');
    const r = await requestApproval({ title: 'delete plan one', payload: { id: p1 } });
    expect((await approve(r.body.id)).body.status).toBe('approved');
    const wrong = await t.call('DELETE', `/plans/${p2}`, { agentKey: a.key, body: { approval_id: r.body.id } });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toEqual({
      error: `Approval #${r.body.id} is for ${p1}, not plan ${p2}`,
      approval_required: true,
    });
    expect((await t.call('GET', `/plans/${p2}`, { admin: true })).status).toBe(200);
    expect((await t.call('GET', `/approvals/${r.body.id}`, { admin: true })).body.status).toBe('approved');
    const right = await t.call('DELETE', `/plans/${p1}`, { agentKey: a.key, body: { approval_id: r.body.id } });
    expect(right.status).toBe(200);
    expect((await t.call('GET', `/approvals/${r.body.id}`, { admin: true })).body.status).toBe('executed');
  });

  it('`target: "<kind>:<id>"` binds the same way; an approval that names no resource keeps the original clients working (single use)', async () => {
    const p3 = await createPlan('bound-3');
    const p4 = await createPlan('bound-4');
    const kinded = await requestApproval({ title: 'delete via target', payload: { target: `plan:${p3}` } });
    await approve(kinded.body.id);
    expect(
      (await t.call('DELETE', `/plans/${p4}`, { agentKey: a.key, body: { approval_id: kinded.body.id } })).status,
    ).toBe(403);
    expect(
      (await t.call('DELETE', `/plans/${p3}`, { agentKey: a.key, body: { approval_id: kinded.body.id } })).status,
    ).toBe(200);

    const unbound = await requestApproval({ title: 'delete something', payload: { reason: 'tidy up' } });
    await approve(unbound.body.id);
    expect(
      (await t.call('DELETE', `/plans/${p4}`, { agentKey: a.key, body: { approval_id: unbound.body.id } })).status,
    ).toBe(200);
  });
});
