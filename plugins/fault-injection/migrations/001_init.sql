CREATE TABLE IF NOT EXISTS fault_hook_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id INTEGER,
  event_type TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
