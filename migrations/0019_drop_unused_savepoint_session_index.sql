-- Issue 11: no query reads savepoints by session_id (the session is carried on the row and shown,
-- never searched), so idx_savepoints_session only cost writes: every heartbeat that records a
-- savepoint inserted one entry and its prune deleted another, two more WAL pages per commit.
-- Lookups of an agent's savepoints go through idx_savepoints_agent(agent_id, id DESC).
DROP INDEX IF EXISTS idx_savepoints_session;
