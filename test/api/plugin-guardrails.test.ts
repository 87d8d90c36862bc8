import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let gdb: Db;
let x: { id: string; key: string };
let y: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  x = await registerAgent(t, 'agent-x', 'proj');
  y = await registerAgent(t, 'agent-y', 'proj');
  const en = await t.call('PUT', '/plugins/guardrails/enable', { admin: true });
  expect(en.body.loaded).toBe(true);
  gdb = new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', 'guardrails.db')));
});
afterAll(async () => {
  await gdb.close();
  await t.close();
});

async function until<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await fn();
    if (v) return v;
    await t.settle();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

const blockX = {
  name: 'no-tasks',
  trigger_event: 'task_created',
  enforcement: 'block',
  conditions: { type: 'custom', checks: [{ field: 'agent', op: 'eq', value: 'agent-x' }] },
};

describe('guardrails', () => {
  it('SEC-36: a block rule stops task creation with 403 and the task does not exist; without the rule it is created', async () => {
    const created = await t.call('POST', '/guardrails/rules', { admin: true, body: blockX });
    expect(created.status).toBe(200);
    expect(created.body.rule).toMatchObject({
      name: 'no-tasks',
      enforcement: 'block',
      created_by: '__system__',
      enabled: 1,
    });
    const ruleId = created.body.rule.id;

    const blocked = await t.call('POST', '/tasks', { agentKey: x.key, body: { title: 'forbidden work' } });
    expect(blocked.status).toBe(403);
    expect(blocked.body.error).toBe('Blocked by guardrail: no-tasks');
    expect(blocked.body.violations).toEqual([
      { rule_id: ruleId, rule_name: 'no-tasks', detail: 'Custom rule violated' },
    ]);
    expect(await t.db.get("SELECT id FROM tasks WHERE title = 'forbidden work'")).toBeUndefined();
    // The block is logged as a violation (W5).
    const v = await gdb.get('SELECT agent_id, enforcement, trigger_event FROM guardrail_violations WHERE rule_id = ?', [
      ruleId,
    ]);
    expect(v).toEqual({ agent_id: 'agent-x', enforcement: 'block', trigger_event: 'task_created' });
    expect(await t.db.get("SELECT type FROM events WHERE type = 'guardrail_blocked'")).toBeTruthy();

    // Negative controls: another agent passes; and with the rule removed, X passes.
    const other = await t.call('POST', '/tasks', { agentKey: y.key, body: { title: 'allowed work' } });
    expect(other.status).toBe(200);
    expect((await t.call('DELETE', `/guardrails/rules/${ruleId}`, { admin: true })).body).toEqual({
      ok: true,
      deleted: ruleId,
    });
    const after = await t.call('POST', '/tasks', { agentKey: x.key, body: { title: 'forbidden work' } });
    expect(after.status).toBe(200);
    expect(await t.db.get("SELECT id FROM tasks WHERE title = 'forbidden work'")).toBeTruthy();
  });

  it('SEC-36 / REL-13: rules are enforced through the production wiring on a plugin-made write too (automation path)', async () => {
    // A block rule on bug creation also stops bugs filed through the host API (same pre-check).
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-bugs-x',
        trigger_event: 'bug_created',
        enforcement: 'block',
        conditions: { type: 'block_agent', agent_id: 'agent-x' },
      },
    });
    expect(rule.status).toBe(200);
    const r = await t.call('POST', '/bugs', { agentKey: x.key, body: { title: 'b', description: 'd' } });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('Blocked by guardrail: no-bugs-x');
    expect(await t.db.get("SELECT id FROM bugs WHERE title = 'b'")).toBeUndefined();
    // A task made by a plugin through the host API passes the same pre-check.
    const auto = await t.call('PUT', '/plugins/workflow-automations/enable', { admin: true });
    expect(auto.body.loaded).toBe(true);
    const block = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-automation-tasks',
        trigger_event: 'task_created',
        enforcement: 'block',
        conditions: { type: 'block_agent', agent_id: '__automation__' },
      },
    });
    const ar = await t.call('POST', '/automations/rules', {
      admin: true,
      body: { name: 'mk', trigger_event: 'manual', actions: [{ type: 'create_task', title: 'made by automation' }] },
    });
    const trig = await t.call('POST', `/automations/rules/${ar.body.id}/trigger`, { admin: true, body: {} });
    expect(trig.body.status).toBe('error');
    expect(trig.body.actions[0]).toEqual({ type: 'create_task', error: 'Blocked by guardrail: no-automation-tasks' });
    expect(await t.db.get("SELECT id FROM tasks WHERE title = 'made by automation'")).toBeUndefined();
    await t.call('PUT', '/plugins/workflow-automations/disable', { admin: true });
    await t.call('DELETE', `/guardrails/rules/${block.body.rule.id}`, { admin: true });
    await t.call('DELETE', `/guardrails/rules/${rule.body.rule.id}`, { admin: true });
  });

  it('warn rules record a violation and let the write through', async () => {
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'need-desc',
        trigger_event: 'task_created',
        enforcement: 'warn',
        conditions: { type: 'require_field', field: 'description' },
      },
    });
    const r = await t.call('POST', '/tasks', { agentKey: y.key, body: { title: 'no description' } });
    expect(r.status).toBe(200);
    const v = await gdb.get('SELECT violation_detail, enforcement FROM guardrail_violations WHERE rule_id = ?', [
      rule.body.rule.id,
    ]);
    expect(v).toEqual({ violation_detail: 'Missing required field: description', enforcement: 'warn' });
    const ok = await t.call('POST', '/tasks', { agentKey: y.key, body: { title: 'with', description: 'yes' } });
    expect(ok.status).toBe(200);
    expect(
      (await gdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM guardrail_violations WHERE rule_id = ?', [
        rule.body.rule.id,
      ]))!.n,
    ).toBe(1);
    await t.call('PUT', `/guardrails/rules/${rule.body.rule.id}`, { admin: true, body: { enabled: false } });
  });

  it('post-hoc: events not covered by a pre-check are evaluated by the hook (one model)', async () => {
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'custom-evt',
        trigger_event: 'deploy_note',
        enforcement: 'log',
        conditions: { type: 'custom', checks: [{ field: 'env', op: 'eq', value: 'prod' }] },
      },
    });
    const e = await t.call('POST', '/events', {
      agentKey: y.key,
      body: { type: 'deploy_note', summary: 's', data: { env: 'prod' } },
    });
    expect(e.status).toBe(200);
    const v = await until(() =>
      gdb.get('SELECT agent_id, enforcement FROM guardrail_violations WHERE rule_id = ?', [rule.body.rule.id]),
    );
    expect(v).toEqual({ agent_id: 'agent-y', enforcement: 'log' });
  });

  it('rules are writable by admins only (agent key → 401 admin auth required), readable by agents', async () => {
    const r = await t.call('POST', '/guardrails/rules', { agentKey: x.key, body: blockX });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('Authentication required');
    expect((await t.call('GET', '/guardrails/rules', { agentKey: x.key })).status).toBe(200);
    expect((await t.call('GET', '/plugins/guardrails/rules', { agentKey: x.key })).status).toBe(200);
  });

  it('SEC-42: code expressions and catastrophic regexes are refused with 400; nothing is stored', async () => {
    const before = (await gdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM guardrail_rules'))!.n;
    const expr = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: { name: 'e', trigger_event: '*', conditions: { type: 'custom', expression: 'process.exit(1)' } },
    });
    expect(expr.status).toBe(400);
    expect(expr.body.error).toBe('conditions: code expressions are not supported (use custom checks)');
    for (const pattern of ['(a+)+$', '(a|aa)*b', '(\\w+\\s?)*$', '(.*a){20}']) {
      const r = await t.call('POST', '/guardrails/rules', {
        admin: true,
        body: {
          name: 'r',
          trigger_event: '*',
          conditions: { type: 'custom', checks: [{ field: 'title', op: 'matches', value: pattern }] },
        },
      });
      expect(r.status, pattern).toBe(400);
      expect(r.body.error).toMatch(/^conditions\.checks\.0\.value: /);
    }
    const fine = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'r',
        trigger_event: 'task_created',
        enforcement: 'warn',
        conditions: { type: 'custom', checks: [{ field: 'title', op: 'matches', value: '^DROP\\s' }] },
      },
    });
    expect(fine.status).toBe(200);
    expect((await gdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM guardrail_rules'))!.n).toBe(before + 1);
    await t.call('DELETE', `/guardrails/rules/${fine.body.rule.id}`, { admin: true });
  });

  it('bad input: 400 naming the field', async () => {
    expect((await t.call('POST', '/guardrails/rules', { admin: true, body: { name: 'x' } })).body.error).toBe(
      'name and trigger_event are required',
    );
    expect(
      (
        await t.call('POST', '/guardrails/rules', {
          admin: true,
          body: { name: 'x', trigger_event: 'a', enforcement: 'deny' },
        })
      ).body.error,
    ).toBe('enforcement must be "warn", "block" or "log"');
    expect((await t.call('GET', '/guardrails/rules/abc', { admin: true })).status).toBe(404);
    expect((await t.call('GET', '/guardrails/violations?limit=x', { admin: true })).body.error).toBe(
      'limit must be an integer',
    );
  });

  it('PUT keeps history and bumps the version; dry-run check logs nothing; override once', async () => {
    const r = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: { name: 'h', trigger_event: 'task_created', conditions: { type: 'require_field', field: 'priority' } },
    });
    const id = r.body.rule.id;
    const u = await t.call('PUT', `/guardrails/rules/${id}`, { admin: true, body: { enforcement: 'log' } });
    expect(u.body.rule).toMatchObject({ version: 2, enforcement: 'log' });
    expect(await gdb.get('SELECT version, enforcement FROM guardrail_rule_history WHERE rule_id = ?', [id])).toEqual({
      version: 1,
      enforcement: 'warn',
    });
    const n0 = (await gdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM guardrail_violations'))!.n;
    const chk = await t.call('POST', '/guardrails/check', {
      agentKey: y.key,
      body: { event_type: 'task_created', data: {} },
    });
    expect(chk.body.results).toContainEqual({
      rule_id: id,
      rule_name: 'h',
      enforcement: 'log',
      violated: true,
      detail: 'Missing required field: priority',
    });
    expect((await gdb.get<{ n: number }>('SELECT COUNT(*) AS n FROM guardrail_violations'))!.n).toBe(n0);
    const vid = (await gdb.get<{ id: number }>('SELECT id FROM guardrail_violations ORDER BY id LIMIT 1'))!.id;
    expect(
      (await t.call('POST', `/guardrails/violations/${vid}/override`, { admin: true })).body.violation.overridden,
    ).toBe(1);
    expect((await t.call('POST', `/guardrails/violations/${vid}/override`, { admin: true })).body.error).toBe(
      'Violation already overridden',
    );
    const stats = await t.call('GET', '/guardrails/stats', { agentKey: y.key });
    expect(stats.body.last_24h).toBeGreaterThan(0);
    const w = await t.call('GET', '/guardrails/widgets/violations', { agentKey: y.key });
    expect(w.body).toMatchObject({ type: 'stat', label: 'Violations (24h)', color: 'red' });
  });

  it('SEC-37: every guarded write route is checked right after authentication, before validation', async () => {
    const routes: [string, string, string][] = [
      ['POST', '/tasks', 'task_created'],
      ['PUT', '/tasks/1', 'task_updated'],
      ['POST', '/messages', 'message_sent'],
      ['POST', '/bugs', 'bug_created'],
      ['POST', '/plans', 'plan_created'],
      ['POST', '/events', 'event_emitted'],
      ['POST', '/requests', 'request_created'],
      ['POST', '/spend', 'spend_logged'],
    ];
    const ids: number[] = [];
    for (const [, , kind] of routes) {
      const r = await t.call('POST', '/guardrails/rules', {
        admin: true,
        body: {
          name: `block-${kind}`,
          trigger_event: kind,
          enforcement: 'block',
          conditions: { type: 'block_agent', agent_id: 'agent-x' },
        },
      });
      ids.push(r.body.rule.id);
    }
    for (const [method, path, kind] of routes) {
      const r = await t.call(method, path, { agentKey: x.key, body: {} });
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.body.error).toBe(`Blocked by guardrail: block-${kind}`);
    }
    const ok = await t.call('POST', '/spend', { agentKey: y.key, body: { cost_usd: 0.5, source: 't' } });
    expect(ok.status).toBe(200);
    expect(ok.body.ok).toBe(true);
    for (const id of ids) await t.call('DELETE', `/guardrails/rules/${id}`, { admin: true });
  });

  it('manifest gatedActions join the approvals allow-list once the plugin loaded', async () => {
    const ok = await t.call('POST', '/approvals', {
      agentKey: x.key,
      body: {
        action_type: 'guardrails_override',
        title: 'override please',
        project_id: 'proj',
        payload: { violation_id: 1 },
      },
    });
    expect(ok.status, ok.text).toBe(200);
    const bad = await t.call('POST', '/approvals', {
      agentKey: x.key,
      body: { action_type: 'not_declared_anywhere', title: 'x', project_id: 'proj', payload: {} },
    });
    expect(bad.body.error).toMatch(/^action_type must be one of: .*guardrails_override/);
    expect(bad.status).toBe(400);
  });

  it('disabling guardrails stops enforcement on the next request', async () => {
    await t.call('POST', '/guardrails/rules', { admin: true, body: { ...blockX, name: 'again' } });
    expect((await t.call('POST', '/tasks', { agentKey: x.key, body: { title: 't1' } })).status).toBe(403);
    await t.call('PUT', '/plugins/guardrails/disable', { admin: true });
    expect((await t.call('POST', '/tasks', { agentKey: x.key, body: { title: 't2' } })).status).toBe(200);
    await t.call('PUT', '/plugins/guardrails/enable', { admin: true });
    expect((await t.call('POST', '/tasks', { agentKey: x.key, body: { title: 't3' } })).status).toBe(403);
  });

  it('violations notify active operators (urgent for block) and repeated violations escalate', async () => {
    await t.db.run(
      "INSERT INTO operators (id, display_name, status) VALUES ('op-1', 'Op One', 'active'), ('op-2', 'Op Two', 'inactive')",
    );
    const w = await registerAgent(t, 'agent-w', 'proj');
    for (const r of (await t.call('GET', '/guardrails/rules', { admin: true })).body)
      await t.call('PUT', `/guardrails/rules/${r.id}`, { admin: true, body: { enabled: false } });
    await t.call('PUT', '/plugins/guardrails/config', { admin: true, body: { escalation_threshold: 3 } });
    const rule = await t.call('POST', '/guardrails/rules', {
      admin: true,
      body: {
        name: 'no-w',
        trigger_event: 'task_created',
        enforcement: 'block',
        conditions: { type: 'block_agent', agent_id: 'agent-w' },
      },
    });
    for (let i = 0; i < 3; i++)
      expect((await t.call('POST', '/tasks', { agentKey: w.key, body: { title: `w${i}` } })).status).toBe(403);
    const items = await t.db.all(
      "SELECT operator_id, type, title, priority FROM operator_inbox WHERE type IN ('guardrail_violation', 'guardrail_escalation') AND (title = 'BLOCKED: no-w' OR title LIKE 'ESCALATION: agent-w%') ORDER BY id",
    );
    expect(items.filter((i) => i.type === 'guardrail_violation')).toHaveLength(3);
    expect(items.every((i) => i.operator_id === 'op-1')).toBe(true);
    expect(items.find((i) => i.type === 'guardrail_violation')).toMatchObject({ priority: 'urgent' });
    expect(items.filter((i) => i.type === 'guardrail_escalation')).toEqual([
      {
        operator_id: 'op-1',
        type: 'guardrail_escalation',
        title: 'ESCALATION: agent-w has 3 violations in the last hour',
        priority: 'urgent',
      },
    ]);
    await t.call('DELETE', `/guardrails/rules/${rule.body.rule.id}`, { admin: true });
  });
});
