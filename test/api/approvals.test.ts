import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let alpha: { id: string; key: string };
let bravo: { id: string; key: string };
let ops: { id: number; token: string }[] = [];
let boss: { id: number; token: string };

beforeAll(async () => {
  t = await startTarget();
  alpha = await registerAgent(t, 'ap-alpha', 'alpha');
  bravo = await registerAgent(t, 'ap-bravo', 'bravo');
  ops = [];
  for (let i = 0; i < 5; i++) ops.push(await createOperator(t, `voter${i}`, 'operator'));
  boss = await createOperator(t, 'boss', 'admin');
});
afterAll(async () => t?.close());

let seq = 0;
async function request(agentKey: string | null, body: Record<string, unknown>) {
  const b = { action_type: 'deploy', title: `t${++seq}`, payload: { n: seq }, ...body };
  return agentKey
    ? t.call('POST', '/approvals', { agentKey, body: b })
    : t.call('POST', '/approvals', { admin: true, body: b });
}
const vote = (id: number, v: string, who: { token?: string; admin?: boolean; agentKey?: string; actingAs?: string }) =>
  t.call('PUT', `/approvals/${id}/vote`, {
    token: who.token,
    admin: who.admin,
    agentKey: who.agentKey,
    headers: who.actingAs ? { 'X-Acting-As': who.actingAs } : undefined,
    body: { vote: v },
  });

