-- Facts an LLM extracted (or consolidation derived) for one agent. A fact is current while
-- retired_at IS NULL; retired_reason says why it left: 'merged' (superseded_by names the fact
-- that replaced it), 'decayed' (confidence fell below the floor) or 'capped' (spec 06 W12: no
-- sentinel foreign keys).
CREATE TABLE am_facts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  project_id TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT 'general',
  fact_text TEXT NOT NULL,
  confidence REAL NOT NULL DEFAULT 0.8,
  source_type TEXT NOT NULL DEFAULT 'extraction',
  source_id TEXT,
  -- 1 when learnt from a direct message: only its agent may find the mirrored text
  private INTEGER NOT NULL DEFAULT 0,
  superseded_by INTEGER,
  retired_at TEXT,
  retired_reason TEXT,
  access_count INTEGER NOT NULL DEFAULT 0,
  last_accessed_at TEXT,
  decayed_at TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX idx_am_facts_agent ON am_facts (agent_id, retired_at);
CREATE INDEX idx_am_facts_project ON am_facts (project_id);
CREATE INDEX idx_am_facts_confidence ON am_facts (confidence DESC);

CREATE TABLE am_consolidation_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  facts_processed INTEGER NOT NULL DEFAULT 0,
  facts_merged INTEGER NOT NULL DEFAULT 0,
  facts_superseded INTEGER NOT NULL DEFAULT 0,
  facts_decayed INTEGER NOT NULL DEFAULT 0,
  facts_pruned INTEGER NOT NULL DEFAULT 0,
  insights_added INTEGER NOT NULL DEFAULT 0,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  note TEXT NOT NULL DEFAULT '',
  run_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE am_extraction_errors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL DEFAULT '',
  project_id TEXT NOT NULL DEFAULT '',
  source_event TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL,
  input_text_preview TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX idx_am_errors_created ON am_extraction_errors (created_at DESC);
