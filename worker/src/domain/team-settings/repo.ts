import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** SQL for team_settings and the `customer-agent` node profile it feeds (spec 01 §2.9). */

export interface TeamSettingRow {
  id: number;
  section: string;
  key: string;
  value: string;
  updated_at: string;
  updated_by: string;
}

export const teamSettingsRepo = {
  all(db: Queryable) {
    return db.all<TeamSettingRow>('SELECT * FROM team_settings ORDER BY section ASC, key ASC');
  },
  section(db: Queryable, section: string) {
    return db.all<TeamSettingRow>('SELECT * FROM team_settings WHERE section = ? ORDER BY key ASC', [section]);
  },
  put(section: string, key: string, value: string, by: string): Statement {
    return {
      sql: `INSERT INTO team_settings (section, key, value, updated_by) VALUES (?, ?, ?, ?)
       ON CONFLICT(section, key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = datetime('now')
       RETURNING *`,
      args: [section, key, value, by],
    };
  },
  delete(section: string, key: string): Statement {
    return { sql: 'DELETE FROM team_settings WHERE section = ? AND key = ?', args: [section, key] };
  },
  /** Upsert of the profile guidance (node_profiles is the agents area's table; only this row is written). */
  upsertCustomerProfile(
    db: Queryable,
    p: { rules: string; tool_whitelist: string; repo_list: string; md_checkpoints: string; md_blocklist: string },
  ) {
    return db.run(
      `INSERT INTO node_profiles (id, node_type, layer, rules, tool_whitelist, repo_list, md_checkpoints, md_blocklist)
       VALUES ('customer-agent', 'agent', 'customer', ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET rules = excluded.rules, tool_whitelist = excluded.tool_whitelist, repo_list = excluded.repo_list,
         md_checkpoints = excluded.md_checkpoints, md_blocklist = excluded.md_blocklist, updated_at = datetime('now')`,
      [p.rules, p.tool_whitelist, p.repo_list, p.md_checkpoints, p.md_blocklist],
    );
  },
};
