import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';
import { SqlTextsByParts } from '../../db/sql-texts.js';

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
  // `held` is the dispatch pass's bookkeeping (migration 0016), not part of the agent.
  const { api_key_hash: _hidden, held: _held, ...rest } = row as AgentRow & { held?: number };
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

/** The columns of an agent a heartbeat reads before its writes (`agentsRepo.beatFactsStatement`). */
export type BeatFacts = Pick<AgentRow, 'id' | 'status' | 'working_on' | 'agent_type' | 'project_id'>;

/** `agentsRepo.rowWith`'s SQL per shape (columns, extra names, fold). */
const rowWithSql = new SqlTextsByParts(50);

const BEAT_FACTS: readonly (keyof BeatFacts)[] = ['id', 'status', 'working_on', 'agent_type', 'project_id'];

export const agentsRepo = {
  /** Case-insensitive match on agents.id or agents.name → canonical id (spec 03 §3.0). */
  async resolveId(db: Queryable, value: string): Promise<string | null> {
    const r = await db.get<{ id: string }>(
      'SELECT id FROM agents WHERE lower(id) = lower(?) OR lower(name) = lower(?) ORDER BY (lower(id) = lower(?)) DESC LIMIT 1',
      [value, value, value],
    );
    return r?.id ?? null;
  },

  get(db: Queryable, id: string) {
    return db.get<AgentRow>('SELECT * FROM agents WHERE id = ?', [id]);
  },

  /**
   * The agent's row — only `columns`, not all twenty-odd (each is a property built on every hot call)
   * — with one-value reads of other tables as further columns in the same statement (issue 11: one
   * statement, not one per fact): `extra` (named one-column reads) and the columns of `fold` (a
   * ScalarFold's statement, joined as a one-row subquery). No row: no agent. The text is built once
   * per shape (the callers' fragments are constants), so each call hands the driver the same string.
   */
  rowWith(id: string, columns: readonly string[], extra: Record<string, Statement>, fold?: Statement): Statement {
    const names = Object.keys(extra);
    // Keyed by the columns array itself, the extras' names and the fold's text (itself built once
    // per shape, ScalarFold): no key string is built or hashed per call.
    const sql = rowWithSql.get(
      [columns, ...names, '|', fold?.sql ?? ''],
      () => `SELECT ${columns.map((c) => `a.${c}`).join(', ')}${names.map((n) => `, (${extra[n].sql}) AS ${n}`).join('')}${fold ? ', f.*' : ''}
             FROM agents a${fold ? `, (${fold.sql}) f` : ''} WHERE a.id = ?`,
    );
    return {
      sql,
      args: [...names.flatMap((n) => extra[n].args ?? []), ...(fold?.args ?? []), id],
      first: true,
    };
  },

  /**
   * What a heartbeat needs of the row before it (status change, announcement, calibration): five
   * columns (`BeatFacts`), plus `extra` — facts of other tables the heartbeat reads in the same step.
   */
  beatFactsStatement(id: string, extra: Record<string, Statement>): Statement {
    return agentsRepo.rowWith(id, BEAT_FACTS, extra);
  },

  /**
   * What the work poll needs of its agent (its id and capabilities) as one JSON value, NULL when
   * there is no such agent: a scalar subquery of the poll's one statement. Args: agent id.
   */
  queueFactsSql(): string {
    return "SELECT json_object('id', id, 'capabilities', capabilities) FROM agents WHERE id = ?";
  },

  byKeyHash(db: Queryable, hash: string) {
    return db.get<Pick<AgentRow, 'id' | 'project_id' | 'role' | 'name'>>(
      'SELECT id, project_id, role, name FROM agents WHERE api_key_hash = ?',
      [hash],
    );
  },

  /** Roster: drones excluded (the one drone rule, drones/repo.ts IS_DRONE_SQL; they are listed by GET /drones), oldest first (spec 02 §3.2). */
  list(db: Queryable) {
    return db.all<AgentRow>(
      "SELECT * FROM agents WHERE project_id != 'drone' AND agent_type != 'drone' AND role != 'drone' ORDER BY created_at ASC, rowid ASC",
    );
  },

  insert(a: NewAgent): Statement {
    return {
      sql: `INSERT INTO agents (id, name, project_id, api_key_hash, capabilities, agent_type, llm_backend, llm_model, runtime)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      args: [
        a.id,
        a.name,
        a.project_id,
        a.api_key_hash,
        JSON.stringify(a.capabilities),
        a.agent_type,
        a.llm_backend,
        a.llm_model,
        a.runtime,
      ],
    };
  },

  setKeyHash(id: string, hash: string): Statement {
    return { sql: 'UPDATE agents SET api_key_hash = ? WHERE id = ?', args: [hash, id] };
  },

  countOnline(db: Queryable) {
    return db.get<{ n: number }>("SELECT COUNT(*) AS n FROM agents WHERE status = 'online'");
  },
};

/** Whitelisted agent columns a PUT / heartbeat / template may write (never the key hash). */
const WRITABLE_AGENT_COLUMNS = [
  'name',
  'avatar_url',
  'llm_backend',
  'llm_model',
  'runtime',
  'role',
  'operator_id',
  'project',
  'project_id',
  'capabilities',
  'status',
  'agent_type',
  'system_diagnostics',
] as const;
export type WritableAgentColumn = (typeof WRITABLE_AGENT_COLUMNS)[number];

export const agentWrites = {
  /** Column names come only from WRITABLE_AGENT_COLUMNS, so the SET list is never client text. */
  update(id: string, fields: Partial<Record<WritableAgentColumn, string>>): Statement {
    const cols = Object.keys(fields).filter((k): k is WritableAgentColumn =>
      (WRITABLE_AGENT_COLUMNS as readonly string[]).includes(k),
    );
    return {
      sql: `UPDATE agents SET ${cols.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`,
      args: [...cols.map((c) => fields[c] as string), id],
    };
  },

  /** Another agent already using this name (case-insensitive) or this name as its id (spec 02 W18). */
  nameTaken(db: Queryable, name: string, exceptId: string) {
    return db.get<{ id: string }>(
      'SELECT id FROM agents WHERE id != ? AND (lower(name) = lower(?) OR lower(id) = lower(?)) LIMIT 1',
      [exceptId, name, name],
    );
  },

  /**
   * Removal per spec README: the key goes with the row; open work goes back to the pool;
   * history (messages, comments, events, finished work) stays. All in one batch.
   */
  removalStatements(id: string): Statement[] {
    return [
      {
        sql: "UPDATE tasks SET assignee = NULL, status = 'open', updated_at = datetime('now') WHERE assignee = ? AND status IN ('open','in_progress','review')",
        args: [id],
      },
      {
        sql: "UPDATE bugs SET assignee = NULL, status = 'open', updated_at = datetime('now') WHERE assignee = ? AND status IN ('open','in_progress')",
        args: [id],
      },
      {
        sql: "UPDATE plan_steps SET assignee = NULL, status = 'pending', updated_at = datetime('now') WHERE assignee = ? AND status IN ('pending','in_progress')",
        args: [id],
      },
      // A removed drone's running claims go back to the queue for another drone (spec 05 §2.1).
      {
        sql: "UPDATE drone_jobs SET status = 'pending', drone_id = NULL, started_at = NULL, progress_at = NULL WHERE drone_id = ? AND status = 'claimed'",
        args: [id],
      },
      { sql: 'DELETE FROM message_reads WHERE agent_id = ?', args: [id] },
      { sql: 'DELETE FROM inbox_marks WHERE agent_id = ?', args: [id] },
      { sql: 'DELETE FROM webhooks WHERE agent_id = ?', args: [id] },
      { sql: "DELETE FROM channel_members WHERE user_id = ? AND user_type = 'agent'", args: [id] },
      { sql: "DELETE FROM team_members WHERE user_id = ? AND user_type = 'agent'", args: [id] },
      { sql: 'DELETE FROM agent_profiles WHERE agent_id = ?', args: [id] },
      { sql: 'DELETE FROM agents WHERE id = ?', args: [id] },
    ];
  },

  /**
   * Liveness from the agent itself. An operator-set `paused` survives it (spec 07 REL-17): only the
   * unpause action clears it. `retired` is brought back by design (REL-07).
   */
  heartbeat(id: string, status: string, workingOn: string, at: string): Statement {
    return {
      sql: "UPDATE agents SET status = CASE WHEN status = 'paused' THEN 'paused' ELSE ? END, working_on = ?, last_heartbeat = ? WHERE id = ?",
      args: [status, workingOn, at, id],
    };
  },

  /**
   * `heartbeat` as two statements that write only what changed (issue 11): naming `status` in a
   * SET rewrites its index entry (idx_agents_status) even when the value is the same, two more
   * WAL pages per commit, while most beats repeat the status they sent last. So the status is
   * set only when it differs (and never over `paused`, REL-17). Likewise working_on and
   * last_heartbeat: an idle agent's row is in the partial index idx_agents_dispatch keyed by
   * last_heartbeat, whose entry is rewritten whenever the columns are SET, so a second beat within
   * the same second (the time's resolution) writes nothing.
   */
  heartbeatChanges(id: string, status: string, workingOn: string, at: string): Statement[] {
    return [
      {
        sql: "UPDATE agents SET status = ? WHERE id = ? AND status != ? AND status != 'paused'",
        args: [status, id, status],
      },
      {
        sql: `UPDATE agents SET working_on = ?, last_heartbeat = ?
              WHERE id = ? AND (working_on IS NOT ? OR last_heartbeat IS NOT ?)`,
        args: [workingOn, at, id, workingOn, at],
      },
    ];
  },

  /**
   * `heartbeat` for an agent already `online` with its `working_on` kept (boot's auto-heartbeat):
   * only `last_heartbeat` moves, so the status index is not rewritten (one page less per commit).
   */
  touchHeartbeat(id: string, at: string): Statement {
    return { sql: 'UPDATE agents SET last_heartbeat = ? WHERE id = ?', args: [at, id] };
  },
};

export interface ProfileRow {
  agent_id: string;
  display_name: string;
  specializations: string;
  preferred_projects: string;
  max_concurrent: number;
  total_tasks_completed: number;
  total_bugs_fixed: number;
  total_prs_created: number;
  session_count: number;
  capability_history: string;
  profile_data: string;
  first_seen_at: string;
  last_active_at: string;
}

export const profilesRepo = {
  get(db: Queryable, agentId: string) {
    return db.get<ProfileRow>('SELECT * FROM agent_profiles WHERE agent_id = ?', [agentId]);
  },
  list(db: Queryable) {
    return db.all<ProfileRow>('SELECT * FROM agent_profiles ORDER BY total_tasks_completed DESC, agent_id ASC');
  },
  leaderboard(db: Queryable, limit: number) {
    return db.all<ProfileRow>(
      'SELECT * FROM agent_profiles ORDER BY total_tasks_completed DESC, agent_id ASC LIMIT ?',
      [limit],
    );
  },
  /** Creates the row if missing, without counting a session (only boots count — spec 02 W34). */
  ensure(agentId: string): Statement {
    return {
      sql: `INSERT OR IGNORE INTO agent_profiles (agent_id, display_name)
            SELECT id, name FROM agents WHERE id = ?`,
      args: [agentId],
    };
  },
  /** A boot: one more session. Answers the profile as it now is (boot serves it; no read after). */
  countSession(agentId: string): Statement {
    return {
      sql: `INSERT INTO agent_profiles (agent_id, display_name, session_count)
            SELECT id, name, 1 FROM agents WHERE id = ?
            ON CONFLICT(agent_id) DO UPDATE SET session_count = session_count + 1, last_active_at = datetime('now')
            RETURNING *`,
      args: [agentId],
      single: true,
    };
  },
  update(
    agentId: string,
    fields: Partial<Record<'display_name' | 'specializations' | 'preferred_projects' | 'profile_data', string>> & {
      max_concurrent?: number;
    },
  ): Statement {
    const cols = Object.keys(fields).filter((k) =>
      ['display_name', 'specializations', 'preferred_projects', 'profile_data', 'max_concurrent'].includes(k),
    );
    return {
      sql: `UPDATE agent_profiles SET ${[...cols.map((c) => `${c} = ?`), "last_active_at = datetime('now')"].join(', ')} WHERE agent_id = ?`,
      args: [...cols.map((c) => (fields as Record<string, string | number>)[c]), agentId],
    };
  },
};
