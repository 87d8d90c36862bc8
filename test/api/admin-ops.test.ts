import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agent: { id: string; key: string };
let stale: { id: string; key: string };
let op: { token: string };
let boss: { token: string };

beforeAll(async () => {
  t = await startTarget();
  agent = await registerAgent(t, 'ops-agent', 'opsp');
  stale = await registerAgent(t, 'ops-stale', 'opsp');
  op = await createOperator(t, 'ops-op', 'operator');
  boss = await createOperator(t, 'ops-boss', 'admin');
});
afterAll(async () => t?.close());

async function makeStale(id: string) {
  await t.db.run(
    "UPDATE agents SET status = 'online', working_on = 'something', last_heartbeat = '2020-01-01 00:00:00' WHERE id = ?",
    [id],
  );
}

/** Reads an SSE response until `needle` shows up (bounded wait, not a timing assertion). */
async function readUntil(res: Response, needle: string, ms = 5000): Promise<string> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  try {
    while (!text.includes(needle)) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
      if (!chunk || chunk.done) break;
      text += dec.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

describe('health patrol', () => {
  it('SEC-55: GET /admin/health is a read-only preview; running the patrol is admin-only', async () => {
    await makeStale(stale.id);
    await t.db.run("UPDATE agents SET status = 'online', last_heartbeat = datetime('now') WHERE id = ?", [agent.id]);
    await t.db.run(
      "INSERT INTO tasks (title, requester, status, assignee) VALUES ('stuck work', 'x', 'in_progress', ?)",
      [stale.id],
    );
    const eventsBefore = await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events');
    const preview = await t.call('GET', '/admin/health', { agentKey: agent.key });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({
      dry_run: true,
      stale_agents: 1,
      stale_tasks: 1,
      stale_requests: 0,
      stale_drones: 0,
      stale_plan_steps: 0,
    });
    expect(preview.body.actions).toEqual(
      expect.arrayContaining([
        { type: 'agent_offline', agent_id: stale.id },
        expect.objectContaining({ type: 'stale_task_warning', assignee: stale.id }),
      ]),
    );
    expect(Date.parse(preview.body.run_at)).not.toBeNaN();
    const statusOf = async () =>
      (await t.db.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [stale.id]))?.status;
    expect(await statusOf()).toBe('online');
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))?.n).toBe(eventsBefore?.n);
    const denied = await t.call('POST', '/admin/health/run', { agentKey: agent.key });
    expect([401, 403]).toContain(denied.status);
    expect((await t.call('POST', '/admin/health/run', { token: op.token })).status).toBe(403);
    expect(await statusOf()).toBe('online');
  });

  it('REL-15: the run marks stale agents offline (heartbeat untouched) and its events reach the live stream', async () => {
    await makeStale(stale.id);
    const stream = await t.fetch('/api/mycelium/events/stream?type=health_patrol', {
      headers: { 'X-Admin-Key': t.adminKey, 'X-Forwarded-For': '203.0.113.90' },
    });
    expect(stream.status).toBe(200);
    const reading = readUntil(stream, `Agent ${stale.id} marked offline`);
    const run = await t.call('POST', '/admin/health/run', { admin: true });
    expect(run.status).toBe(200);
    expect(run.body.dry_run).toBeUndefined();
    expect(run.body.stale_agents).toBe(1);
    const text = await reading;
    expect(text).toContain(`Agent ${stale.id} marked offline (no heartbeat in 15 min)`);
    const row = await t.db.get<{ status: string; working_on: string; last_heartbeat: string }>(
      'SELECT status, working_on, last_heartbeat FROM agents WHERE id = ?',
      [stale.id],
    );
    expect(row).toEqual({ status: 'offline', working_on: '', last_heartbeat: '2020-01-01 00:00:00' });
    expect((await t.db.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [agent.id]))?.status).toBe(
      'online',
    );
    const hist = await t.call('GET', '/admin/health/history?limit=5', { agentKey: agent.key });
    expect(hist.body[0]).toMatchObject({ type: 'health_patrol', agent: '__system__', project_id: null });
    expect(hist.body.some((e: { summary: string }) => e.summary.startsWith(`Agent ${stale.id} marked offline`))).toBe(
      true,
    );
  });

  it('patrol thresholds come from instance config', async () => {
    await t.db.run(
      "UPDATE agents SET status = 'online', last_heartbeat = datetime('now', '-20 minutes') WHERE id = ?",
      [stale.id],
    );
    expect((await t.call('GET', '/admin/health', { admin: true })).body.stale_agents).toBe(1);
    await t.call('PUT', '/admin/config/patrol_stale_agent_minutes', { admin: true, body: { value: 30 } });
    expect((await t.call('GET', '/admin/health', { admin: true })).body.stale_agents).toBe(0);
  });
});

