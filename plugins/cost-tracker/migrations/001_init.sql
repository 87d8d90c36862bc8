-- cost-tracker (spec 06 §5.7, W20). The spend itself lives in the core ledger (agent_spend);
-- this database only keeps the budget alerts the plugin raised.
CREATE TABLE IF NOT EXISTS cost_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_type TEXT NOT NULL,
  period_start TEXT NOT NULL,
  threshold_pct REAL NOT NULL,
  current_spend REAL NOT NULL,
  budget_limit REAL NOT NULL,
  triggered_at TEXT NOT NULL DEFAULT (datetime('now')),
  UNIQUE (alert_type, period_start)
);
