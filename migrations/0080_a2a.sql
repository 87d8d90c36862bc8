-- A2A (spec 06 §5.6, issue 12), in the core: inbound A2A tasks are Mycelium tasks, and the
-- completion of the one completes the other. Outbound: remote agents we discovered and what we sent them.

CREATE TABLE IF NOT EXISTS a2a_external_agents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_url TEXT NOT NULL UNIQUE,
  rpc_url TEXT NOT NULL,
  protocol_version TEXT NOT NULL DEFAULT '1.0',
  name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  capabilities TEXT NOT NULL DEFAULT '[]',
  agent_card TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'active',
  discovered_by TEXT NOT NULL DEFAULT '',
  last_discovered_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_a2a_external_agents_status ON a2a_external_agents(status);

CREATE TABLE IF NOT EXISTS a2a_tasks (
  id TEXT PRIMARY KEY,
  external_agent_id INTEGER NOT NULL REFERENCES a2a_external_agents(id) ON DELETE CASCADE,
  remote_task_id TEXT,
  context_id TEXT,
  mycelium_task_id INTEGER,
  mycelium_agent_id TEXT NOT NULL,
  method TEXT NOT NULL,
  input_text TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'submitted',
  result TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_a2a_tasks_status ON a2a_tasks(status);
CREATE INDEX IF NOT EXISTS idx_a2a_tasks_agent ON a2a_tasks(mycelium_agent_id);

CREATE TABLE IF NOT EXISTS a2a_inbound_tasks (
  id TEXT PRIMARY KEY,
  context_id TEXT NOT NULL,
  caller TEXT NOT NULL,
  caller_url TEXT NOT NULL DEFAULT '',
  target_agent_id TEXT,
  mycelium_task_id INTEGER,
  input_text TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'submitted',
  result TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_a2a_inbound_status ON a2a_inbound_tasks(status);
CREATE INDEX IF NOT EXISTS idx_a2a_inbound_task ON a2a_inbound_tasks(mycelium_task_id);
CREATE INDEX IF NOT EXISTS idx_a2a_inbound_caller ON a2a_inbound_tasks(caller, created_at);
