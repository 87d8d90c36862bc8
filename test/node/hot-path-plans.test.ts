import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import type { Statement } from '../../worker/src/db/types.js';
import { join } from 'node:path';
import { CORE_DB_FILE } from '../../node-adapter/runtime.js';
import {
  fullScans as scansIn,
  historyOrs,
  messageHistoryWalks,
  planConnection,
  sortedSharedRanges,
} from '../support/query-plan.js';

/**
 * Issue 11 "growth": an agent's heartbeat and boot cost what its own work costs, not what the
 * database holds. Every statement these calls send is run through EXPLAIN QUERY PLAN; a full SCAN
 * of tasks, messages, events or agent_savepoints fails the test. A count of rows a plan may visit
 * is structural, like the round-trip counts in worker-budgets.test.ts — no timing involved.
 * Nor may a statement sort a shared range (every task of a project, every open task) before its
 * LIMIT: boot's savepoint diff did, and 100k tasks made boot 14× slower (`sortedSharedRanges`).
 */
const GROWING = ['tasks', 'messages', 'events', 'agent_savepoints'];

let t: Target;
const seen = new Map<string, Statement>();

beforeAll(async () => {
  t = await startTarget();
  // Record every statement the app sends (the test's own assertions go through t.db too, so
  // recording is switched on only around the calls under test).
  const driver = (t.db as unknown as { driver: Record<string, (...a: unknown[]) => unknown> }).driver;
  const exec = driver.execute.bind(driver);
  const batch = driver.batch.bind(driver);
  driver.execute = (s: unknown) => {
    if (recording) {
      record(s as Statement);
      cost.calls++;
      cost.statements++;
    }
    return exec(s);
  };
  driver.batch = (stmts: unknown) => {
    if (recording) {
      for (const s of stmts as Statement[]) record(s);
      cost.calls++;
      cost.statements += (stmts as Statement[]).length;
    }
    return batch(stmts);
  };
});
afterAll(async () => t?.close());

let recording = false;
/** Driver calls (execute or batch: one round trip each over HTTP) and statements, of the current call. */
const cost = { calls: 0, statements: 0 };
function record(s: Statement) {
  if (/^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)/i.test(s.sql)) seen.set(s.sql, s);
}

/** Full scans and sorted shared ranges of growing tables among the recorded statements. */
async function unbounded(): Promise<string[]> {
  const plans = planConnection(join(t.dataDir, CORE_DB_FILE));
  try {
    const stmts = [...seen.values()];
    return [
      ...(await scansIn(plans, stmts, GROWING)),
      ...(await sortedSharedRanges(plans, stmts, GROWING)),
      ...(await historyOrs(plans, stmts, GROWING)),
      ...(await messageHistoryWalks(plans, stmts)),
    ];
  } finally {
    plans.close();
  }
}

describe('hot agent calls are bounded by indexes (issue 11)', () => {
  it('heartbeat (busy, idle) and boot (slim, smart, verbose) never fully scan tasks, messages, events or savepoints', async () => {
    const a = await registerAgent(t, 'plan-ada', 'plan-proj', { capabilities: ['code'] });
    const b = await registerAgent(t, 'plan-bob', 'plan-proj');
    for (let i = 0; i < 5; i++)
      await t.call('POST', '/tasks', { admin: true, body: { title: `t${i}`, project_id: 'plan-proj' } });
    await t.call('POST', '/tasks', { admin: true, body: { title: 'held', project_id: 'plan-proj', assignee: a.id } });
    await t.call('POST', '/messages', { agentKey: b.key, body: { to_agent: a.id, content: 'hello' } });
    await t.call('POST', '/messages', {
      agentKey: b.key,
      body: { to_agent: a.id, content: 'q?', msg_type: 'request' },
    });
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'x', state_snapshot: { s: 1 } } });

    recording = true;
    const calls: [string, string, unknown?][] = [
      ['POST', '/agents/heartbeat', { status: 'busy', working_on: 'task 1', session_id: 's', messages_acked: [1] }],
      ['POST', '/agents/heartbeat', { status: 'busy', working_on: 'task 1', session_id: 's', messages_acked: [1] }],
      ['POST', '/agents/heartbeat', { status: 'online', working_on: '', state_snapshot: { md_report: { a: 1 } } }],
      ['GET', `/boot/${a.id}`],
      ['GET', `/boot/${a.id}?smart=true`],
      ['GET', `/boot/${a.id}?verbose=true`],
    ];
    const report: string[] = [];
    for (const [method, path, body] of calls) {
      cost.calls = 0;
      cost.statements = 0;
      const r = await t.call(method, path, { agentKey: a.key, body });
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(200);
      await t.settle();
      report.push(`  ${method} ${path}: ${cost.calls} driver calls, ${cost.statements} statements`);
      // A heartbeat is one batch here too (its work is a single transaction on both runtimes).
      if (path === '/agents/heartbeat') expect(cost.calls, `${path} driver calls`).toBe(1);
    }
    console.log(`Node driver calls per hot call (issue 11):\n${report.join('\n')}`);
    recording = false;

    expect(seen.size).toBeGreaterThan(20);
    const bad = await unbounded();
    expect(bad, `unbounded reads on hot paths:\n${bad.join('\n')}`).toEqual([]);
  }, 60_000);

  it('a dispatch pass that hands out work (candidates, scope, the open pool, the assignment) reads no unbounded range', async () => {
    seen.clear();
    const c = await registerAgent(t, 'plan-cat', 'plan-pool', { capabilities: ['code'] });
    const d = await registerAgent(t, 'plan-dan', 'plan-pool');
    // A team gives one candidate a scope read of its own; the pool has a blocked and a ready task.
    await t.db.run("INSERT INTO teams (id, org_id, name) VALUES ('plan-team', 'plan-org', 'T')");
    await t.db.run("INSERT INTO team_members (team_id, user_id, user_type) VALUES ('plan-team', ?, 'agent')", [d.id]);
    await t.db.run("UPDATE agents SET status = 'online', last_heartbeat = datetime('now') WHERE id = ?", [d.id]);
    const first = await t.call('POST', '/tasks', { admin: true, body: { title: 'first', project_id: 'plan-pool' } });
    await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'after first', project_id: 'plan-pool', blocked_by: [first.body.id] },
    });
    await t.call('POST', '/tasks', { admin: true, body: { title: 'free', project_id: 'plan-pool', priority: 'high' } });
    recording = true;
    const r = await t.call('POST', '/agents/heartbeat', {
      agentKey: c.key,
      body: { status: 'online', working_on: '' },
    });
    await t.settle();
    recording = false;
    expect(r.status).toBe(200);
    expect(r.body.auto_dispatched?.length, r.text).toBe(2);
    const bad = await unbounded();
    expect(bad, `unbounded reads in the dispatch pass:\n${bad.join('\n')}`).toEqual([]);
  }, 60_000);
});
