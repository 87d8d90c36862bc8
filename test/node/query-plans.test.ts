import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Statement } from '../../worker/src/db/types.js';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { join } from 'node:path';
import { CORE_DB_FILE } from '../../node-adapter/runtime.js';
import {
  WATCHED_TABLES,
  fullScans,
  historyOrs,
  messageHistoryWalks,
  namesOf,
  planConnection,
  recordStatements,
  sortedSharedRanges,
} from '../support/query-plan.js';

/**
 * Issue 11 (growth): the work poll, a task claim and a context put cost what the agent's own work
 * costs, not what the database holds. Every statement these calls run (recorded from the app's own
 * database object, hooks and background work included) is checked with EXPLAIN QUERY PLAN: no step
 * may read all of tasks, messages or events — nor of any other table these calls touch. Nor may
 * one sort a shared range of tasks, messages or events (a project's, a status's) before its LIMIT.
 * (The queue's open bugs and free plan steps still sort the open pool of each: they grow with the
 * backlog of those, not with tasks or agents.)
 */
/** The three (tasks, messages, events) and every other table these paths read. */
const HOT_TABLES = [
  ...WATCHED_TABLES,
  'agents',
  'plans',
  'plan_steps',
  'bugs',
  'context_keys',
  'context_history',
  'projects',
  'team_members',
];

let t: Target;
let ada: { id: string; key: string };
let bob: { id: string; key: string };
let plans: ReturnType<typeof planConnection>;

async function insert(table: string, cols: Record<string, unknown>): Promise<number> {
  const keys = Object.keys(cols);
  const r = await t.db.get<{ id: number }>(
    `INSERT INTO ${table} (${keys.join(',')}) VALUES (${keys.map(() => '?').join(',')}) RETURNING id`,
    Object.values(cols) as never[],
  );
  return Number(r!.id);
}

beforeAll(async () => {
  t = await startTarget();
  ada = await registerAgent(t, 'qp-ada', 'qp');
  bob = await registerAgent(t, 'qp-bob', 'qp');
  await registerAgent(t, 'qp-pat', 'qp', { capabilities: ['reasoning_planning'] });
  await t.db.run("UPDATE agents SET last_heartbeat = datetime('now') WHERE id = 'qp-pat'");
  // Something in every bucket, and enough unrelated rows that a scan would matter.
  for (let i = 0; i < 40; i++) {
    await insert('tasks', {
      title: `other ${i}`,
      project_id: `elsewhere-${i % 4}`,
      requester: 'admin',
      status: 'open',
    });
  }
  const first = await insert('tasks', { title: 'mine', project_id: 'qp', requester: 'admin', assignee: ada.id });
  await insert('tasks', {
    title: 'blocked',
    project_id: 'qp',
    requester: 'admin',
    status: 'open',
    blocked_by: JSON.stringify([first]),
  });
  const plan = await insert('plans', { title: 'P', project_id: 'qp', status: 'active' });
  await insert('plan_steps', { plan_id: plan, step_order: 1, title: 'S1', status: 'pending' });
  await insert('bugs', { title: 'B', description: 'd', project_id: 'qp', status: 'open', severity: 'high' });
  const req = await t.call('POST', '/requests', { agentKey: bob.key, body: { to_agent: ada.id, content: 'look' } });
  expect(req.status).toBe(200);
  await t.settle();
  plans = planConnection(join(t.dataDir, CORE_DB_FILE));
});
afterAll(async () => {
  plans?.close();
  await t?.close();
});

async function statementsOf(run: () => Promise<void>) {
  let stmts: Statement[] = [];
  const rec = recordStatements(t.db);
  try {
    await run();
    await t.settle();
  } finally {
    // Restores the driver even if the call failed.
    stmts = rec.stop();
  }
  return stmts;
}

