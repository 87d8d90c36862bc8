import Database from 'libsql';
import type { Db } from '../../worker/src/db/db.js';
import type { DbDriver, DbExecutor, ResultSet, Statement } from '../../worker/src/db/types.js';

/**
 * EXPLAIN QUERY PLAN checks for hot paths (issue 11: every query an agent's hot call makes is
 * bounded by an index, so its cost does not grow with the database).
 *
 *   const rec = recordStatements(t.db);          // Node target: t.db is the app's own Db
 *   await t.call('GET', '/work/ada', { agentKey });
 *   const plans = planConnection(join(t.dataDir, CORE_DB_FILE));
 *   expect(await fullScans(plans, rec.stop())).toEqual([]);
 *
 * Plans are read on a connection of their own: EXPLAIN of some RETURNING statements through the
 * app's driver (which picks run() or all() per statement) leaves a statement open on its shared
 * connection and breaks the app's next commit.
 *
 * A "full scan" is a plan step `SCAN <table or alias>` (with or without a covering index: both
 * read the whole table) of one of the watched tables. Virtual tables (json_each), CTEs and
 * SEARCH steps are fine.
 */
export const WATCHED_TABLES = ['tasks', 'messages', 'events'] as const;

export interface PlanStep {
  detail: string;
}

/** Where plans are read: `planConnection(file)`, or anything with the same `all`. */
export interface PlanSource {
  all(sql: string, args: Statement['args']): PlanStep[] | Promise<PlanStep[]>;
}

/** A read-only connection of its own to a SQLite file, for EXPLAIN. */
export function planConnection(file: string): PlanSource & { close(): void } {
  const db = new Database(file, { readonly: true } as never);
  return {
    all(sql, args) {
      const bound = (args ?? []).map((a) => (typeof a === 'boolean' ? Number(a) : a));
      return db.prepare(sql).all(...bound) as PlanStep[];
    },
    close: () => db.close(),
  };
}

/** The plan of one statement (its arguments bound, so the planner sees what the app sends). */
export async function queryPlan(db: PlanSource, s: Statement): Promise<string[]> {
  const rows = await db.all(`EXPLAIN QUERY PLAN ${s.sql}`, s.args ?? []);
  return rows.map((r) => r.detail);
}

const NOT_ALIAS = new Set([
  'where',
  'join',
  'left',
  'inner',
  'cross',
  'on',
  'using',
  'order',
  'group',
  'limit',
  'set',
  'as',
  'natural',
  'values',
  'select',
  'union',
  'returning',
  'default',
  'indexed',
  'not',
  'having',
  'window',
  'outer',
]);

/** Names under which `tables` appear in `sql` (the table name itself and each alias). */
export function namesOf(sql: string, tables: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  const re =
    /\b(?:from|join|update|into)\s+([a-z_][a-z0-9_]*)(?:\s+(?:as\s+)?([a-z_][a-z0-9_]*))?|,\s*([a-z_][a-z0-9_]*)\s+(?:as\s+)?([a-z_][a-z0-9_]*)/gi;
  for (const m of sql.matchAll(re)) {
    const table = (m[1] ?? m[3]).toLowerCase();
    const alias = (m[2] ?? m[4])?.toLowerCase();
    if (!tables.includes(table)) continue;
    names.set(table, table);
    if (alias && !NOT_ALIAS.has(alias)) names.set(alias, table);
  }
  return names;
}

/** Whether `index` is a partial index (`CREATE INDEX … WHERE …`): scanning it reads a subset, not the table. */
async function isPartialIndex(db: PlanSource, index: string, cache: Map<string, boolean>): Promise<boolean> {
  let partial = cache.get(index);
  if (partial === undefined) {
    const rows = (await db.all("SELECT sql AS detail FROM sqlite_master WHERE type = 'index' AND name = ?", [
      index,
    ])) as PlanStep[];
    partial = /\bWHERE\b/i.test(rows[0]?.detail ?? '');
    cache.set(index, partial);
  }
  return partial;
}

/** One step of a plan as EXPLAIN QUERY PLAN returns it: its id, its parent's, and the text. */
interface PlanRow {
  id: number;
  parent: number;
  detail: string;
}

/** What each check reads of a statement: its SQL, the watched names in it, its plan rows. */
interface PlannedStatement {
  s: Statement;
  names: Map<string, string>;
  rows: PlanRow[];
  children(id: number): PlanRow[];
  /** How a finding names the statement: the start of its SQL on one line. */
  label: string;
}

