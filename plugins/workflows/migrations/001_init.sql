-- workflows (spec 06 §5.2, HEAD columns): DAG store and state machine, in the plugin's own database.
CREATE TABLE IF NOT EXISTS workflows (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  shape TEXT NOT NULL DEFAULT 'custom',
  spec TEXT NOT NULL,
  project_id TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  risk TEXT,
  requested_by TEXT NOT NULL DEFAULT '',
  claimed_by TEXT,
  error TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  started_at TEXT,
  finished_at TEXT,
  approval_id INTEGER
);
CREATE INDEX IF NOT EXISTS idx_workflows_status ON workflows(status);
CREATE INDEX IF NOT EXISTS idx_workflows_project ON workflows(project_id);

CREATE TABLE IF NOT EXISTS workflow_invocations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workflow_id INTEGER NOT NULL,
  inv_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  brief TEXT NOT NULL DEFAULT '',
  deps TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'pending',
  result TEXT,
  transcript_path TEXT,
  started_at TEXT,
  finished_at TEXT,
  UNIQUE (workflow_id, inv_id)
);
CREATE INDEX IF NOT EXISTS idx_workflow_invocations_workflow ON workflow_invocations(workflow_id);

CREATE TABLE IF NOT EXISTS workflow_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  workflow_id INTEGER NOT NULL,
  ts TEXT NOT NULL DEFAULT (datetime('now')),
  kind TEXT NOT NULL,
  payload TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS idx_workflow_events_workflow ON workflow_events(workflow_id);
