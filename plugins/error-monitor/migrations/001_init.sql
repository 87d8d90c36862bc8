-- error-monitor (spec 06 §5.8, W15), in the plugin's own database.
-- error_key is UNIQUE: deduplication is one upsert, not read-then-write.
CREATE TABLE IF NOT EXISTS error_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  provider TEXT NOT NULL DEFAULT '',
  error_key TEXT NOT NULL DEFAULT '',
  title TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  stack_trace TEXT NOT NULL DEFAULT '',
  url TEXT NOT NULL DEFAULT '',
  occurrences INTEGER NOT NULL DEFAULT 1,
  first_seen TEXT NOT NULL DEFAULT (datetime('now')),
  last_seen TEXT NOT NULL DEFAULT (datetime('now')),
  payload TEXT NOT NULL DEFAULT '{}',
  bug_id INTEGER,
  filing INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'open',
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_error_events_key ON error_events(error_key);
CREATE INDEX IF NOT EXISTS idx_error_events_provider ON error_events(provider);
CREATE INDEX IF NOT EXISTS idx_error_events_status ON error_events(status);
CREATE INDEX IF NOT EXISTS idx_error_events_bug ON error_events(bug_id);

-- Deliveries already processed (provider delivery/request id): a replay is acknowledged, not re-applied.
CREATE TABLE IF NOT EXISTS error_deliveries (
  delivery_id TEXT PRIMARY KEY,
  received_at TEXT NOT NULL DEFAULT (datetime('now'))
);