describe('POST /approvals', () => {
  it('creates a pending request with defaults; string payload stored verbatim', async () => {
    const r = await request(alpha.key, { payload: 'raw text', project: 'alpha' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: expect.any(Number), status: 'pending', approval_required: true });
    const g = await t.call('GET', `/approvals/${r.body.id}`, { agentKey: alpha.key });
    expect(g.body).toMatchObject({
      action_type: 'deploy',
      status: 'pending',
      risk_tier: 'medium',
      required_approvals: 1,
      project_id: 'alpha',
      requested_by: alpha.id,
      payload: 'raw text',
    });
    expect(g.body.requester_key).toBeUndefined();
    const row = await t.db.get<{ payload: string }>('SELECT payload FROM approvals WHERE id = ?', [r.body.id]);
    expect(row?.payload).toBe('raw text');
  });

  it('project defaults to mycelium for humans and project_id is accepted (A7)', async () => {
    const a = await request(null, {});
    expect((await t.call('GET', `/approvals/${a.body.id}`, { admin: true })).body.project_id).toBe('mycelium');
    const b = await request(null, { project_id: 'bravo' });
    expect((await t.call('GET', `/approvals/${b.body.id}`, { admin: true })).body.project_id).toBe('bravo');
  });

  it("an agent that omits the project asks within its own project (not 'mycelium', which would be out of its scope)", async () => {
    const r = await request(bravo.key, {});
    expect(r.status).toBe(200);
    const row = await t.db.get<{ project_id: string; requested_by: string }>(
      'SELECT project_id, requested_by FROM approvals WHERE id = ?',
      [r.body.id],
    );
    expect(row).toEqual({ project_id: 'bravo', requested_by: bravo.id });
    // Another project named explicitly stays out of scope.
    expect((await request(bravo.key, { project_id: 'alpha' })).status).toBe(403);
  });

  it('validates input before writing anything', async () => {
    const before = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM approvals');
    expect((await request(alpha.key, { action_type: 'launch_missiles' })).body.error).toMatch(
      /^action_type must be one of: deploy, git_push, plan_create, money_action, delete, external_comm/,
    );
    expect((await request(alpha.key, { title: '' })).body.error).toBe('title is required');
    expect((await request(alpha.key, { payload: null })).body.error).toBe('payload is required');
    const bad = await request(alpha.key, { risk_tier: 'extreme' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'invalid_enum', field: 'risk_tier' });
    expect((await request(alpha.key, { title: { x: 1 } })).status).toBe(400);
    expect((await request(alpha.key, { required_approvals: 'two' })).body.error).toMatch(/required_approvals/);
    const after = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM approvals');
    expect(after?.n).toBe(before?.n);
  });

  it('SEC-46: the tier comes from instance_config and a requester can only raise it', async () => {
    const r = await request(alpha.key, {
      action_type: 'money_action',
      risk_tier: 'low',
      required_approvals: 0,
      project: 'alpha',
    });
    expect(r.status).toBe(200);
    const g = await t.call('GET', `/approvals/${r.body.id}`, { agentKey: alpha.key });
    expect(g.body.risk_tier).toBe('critical');
    expect(g.body.required_approvals).toBeGreaterThanOrEqual(1);
    // Raising works.
    const up = await request(alpha.key, { risk_tier: 'high', project: 'alpha' });
    expect((await t.call('GET', `/approvals/${up.body.id}`, { admin: true })).body).toMatchObject({
      risk_tier: 'high',
      required_approvals: 2,
    });
    // The configured table is what is read.
    const cfg = await t.call('PUT', '/admin/config/risk_tiers', {
      admin: true,
      body: {
        value: {
          deploy: 'high',
          git_push: 'medium',
          plan_create: 'low',
          money_action: 'critical',
          delete: 'medium',
          external_comm: 'high',
        },
      },
    });
    expect(cfg.status).toBe(200);
    const d = await request(alpha.key, { risk_tier: 'medium', project: 'alpha' });
    expect((await t.call('GET', `/approvals/${d.body.id}`, { admin: true })).body.risk_tier).toBe('high');
    // Back to the seeded table.
    await t.call('PUT', '/admin/config/risk_tiers', {
      admin: true,
      body: {
        value: {
          plan_create: 'low',
          context_change: 'low',
          deploy: 'medium',
          git_push: 'medium',
          delete: 'medium',
          external_comm: 'high',
          money_action: 'critical',
          delete_agent: 'critical',
          instance_config: 'critical',
        },
      },
    });
  });

  it('A11: platform actions from the tier map are accepted with their configured tier', async () => {
    const r = await request(null, { action_type: 'delete_agent', payload: { id: 'some-agent' } });
    expect(r.status).toBe(200);
    expect((await t.call('GET', `/approvals/${r.body.id}`, { admin: true })).body.risk_tier).toBe('critical');
  });

  it('a low-tier request is auto-approved with both events', async () => {
    const r = await request(alpha.key, { action_type: 'plan_create', project: 'alpha' });
    expect(r.body).toMatchObject({ status: 'approved', approval_required: false });
    const g = await t.call('GET', `/approvals/${r.body.id}`, { agentKey: alpha.key });
    expect(g.body).toMatchObject({ status: 'approved', decided_by: '__system__', reason: 'Auto-approved (low risk)' });
    const evs = await t.db.all<{ type: string; data: string }>(
      "SELECT type, data FROM events WHERE type LIKE 'approval_%' AND json_extract(data, '$.approval_id') = ? ORDER BY id",
      [r.body.id],
    );
    expect(evs.map((e) => e.type)).toEqual(['approval_requested', 'approval_approved']);
    expect(JSON.parse(evs[0].data)).toMatchObject({ approval_id: r.body.id, action_type: 'plan_create' });
  });

  it('one pending approval per (action, subject): a duplicate returns the existing one', async () => {
    const a = await request(alpha.key, { subject: 'svc-api', project: 'alpha' });
    const b = await request(alpha.key, { subject: 'svc-api', project: 'alpha', title: 'again' });
    expect(b.status).toBe(200);
    expect(b.body).toMatchObject({ id: a.body.id, status: 'pending', duplicate: true });
    const n = await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM approvals WHERE subject = 'svc-api'");
    expect(n?.n).toBe(1);
    // Concurrent duplicates also collapse to one row.
    const rs = await Promise.all(
      Array.from({ length: 8 }, () => request(alpha.key, { subject: 'svc-par', project: 'alpha' })),
    );
    expect(new Set(rs.map((r) => r.body.id)).size).toBe(1);
    // Once decided, a new request for the same subject is a new approval.
    await vote(a.body.id, 'deny', { token: ops[0].token });
    const c = await request(alpha.key, { subject: 'svc-api', project: 'alpha' });
    expect(c.body.id).not.toBe(a.body.id);
  });

  it('creates one inbox item per active operator; a decision actions them, dismissed ones untouched', async () => {
    await t.db.run(
      "INSERT INTO operators (id, display_name, status) VALUES ('op-a', 'A', 'active'), ('op-b', 'B', 'active'), ('op-c', 'C', 'inactive')",
    );
    const r = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
    const items = await t.db.all<{ id: number; operator_id: string; priority: string; status: string }>(
      "SELECT id, operator_id, priority, status FROM operator_inbox WHERE entity_type = 'approval' AND entity_id = ? ORDER BY operator_id",
      [String(r.body.id)],
    );
    expect(items.map((i) => i.operator_id)).toEqual(['op-a', 'op-b']);
    expect(items[0].priority).toBe('urgent');
    await t.db.run("UPDATE operator_inbox SET status = 'dismissed' WHERE id = ?", [items[1].id]);
    await vote(r.body.id, 'deny', { token: ops[1].token });
    const after = await t.db.all<{ status: string }>(
      "SELECT status FROM operator_inbox WHERE entity_type = 'approval' AND entity_id = ? ORDER BY operator_id",
      [String(r.body.id)],
    );
    expect(after.map((i) => i.status)).toEqual(['actioned', 'dismissed']);
    const note = await t.db.get<{ content: string; to_agent: string }>(
      "SELECT content, to_agent FROM messages WHERE to_agent = ? AND content LIKE 'DENIED:%' ORDER BY id DESC",
      [alpha.id],
    );
    expect(note?.content).toMatch(/^DENIED: \[external_comm\]/);
  });
});

