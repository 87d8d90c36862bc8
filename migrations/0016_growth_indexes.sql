-- Issue 11 "growth": boot and the dispatch pass cost what the agent's own work costs, not what the
-- database holds (1,000 → 100,000 tasks, 50 → 10,000 agents).
-- The savepoint diff's changed tasks: the newest of the agent's own, and of each project's
-- unassigned ones, each one index range read newest first and stopped at the limit (it was every
-- task of the project, sorted, on each boot).
CREATE INDEX IF NOT EXISTS idx_tasks_assignee_updated ON tasks(assignee, updated_at);
CREATE INDEX IF NOT EXISTS idx_tasks_project_updated ON tasks(project_id, updated_at);

-- The dispatch pass (spec 02 §3.6) looks for idle, fresh agents that can take work, freshest first.
-- Whether an agent "holds" work is a count over three tables, so finding the ones that hold none
-- meant counting for every online agent and sorting them all, on every idle heartbeat (10,000
-- agents: 7× slower). `held` keeps that count on the row, maintained by the triggers below; the
-- pass reads candidates from an index of idle agents by (held, freshness) and stops at its limit.
-- The pass still checks each candidate with the exact count, so a stale counter can only hide or
-- offer a candidate, never over-assign.
ALTER TABLE agents ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
UPDATE agents SET held =
    (SELECT COUNT(*) FROM tasks WHERE assignee = agents.id AND status IN ('open','in_progress'))
  + (SELECT COUNT(*) FROM plan_steps WHERE assignee = agents.id AND status IN ('pending','in_progress'))
  + (SELECT COUNT(*) FROM bugs WHERE assignee = agents.id AND status IN ('open','in_progress'));
CREATE INDEX IF NOT EXISTS idx_agents_dispatch ON agents(held, last_heartbeat DESC, id)
  WHERE status IN ('online','idle') AND COALESCE(working_on, '') = '';
-- Agents allowed more than one item at a time (few): the pass also offers them while they hold some.
CREATE INDEX IF NOT EXISTS idx_agent_profiles_concurrent ON agent_profiles(agent_id) WHERE max_concurrent > 1;
-- Undelivered directives, by addressee (NULL = broadcast): the pass skips agents that have one.
CREATE INDEX IF NOT EXISTS idx_messages_sent_directives ON messages(to_agent) WHERE msg_type = 'directive' AND status = 'sent';

-- An agent registered under an id that already holds work (re-registration) starts with its count.
CREATE TRIGGER IF NOT EXISTS agents_held_on_register AFTER INSERT ON agents
BEGIN
  UPDATE agents SET held =
      (SELECT COUNT(*) FROM tasks WHERE assignee = NEW.id AND status IN ('open','in_progress'))
    + (SELECT COUNT(*) FROM plan_steps WHERE assignee = NEW.id AND status IN ('pending','in_progress'))
    + (SELECT COUNT(*) FROM bugs WHERE assignee = NEW.id AND status IN ('open','in_progress'))
  WHERE id = NEW.id;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_task_insert AFTER INSERT ON tasks
WHEN NEW.status IN ('open','in_progress') AND COALESCE(NEW.assignee, '') != ''
BEGIN
  UPDATE agents SET held = held + 1 WHERE id = NEW.assignee;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_task_delete AFTER DELETE ON tasks
WHEN OLD.status IN ('open','in_progress') AND COALESCE(OLD.assignee, '') != ''
BEGIN
  UPDATE agents SET held = MAX(held - 1, 0) WHERE id = OLD.assignee;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_task_update AFTER UPDATE OF assignee, status ON tasks
WHEN OLD.assignee IS NOT NEW.assignee OR (OLD.status IN ('open','in_progress')) != (NEW.status IN ('open','in_progress'))
BEGIN
  UPDATE agents SET held = MAX(held - 1, 0) WHERE id = OLD.assignee AND OLD.status IN ('open','in_progress');
  UPDATE agents SET held = held + 1 WHERE id = NEW.assignee AND NEW.status IN ('open','in_progress');
END;
CREATE TRIGGER IF NOT EXISTS agents_held_step_insert AFTER INSERT ON plan_steps
WHEN NEW.status IN ('pending','in_progress') AND COALESCE(NEW.assignee, '') != ''
BEGIN
  UPDATE agents SET held = held + 1 WHERE id = NEW.assignee;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_step_delete AFTER DELETE ON plan_steps
WHEN OLD.status IN ('pending','in_progress') AND COALESCE(OLD.assignee, '') != ''
BEGIN
  UPDATE agents SET held = MAX(held - 1, 0) WHERE id = OLD.assignee;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_step_update AFTER UPDATE OF assignee, status ON plan_steps
WHEN OLD.assignee IS NOT NEW.assignee OR (OLD.status IN ('pending','in_progress')) != (NEW.status IN ('pending','in_progress'))
BEGIN
  UPDATE agents SET held = MAX(held - 1, 0) WHERE id = OLD.assignee AND OLD.status IN ('pending','in_progress');
  UPDATE agents SET held = held + 1 WHERE id = NEW.assignee AND NEW.status IN ('pending','in_progress');
END;
CREATE TRIGGER IF NOT EXISTS agents_held_bug_insert AFTER INSERT ON bugs
WHEN NEW.status IN ('open','in_progress') AND COALESCE(NEW.assignee, '') != ''
BEGIN
  UPDATE agents SET held = held + 1 WHERE id = NEW.assignee;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_bug_delete AFTER DELETE ON bugs
WHEN OLD.status IN ('open','in_progress') AND COALESCE(OLD.assignee, '') != ''
BEGIN
  UPDATE agents SET held = MAX(held - 1, 0) WHERE id = OLD.assignee;
END;
CREATE TRIGGER IF NOT EXISTS agents_held_bug_update AFTER UPDATE OF assignee, status ON bugs
WHEN OLD.assignee IS NOT NEW.assignee OR (OLD.status IN ('open','in_progress')) != (NEW.status IN ('open','in_progress'))
BEGIN
  UPDATE agents SET held = MAX(held - 1, 0) WHERE id = OLD.assignee AND OLD.status IN ('open','in_progress');
  UPDATE agents SET held = held + 1 WHERE id = NEW.assignee AND NEW.status IN ('open','in_progress');
END;

-- The dispatch pass's tasks: the open, unassigned pool of a project (or of all, for an unscoped
-- agent) in dispatch order — priority rank, then oldest — so each read stops at its lookahead
-- instead of sorting every open task of the project for each candidate.
CREATE INDEX IF NOT EXISTS idx_tasks_dispatch_project ON tasks(project_id, (CASE priority WHEN 'high' THEN 3 WHEN 'normal' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) DESC, created_at)
  WHERE status = 'open' AND COALESCE(assignee, '') = '';
CREATE INDEX IF NOT EXISTS idx_tasks_dispatch_all ON tasks((CASE priority WHEN 'high' THEN 3 WHEN 'normal' THEN 2 WHEN 'low' THEN 1 ELSE 0 END) DESC, created_at)
  WHERE status = 'open' AND COALESCE(assignee, '') = '';

-- Tasks awaiting approval (verbose boot's approval queue, the approvals list): a small pool,
-- newest first, instead of every task that ever needed approval.
DROP INDEX IF EXISTS idx_tasks_needs_approval;
CREATE INDEX IF NOT EXISTS idx_tasks_awaiting_approval ON tasks(updated_at)
  WHERE needs_approval = 1 AND approved_by IS NULL AND status != 'done';
