import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

/**
 * Contract differences found by driving the server as a new user would (issue 9), each pinned to
 * the spec rule it breaks.
 */
let t: Target;
let alpha: { id: string; key: string };
let alpha2: { id: string; key: string };
let admin: { id: number; token: string };
let op: { id: number; token: string };

beforeAll(async () => {
  t = await startTarget();
  alpha = await registerAgent(t, 'cf-alpha', 'alpha');
  alpha2 = await registerAgent(t, 'cf-alpha2', 'alpha');
  admin = await createOperator(t, 'cf-admin', 'admin');
  op = await createOperator(t, 'cf-op', 'operator');
});
afterAll(async () => t?.close());

type Note = { from_agent: string; to_agent: string; msg_type: string; project_id: string; content: string };
const notesTo = (agent: string, approvalTitle: string) =>
  t.db.all<Note>(
    'SELECT from_agent, to_agent, msg_type, project_id, content FROM messages WHERE to_agent = ? AND content LIKE ? ORDER BY id',
    [agent, `%] ${approvalTitle}%`],
  );

describe('spec 04 §2.3: a direct decision notifies the requester like a vote does', () => {
  it('PUT /approvals/:id by an admin operator (approve, with reason) and by the admin key (deny) each send one info message from __system__', async () => {
    const a = await t.call('POST', '/approvals', {
      agentKey: alpha.key,
      body: { action_type: 'deploy', title: 'direct-approve', payload: { n: 1 } },
    });
    expect(a.status).toBe(200);
    const d = await t.call('PUT', `/approvals/${a.body.id}`, {
      token: admin.token,
      body: { status: 'approved', reason: 'ship it' },
    });
    expect(d.body).toMatchObject({ ok: true, status: 'approved' });
    expect(await notesTo(alpha.id, 'direct-approve')).toEqual([
      {
        from_agent: '__system__',
        to_agent: alpha.id,
        msg_type: 'info',
        project_id: 'alpha',
        content: 'APPROVED: [deploy] direct-approve — ship it',
      },
    ]);

    const b = await t.call('POST', '/approvals', {
      agentKey: alpha.key,
      body: { action_type: 'deploy', title: 'direct-deny', payload: { n: 2 } },
    });
    const n = await t.call('PUT', `/approvals/${b.body.id}`, {
      admin: true,
      body: { status: 'denied', reason: 'not today' },
    });
    expect(n.body).toMatchObject({ ok: true, status: 'denied' });
    expect(await notesTo(alpha.id, 'direct-deny')).toEqual([
      {
        from_agent: '__system__',
        to_agent: alpha.id,
        msg_type: 'info',
        project_id: 'alpha',
        content: 'DENIED: [deploy] direct-deny — not today',
      },
    ]);

    // The vote path's notification, for comparison: same sender, type and shape.
    const c = await t.call('POST', '/approvals', {
      agentKey: alpha.key,
      body: { action_type: 'deploy', title: 'by-vote', payload: { n: 3 } },
    });
    await t.call('PUT', `/approvals/${c.body.id}/vote`, { token: op.token, body: { vote: 'deny', notes: 'no' } });
    expect(await notesTo(alpha.id, 'by-vote')).toEqual([
      {
        from_agent: '__system__',
        to_agent: alpha.id,
        msg_type: 'info',
        project_id: 'alpha',
        content: 'DENIED: [deploy] by-vote — no',
      },
    ]);
  });

  it('the operator the requesting agent works for gets an inbox item with the same words (both decision paths)', async () => {
    await t.db.run("INSERT INTO operators (id, display_name, status) VALUES ('cf-owner', 'Owner', 'active')");
    const owned = await registerAgent(t, 'cf-owned', 'alpha');
    await t.call('PUT', `/agents/${owned.id}`, { admin: true, body: { operator_id: 'cf-owner' } });
    expect(
      (await t.db.get<{ operator_id: string }>('SELECT operator_id FROM agents WHERE id = ?', [owned.id]))?.operator_id,
    ).toBe('cf-owner');
    const a = await t.call('POST', '/approvals', {
      agentKey: owned.key,
      body: { action_type: 'deploy', title: 'owned-direct', payload: { n: 5 } },
    });
    await t.call('PUT', `/approvals/${a.body.id}`, { token: admin.token, body: { status: 'denied', reason: 'wait' } });
    const b = await t.call('POST', '/approvals', {
      agentKey: owned.key,
      body: { action_type: 'deploy', title: 'owned-vote', payload: { n: 6 } },
    });
    await t.call('PUT', `/approvals/${b.body.id}/vote`, { token: op.token, body: { vote: 'approve' } });
    const items = await t.db.all<{
      type: string;
      entity_type: string;
      entity_id: string;
      title: string;
      summary: string;
    }>(
      "SELECT type, entity_type, entity_id, title, summary FROM operator_inbox WHERE operator_id = 'cf-owner' AND type LIKE 'approval_%' ORDER BY id",
    );
    expect(items).toEqual([
      {
        type: 'approval_denied',
        entity_type: 'approval',
        entity_id: String(a.body.id),
        title: 'DENIED: [deploy] owned-direct — wait',
        summary: 'alpha',
      },
      {
        type: 'approval_approved',
        entity_type: 'approval',
        entity_id: String(b.body.id),
        title: 'APPROVED: [deploy] owned-vote — Quorum reached',
        summary: 'alpha',
      },
    ]);
  });

  it('a direct decision stores the decider reason and its event names the decision (spec 04 §2.3)', async () => {
    const a = await t.call('POST', '/approvals', {
      agentKey: alpha.key,
      body: { action_type: 'deploy', title: 'stored-reason', payload: { n: 7 } },
    });
    await t.call('PUT', `/approvals/${a.body.id}`, {
      token: admin.token,
      body: { status: 'approved', reason: 'looks right' },
    });
    const g = await t.call('GET', `/approvals/${a.body.id}`, { admin: true });
    expect(g.body).toMatchObject({ status: 'approved', reason: 'looks right', decided_by: 'cf-admin' });
    const ev = await t.db.get<{ summary: string; project_id: string }>(
      "SELECT summary, project_id FROM events WHERE type = 'approval_approved' AND summary LIKE '%stored-reason%'",
    );
    expect(ev).toEqual({ summary: 'cf-admin approved [deploy] stored-reason', project_id: 'alpha' });

    const b = await t.call('POST', '/approvals', {
      agentKey: alpha.key,
      body: { action_type: 'deploy', title: 'deny-no-reason', payload: { n: 8 } },
    });
    await t.call('PUT', `/approvals/${b.body.id}`, { admin: true, body: { status: 'denied' } });
    expect((await t.call('GET', `/approvals/${b.body.id}`, { admin: true })).body).toMatchObject({
      status: 'denied',
      reason: '',
    });
    expect((await notesTo(alpha.id, 'deny-no-reason')).map((x) => x.content)).toEqual([
      'DENIED: [deploy] deny-no-reason',
    ]);
  });

  it('a direct approve without a reason sends the bare APPROVED line', async () => {
    const a = await t.call('POST', '/approvals', {
      agentKey: alpha.key,
      body: { action_type: 'deploy', title: 'no-reason', payload: { n: 4 } },
    });
    await t.call('PUT', `/approvals/${a.body.id}`, { admin: true, body: { status: 'approved' } });
    const notes = await notesTo(alpha.id, 'no-reason');
    expect(notes.map((x) => x.content)).toEqual(['APPROVED: [deploy] no-reason']);
  });
});

