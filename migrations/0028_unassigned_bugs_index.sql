-- Issue 11: the work queue's unassigned bugs (spec 02 §3.5 bucket 8) are read project by project
-- from the pool of unassigned ones, instead of every open bug of the instance checked against the
-- agent's scope (work/repo.ts `freeBugs`). Two equality columns, so the planner takes it over
-- idx_bugs_status without ANALYZE statistics.
CREATE INDEX IF NOT EXISTS idx_bugs_unassigned ON bugs(project_id, status) WHERE COALESCE(assignee, '') = '';
