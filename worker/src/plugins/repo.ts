import type { Queryable } from '../db/db.js';
import type { Statement } from '../db/types.js';

/** SQL for the host's bookkeeping tables in the core database (spec 06 §4). */

export interface PluginRow {
  name: string;
  display_name: string;
  description: string;
  version: string;
  author: string;
  enabled: number;
  route_prefix: string;
  mcp_tool_count: number;
  installed_at: string;
  updated_at: string;
}

export interface ConfigRow {
  key: string;
  value: string;
  is_secret: number;
}

export const pluginsRepo = {
  all: (db: Queryable) => db.all<PluginRow>('SELECT * FROM plugins ORDER BY name'),
  get: (db: Queryable, name: string) => db.get<PluginRow>('SELECT * FROM plugins WHERE name = ?', [name]),
  enabledFlags: async (db: Queryable) => {
    const rows = await db.all<{ name: string; enabled: number }>('SELECT name, enabled FROM plugins');
    return new Map(rows.map((r) => [r.name, Number(r.enabled) === 1]));
  },

  /**
   * First sight inserts the row, enabled only when the manifest says exactly `true`; later boots
   * refresh the descriptive columns and never touch `enabled` (the operator's toggle wins, §2.3).
   */
  upsert: (
    db: Queryable,
    m: {
      name: string;
      displayName: string;
      description: string;
      version: string;
      author: string;
      enabled: boolean;
      routePrefix: string;
      toolCount: number;
    },
  ) =>
    db.get<PluginRow>(
      `INSERT INTO plugins (name, display_name, description, version, author, enabled, route_prefix, mcp_tool_count)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, description = excluded.description,
         version = excluded.version, author = excluded.author, route_prefix = excluded.route_prefix,
         mcp_tool_count = excluded.mcp_tool_count, updated_at = datetime('now')
       RETURNING *`,
      [m.name, m.displayName, m.description, m.version, m.author, m.enabled ? 1 : 0, m.routePrefix, m.toolCount],
    ),

  /** Conditional flip: returns the row only when the flag actually changed. */
  setEnabled: (name: string, enabled: boolean): Statement => ({
    sql: `UPDATE plugins SET enabled = ?, updated_at = datetime('now') WHERE name = ? AND enabled <> ? RETURNING *`,
    args: [enabled ? 1 : 0, name, enabled ? 1 : 0],
  }),

  config: (db: Queryable, name: string) =>
    db.all<ConfigRow>('SELECT key, value, is_secret FROM plugin_config WHERE plugin_name = ? ORDER BY key', [name]),
  upsertConfig: (name: string, key: string, value: string, isSecret: boolean): Statement => ({
    sql: `INSERT INTO plugin_config (plugin_name, key, value, is_secret) VALUES (?, ?, ?, ?)
          ON CONFLICT(plugin_name, key) DO UPDATE SET value = excluded.value, is_secret = excluded.is_secret, updated_at = datetime('now')`,
    args: [name, key, value, isSecret ? 1 : 0],
  }),
  clearConfig: (name: string): Statement => ({ sql: 'DELETE FROM plugin_config WHERE plugin_name = ?', args: [name] }),

  recordMigration: (name: string, version: number, description: string): Statement => ({
    sql: 'INSERT OR IGNORE INTO plugin_migrations (plugin_name, version, description) VALUES (?, ?, ?)',
    args: [name, version, description],
  }),
  clearMigrations: (name: string): Statement => ({
    sql: 'DELETE FROM plugin_migrations WHERE plugin_name = ?',
    args: [name],
  }),
};