describe('spec 03 §3.5: admins and operators assign work; claims never steal applies to agents only', () => {
  it('the admin key and an operator reassign a task another agent holds; assignee null clears it; an agent still cannot take it', async () => {
    const created = await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'reassign me', project_id: 'alpha' },
    });
    expect(created.status).toBe(200);
    const id = created.body.id;
    expect((await t.call('POST', `/tasks/${id}/claim`, { agentKey: alpha.key })).status).toBe(200);

    // An agent's own PUT cannot take the task from its holder (409 {error, assignee}, as a claim).
    const steal = await t.call('PUT', `/tasks/${id}`, { agentKey: alpha2.key, body: { assignee: alpha2.id } });
    expect(steal.status).toBe(409);
    expect(steal.body).toMatchObject({ error: 'Task already claimed', assignee: alpha.id });

    const byAdmin = await t.call('PUT', `/tasks/${id}`, { admin: true, body: { assignee: alpha2.id } });
    expect(byAdmin.status).toBe(200);
    expect((await t.db.get<{ assignee: string }>('SELECT assignee FROM tasks WHERE id = ?', [id]))?.assignee).toBe(
      alpha2.id,
    );

    const byOperator = await t.call('PUT', `/tasks/${id}`, { token: op.token, body: { assignee: alpha.id } });
    expect(byOperator.status).toBe(200);
    expect((await t.db.get<{ assignee: string }>('SELECT assignee FROM tasks WHERE id = ?', [id]))?.assignee).toBe(
      alpha.id,
    );

    const cleared = await t.call('PUT', `/tasks/${id}`, { token: op.token, body: { assignee: null } });
    expect(cleared.status).toBe(200);
    expect(
      (await t.db.get<{ assignee: string | null }>('SELECT assignee FROM tasks WHERE id = ?', [id]))?.assignee ?? '',
    ).toBe('');

    // Free again: the agent may now take it with its own PUT.
    expect((await t.call('PUT', `/tasks/${id}`, { agentKey: alpha2.key, body: { assignee: alpha2.id } })).status).toBe(
      200,
    );
  });

  it('the same holds for bugs (one shared rule for work items)', async () => {
    const bug = await t.call('POST', '/bugs', {
      agentKey: alpha.key,
      body: { title: 'reassign bug', description: 'd', project_id: 'alpha' },
    });
    expect(bug.status).toBe(200);
    const id = bug.body.id;
    expect((await t.call('POST', `/bugs/${id}/claim`, { agentKey: alpha.key })).status).toBe(200);
    const steal = await t.call('PUT', `/bugs/${id}`, { agentKey: alpha2.key, body: { assignee: alpha2.id } });
    expect(steal.status).toBe(409);
    expect(steal.body.assignee).toBe(alpha.id);
    expect((await t.call('PUT', `/bugs/${id}`, { token: op.token, body: { assignee: alpha2.id } })).status).toBe(200);
    expect((await t.db.get<{ assignee: string }>('SELECT assignee FROM bugs WHERE id = ?', [id]))?.assignee).toBe(
      alpha2.id,
    );
    expect((await t.call('PUT', `/bugs/${id}`, { admin: true, body: { assignee: null } })).status).toBe(200);
    expect(
      (await t.db.get<{ assignee: string | null }>('SELECT assignee FROM bugs WHERE id = ?', [id]))?.assignee ?? '',
    ).toBe('');
  });
});

