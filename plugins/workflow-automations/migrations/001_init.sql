-- workflow-automations (spec 06 §5.3), in the plugin's own database.
CREATE TABLE IF NOT EXISTS automation_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  trigger_event TEXT NOT NULL,
  conditions TEXT NOT NULL DEFAULT '{}',
  actions TEXT NOT NULL DEFAULT '[]',
  project_id TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  run_count INTEGER NOT NULL DEFAULT 0,
  last_run TEXT,
  created_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_automation_rules_trigger ON automation_rules(trigger_event);
CREATE INDEX IF NOT EXISTS idx_automation_rules_enabled ON automation_rules(enabled);

-- event_id + UNIQUE(rule_id, event_id): a rule runs at most once per event, even if two
-- processes see the same event (the claim row is inserted before any action runs).
CREATE TABLE IF NOT EXISTS automation_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule_id INTEGER NOT NULL,
  rule_name TEXT NOT NULL,
  trigger_event TEXT NOT NULL,
  event_id INTEGER,
  matched INTEGER NOT NULL DEFAULT 1,
  actions_taken TEXT NOT NULL DEFAULT '[]',
  event_data TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'success',
  error TEXT NOT NULL DEFAULT '',
  dry_run INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_automation_log_rule ON automation_log(rule_id);
CREATE INDEX IF NOT EXISTS idx_automation_log_status ON automation_log(status);
CREATE UNIQUE INDEX IF NOT EXISTS idx_automation_log_once ON automation_log(rule_id, event_id) WHERE event_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS automation_templates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  trigger_event TEXT NOT NULL,
  conditions TEXT NOT NULL DEFAULT '{}',
  actions TEXT NOT NULL DEFAULT '[]',
  category TEXT NOT NULL DEFAULT 'general',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_automation_templates_category ON automation_templates(category);

INSERT OR IGNORE INTO automation_templates (id, name, description, trigger_event, conditions, actions, category) VALUES
  (1, 'Auto-assign critical bugs', 'Assign critical bugs to an agent and notify operators', 'bug_created', '{"field_equals":{"severity":"critical"}}', '[{"type":"assign_agent","agent_id":"__configure_me__"},{"type":"inbox_notify","title":"Critical bug: {{summary}}","priority":"urgent"}]', 'bugs'),
  (2, 'Notify on plan completion', 'Inbox item when a plan step completes', 'plan_step_completed', '{}', '[{"type":"inbox_notify","title":"Plan step completed","summary":"{{summary}}"}]', 'plans'),
  (3, 'Webhook on deploy', 'Call a webhook when a deploy approval is executed', 'approval_executed', '{"field_equals":{"action_type":"deploy"}}', '[{"type":"send_webhook","url":"__configure_me__"}]', 'integrations'),
  (4, 'Create review task on PR', 'A review task for every opened pull request', 'github_pr_opened', '{}', '[{"type":"create_task","title":"Review PR: {{title}}"}]', 'github');
