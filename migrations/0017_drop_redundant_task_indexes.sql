-- Issue 11: every task write updates every index on tasks. These two are the leading column of
-- composite indexes that already serve the same lookups (idx_tasks_project_status,
-- idx_tasks_project_updated, idx_tasks_dispatch_project; idx_tasks_assignee_status,
-- idx_tasks_assignee_updated), so they only cost writes: two fewer b-trees per claim and update.
DROP INDEX IF EXISTS idx_tasks_project;
DROP INDEX IF EXISTS idx_tasks_assignee;