describe('voting', () => {
  it('SEC-47: two distinct humans are needed at high tier; a repeated vote counts once', async () => {
    const r = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
    const v1 = await vote(r.body.id, 'approve', { token: ops[0].token });
    expect(v1.body).toMatchObject({ ok: true, status: 'pending', votes: { approves: 1, denies: 0 }, remaining: 1 });
    const v1b = await vote(r.body.id, 'approve', { token: ops[0].token });
    expect(v1b.body).toMatchObject({ status: 'pending', remaining: 1 });
    const v2 = await vote(r.body.id, 'approve', { token: ops[1].token });
    expect(v2.body).toMatchObject({
      ok: true,
      status: 'approved',
      votes: { approves: 2, denies: 0 },
      message: 'Quorum reached. Approval granted.',
    });
    const votes = await t.call('GET', `/approvals/${r.body.id}/votes`, { admin: true });
    expect(votes.body.map((v: { voter: string }) => v.voter)).toEqual(['voter0', 'voter1']);
    const g = await t.call('GET', `/approvals/${r.body.id}`, { admin: true });
    expect(g.body).toMatchObject({ status: 'approved', current_approvals: 2, reason: 'Quorum reached (2/2)' });
    const ev = await t.db.get<{ project_id: string; data: string }>(
      "SELECT project_id, data FROM events WHERE type = 'approval_approved' AND json_extract(data, '$.approval_id') = ?",
      [r.body.id],
    );
    expect(ev?.project_id).toBe('alpha');
    expect(JSON.parse(ev!.data)).toEqual({ approval_id: r.body.id, action_type: 'external_comm' });
  });

  it('SEC-47: the admin key is one voter whatever X-Acting-As says', async () => {
    const r = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
    await vote(r.body.id, 'approve', { admin: true, actingAs: 'alice' });
    const v = await vote(r.body.id, 'approve', { admin: true, actingAs: 'bob' });
    expect(v.body).toMatchObject({ status: 'pending', remaining: 1, votes: { approves: 1 } });
  });

  it('the requester never votes on its own request', async () => {
    const r = await t.call('POST', '/approvals', {
      token: ops[2].token,
      body: { action_type: 'deploy', title: 'mine', payload: {} },
    });
    const v = await vote(r.body.id, 'approve', { token: ops[2].token });
    expect(v.status).toBe(403);
    expect((await t.call('GET', `/approvals/${r.body.id}`, { admin: true })).body.status).toBe('pending');
    const viaPut = await t.call('PUT', `/approvals/${r.body.id}`, { admin: true, body: { status: 'approved' } });
    expect(viaPut.body.status).toBe('approved');
  });

  it('agent keys never vote at medium and above', async () => {
    const r = await request(alpha.key, { project: 'alpha' });
    const v = await vote(r.body.id, 'approve', { agentKey: bravo.key });
    expect(v.status).toBe(403);
    expect(v.body.error).toMatch(/Agents cannot vote/);
    expect(
      (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM approval_votes WHERE approval_id = ?', [r.body.id]))?.n,
    ).toBe(0);
  });

  it('any deny rejects at once; later votes get 400; vote is required (A3)', async () => {
    const r = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
    expect((await t.call('PUT', `/approvals/${r.body.id}/vote`, { token: ops[0].token, body: {} })).body.error).toBe(
      'vote must be approve or deny',
    );
    await vote(r.body.id, 'approve', { token: ops[0].token });
    const d = await vote(r.body.id, 'deny', { token: ops[1].token });
    expect(d.body).toMatchObject({ ok: true, status: 'denied', message: 'Approval denied.' });
    const late = await vote(r.body.id, 'approve', { token: ops[2].token });
    expect(late.status).toBe(400);
    expect(late.body.error).toBe('Approval is already denied');
    const g = await t.call('GET', `/approvals/${r.body.id}`, { admin: true });
    expect(g.body).toMatchObject({ status: 'denied', decided_by: 'voter1', reason: 'Denied by voter1' });
  });

  it('critical needs every admin operator; non-admin operators cannot vote on it', async () => {
    const boss2 = await createOperator(t, 'boss2', 'admin');
    const r = await request(alpha.key, { action_type: 'money_action', project: 'alpha' });
    const g = await t.call('GET', `/approvals/${r.body.id}`, { admin: true });
    expect(g.body).toMatchObject({ risk_tier: 'critical', required_approvals: 2 });
    expect((await vote(r.body.id, 'approve', { token: ops[0].token })).status).toBe(403);
    expect((await vote(r.body.id, 'approve', { token: boss.token })).body.status).toBe('pending');
    expect((await vote(r.body.id, 'approve', { token: boss2.token })).body.status).toBe('approved');
  });

  it('PUT /approvals/:id is recorded as the admin vote and respects quorum (A4)', async () => {
    const med = await request(alpha.key, { project: 'alpha' });
    const a = await t.call('PUT', `/approvals/${med.body.id}`, {
      token: boss.token,
      body: { status: 'approved', reason: 'ok' },
    });
    expect(a.body).toMatchObject({ ok: true, id: med.body.id, status: 'approved' });
    const votes = await t.call('GET', `/approvals/${med.body.id}/votes`, { admin: true });
    expect(votes.body).toEqual([expect.objectContaining({ voter: 'boss', vote: 'approve', notes: 'ok' })]);
    const high = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
    const h = await t.call('PUT', `/approvals/${high.body.id}`, { admin: true, body: { status: 'approved' } });
    expect(h.body).toMatchObject({ ok: true, id: high.body.id, status: 'pending', remaining: 1 });
    expect(
      (await t.call('PUT', `/approvals/${high.body.id}`, { admin: true, body: { status: 'maybe' } })).body.error,
    ).toBe('status must be approved or denied');
    const agentPut = await t.call('PUT', `/approvals/${high.body.id}`, {
      agentKey: alpha.key,
      body: { status: 'approved' },
    });
    expect([401, 403]).toContain(agentPut.status);
    expect((await t.call('PUT', '/approvals/999999', { admin: true, body: { status: 'denied' } })).status).toBe(404);
    expect((await t.call('PUT', '/approvals/1abc/vote', { admin: true, body: { vote: 'deny' } })).status).toBe(404);
  });
});

describe('reads and execution', () => {
  it('agents read their own project and their own requests only (A6)', async () => {
    const r = await request(alpha.key, { project: 'alpha', title: 'alpha-secret-plan' });
    expect((await t.call('GET', `/approvals/${r.body.id}`, { agentKey: bravo.key })).status).toBe(404);
    const list = await t.call('GET', '/approvals?limit=500', { agentKey: bravo.key });
    expect(list.body.some((a: { title: string }) => a.title === 'alpha-secret-plan')).toBe(false);
    const mine = await t.call('GET', '/approvals?project=alpha&status=pending', { agentKey: alpha.key });
    expect(mine.body.some((a: { id: number }) => a.id === r.body.id)).toBe(true);
    expect(
      mine.body.every(
        (a: { project_id: string; status: string }) => a.project_id === 'alpha' && a.status === 'pending',
      ),
    ).toBe(true);
    expect((await t.call('GET', '/approvals?limit=1', { admin: true })).body).toHaveLength(1);
    expect((await t.call('GET', '/approvals/999999/votes', { admin: true })).body).toEqual([]);
  });

  it('executed: only from approved, only by the requester or an admin', async () => {
    const r = await request(alpha.key, { project: 'alpha' });
    const early = await t.call('PUT', `/approvals/${r.body.id}/executed`, { agentKey: alpha.key });
    expect(early.status).toBe(400);
    expect(early.body.error).toBe('Approval is pending, not approved');
    await vote(r.body.id, 'approve', { token: ops[0].token });
    expect((await t.call('PUT', `/approvals/${r.body.id}/executed`, { agentKey: bravo.key })).status).toBe(403);
    const ok = await t.call('PUT', `/approvals/${r.body.id}/executed`, { agentKey: alpha.key });
    expect(ok.body).toEqual({ ok: true, id: r.body.id, status: 'executed' });
    const again = await t.call('PUT', `/approvals/${r.body.id}/executed`, { agentKey: alpha.key });
    expect(again.body.error).toBe('Approval is executed, not approved');
    const ev = await t.db.get<{ agent: string; project_id: string }>(
      "SELECT agent, project_id FROM events WHERE type = 'approval_executed' AND json_extract(data, '$.approval_id') = ?",
      [r.body.id],
    );
    expect(ev).toEqual({ agent: alpha.id, project_id: 'alpha' });
  });

  it('sleep mode queues high-risk requests for the morning while nobody is around', async () => {
    const on = await t.call('PUT', '/admin/sleep', {
      admin: true,
      body: { action: 'on', approval_policy: 'queue_high' },
    });
    expect(on.status).toBe(200);
    try {
      const r = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
      expect(r.body).toMatchObject({
        status: 'queued_for_morning',
        queued: true,
        message: 'Queued for operator review — all operators are away. Continue with other work.',
      });
      const row = await t.call('GET', `/approvals/${r.body.id}`, { admin: true });
      expect(row.body).toMatchObject({ status: 'pending', queued_for_morning: true });
      const log = await t.db.get<{ value: string }>("SELECT value FROM instance_config WHERE key = 'sleep_mode_log'");
      expect(JSON.parse(log!.value).approvals_queued).toEqual([
        expect.objectContaining({ id: r.body.id, action_type: 'external_comm' }),
      ]);
      const med = await request(alpha.key, { project: 'alpha' });
      expect(med.body.status).toBe('pending');
    } finally {
      await t.call('PUT', '/admin/sleep', { admin: true, body: { action: 'off' } });
    }
    const after = await request(alpha.key, { action_type: 'external_comm', project: 'alpha' });
    expect(after.body.status).toBe('pending');
  });
});

/** Small seeded PRNG (mulberry32) so a failure reproduces. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
function shuffle<T>(xs: T[], rand: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('quorum property', () => {
  it('the outcome does not depend on vote order (seeded random permutations, some cast concurrently)', async () => {
    const rand = rng(20260401);
    type Voter = { token?: string; admin?: boolean; actingAs?: string; agentKey?: string; human: string | null };
    const humans: Voter[] = [
      ...ops.map((o, i) => ({ token: o.token, human: `u${i}` })),
      { admin: true, actingAs: 'x', human: 'admin' },
    ];
    let checked = 0;
    const seen = new Set<string>();
    for (let trial = 0; trial < 10; trial++) {
      const required = 2 + Math.floor(rand() * 3); // 2..4 of 6 eligible identities
      const pool = shuffle(humans, rand);
      const withDeny = rand() < 0.4;
      // With a deny in the set, keep approvers below quorum so no order can reach it first.
      const nApprovers = withDeny ? Math.floor(rand() * required) : Math.floor(rand() * (pool.length + 1));
      const approvers = pool.slice(0, nApprovers);
      const deniers = withDeny ? [pool[nApprovers]] : [];
      const votes: { who: Voter; v: 'approve' | 'deny' }[] = [];
      for (const a of approvers) {
        votes.push({ who: a, v: 'approve' });
        // Noise: repeated votes, and the admin key under another acting-as name.
        if (rand() < 0.5) votes.push({ who: a.admin ? { ...a, actingAs: `alias${trial}` } : a, v: 'approve' });
      }
      for (const d of deniers) votes.push({ who: d, v: 'deny' });
      // Ineligible votes that must never count: the requesting agent and another agent.
      votes.push(
        { who: { agentKey: alpha.key, human: null }, v: 'approve' },
        { who: { agentKey: bravo.key, human: null }, v: 'approve' },
      );
      const distinctApprovers = new Set(approvers.map((a) => a.human)).size;
      const expected = deniers.length ? 'denied' : distinctApprovers >= required ? 'approved' : 'pending';

      const outcomes: string[] = [];
      for (let perm = 0; perm < 4; perm++) {
        const order = shuffle(votes, rand);
        const r = await request(alpha.key, {
          action_type: 'external_comm',
          required_approvals: required,
          project: 'alpha',
          subject: `prop-${trial}-${perm}`,
        });
        expect(r.body.status).toBe('pending');
        if (perm === 3) {
          await Promise.all(order.map((o) => vote(r.body.id, o.v, o.who)));
        } else {
          for (const o of order) {
            const res = await vote(r.body.id, o.v, o.who);
            if (o.who.human === null) expect([400, 403]).toContain(res.status);
          }
        }
        const g = await t.call('GET', `/approvals/${r.body.id}`, { admin: true });
        outcomes.push(g.body.status);
        if (expected === 'pending') expect(g.body.current_approvals).toBe(distinctApprovers);
        if (expected === 'approved') expect(g.body.current_approvals).toBeGreaterThanOrEqual(required);
        checked++;
      }
      seen.add(expected);
      expect(outcomes, `trial ${trial} required ${required} approvers ${distinctApprovers} deny ${withDeny}`).toEqual(
        Array(4).fill(expected),
      );
    }
    expect(checked).toBe(40);
    // The seed exercises every outcome class.
    expect([...seen].sort()).toEqual(['approved', 'denied', 'pending']);
  }, 120_000);
});

describe('quorum on a small instance', () => {
  it('SEC-46: high needs two distinct humans even on a small instance; the requester never counts', async () => {
    const small = await startTarget();
    try {
      const solo = await createOperator(small, 'solo', 'operator');
      const bot = await registerAgent(small, 'small-bot', 'sp');
      // Agent request: two humans exist (the operator and the admin key), both needed.
      const a = await small.call('POST', '/approvals', {
        agentKey: bot.key,
        body: { action_type: 'external_comm', title: 'a', payload: {}, project: 'sp' },
      });
      expect((await small.call('GET', `/approvals/${a.body.id}`, { admin: true })).body.required_approvals).toBe(2);
      // The operator's own request: the floor stays 2; the admin key alone is not enough.
      const o = await small.call('POST', '/approvals', {
        token: solo.token,
        body: { action_type: 'external_comm', title: 'o', payload: {} },
      });
      expect((await small.call('GET', `/approvals/${o.body.id}`, { admin: true })).body.required_approvals).toBe(2);
      expect(
        (await small.call('PUT', `/approvals/${o.body.id}/vote`, { token: solo.token, body: { vote: 'approve' } }))
          .status,
      ).toBe(403);
      const v = await small.call('PUT', `/approvals/${o.body.id}/vote`, { admin: true, body: { vote: 'approve' } });
      expect(v.body.status).toBe('pending');
      // A second human arrives and approves: two distinct humans, neither the requester.
      const second = await createOperator(small, 'second', 'operator');
      const v2 = await small.call('PUT', `/approvals/${o.body.id}/vote`, {
        token: second.token,
        body: { vote: 'approve' },
      });
      expect(v2.body.status).toBe('approved');
    } finally {
      await small.close();
    }
  });
});
