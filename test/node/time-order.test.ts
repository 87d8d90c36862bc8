import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { CORE_DB_FILE } from '../../node-adapter/runtime.js';
import { firstIdFrom } from '../../worker/src/db/time-order.js';
import type { Statement } from '../../worker/src/db/types.js';
import { contextRepo } from '../../worker/src/domain/context/repo.js';
import { eventsRepo } from '../../worker/src/domain/events/repo.js';
import { diffRepo } from '../../worker/src/domain/savepoints/diff-repo.js';
import {
  fullScans,
  historyOrs,
  planConnection,
  queryPlan,
  recordStatements,
  sortedSharedRanges,
} from '../support/query-plan.js';
import { startTarget, type Target } from '../support/target.js';

/**
 * Migration 0025 (issue 11, the hot writes) dropped the indexes on events.created_at and
 * context_history.changed_at: each was a b-tree written on every event / every context put. Time
 * bounds on those tables are id bounds now (ids follow time), found by a binary search over the
 * rowid. These tests hold the bound exact against a brute-force answer, the retention jobs to
 * "exactly the old rows", and every statement involved to index ranges (no whole-table read).
 */
let t: Target;
let plans: ReturnType<typeof planConnection>;

const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString().slice(0, 19).replace('T', ' ');

beforeAll(async () => {
  t = await startTarget();
  plans = planConnection(join(t.dataDir, CORE_DB_FILE));
});
afterAll(async () => {
  plans?.close();
  await t?.close();
});

async function recorded(run: () => Promise<unknown>): Promise<Statement[]> {
  const rec = recordStatements(t.db);
  let stmts: Statement[] = [];
  try {
    await run();
  } finally {
    // Restores the driver even when the run failed (its error still propagates).
    stmts = rec.stop();
  }
  return stmts;
}

describe('firstIdFrom: a time bound as an id bound', () => {
  it('matches a brute-force search for every cutoff, over ids with gaps and equal times', async () => {
    await t.db.run('CREATE TABLE to_probe (id INTEGER PRIMARY KEY AUTOINCREMENT, c TEXT NOT NULL)');
    // 300 rows, several per second, then gaps (deleted rows) in the middle and at both ends.
    for (let i = 0; i < 300; i++) await t.db.run('INSERT INTO to_probe (c) VALUES (?)', [at(Math.floor(i / 3))]);
    await t.db.run('DELETE FROM to_probe WHERE id % 7 = 0 OR id BETWEEN 100 AND 160 OR id < 4 OR id > 296');
    const ids = (await t.db.all<{ id: number; c: string }>('SELECT id, c FROM to_probe ORDER BY id')).map((r) => ({
      id: Number(r.id),
      c: r.c,
    }));
    for (const op of ['>', '>='] as const) {
      for (let s = -2; s <= 102; s += 1) {
        const cutoff = at(s);
        const b = firstIdFrom('to_probe', 'c', op, { sql: '?', args: [cutoff] });
        const got = Number((await t.db.get<{ b: number }>(`SELECT ${b.sql} AS b`, b.args))!.b);
        // The rows at or after the bound are exactly the rows that pass.
        const pass = ids.filter((r) => (op === '>' ? r.c > cutoff : r.c >= cutoff)).map((r) => r.id);
        expect(ids.filter((r) => r.id >= got).map((r) => r.id)).toEqual(pass);
      }
    }
    const empty = firstIdFrom('to_probe', 'c', '>', { sql: '?', args: [at(0)] });
    await t.db.run('DELETE FROM to_probe');
    expect(Number((await t.db.get<{ b: number }>(`SELECT ${empty.sql} AS b`, empty.args))!.b)).toBe(1);
  });
});

