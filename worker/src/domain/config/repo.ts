import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** instance_config's SQL (spec 04 §1.3). Values are stored text. */
export interface ConfigRow {
  key: string;
  value: string;
  updated_at: string;
  updated_by: string;
}

export const configRepo = {
  list(db: Queryable) {
    return db.all<ConfigRow>('SELECT key, value, updated_at, updated_by FROM instance_config ORDER BY key');
  },

  get(db: Queryable, key: string) {
    return db.get<ConfigRow>('SELECT key, value, updated_at, updated_by FROM instance_config WHERE key = ?', [key]);
  },

  async value(db: Queryable, key: string): Promise<string | undefined> {
    return (await db.get<{ value: string }>('SELECT value FROM instance_config WHERE key = ?', [key]))?.value;
  },

  upsert(key: string, value: string, by: string): Statement {
    return {
      sql: `INSERT INTO instance_config (key, value, updated_at, updated_by) VALUES (?, ?, datetime('now'), ?)
            ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      args: [key, value, by],
    };
  },
};
