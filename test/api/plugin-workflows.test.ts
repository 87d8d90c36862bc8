import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let runner: { id: string; key: string };
let other: { id: string; key: string };
let requester: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  runner = await registerAgent(t, 'runner-1', 'proj');
  other = await registerAgent(t, 'runner-2', 'proj');
  requester = await registerAgent(t, 'lead', 'proj');
});
afterAll(() => t.close());

const fanout = {
  name: 'review fanout',
  shape: 'fanout',
  project_id: 'proj',
  spec: {
    invocations: [
      { id: 'a', agent: 'alice' },
      { id: 'b', agent: 'bob' },
      { id: 'merge', agent: 'carol', deps: ['a', 'b'] },
    ],
  },
};

describe('workflows', () => {
  it('runs end to end: fire → claim → running → waves of invocations → completed, with events', async () => {
    const fired = await t.call('POST', '/workflows', { agentKey: requester.key, body: fanout });
    expect(fired.status).toBe(200);
    const w = fired.body.workflow;
    expect(w).toMatchObject({
      name: 'review fanout',
      shape: 'fanout',
      status: 'pending',
      requested_by: 'lead',
      project_id: 'proj',
    });
    expect(w.invocations.map((i: { inv_id: string }) => i.inv_id)).toEqual(['a', 'b', 'merge']);
    expect(w.invocations[2].deps).toEqual(['a', 'b']);
    expect(w.events).toEqual([
      expect.objectContaining({ kind: 'created', payload: { name: 'review fanout', shape: 'fanout', invocations: 3 } }),
    ]);
    expect(await t.db.get("SELECT type, agent FROM events WHERE type = 'workflow_created'")).toEqual({
      type: 'workflow_created',
      agent: 'lead',
    });

    const pending = await t.call('GET', '/workflows?status=pending&order=asc', { agentKey: runner.key });
    expect(pending.body.map((x: { id: number }) => x.id)).toContain(w.id);

    const claim = await t.call('POST', `/workflows/${w.id}/claim`, { agentKey: runner.key, body: {} });
    expect(claim.status).toBe(200);
    expect(claim.body.workflow).toMatchObject({ status: 'claimed', claimed_by: 'runner-1' });
    const again = await t.call('POST', `/workflows/${w.id}/claim`, { agentKey: other.key, body: {} });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('Workflow not claimable (status: claimed)');

    const run = await t.call('PUT', `/workflows/${w.id}`, {
      agentKey: runner.key,
      body: { status: 'running', risk: 'green' },
    });
    expect(run.body.workflow.status).toBe('running');
    expect(run.body.workflow.started_at).toBeTruthy();

    for (const inv of ['a', 'b', 'merge']) {
      expect(
        (
          await t.call('PUT', `/workflows/${w.id}/invocations/${inv}`, {
            agentKey: runner.key,
            body: { status: 'running' },
          })
        ).status,
      ).toBe(200);
      const done = await t.call('PUT', `/workflows/${w.id}/invocations/${inv}`, {
        agentKey: runner.key,
        body: { status: 'completed', result: { out: inv } },
      });
      expect(done.body.invocation).toMatchObject({ status: 'completed', result: JSON.stringify({ out: inv }) });
    }
    const waveEv = await t.call('POST', `/workflows/${w.id}/events`, {
      agentKey: runner.key,
      body: { kind: 'wave_started', payload: { wave: 1 } },
    });
    expect(waveEv.body.ok).toBe(true);

    const fin = await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'completed' } });
    expect(fin.body.workflow.status).toBe('completed');
    expect(fin.body.workflow.finished_at).toBeTruthy();
    expect(fin.body.workflow.events.map((e: { kind: string }) => e.kind)).toEqual([
      'created',
      'claimed',
      'wave_started',
      'completed',
    ]);
    const types = (await t.db.all("SELECT type FROM events WHERE type LIKE 'workflow_%' ORDER BY id")).map(
      (r) => r.type,
    );
    expect(types).toEqual([
      'workflow_created',
      'workflow_claimed',
      'workflow_invocation_finished',
      'workflow_invocation_finished',
      'workflow_invocation_finished',
      'workflow_wave_started',
      'workflow_completed',
    ]);

    // Terminal: every write refused.
    const back = await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'running' } });
    expect(back.status).toBe(400);
    expect(back.body.error).toBe('cannot modify terminal state: completed');
    expect(
      (await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { risk: 'red' } })).body.error,
    ).toBe('cannot modify terminal state: completed');
    expect(
      (await t.call('PUT', `/workflows/${w.id}/invocations/a`, { agentKey: runner.key, body: { status: 'failed' } }))
        .body.error,
    ).toBe('cannot modify terminal state: completed');
    expect((await t.call('POST', `/workflows/${w.id}/cancel`, { agentKey: runner.key })).body.error).toBe(
      'workflow already completed',
    );
  });

  it('W19: only the claiming runner (or an admin) drives a claimed workflow', async () => {
    const w = (
      await t.call('POST', '/workflows', {
        agentKey: requester.key,
        body: { name: 'p', invocations: [{ id: 'x', agent: 'a' }] },
      })
    ).body.workflow;
    await t.call('POST', `/workflows/${w.id}/claim`, { agentKey: runner.key, body: { runner_id: 'someone-else' } });
    expect((await t.call('GET', `/workflows/${w.id}`, { agentKey: other.key })).body.claimed_by).toBe('runner-1');
    const steal = await t.call('PUT', `/workflows/${w.id}`, { agentKey: other.key, body: { status: 'running' } });
    expect(steal.status).toBe(403);
    expect(steal.body.error).toBe('Workflow is claimed by runner-1');
    expect(
      (await t.call('PUT', `/workflows/${w.id}/invocations/x`, { agentKey: other.key, body: { status: 'running' } }))
        .status,
    ).toBe(403);
    expect(
      (await t.call('POST', `/workflows/${w.id}/events`, { agentKey: other.key, body: { kind: 'wave_started' } }))
        .status,
    ).toBe(403);
    expect((await t.call('POST', `/workflows/${w.id}/cancel`, { agentKey: other.key })).status).toBe(403);
    expect((await t.call('PUT', `/workflows/${w.id}`, { admin: true, body: { status: 'running' } })).status).toBe(200);
  });

  it('validation: empty, duplicate, unknown dep, cycle, missing name/spec → 400 with the spec message, nothing written', async () => {
    const before = (await t.call('GET', '/workflows?limit=500', { admin: true })).body.length;
    const cases: [unknown, string][] = [
      [{ name: 'x', invocations: [] }, 'spec.invocations must be a non-empty array'],
      [
        {
          name: 'x',
          invocations: [
            { id: 'a', agent: 'q' },
            { id: 'a', agent: 'q' },
          ],
        },
        'duplicate invocation id: a',
      ],
      [{ name: 'x', invocations: [{ id: 'a', agent: 'q', deps: ['zz'] }] }, 'invocation a depends on unknown zz'],
      [
        {
          name: 'x',
          invocations: [
            { id: 'a', agent: 'q', deps: ['b'] },
            { id: 'b', agent: 'q', deps: ['a'] },
            { id: 'c', agent: 'q' },
          ],
        },
        'cyclic deps among: a, b',
      ],
      [{ name: 'x', invocations: [{ id: 'a' }] }, 'invocation a needs a string agent'],
      [{ name: 'x', invocations: [{ agent: 'q' }] }, 'every invocation needs a string id'],
      [{ name: 'x', invocations: [{ id: 'a', agent: 'q', deps: 'b' }] }, 'invocation a deps must be an array'],
      [{ invocations: [{ id: 'a', agent: 'q' }] }, 'name is required'],
      [{ name: 'x' }, 'spec object (or top-level invocations array) is required'],
    ];
    for (const [body, msg] of cases) {
      const r = await t.call('POST', '/workflows', { agentKey: requester.key, body });
      expect(r.status, msg).toBe(400);
      expect(r.body.error).toBe(msg);
    }
    expect((await t.call('GET', '/workflows?limit=500', { admin: true })).body.length).toBe(before);
    expect((await t.call('GET', '/workflows/1abc', { admin: true })).body.error).toBe('invalid workflow id');
    expect((await t.call('GET', '/workflows/99999', { admin: true })).body.error).toBe('Workflow not found');
  });

  it('illegal transition answers 400 with from; result is capped; cancel running → cancelling → runner cancels', async () => {
    const w = (
      await t.call('POST', '/workflows', {
        agentKey: requester.key,
        body: { name: 'c', invocations: [{ id: 'x', agent: 'a' }] },
      })
    ).body.workflow;
    const bad = await t.call('PUT', `/workflows/${w.id}`, { agentKey: requester.key, body: { status: 'completed' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({
      error: 'illegal transition pending -> completed (allowed: claimed, cancelled)',
      from: 'pending',
    });
    await t.call('POST', `/workflows/${w.id}/claim`, { agentKey: runner.key });
    await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'running' } });
    const big = await t.call('PUT', `/workflows/${w.id}/invocations/x`, {
      agentKey: runner.key,
      body: { result: 'y'.repeat(40_000) },
    });
    expect(big.body.invocation.result.endsWith('\n...[truncated at 32000 chars]')).toBe(true);
    expect(big.body.invocation.result.length).toBe(32_000 + '\n...[truncated at 32000 chars]'.length);
    expect(
      (await t.call('PUT', `/workflows/${w.id}/invocations/zz`, { agentKey: runner.key, body: { status: 'running' } }))
        .body.error,
    ).toBe('invocation not found');
    expect(
      (await t.call('PUT', `/workflows/${w.id}/invocations/x`, { agentKey: runner.key, body: { status: 'done' } })).body
        .error,
    ).toBe('invocation status must be one of: pending, running, completed, failed, skipped');
    const c = await t.call('POST', `/workflows/${w.id}/cancel`, { agentKey: requester.key });
    expect(c.body).toEqual({ ok: true, status: 'cancelling' });
    const fin = await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'cancelled' } });
    expect(fin.body.workflow.status).toBe('cancelled');
    const p = (
      await t.call('POST', '/workflows', {
        agentKey: requester.key,
        body: { name: 'd', invocations: [{ id: 'x', agent: 'a' }] },
      })
    ).body.workflow;
    expect((await t.call('POST', `/workflows/${p.id}/cancel`, { agentKey: requester.key })).body).toEqual({
      ok: true,
      status: 'cancelled',
    });
    // Terminal kinds come only from transitions (W19).
    const p2 = (
      await t.call('POST', '/workflows', {
        agentKey: requester.key,
        body: { name: 'e', invocations: [{ id: 'x', agent: 'a' }] },
      })
    ).body.workflow;
    expect(
      (await t.call('POST', `/workflows/${p2.id}/events`, { agentKey: requester.key, body: { kind: 'completed' } }))
        .status,
    ).toBe(400);
  });

  it('unauthenticated POST → 401 with nothing written; the alias and /plugins/workflows/ are the same routes', async () => {
    const r = await t.call('POST', '/workflows', { body: fanout });
    expect(r.status).toBe(401);
    const list = await t.call('GET', '/workflows?limit=500', { admin: true });
    expect(list.body.filter((w: { name: string }) => w.name === 'review fanout')).toHaveLength(1);
    const id = list.body[0].id;
    const a = await t.call('GET', `/workflows/${id}`, { admin: true });
    const b = await t.call('GET', `/plugins/workflows/${id}`, { admin: true });
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
  });

  it('HEAD: awaiting_approval gate round trip records its events and stamps the approval id', async () => {
    const w = (
      await t.call('POST', '/workflows', {
        agentKey: requester.key,
        body: { name: 'gated', invocations: [{ id: 'x', agent: 'a' }] },
      })
    ).body.workflow;
    await t.call('POST', `/workflows/${w.id}/claim`, { agentKey: runner.key });
    await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'running' } });
    const wait = await t.call('PUT', `/workflows/${w.id}`, {
      agentKey: runner.key,
      body: { status: 'awaiting_approval', approval_id: 7 },
    });
    expect(wait.body.workflow).toMatchObject({ status: 'awaiting_approval', approval_id: 7 });
    expect(
      (await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'completed' } })).body.error,
    ).toBe('illegal transition awaiting_approval -> completed (allowed: running, failed, cancelled)');
    const resumed = await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { status: 'running' } });
    expect(resumed.body.workflow.events.map((e: { kind: string; payload: unknown }) => [e.kind, e.payload])).toEqual([
      ['created', { name: 'gated', shape: 'custom', invocations: 1 }],
      ['claimed', { claimed_by: 'runner-1' }],
      ['awaiting_approval', { approval_id: 7 }],
      ['resumed', {}],
    ]);
    expect(await t.db.get("SELECT type FROM events WHERE type = 'workflow_awaiting_approval'")).toBeTruthy();
    expect(
      (await t.call('PUT', `/workflows/${w.id}`, { agentKey: runner.key, body: { approval_id: 'seven' } })).body.error,
    ).toBe('approval_id must be a positive integer');
  });
});
