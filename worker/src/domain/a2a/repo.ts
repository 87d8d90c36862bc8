import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';
import type { EventRowsQuery } from '../events/write.js';

/** The A2A tables (migration 0080). One place for their SQL. */

export interface ExternalAgentRow {
  id: number;
  agent_url: string;
  rpc_url: string;
  protocol_version: string;
  name: string;
  description: string;
  capabilities: string;
  agent_card: string;
  status: string;
  discovered_by: string;
  last_discovered_at: string;
}

export interface OutboundTaskRow {
  id: string;
  external_agent_id: number;
  remote_task_id: string | null;
  context_id: string | null;
  mycelium_task_id: number | null;
  mycelium_agent_id: string;
  method: string;
  input_text: string;
  status: string;
  result: string | null;
  created_at: string;
  updated_at: string;
}

export interface InboundTaskRow {
  id: string;
  context_id: string;
  caller: string;
  caller_url: string;
  target_agent_id: string | null;
  mycelium_task_id: number | null;
  input_text: string;
  status: string;
  result: string | null;
  created_at: string;
  updated_at: string;
}

/** An inbound A2A task joined with the live status of its Mycelium task. */
export type InboundWithTask = InboundTaskRow & { task_status: string | null };

const parse = (s: string, fallback: unknown) => {
  try {
    return JSON.parse(s);
  } catch {
    return fallback;
  }
};

export function toWireExternalAgent(r: ExternalAgentRow) {
  return { ...r, capabilities: parse(r.capabilities, []), agent_card: parse(r.agent_card, {}) };
}