describe('events and context history without their time indexes (migration 0025)', () => {
  it('the indexes are gone or narrowed, the ones the hot paths read are still there', async () => {
    const names = (await t.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index'")).map(
      (r) => r.name,
    );
    expect(names).not.toContain('idx_events_created');
    expect(names).not.toContain('idx_context_history_changed');
    expect(names).not.toContain('idx_tasks_project_status');
    const partial = await t.db.get<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE name = 'idx_tasks_assignee_status'",
    );
    expect(partial?.sql).toMatch(/WHERE assignee IS NOT NULL/);
    expect(names).toEqual(
      expect.arrayContaining([
        'idx_events_type',
        'idx_events_agent',
        'idx_events_project',
        'idx_context_history_key',
        'idx_tasks_project_updated',
      ]),
    );
  });

  it('event retention deletes exactly the events past the cutoff, by an id range', async () => {
    await t.db.run('DELETE FROM events');
    const ins = (ago: string, summary: string) =>
      t.db.run(
        `INSERT INTO events (type, agent, summary, created_at) VALUES ('tord.ret', 'x', ?, datetime('now', ?))`,
        [summary, ago],
      );
    for (const [ago, s] of [
      ['-90 days', 'old1'],
      ['-61 days', 'old2'],
      ['-59 days', 'kept1'],
      ['-1 day', 'kept2'],
      ['+0 seconds', 'kept3'],
    ])
      await ins(ago, s);
    const stmts = await recorded(async () => {
      const r = await eventsRepo.purgeOlderThan(t.db, 60);
      expect(r.changes).toBe(2);
    });
    const left = await t.db.all<{ summary: string }>("SELECT summary FROM events WHERE type = 'tord.ret' ORDER BY id");
    expect(left.map((r) => r.summary)).toEqual(['kept1', 'kept2', 'kept3']);
    expect(await fullScans(plans, stmts)).toEqual([]);
  });

  it('context history purge deletes exactly the entries past the cutoff, by an id range', async () => {
    const ins = (at: string, data: string) =>
      t.db.run("INSERT INTO context_history (namespace, key, data, changed_at) VALUES ('tord', 'k', ?, ?)", [data, at]);
    await ins('2026-01-01 00:00:00', 'a');
    await ins('2026-02-01 00:00:00', 'b');
    await ins('2026-03-01 00:00:00', 'c');
    await ins('2026-03-01 00:00:00', 'd');
    await ins('2026-04-01 00:00:00', 'e');
    const stmts = await recorded(async () => {
      expect((await contextRepo.purgeOldHistory(t.db, '2026-03-01 00:00:00')).changes).toBe(2);
    });
    const left = await t.db.all<{ data: string }>(
      "SELECT data FROM context_history WHERE namespace = 'tord' ORDER BY id",
    );
    expect(left.map((r) => r.data)).toEqual(['c', 'd', 'e']);
    expect(await fullScans(plans, stmts, ['context_history'])).toEqual([]);
  });

  it('GET /events?since= (alone, with type, agent, project) reads an id range, not the whole table', async () => {
    await t.db.run('DELETE FROM events');
    for (let i = 0; i < 30; i++)
      await t.db.run(
        "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES (?, 'tord-a', 'tord-p', ?, ?)",
        [i % 2 ? 'tord.odd' : 'tord.even', `e${i}`, at(i)],
      );
    const since = encodeURIComponent(at(24));
    const stmts = await recorded(async () => {
      for (const q of ['', '&type=tord.odd', '&agent=tord-a', '&project_id=tord-p']) {
        const r = await t.call('GET', `/events?since=${since}${q}`, { admin: true });
        expect(r.status).toBe(200);
        const want = q === '&type=tord.odd' ? ['e29', 'e27', 'e25'] : ['e29', 'e28', 'e27', 'e26', 'e25'];
        expect(r.body.map((e: { summary: string }) => e.summary)).toEqual(want);
      }
    });
    const listings = stmts.filter((s) => /FROM events/.test(s.sql));
    expect(listings.length).toBeGreaterThanOrEqual(4);
    expect(await fullScans(plans, listings)).toEqual([]);
    expect(await sortedSharedRanges(plans, listings)).toEqual([]);
  });

  it("boot's savepoint diff counts events since the savepoint by an id range (unscoped and scoped)", async () => {
    await t.db.run('DELETE FROM events');
    for (let i = 0; i < 30; i++)
      await t.db.run(
        "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES ('tord.diff', ?, ?, 'x', ?)",
        [i % 3 ? 'tord-other' : 'tord-me', i % 2 ? 'tord-p' : 'tord-q', at(i)],
      );
    const stmts = await recorded(async () => {
      expect(await diffRepo.eventCount(t.db, 'tord-me', at(19), null)).toBe(10);
      // Of events 20–29: mine (21, 24, 27) or of project tord-q (the even ones): seven.
      expect(await diffRepo.eventCount(t.db, 'tord-me', at(19), ['tord-q'])).toBe(7);
      expect(await diffRepo.eventCount(t.db, 'tord-me', at(40), null)).toBe(0);
    });
    expect(stmts).toHaveLength(3);
    expect(await fullScans(plans, stmts)).toEqual([]);
    // Another agent's event in the project counts once, however often the scope names the project.
    await t.db.run(
      "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES ('tord.diff', 'tord-third', 'tord-q', 'x', ?)",
      [at(25)],
    );
    expect(await diffRepo.eventCount(t.db, 'tord-me', at(19), ['tord-q', 'tord-q'])).toBe(8);
    // The agent's own events alone reach the cap; with the projects' the sum is capped too.
    for (let i = 0; i < 60; i++)
      await t.db.run(
        "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES ('tord.diff', ?, 'tord-p', 'x', ?)",
        [i < 45 ? 'tord-me' : 'tord-other', at(30)],
      );
    // Against a brute-force count of the same rule (the agent's events or its projects', capped).
    const brute = async (agent: string, since: string, scope: string[]) => {
      const marks = scope.map(() => '?').join(',') || 'NULL';
      const r = await t.db.get<{ n: number }>(
        `SELECT MIN(50, COUNT(*)) AS n FROM events WHERE created_at > ? AND (agent = ? OR project_id IN (${marks}))`,
        [since, agent, ...scope],
      );
      return Number(r?.n);
    };
    const cases: [string, string, string[], number][] = [
      ['tord-me', at(29), [], 45],
      ['tord-me', at(29), ['tord-p'], 50],
      ['tord-me', at(19), ['tord-x'], 48],
      ['tord-other', at(19), ['tord-q'], 24],
      ['tord-third', at(19), ['tord-q', 'tord-x'], 6],
    ];
    const capped = await recorded(async () => {
      for (const [agent, since, scope, n] of cases) {
        expect(await brute(agent, since, scope)).toBe(n);
        expect(await diffRepo.eventCount(t.db, agent, since, scope)).toBe(n);
      }
    });
    expect(
      await fullScans(
        plans,
        capped.filter((st) => !/MIN\(50, COUNT/.test(st.sql)),
      ),
    ).toEqual([]);
  });

  it("the diff's event count reads at most 250 rows per walk: a busy minute before the savepoint is not read through", async () => {
    await t.db.run('DELETE FROM events');
    // The minute before the savepoint (the range's slack): 600 events of the project by others,
    // then 3 of the project and 2 of the agent after it.
    for (let i = 0; i < 600; i++)
      await t.db.run(
        "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES ('tord.busy', 'tord-other', 'tord-p', 'x', ?)",
        [at(2000 + Math.floor(i / 20))],
      );
    const since = at(2030);
    for (const agent of ['tord-other', 'tord-other', 'tord-third', 'tord-me', 'tord-me'])
      await t.db.run(
        "INSERT INTO events (type, agent, project_id, summary, created_at) VALUES ('tord.after', ?, 'tord-p', 'x', ?)",
        [agent, at(2031)],
      );
    const counts = await recorded(async () => {
      expect(await diffRepo.eventCount(t.db, 'tord-me', since, ['tord-p'])).toBe(5);
      expect(await diffRepo.eventCount(t.db, 'tord-me', since, null)).toBe(5);
    });
    // Each walk reads its index in id order: no sort of the whole range before the LIMIT.
    for (const st of counts) {
      const plan = await queryPlan(plans, st);
      expect(plan.filter((d) => /TEMP B-TREE/.test(d))).toEqual([]);
      expect(
        plan.some((d) =>
          /SEARCH events USING (INDEX idx_events_(agent|project)|INTEGER PRIMARY KEY) \(.*rowid>\?\)/.test(d),
        ),
      ).toBe(true);
    }
    // The walk is capped by rows read, not by rows counted: 600 rows of the busy minute are within
    // the range (a minute early), yet the project's walk reads 250 and stops.
    const walked = await t.db.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM (SELECT id FROM events WHERE project_id = 'tord-p' AND agent IS NOT 'tord-me'
         AND created_at > ? ORDER BY id DESC)`,
      [at(2030 - 60)],
    );
    expect(Number(walked?.n)).toBeGreaterThan(250);
    // A row written out of order (backdated id order: an old id with a new time) deep in the range
    // may be left out, never let in: the count never exceeds the brute-force count.
    await t.db.run(
      "UPDATE events SET created_at = ? WHERE id = (SELECT MIN(id) FROM events WHERE type = 'tord.busy')",
      [at(2040)],
    );
    const brute = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE created_at > ? AND (agent = 'tord-me' OR project_id = 'tord-p')",
      [since],
    );
    expect(Number(brute?.n)).toBe(6);
    expect(await diffRepo.eventCount(t.db, 'tord-me', since, ['tord-p'])).toBe(5);
  });

  it('scoped reads (listing with pages and filters, SSE replay, the diff count) walk each branch newest first, not the history', async () => {
    await t.db.run('DELETE FROM events');
    // 120 events: shared (NULL and '' project), the agent's projects, another project, and the
    // agent's own events in that other project (visible by agent); then a long history before.
    const projects = [null, '', 'tord-p', 'tord-q', 'tord-x'];
    const rows: { id: number; agent: string; project_id: string | null; type: string }[] = [];
    for (let i = 0; i < 120; i++) {
      const project_id = projects[i % 5];
      const agent = i % 7 === 0 ? 'tord-me' : 'tord-other';
      const type = i % 2 ? 'tord.odd' : 'tord.even';
      const r = await t.db.get<{ id: number }>(
        'INSERT INTO events (type, agent, project_id, summary, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id',
        [type, agent, project_id, `e${i}`, at(1000 + i)],
      );
      rows.push({ id: Number(r!.id), agent, project_id, type });
    }
    const scope = { agentId: 'tord-me', projectIds: ['tord-p', 'tord-q'] };
    const visible = rows
      .filter(
        (r) =>
          r.project_id === null ||
          r.project_id === '' ||
          scope.projectIds.includes(r.project_id) ||
          r.agent === 'tord-me',
      )
      .map((r) => r.id)
      .reverse();
    const stmts = await recorded(async () => {
      for (const [limit, offset] of [
        [10, 0],
        [10, 10],
        [25, 70],
        [50, 90],
      ]) {
        const got = await eventsRepo.list(t.db, { limit, offset }, scope);
        expect(got.map((e) => Number(e.id))).toEqual(visible.slice(offset, offset + limit));
      }
      const odd = await eventsRepo.list(t.db, { limit: 100, offset: 0, type: 'tord.odd' }, scope);
      const oddIds = new Set(rows.filter((r) => r.type === 'tord.odd').map((r) => r.id));
      expect(odd.map((e) => Number(e.id))).toEqual(visible.filter((id) => oddIds.has(id)));
      const since = await eventsRepo.list(t.db, { limit: 100, offset: 0, since: at(1100) }, scope);
      expect(since.map((e) => Number(e.id))).toEqual(visible.filter((id) => id > rows[100].id));
      // SSE replay: the newest 5 visible up to a cursor, oldest first.
      const replay = await eventsRepo.recent(t.db, {}, scope, rows[60].id, 5);
      expect(replay.map((e) => Number(e.id))).toEqual(
        visible
          .filter((id) => id <= rows[60].id)
          .slice(0, 5)
          .reverse(),
      );
      // The diff's count stops at 50.
      expect(await diffRepo.eventCount(t.db, 'tord-me', at(900), ['tord-p', 'tord-q'])).toBe(50);
    });
    const reads = stmts.filter((s) => /FROM .*events/.test(s.sql));
    expect(reads.length).toBeGreaterThanOrEqual(8);
    expect(await fullScans(plans, reads)).toEqual([]);
    expect(await sortedSharedRanges(plans, reads)).toEqual([]);
    expect(await historyOrs(plans, reads)).toEqual([]);
  });

  it('since still finds an event written up to a minute out of time order', async () => {
    await t.db.run('DELETE FROM events');
    for (const [s, summary] of [
      [0, 'before'],
      [100, 'after1'],
      [130, 'after2'],
      [110, 'stepped-back'], // the clock stepped back 20 s before this one was written
    ] as const)
      await t.db.run("INSERT INTO events (type, agent, summary, created_at) VALUES ('tord.step', 'x', ?, ?)", [
        summary,
        at(s),
      ]);
    const r = await t.call('GET', `/events?since=${encodeURIComponent(at(105))}`, { admin: true });
    expect(r.status).toBe(200);
    expect(r.body.map((e: { summary: string }) => e.summary)).toEqual(['stepped-back', 'after2']);
  });
});
