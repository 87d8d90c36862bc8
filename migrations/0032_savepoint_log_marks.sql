-- Issue 11 (boot): where the events and messages logs stood when a savepoint was written. The
-- savepoint diff (spec 02 §3.7) counts events and lists messages written since the savepoint; it
-- found where that range starts by a binary search over each log's ids (about log2(rows) seeks
-- per log, on every boot). The writer knows it for free: MAX(id) of each log, read in the same
-- statement. Rows inserted later have greater ids (one writer at a time). NULL on rows written
-- before this migration: the diff falls back to the search for those.
ALTER TABLE agent_savepoints ADD COLUMN events_mark INTEGER;
ALTER TABLE agent_savepoints ADD COLUMN messages_mark INTEGER;
