import type { Db } from './db.js';
import type { Statement } from './types.js';

export interface Migration {
  name: string;
  sql: string;
}

/**
 * Splits a migration script into statements. Statements end with `;` at the end of a line;
 * a CREATE TRIGGER body runs until its closing `END;`.
 */
export function splitStatements(script: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let inTrigger = false;
  for (const rawLine of script.split('\n')) {
    const line = rawLine.replace(/--.*$/, '');
    if (!line.trim() && current.length === 0) continue;
    current.push(line);
    if (/\bCREATE\s+(TEMP\s+)?TRIGGER\b/i.test(line)) inTrigger = true;
    const ends = inTrigger ? /\bEND\s*;\s*$/i.test(line) : /;\s*$/.test(line);
    if (ends) {
      const sql = current.join('\n').trim().replace(/;\s*$/, '');
      if (sql) out.push(sql);
      current = [];
      inTrigger = false;
    }
  }
  const rest = current.join('\n').trim();
  if (rest) out.push(rest);
  return out;
}

/**
 * Applies migrations in order, each once. Each migration and its bookkeeping row go in one
 * atomic batch, so a failed migration leaves nothing behind, and two processes racing at
 * start-up cannot both apply it (the second one's bookkeeping insert conflicts and rolls back).
 */
export async function migrate(db: Db, migrations: Migration[], table = 'schema_migrations'): Promise<string[]> {
  // Bookkeeping table and what is applied, in one round trip: a warm start (nothing to apply) costs
  // a Worker's cold isolate one libSQL request per database.
  const [, appliedRows] = await db.batch([
    {
      sql: `CREATE TABLE IF NOT EXISTS ${table} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (datetime('now')))`,
      args: [],
    },
    { sql: `SELECT name FROM ${table}`, args: [] },
  ]);
  const done = new Set(appliedRows.rows.map((r) => String(r.name)));
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.name)) continue;
    const stmts: Statement[] = splitStatements(m.sql).map((sql) => ({ sql, args: [] }));
    stmts.push({ sql: `INSERT INTO ${table} (name) VALUES (?)`, args: [m.name] });
    try {
      await db.batch(stmts);
      applied.push(m.name);
    } catch (err) {
      const again = await db.get(`SELECT name FROM ${table} WHERE name = ?`, [m.name]);
      if (again) continue; // another process applied it first
      throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`);
    }
  }
  return applied;
}