export const a2aRepo = {
  /** Insert or refresh by agent_url; RETURNING the row either way. */
  upsertExternal(a: Omit<ExternalAgentRow, 'id' | 'status' | 'last_discovered_at'>): Statement {
    return statement(
      `INSERT INTO a2a_external_agents (agent_url, rpc_url, protocol_version, name, description, capabilities, agent_card, discovered_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(agent_url) DO UPDATE SET rpc_url = excluded.rpc_url, protocol_version = excluded.protocol_version,
         name = excluded.name, description = excluded.description, capabilities = excluded.capabilities,
         agent_card = excluded.agent_card, status = 'active', last_discovered_at = datetime('now')
       RETURNING *`,
      [
        a.agent_url,
        a.rpc_url,
        a.protocol_version,
        a.name,
        a.description,
        a.capabilities,
        a.agent_card,
        a.discovered_by,
      ],
    );
  },
  external(db: Queryable, id: number) {
    return db.get<ExternalAgentRow>('SELECT * FROM a2a_external_agents WHERE id = ?', [id]);
  },
  listExternal(db: Queryable, status?: string) {
    return status
      ? db.all<ExternalAgentRow>(
          'SELECT * FROM a2a_external_agents WHERE status = ? ORDER BY last_discovered_at DESC, id DESC',
          [status],
        )
      : db.all<ExternalAgentRow>('SELECT * FROM a2a_external_agents ORDER BY last_discovered_at DESC, id DESC');
  },
  deleteExternal(db: Queryable, id: number) {
    return db.run('DELETE FROM a2a_external_agents WHERE id = ?', [id]);
  },

  insertOutbound(
    db: Queryable,
    t: Pick<OutboundTaskRow, 'id' | 'external_agent_id' | 'mycelium_agent_id' | 'method' | 'input_text' | 'context_id'>,
  ) {
    return db.run(
      'INSERT INTO a2a_tasks (id, external_agent_id, mycelium_agent_id, method, input_text, context_id) VALUES (?, ?, ?, ?, ?, ?)',
      [t.id, t.external_agent_id, t.mycelium_agent_id, t.method, t.input_text, t.context_id],
    );
  },
  finishOutbound(
    id: string,
    f: { status: string; result: string | null; remote_task_id: string | null; context_id: string | null },
  ): Statement {
    return statement(
      `UPDATE a2a_tasks SET status = ?, result = ?, remote_task_id = COALESCE(?, remote_task_id), context_id = COALESCE(?, context_id),
         updated_at = datetime('now') WHERE id = ? RETURNING *`,
      [f.status, f.result, f.remote_task_id, f.context_id, id],
    );
  },
  outbound(db: Queryable, id: string) {
    return db.get<OutboundTaskRow>('SELECT * FROM a2a_tasks WHERE id = ?', [id]);
  },
  listOutbound(db: Queryable, f: { status?: string; agentId?: string }, limit: number) {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.status) {
      where.push('status = ?');
      args.push(f.status);
    }
    if (f.agentId) {
      where.push('mycelium_agent_id = ?');
      args.push(f.agentId);
    }
    return db.all<OutboundTaskRow>(
      `SELECT * FROM a2a_tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, rowid DESC LIMIT ?`,
      [...args, limit],
    );
  },

  /**
   * The inbound row for the Mycelium task inserted earlier in the same batch: tasks ids are
   * AUTOINCREMENT and a batch is one write transaction, so that task has the highest id there.
   */
  insertInboundForNewTask(
    t: Pick<InboundTaskRow, 'id' | 'context_id' | 'caller' | 'caller_url' | 'target_agent_id' | 'input_text'>,
  ): Statement {
    return statement(
      `INSERT INTO a2a_inbound_tasks (id, context_id, caller, caller_url, target_agent_id, mycelium_task_id, input_text)
       VALUES (?, ?, ?, ?, ?, (SELECT MAX(id) FROM tasks), ?)`,
      [t.id, t.context_id, t.caller, t.caller_url, t.target_agent_id, t.input_text],
    );
  },
  /** The `a2a_task_received` event of an inbound row written in the same batch (names its task). */
  receivedEvent(id: string, targetAgentId: string | null): EventRowsQuery {
    return {
      summarySql: `? || i.mycelium_task_id || ?`,
      dataSql: "json_object('a2a_task_id', i.id, 'task_id', i.mycelium_task_id, 'target_agent_id', ?)",
      rest: 'FROM a2a_inbound_tasks i WHERE i.id = ?',
      args: [
        `A2A task ${id} → task #`,
        targetAgentId ? ` for ${targetAgentId}` : ' (no agent online)',
        targetAgentId,
        id,
      ],
    };
  },
  inbound(db: Queryable, id: string) {
    return db.get<InboundWithTask>(
      'SELECT i.*, t.status AS task_status FROM a2a_inbound_tasks i LEFT JOIN tasks t ON t.id = i.mycelium_task_id WHERE i.id = ?',
      [id],
    );
  },
  listInbound(db: Queryable, f: { caller?: string; contextId?: string }, limit: number, offset: number) {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.caller) {
      where.push('i.caller = ?');
      args.push(f.caller);
    }
    if (f.contextId) {
      where.push('i.context_id = ?');
      args.push(f.contextId);
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return Promise.all([
      db.all<InboundWithTask>(
        `SELECT i.*, t.status AS task_status FROM a2a_inbound_tasks i LEFT JOIN tasks t ON t.id = i.mycelium_task_id ${w}
         ORDER BY i.created_at DESC, i.rowid DESC LIMIT ? OFFSET ?`,
        [...args, limit, offset],
      ),
      db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM a2a_inbound_tasks i ${w}`, args).then((r) => Number(r?.n ?? 0)),
    ]);
  },
  /** Terminal states are final: a late event never reopens a completed or canceled A2A task. */
  settleInbound(db: Queryable, id: string, status: string, result: string | null) {
    return db.get<InboundTaskRow>(
      `UPDATE a2a_inbound_tasks SET status = ?, result = COALESCE(?, result), updated_at = datetime('now')
       WHERE id = ? AND status NOT IN ('completed', 'canceled', 'failed', 'rejected') RETURNING *`,
      [status, result, id],
    );
  },
  settleInboundByTask(db: Queryable, taskId: number, status: string, result: string | null) {
    return db.all<InboundTaskRow>(
      `UPDATE a2a_inbound_tasks SET status = ?, result = COALESCE(?, result), updated_at = datetime('now')
       WHERE mycelium_task_id = ? AND status NOT IN ('completed', 'canceled', 'failed', 'rejected') RETURNING *`,
      [status, result, taskId],
    );
  },
  /** The newest deliverable, else the newest comment: what the agent left as the task's answer. */
  async taskAnswer(db: Queryable, taskId: number): Promise<string | null> {
    const d = await db.get<{ content: string }>(
      'SELECT content FROM task_deliverables WHERE task_id = ? ORDER BY id DESC LIMIT 1',
      [taskId],
    );
    if (d) return d.content;
    const c = await db.get<{ content: string }>(
      'SELECT content FROM task_comments WHERE task_id = ? ORDER BY id DESC LIMIT 1',
      [taskId],
    );
    return c?.content ?? null;
  },
  /** Online, non-drone agents, most recent heartbeat first, optionally within projects. */
  onlineAgents(db: Queryable, projectIds: string[] | null) {
    const inProjects = projectIds ? ` AND project_id IN (${projectIds.map(() => '?').join(', ') || "''"})` : '';
    return db.all<{ id: string; project_id: string; capabilities: string; role: string }>(
      `SELECT id, project_id, capabilities, role FROM agents
       WHERE status IN ('online', 'idle') AND role != 'drone' AND COALESCE(agent_type, '') != 'drone'${inProjects}
       ORDER BY last_heartbeat DESC LIMIT 200`,
      projectIds ?? [],
    );
  },
};

function statement(sql: string, args: Statement['args']): Statement {
  return { sql, args };
}
