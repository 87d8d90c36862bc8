-- guardrails (spec 06 §5.1): rules, violations, rule history. In the plugin's own database.
CREATE TABLE IF NOT EXISTS guardrail_rules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  trigger_event TEXT NOT NULL,
  conditions TEXT NOT NULL DEFAULT '{}',
  enforcement TEXT NOT NULL DEFAULT 'warn',
  project_id TEXT,
  enabled INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  version INTEGER NOT NULL DEFAULT 1,
  severity TEXT NOT NULL DEFAULT 'medium',
  cooldown_seconds INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_guardrail_rules_trigger ON guardrail_rules(trigger_event);

CREATE TABLE IF NOT EXISTS guardrail_violations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule_id INTEGER NOT NULL,
  rule_name TEXT NOT NULL,
  trigger_event TEXT NOT NULL,
  agent_id TEXT NOT NULL DEFAULT '',
  project_id TEXT NOT NULL DEFAULT '',
  enforcement TEXT NOT NULL,
  event_data TEXT NOT NULL DEFAULT '{}',
  violation_detail TEXT NOT NULL DEFAULT '',
  overridden INTEGER NOT NULL DEFAULT 0,
  overridden_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_guardrail_violations_rule ON guardrail_violations(rule_id);
CREATE INDEX IF NOT EXISTS idx_guardrail_violations_agent ON guardrail_violations(agent_id);
CREATE INDEX IF NOT EXISTS idx_guardrail_violations_project ON guardrail_violations(project_id);
CREATE INDEX IF NOT EXISTS idx_guardrail_violations_created ON guardrail_violations(created_at DESC);

CREATE TABLE IF NOT EXISTS guardrail_rule_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  rule_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  conditions TEXT NOT NULL,
  enforcement TEXT NOT NULL,
  changed_by TEXT NOT NULL DEFAULT '',
  changed_at TEXT NOT NULL DEFAULT (datetime('now'))
);
