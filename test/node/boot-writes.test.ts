import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordStatements } from '../support/query-plan.js';
import { registerAgent } from '../support/fixtures.js';
import { startTarget, type Target } from '../support/target.js';

/**
 * Issue 11: two of boot's writes change a row only now and then — dropping the agent's expired
 * ephemeral keys, marking savepoint notes delivered. Boot asks in its first batch whether either
 * would change anything and sends it only then; what they do when sent is unchanged.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

const DROP_EPHEMERAL = "DELETE FROM context_keys WHERE namespace = ? AND category = 'ephemeral'";
const MARK_NOTES = 'UPDATE agent_savepoints SET notes_delivered = 1';

async function bootSql(a: { id: string; key: string }) {
  const rec = recordStatements(t.db);
  const r = await t.call('GET', `/boot/${a.id}`, { agentKey: a.key });
  expect(r.status).toBe(200);
  await t.settle();
  return { body: r.body, sql: rec.stop().map((s) => s.sql.replace(/\s+/g, ' ')) };
}

describe('boot cleanup writes', () => {
  it('are sent only when they change a row, and then do what they did', async () => {
    const a = await registerAgent(t, 'bw-ada', 'bw');
    await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { working_on: 'w' } });

    const idle = await bootSql(a);
    expect(idle.sql.some((s) => s.startsWith(DROP_EPHEMERAL))).toBe(false);
    expect(idle.sql.some((s) => s.startsWith(MARK_NOTES))).toBe(false);
    // Still one batch of reads and one of writes (the ceiling of 2 on Workers).
    expect(idle.body.savepoint).toMatchObject({ has_savepoint: true });

    await t.db.run(
      "INSERT INTO context_keys (namespace, key, data, category, expires_at) VALUES (?, 'old', '1', 'ephemeral', '2000-01-01 00:00:00')",
      [a.id],
    );
    const n = await t.call('PUT', `/agents/${a.id}/savepoint/notes`, { admin: true, body: { notes: 'read me' } });
    expect(n.status).toBe(200);
    const busy = await bootSql(a);
    expect(busy.sql.filter((s) => s.startsWith(DROP_EPHEMERAL))).toHaveLength(1);
    expect(busy.sql.filter((s) => s.startsWith(MARK_NOTES))).toHaveLength(1);
    expect(busy.body.savepoint).toMatchObject({ notes: 'read me' });
    expect(
      await t.db.get("SELECT 1 AS x FROM context_keys WHERE namespace = ? AND key = 'old'", [a.id]),
    ).toBeUndefined();
    const undelivered = await t.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM agent_savepoints WHERE agent_id = ? AND notes IS NOT NULL AND notes_delivered = 0',
      [a.id],
    );
    expect(Number(undelivered?.n)).toBe(0);

    // Delivered and dropped: the next boot sends neither again.
    const after = await bootSql(a);
    expect(after.sql.some((s) => s.startsWith(DROP_EPHEMERAL) || s.startsWith(MARK_NOTES))).toBe(false);
  });

  it("slim boot's first statement is the agent's row with the one-value reads and the other agents' list as columns", async () => {
    const a = await registerAgent(t, 'bw-bea', 'bw');
    const { sql, body } = await bootSql(a);
    // (The caller's key may be looked up first: a new agent's key is not cached yet.)
    const head = sql.filter((s) => s.startsWith('SELECT a.id, '));
    expect(head).toHaveLength(1);
    expect(head[0]).toMatch(/ FROM agents a, \(SELECT \(SELECT data FROM context_keys .*\) f WHERE a\.id = \?$/);
    expect(head[0]).toContain('json_group_array');
    // Neither the fold nor the list is a statement of its own any more.
    expect(sql.filter((s) => s.startsWith('SELECT (SELECT data FROM context_keys'))).toHaveLength(0);
    expect(sql.filter((s) => s.startsWith('SELECT json_group_array(CASE WHEN p IS NULL'))).toHaveLength(0);
    expect(body.other_agents).toContainEqual({ id: 'bw-ada', status: 'online', working_on: 'w' });
    expect(body.agent).toEqual({ id: a.id, role: '', project: 'bw', capabilities: ['code', 'assets'] });
  });
});