describe('cleanup, dashboards, reconciliation', () => {
  it('POST /admin/cleanup deletes old resolved/info messages and old events, and reports counts', async () => {
    await t.db.run(
      "INSERT INTO events (type, summary, created_at) VALUES ('x_old', 'old', '2001-01-01 00:00:00'), ('x_new', 'new', datetime('now'))",
    );
    await t.db.run(
      `INSERT INTO messages (from_agent, to_agent, content, msg_type, status, created_at) VALUES
       ('a', 'b', 'old info', 'info', 'sent', '2001-01-01 00:00:00'),
       ('a', 'b', 'old open question', 'message', 'sent', '2001-01-01 00:00:00'),
       ('a', 'b', 'new info', 'info', 'sent', datetime('now'))`,
    );
    for (let i = 0; i < 55; i++) await t.db.run("INSERT INTO agent_savepoints (agent_id) VALUES ('sp-agent')");
    await t.db.run("INSERT INTO agent_savepoints (agent_id) VALUES ('other-agent')");
    expect((await t.call('POST', '/admin/cleanup', { admin: true, body: { event_days: 'soon' } })).status).toBe(400);
    const r = await t.call('POST', '/admin/cleanup', { admin: true, body: {} });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ok: true,
      messages_archived: 1,
      events_archived: 1,
      webhooks_archived: 0,
      savepoints_pruned: 5,
    });
    const kept = await t.db.get<{ n: number; min: number }>(
      "SELECT COUNT(*) AS n, MIN(id) AS min FROM agent_savepoints WHERE agent_id = 'sp-agent'",
    );
    const newest = await t.db.get<{ id: number }>(
      "SELECT id FROM agent_savepoints WHERE agent_id = 'sp-agent' ORDER BY id DESC LIMIT 1 OFFSET 49",
    );
    expect(kept).toEqual({ n: 50, min: newest!.id });
    expect(
      (await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM agent_savepoints WHERE agent_id = 'other-agent'"))?.n,
    ).toBe(1);
    expect(
      (await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE content = 'old open question'"))?.n,
    ).toBe(1);
    const ev = await t.db.get<{ summary: string }>(
      "SELECT summary FROM events WHERE type = 'admin_cleanup' ORDER BY id DESC",
    );
    expect(ev?.summary).toBe('Cleanup: 1 messages, 1 events, 0 webhook deliveries, 5 savepoints pruned');
  });

  it('GET /admin/ops and /admin/overview answer with the documented keys', async () => {
    await t.call('POST', '/approvals', {
      agentKey: agent.key,
      body: { action_type: 'deploy', title: 'ship it', payload: {}, project: 'opsp' },
    });
    const ops = await t.call('GET', '/admin/ops', { admin: true });
    expect(Object.keys(ops.body).sort()).toEqual([
      'failed_drone_jobs',
      'open_prs',
      'pending_approvals',
      'pending_requests',
      'stale_requests',
      'unassigned_bugs',
      'unassigned_tasks',
    ]);
    expect(ops.body.pending_approvals[0]).toMatchObject({ title: 'ship it', status: 'pending' });
    const ov = await t.call('GET', '/admin/overview', { token: boss.token });
    expect(Object.keys(ov.body).sort()).toEqual(['agents', 'attention', 'counts', 'recent_activity']);
    expect(ov.body.counts).toMatchObject({
      approvals_pending: 1,
      tasks_in_progress: 1,
      drones_online: 0,
      drone_jobs_pending: 0,
    });
    expect(ov.body.agents.find((a: { id: string }) => a.id === stale.id).heartbeat).toMatch(/^\d+[smhd] ago$/);
    expect(ov.body.attention).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'pending_approval', title: 'ship it', action: 'approve_or_deny' }),
      ]),
    );
    expect(ov.body.recent_activity[0]).toMatch(/\(\d+[smhd] ago\)$/);
    const verbose = await t.call('GET', '/admin/overview?verbose=true', { admin: true });
    expect(verbose.body).toHaveProperty('tasks.in_progress');
    expect(verbose.body).toHaveProperty('instance_config');
    expect(verbose.text).not.toContain('api_key_hash');
    expect(verbose.text).not.toContain('password_hash');
  });

  it('GET /reconciliation lists work stuck in_progress beyond the threshold', async () => {
    await t.db.run("UPDATE tasks SET updated_at = '2020-01-01 00:00:00' WHERE title = 'stuck work'");
    const r = await t.call('GET', '/reconciliation?threshold_hours=2', { admin: true });
    expect(r.body).toMatchObject({ threshold_minutes: 120, counts: { tasks: 1, bugs: 0, plan_steps: 0, total: 1 } });
    expect(r.body.generated_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(r.body.tasks[0]).toEqual({
      id: expect.any(Number),
      project_id: '',
      title: 'stuck work',
      status: 'in_progress',
      assignee: stale.id,
      updated_at: '2020-01-01 00:00:00',
    });
    expect((await t.call('GET', '/reconciliation?threshold_minutes=abc', { admin: true })).body.threshold_minutes).toBe(
      1440,
    );
    expect((await t.call('GET', '/reconciliation')).status).toBe(401);
  });

  it('backups: a verified online copy on Node, a clear refusal on Workers', async () => {
    const list = await t.call('GET', '/admin/backups', { admin: true });
    const made = await t.call('POST', '/admin/backups', { admin: true });
    if (t.runtime === 'node') {
      expect(list.body).toEqual({ backups: [], count: 0 });
      expect(made.body).toMatchObject({
        ok: true,
        verified: true,
        name: expect.stringMatching(/^mycelium_\d{8}_\d{6}(_\d+)?\.db$/),
      });
      const after = await t.call('GET', '/admin/backups', { admin: true });
      expect(after.body.count).toBe(1);
      expect(after.body.backups[0]).toMatchObject({
        name: made.body.name,
        size_mb: expect.any(Number),
        created: expect.any(String),
      });
    } else {
      expect(list.status).toBe(503);
      expect(list.body.error).toMatch(/not available on this runtime/);
      expect(made.status).toBe(503);
    }
  });
});

