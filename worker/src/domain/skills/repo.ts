import type { Queryable } from '../../db/db.js';
import { assignments } from '../../db/sql.js';
import type { Statement } from '../../db/types.js';

/** SQL for the skills registry (spec 05 §12). Rows go out raw: JSON columns stay strings. */

export interface SkillRow {
  id: string;
  name: string;
  description: string;
  category: string;
  version: string;
  author: string;
  install_type: string;
  install_data: string;
  required_capabilities: string;
  tags: string;
  status: string;
  install_count: number;
  created_at: string;
  updated_at: string;
}

export type NewSkill = Omit<SkillRow, 'status' | 'install_count' | 'created_at' | 'updated_at'>;
export type SkillChanges = Partial<
  Pick<
    SkillRow,
    'name' | 'description' | 'category' | 'version' | 'install_data' | 'required_capabilities' | 'tags' | 'status'
  >
>;

/** install_count is the number of agents that have the skill, recounted on every (un)install. */
const recount = (skillId: string): Statement => ({
  sql: 'UPDATE skills SET install_count = (SELECT COUNT(*) FROM agent_skills WHERE skill_id = ?) WHERE id = ?',
  args: [skillId, skillId],
});

export const skillsRepo = {
  byId(db: Queryable, id: string) {
    return db.get<SkillRow>('SELECT * FROM skills WHERE id = ?', [id]);
  },
  listPublished(db: Queryable, q: { category?: string; search?: string }) {
    const conds = ["status = 'published'"];
    const args: string[] = [];
    if (q.category) {
      conds.push('category = ?');
      args.push(q.category);
    }
    if (q.search) {
      // instr() is a plain substring test: `%` and `_` in a search are literal characters.
      conds.push(
        '(instr(lower(name), lower(?)) > 0 OR instr(lower(description), lower(?)) > 0 OR instr(lower(tags), lower(?)) > 0)',
      );
      args.push(q.search, q.search, q.search);
    }
    return db.all<SkillRow>(
      `SELECT * FROM skills WHERE ${conds.join(' AND ')} ORDER BY install_count DESC, name ASC LIMIT 500`,
      args,
    );
  },
  /** Insert; RETURNING no row when the id is taken. */
  insert(s: NewSkill): Statement {
    return {
      sql: `INSERT INTO skills (id, name, description, category, version, author, install_type, install_data, required_capabilities, tags)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING id`,
      args: [
        s.id,
        s.name,
        s.description,
        s.category,
        s.version,
        s.author,
        s.install_type,
        s.install_data,
        s.required_capabilities,
        s.tags,
      ],
    };
  },
  update(db: Queryable, id: string, changes: SkillChanges) {
    const { sets, args } = assignments(changes);
    return db.get<SkillRow>(
      `UPDATE skills SET ${[...sets, "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      [...args, id],
    );
  },
  /** Installs (or reconfigures) a skill for an agent and recounts it. */
  install(agentId: string, skillId: string, config: string): Statement[] {
    return [
      {
        sql: `INSERT INTO agent_skills (agent_id, skill_id, config) VALUES (?, ?, ?)
              ON CONFLICT(agent_id, skill_id) DO UPDATE SET config = excluded.config, installed_at = datetime('now')`,
        args: [agentId, skillId, config],
      },
      recount(skillId),
    ];
  },
  uninstall(agentId: string, skillId: string): Statement[] {
    return [
      { sql: 'DELETE FROM agent_skills WHERE agent_id = ? AND skill_id = ?', args: [agentId, skillId] },
      recount(skillId),
    ];
  },
};
