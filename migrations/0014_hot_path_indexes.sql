-- Issue 11: hot agent calls stay bounded by indexes as the database grows.
-- Verbose boot's recent events of the agent's projects: the newest per project by index, not a
-- backwards walk of the whole table until twenty match.
CREATE INDEX IF NOT EXISTS idx_events_project ON events(project_id);
