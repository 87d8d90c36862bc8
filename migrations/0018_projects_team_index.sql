-- Issue 11 (boot): an agent's team projects (auth/scope.ts, the work queue's scope, boot) are read
-- as projects JOIN team_members ON team_id. Without an index on projects(team_id) SQLite builds an
-- automatic index over every project on each such read: boot's scope read cost ~110 µs at 2,000
-- projects instead of ~10 µs, and grew with the number of projects.
CREATE INDEX IF NOT EXISTS idx_projects_team ON projects(team_id);
