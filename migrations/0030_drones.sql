-- Drones, drone jobs, job templates, drone profiles and artifact metadata (spec 05 §2, §8).
-- One timestamp format everywhere: datetime('now') text, UTC, compared with julianday()
-- (spec 05 §17.2: mixed ISO and SQLite formats broke the stale sweep).

-- requester_key: typed identity of the requester ('agent:<id>', 'operator:<userId>', 'admin'),
--   so ownership checks never compare display strings (SEC-28).
-- command_argv: the rendered template command as a JSON argument vector, for workers that exec
--   without a shell (SEC-25); '[]' for admin raw commands.
-- progress_at: the drone's last progress report; the claim lease runs from it (or from
--   started_at when there was none), so long jobs that report progress are not reaped (§17.2).
-- skip_reason: why the last drone that looked at this pending job could not take it (§17.2 L9).
CREATE TABLE IF NOT EXISTS drone_jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  command TEXT NOT NULL DEFAULT '',
  command_argv TEXT NOT NULL DEFAULT '[]',
  input_data TEXT NOT NULL DEFAULT '{}',
  requires TEXT NOT NULL DEFAULT '["cpu"]',
  requester TEXT NOT NULL,
  requester_key TEXT NOT NULL DEFAULT '',
  drone_id TEXT,
  status TEXT NOT NULL DEFAULT 'pending',
  priority INTEGER NOT NULL DEFAULT 0,
  workspace_repo TEXT,
  workspace_branch TEXT NOT NULL DEFAULT 'main',
  profile_id TEXT,
  result_url TEXT,
  result_data TEXT NOT NULL DEFAULT '{}',
  error TEXT,
  skip_reason TEXT,
  started_at TEXT,
  progress_at TEXT,
  completed_at TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  job_type TEXT
);
CREATE INDEX IF NOT EXISTS idx_drone_jobs_status ON drone_jobs(status);
CREATE INDEX IF NOT EXISTS idx_drone_jobs_drone ON drone_jobs(drone_id);
CREATE INDEX IF NOT EXISTS idx_drone_jobs_requester ON drone_jobs(requester);
CREATE INDEX IF NOT EXISTS idx_drone_jobs_priority ON drone_jobs(priority DESC, created_at ASC);
-- The claim's scan: pending jobs in claim order without a sort.
CREATE INDEX IF NOT EXISTS idx_drone_jobs_claim ON drone_jobs(status, priority DESC, created_at ASC, id ASC);

CREATE TABLE IF NOT EXISTS job_templates (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  project_id TEXT NOT NULL DEFAULT '',
  requires TEXT NOT NULL DEFAULT '["cpu"]',
  min_vram_gb REAL NOT NULL DEFAULT 0,
  min_disk_gb REAL NOT NULL DEFAULT 5,
  python_deps TEXT NOT NULL DEFAULT '[]',
  python_deps_install TEXT NOT NULL DEFAULT '',
  artifacts TEXT NOT NULL DEFAULT '[]',
  setup_repo TEXT NOT NULL DEFAULT '',
  command_template TEXT NOT NULL DEFAULT '',
  workspace_name TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);

INSERT OR IGNORE INTO job_templates (id, name, project_id, requires, min_vram_gb, min_disk_gb)
  VALUES ('3d_print', '3D Print Job', '', '["3d_printer"]', 0, 1);

CREATE TABLE IF NOT EXISTS drone_profiles (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  requires TEXT NOT NULL DEFAULT '{}',
  artifacts TEXT NOT NULL DEFAULT '[]',
  setup_script TEXT NOT NULL DEFAULT '',
  workspace TEXT NOT NULL DEFAULT '',
  env TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS drone_profile_assignments (
  drone_id TEXT NOT NULL,
  profile_id TEXT NOT NULL REFERENCES drone_profiles(id) ON DELETE CASCADE,
  setup_done INTEGER NOT NULL DEFAULT 0,
  setup_at TEXT,
  checksum TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (drone_id, profile_id)
);
CREATE INDEX IF NOT EXISTS idx_dpa_drone ON drone_profile_assignments(drone_id);
CREATE INDEX IF NOT EXISTS idx_dpa_profile ON drone_profile_assignments(profile_id);

-- Artifact bytes live in the blob store under a server-chosen key; the name a drone asks for
-- is only a lookup here, so no client text ever becomes a storage path (spec 05 §8, SEC-27).
CREATE TABLE IF NOT EXISTS drone_artifacts (
  name TEXT PRIMARY KEY,
  blob_key TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  uploaded_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
