-- Governance and knowledge (spec 04 §1.1–1.9): approvals and votes, legacy project context,
-- namespaced context keys with versioned history, spend ledger and budgets, shared concepts.

CREATE TABLE IF NOT EXISTS approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  action_type TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  -- Typed identity of the requester ('agent:<id>', 'user:<id>', 'admin_key') so the requester
  -- is recognised on its own request whatever its display name (spec README, SEC-47).
  requester_key TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL DEFAULT '{}',
  -- What the approval is about; one pending approval per (action_type, project_id, subject).
  subject TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'pending',
  reason TEXT NOT NULL DEFAULT '',
  admin_notes TEXT NOT NULL DEFAULT '',
  decided_by TEXT,
  decided_at TEXT,
  executed_at TEXT,
  project_id TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  risk_tier TEXT NOT NULL DEFAULT 'medium',
  required_approvals INTEGER NOT NULL DEFAULT 1,
  current_approvals INTEGER NOT NULL DEFAULT 0,
  queued_for_morning INTEGER NOT NULL DEFAULT 0,
  -- Random token written by the statement that creates or decides the row; the side effects in
  -- the same batch (inbox, notice, event) are conditioned on it, so they happen only if it did.
  decision_id TEXT
);
CREATE INDEX IF NOT EXISTS idx_approvals_status ON approvals(status);
CREATE INDEX IF NOT EXISTS idx_approvals_action ON approvals(action_type);
CREATE INDEX IF NOT EXISTS idx_approvals_agent ON approvals(requested_by);
CREATE INDEX IF NOT EXISTS idx_approvals_project ON approvals(project_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_approvals_pending_subject
  ON approvals(action_type, project_id, subject) WHERE status = 'pending';

-- voter_key is the counted identity (one row per human per approval; the latest vote wins).
CREATE TABLE IF NOT EXISTS approval_votes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  approval_id INTEGER NOT NULL REFERENCES approvals(id),
  voter TEXT NOT NULL,
  voter_key TEXT NOT NULL DEFAULT '',
  vote TEXT NOT NULL DEFAULT 'approve',
  notes TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  UNIQUE(approval_id, voter_key)
);
CREATE INDEX IF NOT EXISTS idx_approval_votes_approval ON approval_votes(approval_id);
CREATE INDEX IF NOT EXISTS idx_approval_votes_voter ON approval_votes(voter);

CREATE TABLE IF NOT EXISTS context (
  project_id TEXT PRIMARY KEY,
  data TEXT NOT NULL DEFAULT '{}',
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_by TEXT NOT NULL DEFAULT ''
);

-- version starts at 1 and grows by one on every write (compare-and-set handle);
-- expires_at is always ISO-8601 UTC so it compares as an instant.
CREATE TABLE IF NOT EXISTS context_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  category TEXT NOT NULL DEFAULT 'durable',
  expires_at TEXT,
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_by TEXT NOT NULL DEFAULT '',
  access_count INTEGER NOT NULL DEFAULT 0,
  last_accessed_at TEXT,
  project_id TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE(namespace, key)
);
CREATE INDEX IF NOT EXISTS idx_context_keys_ns ON context_keys(namespace);
CREATE INDEX IF NOT EXISTS idx_context_keys_project ON context_keys(project_id);
CREATE INDEX IF NOT EXISTS idx_context_keys_expires ON context_keys(expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS context_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  data TEXT NOT NULL,
  changed_by TEXT NOT NULL DEFAULT '',
  changed_at TEXT NOT NULL DEFAULT (datetime('now')),
  project_id TEXT,
  version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS idx_context_history_key ON context_history(namespace, key);
CREATE INDEX IF NOT EXISTS idx_context_history_changed ON context_history(changed_at);

CREATE TABLE IF NOT EXISTS agent_spend (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  agent_id TEXT NOT NULL,
  project_id TEXT NOT NULL DEFAULT '',
  cost_usd REAL NOT NULL DEFAULT 0,
  source TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT '',
  tokens_in INTEGER NOT NULL DEFAULT 0,
  tokens_out INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_agent_spend_agent ON agent_spend(agent_id);
CREATE INDEX IF NOT EXISTS idx_agent_spend_project ON agent_spend(project_id);
CREATE INDEX IF NOT EXISTS idx_agent_spend_created ON agent_spend(created_at);

-- Spend budgets (ours; the original had none): per agent or per project, per period.
-- hard_stop = 1 refuses a spend that would exceed limit_usd; warn_pct emits a warning event.
CREATE TABLE IF NOT EXISTS spend_budgets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  scope TEXT NOT NULL,
  scope_id TEXT NOT NULL,
  period TEXT NOT NULL DEFAULT 'month',
  limit_usd REAL NOT NULL,
  warn_pct INTEGER NOT NULL DEFAULT 80,
  hard_stop INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  UNIQUE(scope, scope_id)
);

CREATE TABLE IF NOT EXISTS concepts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT 'custom',
  description TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL DEFAULT '{}',
  version INTEGER NOT NULL DEFAULT 1,
  created_by TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_concepts_type ON concepts(type);
CREATE INDEX IF NOT EXISTS idx_concepts_name ON concepts(name);

CREATE TABLE IF NOT EXISTS project_concepts (
  project_id TEXT NOT NULL,
  concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
  linked_at TEXT NOT NULL DEFAULT (datetime('now')),
  linked_by TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (project_id, concept_id)
);
CREATE INDEX IF NOT EXISTS idx_project_concepts_project ON project_concepts(project_id);
CREATE INDEX IF NOT EXISTS idx_project_concepts_concept ON project_concepts(concept_id);
