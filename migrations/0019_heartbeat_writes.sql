-- Issue 11: what a heartbeat writes, cheaper: its savepoint and its delivery marks.
-- No query reads savepoints by session_id (the session is carried on the row and shown, never
-- searched), so idx_savepoints_session only cost writes: every heartbeat that recorded a savepoint
-- inserted one entry and its prune deleted another, two more WAL pages per commit. Lookups of an
-- agent's savepoints go through idx_savepoints_agent(agent_id, id DESC).
DROP INDEX IF EXISTS idx_savepoints_session;
-- Hand-off notes not yet shown by a boot (spec 02 W21), which every heartbeat looks up to carry
-- forward: without this, the lookup walked every savepoint of the agent (up to 100, nearly all
-- without notes). Rows without pending notes are not in it, so ordinary heartbeats never write it.
CREATE INDEX IF NOT EXISTS idx_savepoints_pending_notes ON agent_savepoints(agent_id, id)
  WHERE notes IS NOT NULL AND notes_delivered = 0;
-- Each agent keeps its newest 100 savepoints (spec 02 §1.2, §3.3 step 6): pruned by the insert
-- itself, so a heartbeat that records no new savepoint (nothing changed) runs no prune, and the
-- writers (heartbeat, admin heartbeat, admin POST) need no statement of their own for it.
CREATE TRIGGER IF NOT EXISTS agent_savepoints_keep_100 AFTER INSERT ON agent_savepoints
BEGIN
  DELETE FROM agent_savepoints WHERE agent_id = NEW.agent_id AND id <=
    (SELECT id FROM agent_savepoints WHERE agent_id = NEW.agent_id ORDER BY id DESC LIMIT 1 OFFSET 100);
END;
-- Every message_id lookup of message_reads is served by its UNIQUE(message_id, agent_id) index, of
-- which idx_message_reads_message is a prefix: it only cost writes (one more b-tree per delivered
-- or acked message, on every heartbeat and boot that delivers).
DROP INDEX IF EXISTS idx_message_reads_message;
