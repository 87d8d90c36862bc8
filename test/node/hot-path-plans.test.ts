import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import type { Statement } from '../../worker/src/db/types.js';

/**
 * Issue 11 "growth": an agent's heartbeat and boot cost what its own work costs, not what the
 * database holds. Every statement these calls send is run through EXPLAIN QUERY PLAN; a full SCAN
 * of tasks, messages, events or agent_savepoints fails the test. A count of rows a plan may visit
 * is structural, like the round-trip counts in worker-budgets.test.ts — no timing involved.
 */
const GROWING = new Set(['tasks', 'messages', 'events', 'agent_savepoints']);

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

/** alias → table, from the FROM / JOIN clauses of one statement. */
function aliases(sql: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\b(?:FROM|JOIN|UPDATE|INTO)\s+([a-z_]+)(?:\s+(?:AS\s+)?([a-z_]+))?/gi;
  for (const m of sql.matchAll(re)) {
    const table = m[1].toLowerCase();
    out.set(table, table);
    const alias = m[2]?.toLowerCase();
    if (alias && !/^(where|on|join|left|inner|order|group|limit|set|values|select|using|cross)$/.test(alias))
      out.set(alias, table);
  }
  return out;
}

async function fullScans(): Promise<string[]> {
  const bad: string[] = [];
  for (const s of seen.values()) {
    const plan = await t.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${s.sql}`, s.args ?? []);
    const names = aliases(s.sql);
    for (const { detail } of plan) {
      const m = /^SCAN (\w+)/.exec(detail);
      if (!m) continue;
      const table = names.get(m[1].toLowerCase()) ?? m[1].toLowerCase();
      if (GROWING.has(table)) bad.push(`${detail}\n    in: ${s.sql.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
  }
  return bad;
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
    const bad = await fullScans();
    expect(bad, `full scans on hot paths:\n${bad.join('\n')}`).toEqual([]);
  }, 60_000);
});