describe('EXPLAIN QUERY PLAN of the hot paths (issue 11)', () => {
  it('the helper finds a full scan (and its alias) when there is one', async () => {
    expect(
      namesOf('SELECT * FROM tasks t JOIN messages AS m ON m.id = t.id WHERE t.x = 1', ['tasks', 'messages']),
    ).toEqual(
      new Map([
        ['tasks', 'tasks'],
        ['t', 'tasks'],
        ['messages', 'messages'],
        ['m', 'messages'],
      ]),
    );
    const bad = await fullScans(plans, [{ sql: 'SELECT * FROM tasks t WHERE t.title = ?', args: ['x'] }]);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(/SCAN t .*\(tasks\)/);
    expect(await fullScans(plans, [{ sql: 'SELECT * FROM tasks WHERE id = ?', args: [1] }])).toEqual([]);
  });

  it('the helper finds a sorted shared range: a whole project or status range sorted before its LIMIT', async () => {
    // Boot's savepoint diff before issue 11's growth fix: every task of the agent's projects, sorted.
    const diffBefore = {
      sql: `SELECT * FROM tasks WHERE updated_at > ? AND (assignee = ? OR (COALESCE(assignee, '') = '' AND (project_id = '' OR project_id IN (?))))
            ORDER BY updated_at DESC, id DESC LIMIT 50`,
      args: ['2026-01-01 00:00:00', ada.id, 'qp'],
    };
    // The dispatch pass's open tasks before it: every open task of the scope, sorted by priority.
    const poolBefore = {
      sql: `SELECT t.id FROM tasks t WHERE t.status = 'open' AND COALESCE(t.assignee, '') = '' AND (t.project_id = '' OR t.project_id IN (?))
            ORDER BY CASE t.priority WHEN 'high' THEN 3 ELSE 0 END DESC, t.created_at ASC, t.id ASC LIMIT 25`,
      args: ['qp'],
    };
    for (const s of [diffBefore, poolBefore]) expect(await sortedSharedRanges(plans, [s]), s.sql).toHaveLength(1);
    // Sorting the agent's own rows is bounded by its own work.
    const own = {
      sql: 'SELECT * FROM tasks WHERE assignee = ? ORDER BY priority, created_at LIMIT 20',
      args: [ada.id],
    };
    expect(await sortedSharedRanges(plans, [own])).toEqual([]);
    // …but not on a log: an agent's mail sorted by time is its whole history of messages.
    const mail = {
      sql: 'SELECT * FROM messages WHERE to_agent = ? ORDER BY priority, id DESC LIMIT 20',
      args: [ada.id],
    };
    expect(await sortedSharedRanges(plans, [mail])).toHaveLength(1);
    // A range bounds it (the inbox's news window).
    const news = { ...mail, sql: mail.sql.replace('to_agent = ?', 'to_agent = ? AND id > ?'), args: [ada.id, 5] };
    expect(await sortedSharedRanges(plans, [news])).toEqual([]);
    // A scan of a partial index (the pool of tasks awaiting approval) is not a scan of the table.
    const pool = {
      sql: "SELECT * FROM tasks WHERE needs_approval = 1 AND approved_by IS NULL AND status != 'done' ORDER BY updated_at DESC, id DESC",
      args: [],
    };
    expect(await fullScans(plans, [pool])).toEqual([]);
  });

  it("the helper finds an OR that reads a key's whole history of events or messages", async () => {
    // Boot's event count before the fix: every event of the agent and of its project, then a count.
    const before = {
      sql: 'SELECT COUNT(*) AS n FROM (SELECT 1 FROM events WHERE created_at > ? AND (agent = ? OR project_id IN (?)) LIMIT 50)',
      args: ['2026-01-01 00:00:00', ada.id, 'qp'],
    };
    expect(await historyOrs(plans, [before])).toHaveLength(2);
    // The same OR from an id bound: each branch is a range of its index.
    const bounded = { ...before, sql: before.sql.replace('created_at > ?', 'id > ?'), args: [5, ada.id, 'qp'] };
    expect(await historyOrs(plans, [bounded])).toEqual([]);
    // Tasks an agent asked for are what it holds (not an append-only log).
    const own = {
      sql: 'SELECT COUNT(*) FROM tasks WHERE status = ? AND (requester = ? OR assignee = ?)',
      args: ['open', ada.id, ada.id],
    };
    expect(await historyOrs(plans, [own], HOT_TABLES)).toEqual([]);
  });

  it('GET /work/:id (plain and auto_claim) reads no whole table', async () => {
    const stmts = await statementsOf(async () => {
      const r = await t.call('GET', `/work/${ada.id}`, { agentKey: ada.key });
      expect(r.status).toBe(200);
      expect(r.body.queue.length).toBeGreaterThan(0);
      const c = await t.call('GET', `/work/${bob.id}?auto_claim=true`, { agentKey: bob.key });
      expect(c.status).toBe(200);
    });
    expect(stmts.length).toBeGreaterThan(5);
    expect(await fullScans(plans, stmts, HOT_TABLES)).toEqual([]);
    expect(await sortedSharedRanges(plans, stmts)).toEqual([]);
    expect(await historyOrs(plans, stmts)).toEqual([]);
    expect(await messageHistoryWalks(plans, stmts)).toEqual([]);
  });

  it("an agent's GET /messages (plain, to, from, since, paged) and /messages/threads walk its branches newest first, not its history", async () => {
    const stmts = await statementsOf(async () => {
      for (const q of [
        '',
        `?to=${ada.id}`,
        `?from=${ada.id}`,
        `?from=${bob.id}`,
        '?since=2026-01-01T00:00:00Z',
        '?limit=5&offset=5',
        '?msg_type=request',
      ])
        expect((await t.call('GET', `/messages${q}`, { agentKey: ada.key })).status).toBe(200);
    });
    const lists = stmts.filter((s) => /FROM messages/.test(s.sql));
    expect(lists.length).toBeGreaterThanOrEqual(3);
    // Threads: found by walking threaded messages only, in batches after a cursor (a range), then
    // summed up over the threads found.
    const threaded = await statementsOf(async () => {
      for (let i = 0; i < 3; i++) {
        const body = { to_agent: ada.id, content: 'x', thread_id: `qp-th-${i}` };
        expect((await t.call('POST', '/messages', { agentKey: bob.key, body })).status).toBe(200);
      }
      expect((await t.call('GET', '/messages/threads?limit=2', { agentKey: ada.key })).body).toHaveLength(2);
    });
    const walks = threaded.filter((s) => /idx_messages_(to|from)_threaded/.test(s.sql));
    expect(walks.length).toBeGreaterThanOrEqual(1);
    lists.push(...walks);
    expect(await sortedSharedRanges(plans, lists)).toEqual([]);
    // The summaries sort each found thread's messages (its last sender): a thread's size, not the mail's.
    lists.push(...threaded.filter((s) => /^\s*WITH v AS/.test(s.sql)));
    expect(await fullScans(plans, lists, HOT_TABLES)).toEqual([]);
    expect(await historyOrs(plans, lists)).toEqual([]);
  });

  it('POST /tasks/:id/claim (won, renewed, lost) reads no whole table', async () => {
    const open = await insert('tasks', { title: 'free', project_id: 'qp', requester: 'admin', status: 'open' });
    const stmts = await statementsOf(async () => {
      expect((await t.call('POST', `/tasks/${open}/claim`, { agentKey: ada.key, body: {} })).status).toBe(200);
      expect((await t.call('POST', `/tasks/${open}/claim`, { agentKey: ada.key, body: {} })).status).toBe(200);
      expect((await t.call('POST', `/tasks/${open}/claim`, { agentKey: bob.key, body: {} })).status).toBe(409);
    });
    expect(stmts.some((s) => /UPDATE tasks SET assignee/.test(s.sql))).toBe(true);
    expect(await fullScans(plans, stmts, HOT_TABLES)).toEqual([]);
    expect(await sortedSharedRanges(plans, stmts)).toEqual([]);
    expect(await historyOrs(plans, stmts)).toEqual([]);
  });

  it('PUT /context/keys/:ns/:key (create, replace, merge, refused) reads no whole table', async () => {
    const stmts = await statementsOf(async () => {
      const put = (ns: string, key: string, data: unknown, agentKey = ada.key) =>
        t.call('PUT', `/context/keys/${ns}/${key}`, { agentKey, body: { data } });
      expect((await put(ada.id, 'note', 'hello')).status).toBe(200);
      expect((await put(ada.id, 'note', 'again')).status).toBe(200);
      expect((await put(ada.id, 'obj', { a: 1 })).status).toBe(200);
      expect((await put(ada.id, 'obj', { b: 2 })).status).toBe(200);
      expect((await put(ada.id, 'note', 'not yours', bob.key)).status).toBe(403);
    });
    expect(await fullScans(plans, stmts, HOT_TABLES)).toEqual([]);
    expect(await sortedSharedRanges(plans, stmts)).toEqual([]);
    expect(await historyOrs(plans, stmts)).toEqual([]);
  });
});
