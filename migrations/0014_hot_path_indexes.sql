-- Issue 11: hot agent calls stay bounded by indexes as the database grows.
-- Verbose boot's recent events of the agent's projects: the newest per project by index, not a
-- backwards walk of the whole table until twenty match.
CREATE INDEX IF NOT EXISTS idx_events_project ON events(project_id);
-- Boot's other agents come oldest first, at most 200: an ordered walk that stops at 200 instead of
-- sorting every registered agent on every boot.
CREATE INDEX IF NOT EXISTS idx_agents_created ON agents(created_at);
