-- Agents and coordination (spec 02 §1.2–§1.5): savepoints, persistent profiles, templates,
-- calibration ("node") profiles. Timestamps are datetime('now') text, UTC 'YYYY-MM-DD HH:MM:SS'.

-- "Latest" is decided by id, never by the second-resolution heartbeat_at (spec 02 W22).
-- notes_delivered: admin hand-off notes are carried forward by later heartbeats until a boot
-- has shown them (spec 02 W21).
CREATE TABLE IF NOT EXISTS agent_savepoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  session_id TEXT,
  heartbeat_at TEXT NOT NULL DEFAULT (datetime('now')),
  working_on TEXT NOT NULL DEFAULT '',
  state_snapshot TEXT NOT NULL DEFAULT '{}',
  messages_acked TEXT NOT NULL DEFAULT '[]',
  context_versions TEXT NOT NULL DEFAULT '{}',
  notes TEXT,
  notes_delivered INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_savepoints_agent ON agent_savepoints(agent_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_savepoints_session ON agent_savepoints(session_id);

CREATE TABLE IF NOT EXISTS agent_profiles (
  agent_id TEXT PRIMARY KEY REFERENCES agents(id) ON DELETE CASCADE,
  display_name TEXT NOT NULL DEFAULT '',
  specializations TEXT NOT NULL DEFAULT '[]',
  preferred_projects TEXT NOT NULL DEFAULT '[]',
  max_concurrent INTEGER NOT NULL DEFAULT 0,
  total_tasks_completed INTEGER NOT NULL DEFAULT 0,
  total_bugs_fixed INTEGER NOT NULL DEFAULT 0,
  total_prs_created INTEGER NOT NULL DEFAULT 0,
  session_count INTEGER NOT NULL DEFAULT 0,
  capability_history TEXT NOT NULL DEFAULT '[]',
  profile_data TEXT NOT NULL DEFAULT '{}',
  first_seen_at TEXT NOT NULL DEFAULT (datetime('now')),
  last_active_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS agent_templates (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  runtime TEXT NOT NULL DEFAULT '',
  llm_backend TEXT NOT NULL DEFAULT '',
  llm_model TEXT NOT NULL DEFAULT '',
  agent_type TEXT NOT NULL DEFAULT 'agent',
  capabilities TEXT NOT NULL DEFAULT '["code","assets"]',
  project_id TEXT NOT NULL DEFAULT '',
  team_ids TEXT NOT NULL DEFAULT '[]',
  profile_rules TEXT NOT NULL DEFAULT '{}',
  created_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_agent_templates_name ON agent_templates(name);

CREATE TABLE IF NOT EXISTS node_profiles (
  id TEXT PRIMARY KEY,
  node_type TEXT NOT NULL DEFAULT 'agent',
  layer TEXT NOT NULL DEFAULT 'customer',
  parent_id TEXT,
  rules TEXT NOT NULL DEFAULT '{}',
  required_concepts TEXT NOT NULL DEFAULT '[]',
  tool_whitelist TEXT NOT NULL DEFAULT '[]',
  repo_list TEXT NOT NULL DEFAULT '[]',
  md_checkpoints TEXT NOT NULL DEFAULT '[]',
  md_blocklist TEXT NOT NULL DEFAULT '[]',
  mcp_config TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_node_profiles_layer ON node_profiles(layer);
CREATE INDEX IF NOT EXISTS idx_node_profiles_node_type ON node_profiles(node_type);

INSERT OR IGNORE INTO node_profiles (id, node_type, layer, parent_id, rules, md_checkpoints) VALUES
  ('default-agent', 'agent', 'platform', NULL,
   '{"honesty":{"severity":"critical","description":"Report what you actually did and saw; never claim unverified success."},"evidence_based":{"severity":"critical","description":"Base conclusions on logs, tests and files, not on assumptions."},"identity":{"severity":"high","description":"Act only as yourself; never use another agent''s key or name."},"communication":{"severity":"high","description":"Answer requests addressed to you and resolve them when done."},"coordination":{"severity":"high","description":"Claim work through the queue before starting it; release what you cannot finish."},"security":{"severity":"critical","description":"Never print, commit or send secrets."},"paid_services":{"severity":"critical","description":"Never start paid services without an approved request."},"code_standards":{"severity":"medium","description":"Follow the project''s conventions and keep its tests green."}}',
   '["mycelium_boot","No guessing","No silent failures"]'),
  ('default-drone', 'drone', 'platform', NULL,
   '{"execution":{"severity":"critical","description":"Run only the jobs you claimed, exactly as specified."},"no_messages":{"severity":"high","description":"Do not send chat messages; report through job results."}}',
   '[]'),
  ('default-admin', 'admin', 'platform', 'default-agent',
   '{"honesty":{"severity":"critical","description":"Report what you actually did and saw; never claim unverified success."},"evidence_based":{"severity":"critical","description":"Base conclusions on logs, tests and files, not on assumptions."},"identity":{"severity":"high","description":"Act only as yourself; never use another agent''s key or name."},"communication":{"severity":"high","description":"Answer requests addressed to you and resolve them when done."},"coordination":{"severity":"critical","description":"Route work to agents through the queue; never do assigned work of others."},"security":{"severity":"critical","description":"Never print, commit or send secrets."},"paid_services":{"severity":"critical","description":"Never start paid services without an approved request."},"code_standards":{"severity":"medium","description":"Follow the project''s conventions and keep its tests green."}}',
   '["mycelium_boot","No guessing","No silent failures"]');