/** Each distinct statement that names one of `tables` (transaction control and PRAGMAs skipped), planned. */
async function* planned(
  db: PlanSource,
  stmts: readonly Statement[],
  tables: readonly string[],
): AsyncGenerator<PlannedStatement> {
  const seen = new Set<string>();
  for (const s of stmts) {
    if (seen.has(s.sql) || /^\s*(begin|commit|rollback|pragma|explain)\b/i.test(s.sql)) continue;
    seen.add(s.sql);
    const names = namesOf(s.sql, tables);
    if (names.size === 0) continue;
    const rows = (await db.all(`EXPLAIN QUERY PLAN ${s.sql}`, s.args ?? [])) as unknown as PlanRow[];
    yield {
      s,
      names,
      rows,
      children: (id) => rows.filter((r) => r.parent === id),
      label: s.sql.replace(/\s+/g, ' ').slice(0, 140),
    };
  }
}

/** `SEARCH <name> USING [COVERING] INDEX <index> (<constraints>)` taken apart; null for other steps. */
function indexSearch(detail: string): { name: string; index: string; keys: string } | null {
  const m = /^SEARCH (\w+) USING (?:COVERING )?INDEX (\w+) \((.*)\)$/.exec(detail.trim());
  return m ? { name: m[1].toLowerCase(), index: m[2], keys: m[3] } : null;
}

/**
 * Plan steps that read a whole watched table, as `"<sql start> → SCAN x (table)"` lines. A scan
 * of a partial index (the open pool of tasks, say) reads only the rows the index holds: not counted.
 */
export async function fullScans(
  db: PlanSource,
  stmts: readonly Statement[],
  tables: readonly string[] = WATCHED_TABLES,
): Promise<string[]> {
  const bad: string[] = [];
  const partial = new Map<string, boolean>();
  for await (const p of planned(db, stmts, tables)) {
    for (const { detail } of p.rows) {
      const m = /^SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?\s*$/.exec(detail.trim());
      const table = m ? p.names.get(m[1].toLowerCase()) : undefined;
      if (!table || (m?.[2] && (await isPartialIndex(db, m[2], partial)))) continue;
      bad.push(`${p.label} → ${detail} (${table})`);
    }
  }
  return bad;
}

/**
 * Columns that key a range to one agent or one row: a search on one of them reads what that agent
 * holds (or one row), however large the table grows.
 */
export const OWN_KEYS = [
  'id',
  'rowid',
  'assignee',
  'to_agent',
  'from_agent',
  'agent',
  'agent_id',
  'requester',
  'requested_by',
];

/** Append-only tables whose rows per agent or project only ever grow (retention aside). */
const HISTORY_LOGS = ['events', 'messages'];

/**
 * Sorted shared ranges: a step `USE TEMP B-TREE FOR … ORDER BY` beside a search of a watched table
 * keyed only by shared columns (project_id, status, …). Such a statement reads the whole range —
 * every task of a project, every open task — and sorts it before its LIMIT can stop anything, so
 * it grows with the table although no step is a SCAN (issue 11: boot's savepoint diff, the
 * dispatch pass's open tasks). Sorting the agent's own rows, or the few rows of LIMITed subqueries,
 * is fine — except on the append-only logs, where an agent's own key holds its whole history: a
 * sort beside an equality-only search of events or messages (an agent's GET /messages sorted all
 * its mail by time, issue 11) counts unless a range bounds the search.
 */
export async function sortedSharedRanges(
  db: PlanSource,
  stmts: readonly Statement[],
  tables: readonly string[] = WATCHED_TABLES,
): Promise<string[]> {
  const bad: string[] = [];
  for await (const p of planned(db, stmts, tables)) {
    for (const sort of p.rows.filter((r) =>
      /^USE TEMP B-TREE FOR (RIGHT PART OF |LAST TERM OF )?ORDER BY/.test(r.detail),
    )) {
      // The searches this sort orders: its siblings, and the branches of a sibling MULTI-INDEX OR.
      const searches = p
        .children(sort.parent)
        .flatMap((r) =>
          r.detail.startsWith('MULTI-INDEX OR') ? p.children(r.id).flatMap((branch) => p.children(branch.id)) : [r],
        );
      for (const step of searches) {
        const m = indexSearch(step.detail);
        const table = m ? p.names.get(m.name) : undefined;
        if (!m || !table) continue;
        const keyed = [...m.keys.matchAll(/(\w+)\s*(?:=|>|<|IS)/g)].map((k) => k[1].toLowerCase());
        // On the logs an agent's own key is a history too, unless a range bounds the search.
        const ownHistory = HISTORY_LOGS.includes(table) && !/[<>]/.test(m.keys);
        if (keyed.some((k) => OWN_KEYS.includes(k)) && !ownHistory) continue;
        bad.push(`${p.label} → ${step.detail} + ${sort.detail} (${table})`);
      }
    }
  }
  return bad;
}

