-- Assets, temp files, skills and widgets (spec 05 §9, §10, §12, §13). Uploaded bytes live in the
-- blob store (Runtime.blobs), never at a client-named path: a row names its blob by a key the
-- server chose, so a download can only ever read a blob this server stored for that row.

CREATE TABLE IF NOT EXISTS assets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT 'asset',
  project_id TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'requested',
  -- A label (no `..`, never absolute): the uploaded file's stored name, or the name of a temp file.
  path TEXT NOT NULL DEFAULT '',
  metadata TEXT NOT NULL DEFAULT '{}',
  requester TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  -- Server-written on upload: the blob key (`assets/<id>/<uuid>`), not a disk path.
  file_path TEXT NOT NULL DEFAULT '',
  download_url TEXT NOT NULL DEFAULT '',
  requested_by TEXT NOT NULL DEFAULT '',
  assigned_to TEXT NOT NULL DEFAULT '',
  drone_job_id INTEGER,
  prompt TEXT NOT NULL DEFAULT '',
  file_size INTEGER
);
CREATE INDEX IF NOT EXISTS idx_assets_project ON assets(project_id);
CREATE INDEX IF NOT EXISTS idx_assets_status ON assets(status);

-- Temp files (`POST /files`): public name → blob, expiring after 24 h.
CREATE TABLE IF NOT EXISTS temp_files (
  filename TEXT PRIMARY KEY,
  original_name TEXT NOT NULL DEFAULT '',
  blob_key TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL DEFAULT 0,
  uploaded_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_temp_files_expires ON temp_files(expires_at);

CREATE TABLE IF NOT EXISTS skills (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT 'general',
  version TEXT NOT NULL DEFAULT '1.0.0',
  author TEXT NOT NULL DEFAULT '',
  install_type TEXT NOT NULL DEFAULT 'concept',
  install_data TEXT NOT NULL DEFAULT '{}',
  required_capabilities TEXT NOT NULL DEFAULT '[]',
  tags TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'published',
  install_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_skills_category ON skills(category);
CREATE INDEX IF NOT EXISTS idx_skills_status ON skills(status);

CREATE TABLE IF NOT EXISTS agent_skills (
  agent_id TEXT NOT NULL,
  skill_id TEXT NOT NULL,
  installed_at TEXT NOT NULL DEFAULT (datetime('now')),
  config TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (agent_id, skill_id)
);

CREATE TABLE IF NOT EXISTS widgets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  project_id TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL,
  widget_type TEXT NOT NULL DEFAULT 'status',
  data TEXT NOT NULL DEFAULT '{}',
  position INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'active',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_widgets_agent ON widgets(agent_id);
CREATE INDEX IF NOT EXISTS idx_widgets_status ON widgets(status);
