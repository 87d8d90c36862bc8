import type { Queryable } from '../../db/db.js';
import type { Statement } from '../../db/types.js';

/** The agent_savepoints table's SQL. "Latest" is always the greatest id (spec 02 W22). */

export interface SavepointRow {
  id: number;
  agent_id: string;
  session_id: string | null;
  heartbeat_at: string;
  working_on: string;
  state_snapshot: string;
  messages_acked: string;
  context_versions: string;
  notes: string | null;
  notes_delivered: number;
  created_at: string;
  /** MAX(id) of events and of messages when the row was written or last moved (migration 0032). */
  events_mark: number | null;
  messages_mark: number | null;
}

/** Wire shape: JSON columns stay strings (the MCP parses `state_snapshot` itself). */
export function toWireSavepoint(r: SavepointRow) {
  const { notes_delivered: _n, events_mark: _e, messages_mark: _m, ...rest } = r;
  return rest;
}

const KEEP_PER_AGENT_DAILY = 50;
/**
 * Where the events and messages logs stand (two values, no `?`): stored with each savepoint, so its
 * diff starts at the next id instead of searching the log by time (migration 0032).
 */
const LOG_MARKS = '(SELECT MAX(id) FROM events), (SELECT MAX(id) FROM messages)';
/**
 * Undelivered hand-off notes of the agent's latest savepoint that has some (one `?`: the agent id),
 * carried forward by new savepoints (spec 02 W21): a lookup in idx_savepoints_pending_notes.
 */
const CARRIED_NOTES =
  'SELECT notes FROM agent_savepoints WHERE agent_id = ? AND notes IS NOT NULL AND notes_delivered = 0 ORDER BY id DESC LIMIT 1';

/** `savepointsRepo.recordHeartbeat`'s upsert, built once (the same SQL text on every heartbeat). */
const RECORD_HEARTBEAT = `INSERT INTO agent_savepoints (id, agent_id, session_id, working_on, state_snapshot, messages_acked, notes, notes_delivered,
    events_mark, messages_mark)
  SELECT (SELECT l.id FROM
            (SELECT id, session_id, working_on, state_snapshot, messages_acked, notes, notes_delivered FROM agent_savepoints
             WHERE agent_id = ? ORDER BY id DESC LIMIT 1) l
          WHERE l.session_id IS ? AND l.working_on = ? AND l.state_snapshot = ? AND l.messages_acked = ?
            AND l.notes IS c.notes AND (l.notes IS NULL OR l.notes_delivered = 0)),
         ?, ?, ?, ?, ?, c.notes, 0, ${LOG_MARKS}
  FROM (SELECT (${CARRIED_NOTES}) AS notes) c
  WHERE true
  ON CONFLICT(id) DO UPDATE SET heartbeat_at = datetime('now'), events_mark = excluded.events_mark,
    messages_mark = excluded.messages_mark WHERE heartbeat_at != datetime('now')`;

export const savepointsRepo = {
  latest(db: Queryable, agentId: string) {
    return db.get<SavepointRow>('SELECT * FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC LIMIT 1', [
      agentId,
    ]);
  },

  list(db: Queryable, agentId: string, limit: number) {
    return db.all(
      `SELECT id, agent_id, session_id, heartbeat_at, working_on, notes, created_at
       FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC LIMIT ?`,
      [agentId, limit],
    );
  },

  /**
   * Inserts a savepoint. Undelivered hand-off notes of the previous latest savepoint are carried
   * forward, so a heartbeat never buries them before a boot shows them (spec 02 W21). The agent's
   * savepoints are pruned to the newest 100 by the trigger agent_savepoints_keep_100 (migration 0019).
   */
  insert(s: {
    agentId: string;
    sessionId?: string | null;
    workingOn: string;
    stateSnapshot?: string;
    messagesAcked?: string;
    notes?: string | null;
  }): Statement {
    return {
      sql: `INSERT INTO agent_savepoints (agent_id, session_id, working_on, state_snapshot, messages_acked, notes, notes_delivered,
              events_mark, messages_mark)
            SELECT ?, ?, ?, ?, ?,
                   COALESCE(?, (${CARRIED_NOTES})),
                   0, ${LOG_MARKS}
            RETURNING id`,
      args: [
        s.agentId,
        s.sessionId ?? null,
        s.workingOn,
        s.stateSnapshot ?? '{}',
        s.messagesAcked ?? '[]',
        s.notes ?? null,
        s.agentId,
      ],
    };
  },

  /**
   * The heartbeat's savepoint (spec 02 §3.3 step 6) as ONE statement, written only when something
   * in it changed (issue 11): a new row when session, working_on, snapshot, acks or carried notes
   * would differ from the latest row; otherwise the latest row's heartbeat_at and log marks move
   * to now, the same "since" for the diff (§3.7) that an identical new row would give. The
   * unchanged case names the latest row's id, so the insert meets its own primary key and becomes
   * that update (an upsert); a new row gets a fresh id. New rows are pruned to the newest 100 by the
   * trigger agent_savepoints_keep_100 (migration 0019).
   */
  recordHeartbeat(s: {
    agentId: string;
    sessionId: string | null;
    workingOn: string;
    stateSnapshot: string;
    messagesAcked: string;
  }): Statement {
    return {
      sql: RECORD_HEARTBEAT,
      args: [
        s.agentId,
        s.sessionId,
        s.workingOn,
        s.stateSnapshot,
        s.messagesAcked,
        s.agentId,
        s.sessionId,
        s.workingOn,
        s.stateSnapshot,
        s.messagesAcked,
        s.agentId,
      ],
    };
  },

  /** Daily retention across all agents. */
  pruneAll(db: Queryable, keep = KEEP_PER_AGENT_DAILY) {
    return db.run(
      `DELETE FROM agent_savepoints WHERE id IN (
         SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY id DESC) AS rn FROM agent_savepoints) WHERE rn > ?)`,
      [keep],
    );
  },

  setNotesOnLatest(agentId: string, notes: string): Statement {
    return {
      sql: `UPDATE agent_savepoints SET notes = ?, notes_delivered = 0
       WHERE id = (SELECT id FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC LIMIT 1) RETURNING id`,
      args: [notes, agentId],
    };
  },
  /** The SELECT part of an event row naming the agent's latest savepoint (for `statementPerRow`). */
  latestIdSql: 'FROM (SELECT id AS sp FROM agent_savepoints WHERE agent_id = ? ORDER BY id DESC LIMIT 1)',

  /**
   * Whether any savepoint of the agent has notes not yet delivered (`markNotesDelivered` would
   * change a row): a one-value read (`1`, or no row) for boot's first batch.
   */
  undeliveredNotes(db: Queryable, agentId: string) {
    return db.get<{ n: number }>(
      'SELECT 1 AS n FROM agent_savepoints WHERE agent_id = ? AND notes IS NOT NULL AND notes_delivered = 0 LIMIT 1',
      [agentId],
    );
  },

  /** A boot has shown the notes: stop carrying them forward. */
  markNotesDelivered(agentId: string): Statement {
    return {
      sql: 'UPDATE agent_savepoints SET notes_delivered = 1 WHERE agent_id = ? AND notes IS NOT NULL AND notes_delivered = 0',
      args: [agentId],
    };
  },

  deleteForAgent(agentId: string): Statement {
    return { sql: 'DELETE FROM agent_savepoints WHERE agent_id = ?', args: [agentId] };
  },
};