describe('spec 04 §3.2 / SEC-16: system-written context keys follow the agent project', () => {
  it('md_report and standup written by the heartbeat belong to the agent project; a foreign agent is refused like any foreign read', async () => {
    const bravo = await registerAgent(t, 'cf-bravo', 'bravo');
    const writer = await registerAgent(t, 'cf-writer', 'alpha');
    // A row left shared by an older build is brought into the project on the next system write.
    await t.db.run(
      "INSERT INTO context_keys (namespace, key, data, updated_by) VALUES (?, 'md_report', '{}', 'system')",
      [writer.id],
    );
    const hb = await t.call('POST', '/agents/heartbeat', {
      agentKey: writer.key,
      body: { status: 'online', working_on: 'x', state_snapshot: { md_report: { summary: 'private notes' } } },
    });
    expect(hb.status).toBe(200);
    await t.settle();
    const rows = await t.db.all<{ key: string; project_id: string | null }>(
      'SELECT key, project_id FROM context_keys WHERE namespace = ? ORDER BY key',
      [writer.id],
    );
    expect(rows).toEqual([
      { key: 'md_report', project_id: 'alpha' },
      { key: 'standup', project_id: 'alpha' },
    ]);

    // The same answer a foreign agent gets for any key of another project.
    await t.call('PUT', '/context/keys/cf-alpha-ns/secret', { agentKey: alpha.key, body: { data: { k: 1 } } });
    const otherForeign = await t.call('GET', '/context/keys/cf-alpha-ns/secret', { agentKey: bravo.key });
    expect(otherForeign.status).toBe(403);
    for (const key of ['md_report', 'standup']) {
      const foreign = await t.call('GET', `/context/keys/${writer.id}/${key}`, { agentKey: bravo.key });
      expect(foreign.status, key).toBe(403);
      expect(foreign.body.error, key).toBe(otherForeign.body.error.replace('cf-alpha-ns', writer.id));
      expect((await t.call('GET', `/context/keys/${writer.id}/${key}`, { agentKey: writer.key })).status, key).toBe(
        200,
      );
      expect((await t.call('GET', `/context/keys/${writer.id}/${key}`, { agentKey: alpha2.key })).status, key).toBe(
        200,
      );
    }
    const listed = await t.call('GET', `/context/keys/${writer.id}`, { agentKey: bravo.key });
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual([]);
    expect((await t.call('GET', `/context/keys?search=private`, { agentKey: bravo.key })).text).not.toContain(
      'private notes',
    );
  });

  it('boot stores standup in the agent project too', async () => {
    const booter = await registerAgent(t, 'cf-booter', 'alpha');
    const b = await t.call('GET', `/boot/${booter.id}`, { agentKey: booter.key });
    expect(b.status).toBe(200);
    const row = await t.db.get<{ project_id: string | null }>(
      "SELECT project_id FROM context_keys WHERE namespace = ? AND key = 'standup'",
      [booter.id],
    );
    expect(row?.project_id).toBe('alpha');
  });
});
