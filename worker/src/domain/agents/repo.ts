import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** The agents table's SQL lives here and only here. */

export interface AgentRow {
  id: string;
  name: string;
  project_id: string;
  project: string;
  api_key_hash: string;
  status: string;
  working_on: string;
  last_heartbeat: string | null;
  capabilities: string;
  avatar_url: string;
  role: string;
  operator_id: string;
  system_diagnostics: string;
  agent_type: string;
  llm_backend: string;
  llm_model: string;
  runtime: string;
  created_at: string;
  primary_team_id: string | null;
}

export type PublicAgent = Omit<AgentRow, 'api_key_hash'>;

/** Secrets never leave: the hash is removed here, not route by route. */
export function toPublicAgent(row: AgentRow): PublicAgent {
  const { api_key_hash: _hidden, ...rest } = row;
  return rest;
}

export interface NewAgent {
  id: string;
  name: string;
  project_id: string;
  api_key_hash: string;
  capabilities: string[];
  agent_type: string;
  llm_backend: string;
  llm_model: string;
  runtime: string;
}

export const agentsRepo = {
  get(db: Queryable, id: string) {
    return db.get<AgentRow>('SELECT * FROM agents WHERE id = ?', [id]);
  },

  byKeyHash(db: Queryable, hash: string) {
    return db.get<Pick<AgentRow, 'id' | 'project_id' | 'role' | 'name'>>(
      'SELECT id, project_id, role, name FROM agents WHERE api_key_hash = ?',
      [hash],
    );
  },

  /** Roster: drones (project 'drone') excluded, oldest first (spec 02 §3.2). */
  list(db: Queryable) {
    return db.all<AgentRow>("SELECT * FROM agents WHERE project_id != 'drone' ORDER BY created_at ASC, rowid ASC");
  },

  insert(a: NewAgent): Statement {
    return {
      sql: `INSERT INTO agents (id, name, project_id, api_key_hash, capabilities, agent_type, llm_backend, llm_model, runtime)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      args: [a.id, a.name, a.project_id, a.api_key_hash, JSON.stringify(a.capabilities), a.agent_type, a.llm_backend, a.llm_model, a.runtime],
    };
  },

  setKeyHash(id: string, hash: string): Statement {
    return { sql: 'UPDATE agents SET api_key_hash = ? WHERE id = ?', args: [hash, id] };
  },

  countOnline(db: Queryable) {
    return db.get<{ n: number }>("SELECT COUNT(*) AS n FROM agents WHERE status = 'online'");
  },
};
