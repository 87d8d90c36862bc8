import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let adb: Db;
let a: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'auto-a', 'proj');
  await registerAgent(t, 'auto-b', 'proj');
  expect((await t.call('PUT', '/plugins/workflow-automations/enable', { admin: true })).body).toMatchObject({
    loaded: true,
  });
  adb = new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', 'workflow-automations.db')));
});
afterAll(async () => {
  await adb.close();
  await t.close();
});

async function until<T>(fn: () => Promise<T | undefined | null>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const v = await fn();
    if (v) return v;
    await t.settle();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

async function eventIdOfTask(taskId: number) {
  return (await t.db.get<{ id: number }>(
    "SELECT id FROM events WHERE type = 'task_created' AND json_extract(data, '$.task_id') = ?",
    [taskId],
  ))!.id;
}

describe('workflow-automations', () => {
  it('an automation fires exactly once per event (message sent, logged once, counted once)', async () => {
    const rule = await t.call('POST', '/automations/rules', {
      admin: true,
      body: {
        name: 'tell b',
        trigger_event: 'task_created',
        conditions: { agent_id: 'auto-a' },
        actions: [
          { type: 'send_message', to: 'auto-b', content: 'Task #{{task_id}} created by {{agent}} ({{event_type}})' },
        ],
      },
    });
    expect(rule.status).toBe(200);
    const ruleId = rule.body.id;
    const task = await t.call('POST', '/tasks', { agentKey: a.key, body: { title: 'trigger me' } });
    expect(task.status).toBe(200);
    const evId = await eventIdOfTask(task.body.id);
    const log = await until(() =>
      adb.get<{ status: string; actions_taken: string }>(
        "SELECT status, actions_taken FROM automation_log WHERE rule_id = ? AND event_id = ? AND status <> 'running'",
        [ruleId, evId],
      ),
    );
    expect(log.status).toBe('success');
    expect(JSON.parse(log.actions_taken)).toEqual([{ type: 'send_message', to: 'auto-b' }]);
    // More traffic, more settling: still exactly one execution and one message for that event.
    await t.call('GET', '/health');
    await t.settle();
    expect(
      (await adb.get<{ n: number }>('SELECT COUNT(*) AS n FROM automation_log WHERE rule_id = ? AND event_id = ?', [
        ruleId,
        evId,
      ]))!.n,
    ).toBe(1);
    const msgs = await t.db.all('SELECT from_agent, to_agent, content FROM messages WHERE to_agent = ?', ['auto-b']);
    expect(msgs).toEqual([
      {
        from_agent: '__automation__',
        to_agent: 'auto-b',
        content: `Task #${task.body.id} created by auto-a (task_created)`,
      },
    ]);
    expect((await t.call('GET', `/automations/rules/${ruleId}`, { admin: true })).body.run_count).toBe(1);
    // A non-matching event (admin creates a task) does not fire.
    await t.call('POST', '/tasks', { admin: true, body: { title: 'not by a' } });
    await t.settle();
    expect(
      (await adb.get<{ n: number }>('SELECT COUNT(*) AS n FROM automation_log WHERE rule_id = ?', [ruleId]))!.n,
    ).toBe(1);
    await t.call('PUT', `/automations/rules/${ruleId}`, { admin: true, body: { enabled: false } });
  });

  it('loop protection: a rule whose action causes its own trigger event runs once, not forever (W7)', async () => {
    const rule = await t.call('POST', '/automations/rules', {
      admin: true,
      body: {
        name: 'echo task',
        trigger_event: 'task_created',
        actions: [{ type: 'create_task', title: 'follow-up of {{task_id}}', project_id: 'proj' }],
      },
    });
    const before = (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))!.n;
    const task = await t.call('POST', '/tasks', { agentKey: a.key, body: { title: 'seed' } });
    const follow = await until(() =>
      t.db.get<{ id: number; requester: string }>('SELECT id, requester FROM tasks WHERE title = ?', [
        `follow-up of ${task.body.id}`,
      ]),
    );
    expect(follow.requester).toBe('__automation__');
    await t.call('GET', '/health');
    await t.settle();
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))!.n).toBe(before + 2);
    expect(
      (await adb.get<{ n: number }>('SELECT COUNT(*) AS n FROM automation_log WHERE rule_id = ?', [rule.body.id]))!.n,
    ).toBe(1);
    await t.call('DELETE', `/automations/rules/${rule.body.id}`, { admin: true });
  });

  it('SEC-31: a webhook action to an internal address is blocked and recorded, never sent', async () => {
    const rule = await t.call('POST', '/automations/rules', {
      admin: true,
      body: {
        name: 'hook',
        trigger_event: 'ping_custom',
        actions: [
          { type: 'send_webhook', url: 'http://127.0.0.1:9/hook' },
          { type: 'inbox_notify', title: 'pinged' },
        ],
      },
    });
    const r = await t.call('POST', `/automations/rules/${rule.body.id}/trigger`, {
      admin: true,
      body: { event_data: { x: 1 } },
    });
    expect(r.status).toBe(200);
    expect(r.body.actions[0]).toMatchObject({ type: 'send_webhook', url: 'http://127.0.0.1:9/hook', blocked: true });
    expect(r.body.actions[1]).toEqual({ type: 'inbox_notify' });
    expect(r.body.status).toBe('success');
  });

  it('rules are admin-only to write; bad rule input is a 400 naming the field; test endpoint reports matching', async () => {
    const byAgent = await t.call('POST', '/automations/rules', {
      agentKey: a.key,
      body: { name: 'x', trigger_event: 'task_created' },
    });
    expect(byAgent.status).toBe(401);
    expect((await t.call('GET', '/automations/rules', { agentKey: a.key })).status).toBe(200);
    expect((await t.call('POST', '/automations/rules', { admin: true, body: { name: 'x' } })).body.error).toBe(
      'name and trigger_event are required',
    );
    expect(
      (
        await t.call('POST', '/automations/rules', {
          admin: true,
          body: { name: 'x', trigger_event: 'a', actions: [{ type: 'rm_rf' }] },
        })
      ).body.error,
    ).toBe(
      'actions.0.type must be one of: create_task, send_message, file_bug, assign_agent, send_webhook, inbox_notify',
    );
    expect(
      (
        await t.call('POST', '/automations/rules', {
          admin: true,
          body: { name: 'x', trigger_event: 'a', conditions: { eval: '1' } },
        })
      ).status,
    ).toBe(400);
    const rule = await t.call('POST', '/automations/rules', {
      admin: true,
      body: { name: 'crit', trigger_event: 'bug_created', conditions: { field_equals: { severity: 'critical' } } },
    });
    const yes = await t.call('POST', `/automations/rules/${rule.body.id}/test`, {
      admin: true,
      body: { event_data: { severity: 'critical' } },
    });
    expect(yes.body).toMatchObject({ matched: true, note: 'Conditions matched — actions would execute' });
    const no = await t.call('POST', `/automations/rules/${rule.body.id}/test`, {
      admin: true,
      body: { event_data: { severity: 'low' } },
    });
    expect(no.body.matched).toBe(false);
    expect((await t.call('GET', '/automations/rules/999', { admin: true })).body.error).toBe('Rule not found');
  });

  it('templates are seeded; a rule can be made from one; log, stats and widget answer', async () => {
    const tpl = await t.call('GET', '/automations/templates', { agentKey: a.key });
    expect(tpl.body.map((x: { id: number }) => x.id)).toEqual([1, 2, 3, 4]);
    const r = await t.call('POST', '/automations/rules/from-template/2', { admin: true, body: {} });
    expect(r.body).toMatchObject({
      ok: true,
      template_id: 2,
      rule: { name: 'Notify on plan completion', trigger_event: 'plan_step_completed' },
    });
    expect((await t.call('POST', '/automations/rules/from-template/99', { admin: true, body: {} })).body.error).toBe(
      'Template not found',
    );
    expect((await t.call('GET', '/automations/log?limit=5', { agentKey: a.key })).status).toBe(200);
    expect((await t.call('GET', '/automations/stats', { agentKey: a.key })).body.last_24h).toBeGreaterThan(0);
    expect(
      (await t.call('GET', '/automations/widgets/activity', { agentKey: a.key })).body.triggered_last_24h,
    ).toBeGreaterThan(0);
  });
});
