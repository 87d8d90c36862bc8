-- Issue 11 (growth): an agent's heartbeat, boot and work poll read its pending requests and
-- directives. Status and type used to be filters on idx_messages_to, so each read walked every
-- message ever sent to the agent — and the broadcast half every broadcast ever (channel posts
-- included): with a month of history a heartbeat cost 10 ms. These partial indexes hold only what
-- is still open, per recipient; a request leaves its index when it is resolved. The queries name
-- them (INDEXED BY, messages/repo.ts): without ANALYZE statistics the planner would not prefer them.
CREATE INDEX IF NOT EXISTS idx_messages_open_requests ON messages(to_agent) WHERE msg_type = 'request' AND status IN ('pending','sent');
CREATE INDEX IF NOT EXISTS idx_messages_open_directives ON messages(to_agent) WHERE msg_type = 'directive' AND status IN ('sent','pending');
-- The dispatch pass's "no undelivered directive" check reads the same index now (INDEXED BY,
-- dispatch/repo.ts), so the narrower one of migration 0016 (sent directives only) goes: one index
-- of directives written per directive, not two.
DROP INDEX IF EXISTS idx_messages_sent_directives;
-- Each agent's read-up-to mark: every message with an id at or below it is read, or was never news
-- for the agent (older than the news window or the agent, another recipient's, a channel it was
-- not in). A heartbeat that delivers fewer unread messages than its limit has delivered them all,
-- so it moves the mark to the newest message; the unread read then starts after the mark and costs
-- the mail that arrived since, not the agent's week of mail. A table of its own, so the agent's row
-- (served as is on the wire) does not change.
CREATE TABLE IF NOT EXISTS inbox_marks (
  agent_id TEXT PRIMARY KEY,
  read_to INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
