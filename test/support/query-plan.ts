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

/** Plan steps that read a whole watched table, as `"<sql start> → SCAN x (table)"` lines. */
export async function fullScans(
  db: PlanSource,
  stmts: readonly Statement[],
  tables: readonly string[] = WATCHED_TABLES,
): Promise<string[]> {
  const bad: string[] = [];
  const seen = new Set<string>();
  for (const s of stmts) {
    if (seen.has(s.sql) || /^\s*(begin|commit|rollback|pragma|explain)\b/i.test(s.sql)) continue;
    seen.add(s.sql);
    const names = namesOf(s.sql, tables);
    if (names.size === 0) continue;
    for (const detail of await queryPlan(db, s)) {
      const m = /^SCAN (\w+)(?: USING (?:COVERING )?INDEX \w+)?\s*$/.exec(detail.trim());
      const table = m ? names.get(m[1].toLowerCase()) : undefined;
      if (table) bad.push(`${s.sql.replace(/\s+/g, ' ').slice(0, 140)} → ${detail} (${table})`);
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
