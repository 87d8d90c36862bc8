-- Issue 11, the hot writes (task claim, context put): every index of a table is pages written on
-- each insert, and on each update that changes its key. Three indexes cost writes and serve no
-- read that another index or the rowid does not serve as well:
-- events(created_at): ids follow time (one writer, ids in commit order), so `GET /events?since=`
-- and the retention job bound their range by id, found by a binary search over the rowid
-- (worker/src/db/time-order.ts); every event insert writes one b-tree less.
DROP INDEX IF EXISTS idx_events_created;
-- context_history(changed_at): only the hourly purge read it; it bounds by id the same way. Each
-- context put wrote it twice (the new entry, the trimmed oldest one).
DROP INDEX IF EXISTS idx_context_history_changed;
-- tasks(project_id, status): every task query keyed by project rides idx_tasks_project_updated
-- (project_id, updated_at) or the dispatch indexes; no plan chose this one. Claims and status
-- changes rewrote it.
DROP INDEX IF EXISTS idx_tasks_project_status;
-- tasks(assignee, status): every read of it names an agent (`assignee = ?`: what it holds, its
-- counts), never the unassigned, so it holds only assigned tasks. A claim of an unassigned task
-- then adds one entry instead of moving one (a delete on another page).
DROP INDEX IF EXISTS idx_tasks_assignee_status;
CREATE INDEX IF NOT EXISTS idx_tasks_assignee_status ON tasks(assignee, status) WHERE assignee IS NOT NULL;
