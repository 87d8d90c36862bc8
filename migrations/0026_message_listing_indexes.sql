-- Issue 11 (growth): an agent's GET /messages lists what it sent, what was sent to it and the
-- broadcasts it may read, newest first by created_at. As one OR that planned as a MULTI-INDEX OR
-- over idx_messages_from / idx_messages_to: every message the agent ever sent or received and
-- every broadcast ever, sorted, for a page of 50 (13 ms at 67,000 messages, growing). Each branch
-- is now a walk of one of these indexes newest first (recipient or sender, then time, then rowid:
-- the listing's own order), stopped at the page (messages/repo.ts, db/newest-per-branch.ts).
-- idx_messages_from and idx_messages_to stay: their rowid order serves id ranges (the inbox).
CREATE INDEX IF NOT EXISTS idx_messages_to_created ON messages(to_agent, created_at);
CREATE INDEX IF NOT EXISTS idx_messages_from_created ON messages(from_agent, created_at);
-- Paid for by two that nothing needs: status alone is the first column of idx_messages_status_type,
-- and no read selects messages by priority.
DROP INDEX IF EXISTS idx_messages_status;
DROP INDEX IF EXISTS idx_messages_priority;