describe('route × role matrix for admin-only routes', () => {
  const routes: [string, string, unknown?][] = [
    ['POST', '/admin/cleanup', {}],
    ['POST', '/admin/health/run'],
    ['GET', '/admin/ops'],
    ['GET', '/admin/overview'],
    ['GET', '/admin/overview?verbose=true'],
    ['GET', '/admin/backups'],
    ['POST', '/admin/backups'],
    ['GET', '/reconciliation'],
    ['PUT', '/admin/config/instance_mode', { value: 'developer' }],
    ['PUT', '/approvals/1', { status: 'denied' }],
    ['GET', '/context/stats'],
    ['POST', '/context/keys/bulk-delete', { ids: [1] }],
    ['PUT', '/spend/budgets', { scope: 'agent', scope_id: 'x', limit_usd: 1 }],
    ['DELETE', '/spend/budgets/1'],
  ];

  it('an agent key is refused on every admin-only route, anonymous gets 401, a non-admin operator 403', async () => {
    for (const [method, path, body] of routes) {
      const asAgent = await t.call(method, path, { agentKey: agent.key, body });
      expect(asAgent.status, `agent ${method} ${path}`).toBe(401);
      expect(asAgent.body).toEqual({ error: 'Authentication required' });
      const anon = await t.call(method, path, { body });
      expect(anon.status, `anonymous ${method} ${path}`).toBe(401);
      const operator = await t.call(method, path, { token: op.token, body });
      expect(operator.status, `operator ${method} ${path}`).toBe(403);
      expect(operator.body).toEqual({ error: 'Admin role required' });
    }
  });

  it('admins (admin key or admin operator) get past the guard on every one', async () => {
    for (const [method, path, body] of routes) {
      for (const who of [{ admin: true }, { token: boss.token }]) {
        const r = await t.call(method, path, { ...who, body });
        expect([401, 403], `${method} ${path}`).not.toContain(r.status);
      }
    }
  });
});
