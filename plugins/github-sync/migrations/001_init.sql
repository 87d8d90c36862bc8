-- github-sync (spec 06 §5.10, W15), in the plugin's own database. Table names as in the original.
-- Every signed delivery is kept; delivery_id (X-GitHub-Delivery) is unique, so a redelivery is
-- recognised by one insert instead of a read-then-write.
CREATE TABLE IF NOT EXISTS github_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_type TEXT NOT NULL DEFAULT 'unknown',
  action TEXT NOT NULL DEFAULT '',
  repo TEXT NOT NULL DEFAULT '',
  payload TEXT NOT NULL DEFAULT '{}',
  processed INTEGER NOT NULL DEFAULT 0,
  delivery_id TEXT,
  error TEXT,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_github_events_repo ON github_events(repo);
CREATE INDEX IF NOT EXISTS idx_github_events_type ON github_events(event_type);
CREATE INDEX IF NOT EXISTS idx_github_events_created ON github_events(created_at DESC);
CREATE UNIQUE INDEX IF NOT EXISTS idx_github_events_delivery ON github_events(delivery_id) WHERE delivery_id IS NOT NULL;

-- One Mycelium item per GitHub issue/PR/check (the 409 "Link already exists" rule, made atomic).
-- mycelium_id 0 marks a link being created for an opened issue (claimed before the bug is filed).
CREATE TABLE IF NOT EXISTS github_links (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  github_type TEXT NOT NULL,
  github_repo TEXT NOT NULL,
  github_number INTEGER NOT NULL,
  mycelium_type TEXT NOT NULL,
  mycelium_id INTEGER NOT NULL,
  synced_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_github_links_item ON github_links(github_type, github_repo, github_number);
CREATE INDEX IF NOT EXISTS idx_github_links_repo ON github_links(github_repo);
CREATE INDEX IF NOT EXISTS idx_github_links_mycelium ON github_links(mycelium_type, mycelium_id);
