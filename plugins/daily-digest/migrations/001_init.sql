-- daily-digest (spec 06 §5.9, W21), in the plugin's own database. Report snapshots and event
-- counters are separate tables, so trends never double count.
CREATE TABLE IF NOT EXISTS digest_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL DEFAULT '',
  period_start TEXT NOT NULL,
  period_end TEXT NOT NULL,
  digest_type TEXT NOT NULL DEFAULT 'daily',
  -- Scheduled reports carry the local date they are for; one per project, type and date.
  schedule_key TEXT,
  content TEXT NOT NULL DEFAULT '{}',
  summary TEXT NOT NULL DEFAULT '',
  delivered_to TEXT NOT NULL DEFAULT '[]',
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_digest_reports_type ON digest_reports(digest_type);
CREATE INDEX IF NOT EXISTS idx_digest_reports_period ON digest_reports(period_start);
CREATE UNIQUE INDEX IF NOT EXISTS idx_digest_reports_schedule ON digest_reports(project_id, digest_type, schedule_key) WHERE schedule_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS digest_metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  metric_type TEXT NOT NULL,
  metric_key TEXT NOT NULL DEFAULT '',
  value REAL NOT NULL DEFAULT 1,
  period TEXT NOT NULL,
  event_id INTEGER,
  recorded_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE INDEX IF NOT EXISTS idx_digest_metrics_type_period ON digest_metrics(metric_type, period);
CREATE UNIQUE INDEX IF NOT EXISTS idx_digest_metrics_event ON digest_metrics(metric_type, metric_key, event_id) WHERE event_id IS NOT NULL;
