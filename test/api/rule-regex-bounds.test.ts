import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Bounded rule evaluation (spec 07 SEC-17, the ReDoS half; issue 17): rule regexes are refused
 * at save when they can backtrack catastrophically, and a pathological pattern already stored
 * never stalls a request — it is evaluated as not matching (and logged).
 */

let t: Target;
let gdb: Db;
let a: { id: string; key: string };
// Far beyond what `(a+)+$` could finish in a backtracking engine if it ever ran.
const EVIL_INPUT = `${'a'.repeat(5000)}!`;
// Generous: a request that ran the pattern would not answer for years; this only absorbs a busy machine.
const PROMPT_MS = 3000;

beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'redos-agent', 'rp');
  const en = await t.call('PUT', '/plugins/guardrails/enable', { admin: true });
  expect(en.body.loaded).toBe(true);
  gdb = new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', 'guardrails.db')));
});
afterAll(async () => {
  await gdb.close();
  await t.close();
});

const rules = (pattern: string, severity = 'block') => [
  {
    id: 'r1',
    tool: 'send_message',
    match: { content_pattern: pattern },
    severity,
    message: 'No destructive SQL in messages',
  },
];

describe('context enforcement rules (mycelium/enforcement_rules)', () => {
  it('SEC-17: a catastrophic pattern is refused at save with a 400 naming it; nothing is stored', async () => {
    for (const pattern of ['(a+)+$', '(a|aa)*b', '(a?){30}a{30}', '(\\w+\\s?)*$', '\\1']) {
      const r = await t.call('PUT', '/context/keys/mycelium/enforcement_rules', {
        admin: true,
        body: { data: rules(pattern) },
      });
      expect(r.status, pattern).toBe(400);
      expect(r.body.error, pattern).toContain(
        `rules.0.match.content_pattern: pattern ${JSON.stringify(pattern)} refused: `,
      );
    }
    // The {rules: [...]} form is checked too.
    const wrapped = await t.call('PUT', '/context/keys/mycelium/enforcement_rules', {
      admin: true,
      body: { data: { rules: rules('(a+)+$') } },
    });
    expect(wrapped.status).toBe(400);
    expect(
      await t.db.get("SELECT 1 AS x FROM context_keys WHERE namespace = 'mycelium' AND key = 'enforcement_rules'"),
    ).toBeUndefined();
  });

  it('spec 03 §7.2: a safe block rule refuses a matching message with 403 {error, enforcement_rule} and an event; others pass', async () => {
    const put = await t.call('PUT', '/context/keys/mycelium/enforcement_rules', {
      admin: true,
      body: { data: rules('\\bdrop\\s+table\\b') },
    });
    expect(put.status).toBe(200);
    const blocked = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to: 'someone', content: 'please DROP TABLE users' },
    });
    expect(blocked.status).toBe(403);
    expect(blocked.body).toEqual({ error: 'No destructive SQL in messages', enforcement_rule: 'r1' });
    const ev = await t.db.get<any>(
      "SELECT * FROM events WHERE type = 'enforcement_violation' ORDER BY id DESC LIMIT 1",
    );
    expect(JSON.parse(ev.data)).toEqual({ rule_id: 'r1', tool: 'send_message', severity: 'block' });
    expect(await t.db.get("SELECT 1 AS x FROM messages WHERE content = 'please DROP TABLE users'")).toBeUndefined();
    // Patterns are case-insensitive (spec 07 SEC-17); other content passes.
    const fine = await t.call('POST', '/messages', {
      agentKey: a.key,
      body: { to: 'someone', content: 'the table dropped' },
    });
    expect(fine.status).toBe(200);
  });

  it('SEC-17: a pathological pattern already in the database is evaluated as not matching; the message answers promptly', async () => {
    // As if stored before the check existed: written straight into the table.
    await t.db.run("UPDATE context_keys SET data = ? WHERE namespace = 'mycelium' AND key = 'enforcement_rules'", [
      JSON.stringify(rules('(a+)+$')),
    ]);
    const started = Date.now();
    const r = await t.call('POST', '/messages', { agentKey: a.key, body: { to: 'someone', content: EVIL_INPUT } });
    const elapsed = Date.now() - started;
    expect(r.status).toBe(200);
    expect(elapsed).toBeLessThan(PROMPT_MS);
    expect((await t.db.get<any>('SELECT COUNT(*) AS n FROM messages WHERE id = ?', [r.body.id])).n).toBe(1);
  });
});

describe('guardrails rule patterns', () => {
  it('SEC-17/SEC-42: (a+)+$ and (a?){30}a{30} are refused at save with a 400 naming the pattern', async () => {
    for (const pattern of ['(a+)+$', '(a?){30}a{30}', '(?:x|xx)+y']) {
      const r = await t.call('POST', '/guardrails/rules', {
        admin: true,
        body: {
          name: 'evil',
          trigger_event: 'task_created',
          enforcement: 'block',
          conditions: { type: 'custom', checks: [{ field: 'title', op: 'matches', value: pattern }] },
        },
      });
      expect(r.status, pattern).toBe(400);
      expect(r.body.error, pattern).toMatch(
        new RegExp(
          `^conditions\\.checks\\.0\\.value: pattern ${JSON.stringify(pattern).replace(/[()+?{}$|*.\\[\]]/g, '\\$&')} refused: `,
        ),
      );
    }
    expect(await gdb.get("SELECT 1 AS x FROM guardrail_rules WHERE name = 'evil'")).toBeUndefined();
  });

  it('SEC-17: a pathological guardrail row already in the plugin database does not stall a write; it never matches', async () => {
    await gdb.run(
      "INSERT INTO guardrail_rules (name, trigger_event, conditions, enforcement, enabled) VALUES ('legacy-evil', 'task_created', ?, 'block', 1)",
      [JSON.stringify({ type: 'custom', checks: [{ field: 'title', op: 'matches', value: '(a+)+$' }] })],
    );
    const started = Date.now();
    const r = await t.call('POST', '/tasks', {
      agentKey: a.key,
      body: { title: EVIL_INPUT.slice(0, 400), description: EVIL_INPUT, project_id: 'rp' },
    });
    const elapsed = Date.now() - started;
    expect(r.status).toBe(200);
    expect(elapsed).toBeLessThan(PROMPT_MS);
    // The explicit check route answers promptly too and reports no violation.
    const check = await t.call('POST', '/guardrails/check', {
      agentKey: a.key,
      body: { event_type: 'task_created', data: { title: EVIL_INPUT } },
    });
    expect(check.status).toBe(200);
    expect(check.body.results.find((x: any) => x.rule_name === 'legacy-evil')).toMatchObject({ violated: false });
  });
});
