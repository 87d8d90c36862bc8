import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';
import { parseArray, parseObject } from '../agents/json.js';

/** The agent_templates table's SQL (spec 02 §1.4). */

export interface TemplateRow {
  id: string;
  name: string;
  description: string;
  runtime: string;
  llm_backend: string;
  llm_model: string;
  agent_type: string;
  capabilities: string;
  project_id: string;
  team_ids: string;
  profile_rules: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

/** JSON columns served parsed (invalid JSON → [] / {}). */
export function toWireTemplate(r: TemplateRow) {
  return {
    ...r,
    capabilities: parseArray(r.capabilities),
    team_ids: parseArray(r.team_ids),
    profile_rules: parseObject(r.profile_rules),
  };
}

const TEMPLATE_COLUMNS = [
  'name',
  'description',
  'runtime',
  'llm_backend',
  'llm_model',
  'agent_type',
  'capabilities',
  'project_id',
  'team_ids',
  'profile_rules',
] as const;
export type TemplateColumn = (typeof TEMPLATE_COLUMNS)[number];

export const templatesRepo = {
  get(db: Queryable, id: string) {
    return db.get<TemplateRow>('SELECT * FROM agent_templates WHERE id = ?', [id]);
  },
  list(db: Queryable) {
    return db.all<TemplateRow>('SELECT * FROM agent_templates ORDER BY name ASC, id ASC');
  },
  insert(db: Queryable, t: Record<TemplateColumn, string> & { id: string; created_by: string }) {
    return db.get<TemplateRow>(
      `INSERT INTO agent_templates (id, name, description, runtime, llm_backend, llm_model, agent_type, capabilities, project_id, team_ids, profile_rules, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING RETURNING *`,
      [
        t.id,
        t.name,
        t.description,
        t.runtime,
        t.llm_backend,
        t.llm_model,
        t.agent_type,
        t.capabilities,
        t.project_id,
        t.team_ids,
        t.profile_rules,
        t.created_by,
      ],
    );
  },
  update(db: Queryable, id: string, fields: Partial<Record<TemplateColumn, string>>) {
    const cols = Object.keys(fields).filter((k): k is TemplateColumn =>
      (TEMPLATE_COLUMNS as readonly string[]).includes(k),
    );
    return db.get<TemplateRow>(
      `UPDATE agent_templates SET ${[...cols.map((c) => `${c} = ?`), "updated_at = datetime('now')"].join(', ')} WHERE id = ? RETURNING *`,
      [...cols.map((c) => fields[c] as string), id],
    );
  },
  delete(db: Queryable, id: string) {
    return db.run('DELETE FROM agent_templates WHERE id = ?', [id]);
  },
  /** Team memberships a template grants; unknown teams are skipped (FK-free insert-or-ignore). */
  joinTeams(agentId: string, teamIds: string[]): Statement[] {
    return teamIds.map((teamId) => ({
      sql: `INSERT OR IGNORE INTO team_members (team_id, user_id, user_type, role, is_primary)
            SELECT id, ?, 'agent', 'member', 0 FROM teams WHERE id = ?`,
      args: [agentId, teamId],
    }));
  },
};