/**
 * Whole-history ORs: a `MULTI-INDEX OR` collects every row each branch's index search finds before
 * anything else (a sort, a LIMIT, a count) sees them, so a branch keyed only by equalities
 * (`project_id=?`, `agent=?`) reads that key's entire history of a growing table, however new the
 * rows wanted are (issue 11: boot's "events since your savepoint" read 60,000 events of its
 * project). A branch with a range on the rowid or another column (`rowid>?`, `created_at>?`) is
 * bounded by it. On tables other than the append-only logs (events, messages), a branch keyed by
 * one agent (`requester=?`: the tasks it asked for) reads what that agent holds, like any
 * `OWN_KEYS` search; on the logs an agent's history grows with every day it runs, so it counts.
 */
export async function historyOrs(
  db: PlanSource,
  stmts: readonly Statement[],
  tables: readonly string[] = WATCHED_TABLES,
): Promise<string[]> {
  const bad: string[] = [];
  for await (const p of planned(db, stmts, tables)) {
    for (const or of p.rows.filter((r) => r.detail.startsWith('MULTI-INDEX OR'))) {
      for (const step of p.children(or.id).flatMap((branch) => p.children(branch.id))) {
        const m = indexSearch(step.detail);
        const table = m ? p.names.get(m.name) : undefined;
        if (!m || !table || /[<>]/.test(m.keys)) continue;
        const keyed = [...m.keys.matchAll(/(\w+)\s*(?:=|IS)/g)].map((k) => k[1].toLowerCase());
        if (!HISTORY_LOGS.includes(table) && keyed.some((k) => OWN_KEYS.includes(k))) continue;
        bad.push(`${p.label} → MULTI-INDEX OR: ${step.detail} (${table})`);
      }
    }
  }
  return bad;
}

/**
 * Whole-history walks of messages: a search of `messages` through a full (not partial) index keyed
 * only by equalities (`to_agent=?`) visits every message that key ever had — an inbox read that
 * filters status and type row by row after such a search grew with the agent's whole mail (issue
 * 11: a heartbeat cost 10 ms with a month of history). Bounded: a range (`rowid>?`: the news
 * window), or a partial index holding only open rows (pending requests, open directives).
 */
export async function messageHistoryWalks(db: PlanSource, stmts: readonly Statement[]): Promise<string[]> {
  const bad: string[] = [];
  const partial = new Map<string, boolean>();
  for await (const p of planned(db, stmts, ['messages'])) {
    for (const { detail } of p.rows) {
      const m = indexSearch(detail);
      if (!m || !p.names.has(m.name) || /[<>]/.test(m.keys)) continue;
      if (await isPartialIndex(db, m.index, partial)) continue;
      bad.push(`${p.label} → ${detail}`);
    }
  }
  return bad;
}

/**
 * Records every statement the app runs through `db` (execute, batch and transactions) until
 * `stop()`, which restores the driver and returns them. Works on a Node target, whose `t.db` is
 * the app's own database object.
 */
export function recordStatements(db: Db): { stop(): Statement[] } {
  const driver = (db as unknown as { exec: DbDriver }).exec;
  const seen: Statement[] = [];
  const original = { execute: driver.execute, batch: driver.batch, transaction: driver.transaction };
  driver.execute = (s: Statement): Promise<ResultSet> => {
    seen.push(s);
    return original.execute.call(driver, s);
  };
  driver.batch = (stmts: Statement[]): Promise<ResultSet[]> => {
    seen.push(...stmts);
    return original.batch.call(driver, stmts);
  };
  driver.transaction = <T>(fn: (tx: DbExecutor) => Promise<T>): Promise<T> =>
    original.transaction.call<DbDriver, [(tx: DbExecutor) => Promise<T>], Promise<T>>(driver, (tx: DbExecutor) =>
      fn({
        execute: (s) => {
          seen.push(s);
          return tx.execute(s);
        },
      }),
    );
  return {
    stop() {
      // The wrappers are own properties shadowing the class's methods: drop them, or put back
      // whatever was there before if that was an own property too.
      const d = driver as unknown as Record<string, unknown>;
      for (const [k, fn] of Object.entries(original)) {
        delete d[k];
        if (d[k] !== fn) d[k] = fn;
      }
      return seen;
    },
  };
}
