-- Core identity and platform tables (spec 01 §2.10, 02 §1.1, 04 §1.3, §1.8, §1.10).
-- Timestamps are SQLite datetime('now') strings: 'YYYY-MM-DD HH:MM:SS', UTC (wire contract).

CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  project_id TEXT NOT NULL,
  project TEXT NOT NULL DEFAULT '',
  api_key_hash TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'offline',
  working_on TEXT NOT NULL DEFAULT '',
  last_heartbeat TEXT,
  capabilities TEXT NOT NULL DEFAULT '[]',
  avatar_url TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT '',
  operator_id TEXT NOT NULL DEFAULT '',
  system_diagnostics TEXT NOT NULL DEFAULT '{}',
  agent_type TEXT NOT NULL DEFAULT 'agent',
  llm_backend TEXT NOT NULL DEFAULT '',
  llm_model TEXT NOT NULL DEFAULT '',
  runtime TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  primary_team_id TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_agents_api_key_hash ON agents(api_key_hash);
CREATE INDEX IF NOT EXISTS idx_agents_status ON agents(status);
CREATE INDEX IF NOT EXISTS idx_agents_agent_type ON agents(agent_type);
CREATE INDEX IF NOT EXISTS idx_agents_project ON agents(project_id);

CREATE TABLE IF NOT EXISTS organizations (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  owner_id TEXT NOT NULL DEFAULT '',
  plan TEXT NOT NULL DEFAULT 'free',
  status TEXT NOT NULL DEFAULT 'active',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_organizations_status ON organizations(status);

CREATE TABLE IF NOT EXISTS projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  org_id TEXT NOT NULL DEFAULT '',
  repo_url TEXT NOT NULL DEFAULT '',
  repo_path TEXT NOT NULL DEFAULT '',
  type TEXT NOT NULL DEFAULT 'software',
  status TEXT NOT NULL DEFAULT 'active',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  bug_categories TEXT NOT NULL DEFAULT '[]',
  team_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_projects_org ON projects(org_id);
CREATE INDEX IF NOT EXISTS idx_projects_status ON projects(status);
CREATE INDEX IF NOT EXISTS idx_projects_type ON projects(type);

CREATE TABLE IF NOT EXISTS teams (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_teams_org ON teams(org_id);

CREATE TABLE IF NOT EXISTS team_members (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  user_type TEXT NOT NULL DEFAULT 'operator',
  role TEXT NOT NULL DEFAULT 'member',
  is_primary INTEGER NOT NULL DEFAULT 0,
  joined_at TEXT NOT NULL DEFAULT (datetime('now')),
  UNIQUE(team_id, user_id)
);
CREATE INDEX IF NOT EXISTS idx_team_members_team ON team_members(team_id);
CREATE INDEX IF NOT EXISTS idx_team_members_user ON team_members(user_id);
CREATE INDEX IF NOT EXISTS idx_team_members_primary ON team_members(is_primary) WHERE is_primary = 1;

-- token_version: bumped on password change, role change or deletion so old JWTs stop working.
CREATE TABLE IF NOT EXISTS studio_users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'operator',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  last_seen TEXT,
  token_version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS idx_studio_users_username ON studio_users(username);

-- expires_at is epoch milliseconds so expiry compares as an instant, never as text.
CREATE TABLE IF NOT EXISTS password_resets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_password_resets_token ON password_resets(token_hash);

CREATE TABLE IF NOT EXISTS operators (
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT 'member',
  responsibilities TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  studio_user_id INTEGER REFERENCES studio_users(id) ON DELETE SET NULL,
  status TEXT NOT NULL DEFAULT 'active',
  availability TEXT NOT NULL DEFAULT 'available',
  last_seen_at TEXT,
  away_message TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  primary_team_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_operators_role ON operators(role);
CREATE INDEX IF NOT EXISTS idx_operators_status ON operators(status);

CREATE TABLE IF NOT EXISTS instance_config (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_by TEXT NOT NULL DEFAULT ''
);

INSERT OR IGNORE INTO instance_config (key, value, updated_by) VALUES
  ('instance_mode', 'developer', 'system'),
  ('admin_agent_id', '', 'system'),
  ('admin_status', 'coordinator', 'system'),
  ('risk_tiers', '{"plan_create":"low","context_change":"low","deploy":"medium","git_push":"medium","delete":"medium","external_comm":"high","money_action":"critical","delete_agent":"critical","instance_config":"critical"}', 'system');

CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  agent TEXT NOT NULL DEFAULT '',
  project_id TEXT,
  summary TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_events_created ON events(created_at DESC);
CREATE INDEX IF NOT EXISTS idx_events_type ON events(type);
CREATE INDEX IF NOT EXISTS idx_events_agent ON events(agent);

-- Wall-clock scheduling of periodic jobs: last run persisted so restarts don't starve them.
CREATE TABLE IF NOT EXISTS maintenance_runs (
  job TEXT PRIMARY KEY,
  last_run_at INTEGER NOT NULL
);
