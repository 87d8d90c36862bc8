import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordStatements } from '../support/query-plan.js';
import { registerAgent } from '../support/fixtures.js';
import { startTarget, type Target } from '../support/target.js';

/**
 * Issue 11: slim boot reads the queue's unassigned buckets (ready free steps, the planner check,
 * free bugs) only when the agent's own work leaves room in the 5 items it shows.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

const FREE_BUGS = "b.status = 'open' AND COALESCE(b.assignee, '') = ''";

async function bootStatements(a: { id: string; key: string }, query = '') {
  const rec = recordStatements(t.db);
  const r = await t.call('GET', `/boot/${a.id}${query}`, { agentKey: a.key });
  expect(r.status).toBe(200);
  return { body: r.body, sql: rec.stop().map((s) => s.sql) };
}

describe('slim boot queue reads', () => {
  it('five own items: no unassigned-bucket reads; fewer: they are read and served; smart always reads them', async () => {
    const a = await registerAgent(t, 'bq-ada', 'bq');
    await t.db.run("INSERT INTO bugs (title, description, project_id) VALUES ('free', 'd', 'bq')");
    for (let i = 1; i <= 4; i++)
      await t.db.run("INSERT INTO tasks (title, project_id, requester, assignee) VALUES (?, 'bq', 'x', ?)", [
        `own-${i}`,
        a.id,
      ]);
    const room = await bootStatements(a);
    expect(room.sql.filter((s) => s.includes(FREE_BUGS))).toHaveLength(1);
    expect(room.body.work_queue.at(-1)).toMatchObject({ type: 'bug_unassigned', title: 'free' });

    await t.db.run("INSERT INTO tasks (title, project_id, requester, assignee) VALUES ('own-5', 'bq', 'x', ?)", [a.id]);
    const full = await bootStatements(a);
    expect(full.sql.filter((s) => s.includes(FREE_BUGS))).toHaveLength(0);
    expect(full.body.work_queue.map((i: { title: string }) => i.title).sort()).toEqual([
      'own-1',
      'own-2',
      'own-3',
      'own-4',
      'own-5',
    ]);

    const smart = await bootStatements(a, '?smart=true');
    expect(smart.sql.filter((s) => s.includes(FREE_BUGS))).toHaveLength(1);
  });
});
