import type { SqlArgs, SqlValue } from './types.js';

/**
 * `col = ?` assignments for the fields that are present (undefined ones are skipped), for
 * partial updates. Column names come from typed service input, and are still checked here so a
 * stray key can never become SQL.
 */
export function assignments(fields: Record<string, SqlValue | undefined>): {
  columns: string[];
  sets: string[];
  args: SqlArgs;
} {
  const columns: string[] = [];
  const args: SqlArgs = [];
  for (const [column, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (!/^[a-z_][a-z0-9_]*$/.test(column)) throw new Error(`not a column name: ${column}`);
    columns.push(column);
    args.push(value);
  }
  return { columns, sets: columns.map((c) => `${c} = ?`), args };
}

/** `WHERE a AND b` from the conditions that apply (each a SQL fragment and its arguments), or ''. */
export function whereAll(conditions: [sql: string, ...args: SqlValue[]][]): { sql: string; args: SqlArgs } {
  if (!conditions.length) return { sql: '', args: [] };
  return { sql: `WHERE ${conditions.map(([s]) => s).join(' AND ')}`, args: conditions.flatMap(([, ...a]) => a) };
}
