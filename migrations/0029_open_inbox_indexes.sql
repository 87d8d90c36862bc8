-- Issue 11 (growth): an agent's heartbeat, boot and work poll read its pending requests and
-- directives. Status and type used to be filters on idx_messages_to, so each read walked every
-- message ever sent to the agent — and the broadcast half every broadcast ever (channel posts
-- included): with a month of history a heartbeat cost 10 ms. These partial indexes hold only what
-- is still open, per recipient; a request leaves its index when it is resolved. The queries name
-- them (INDEXED BY, messages/repo.ts): without ANALYZE statistics the planner would not prefer them.
CREATE INDEX IF NOT EXISTS idx_messages_open_requests ON messages(to_agent) WHERE msg_type = 'request' AND status IN ('pending','sent');
CREATE INDEX IF NOT EXISTS idx_messages_open_directives ON messages(to_agent) WHERE msg_type = 'directive' AND status IN ('sent','pending');
