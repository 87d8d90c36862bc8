-- Plugin host bookkeeping (spec 06 §4). Only the host's own state lives in the core database:
-- which plugins exist and are enabled, their configuration and which of their migrations ran.
-- Plugin data tables live in each plugin's own database (spec README, spec 07 P-10).

CREATE TABLE IF NOT EXISTS plugins (
  name TEXT PRIMARY KEY,
  display_name TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  version TEXT NOT NULL DEFAULT '1.0.0',
  author TEXT NOT NULL DEFAULT '',
  enabled INTEGER NOT NULL DEFAULT 1,
  route_prefix TEXT NOT NULL DEFAULT '',
  mcp_tool_count INTEGER NOT NULL DEFAULT 0,
  installed_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE IF NOT EXISTS plugin_migrations (
  plugin_name TEXT NOT NULL,
  version INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  applied_at TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (plugin_name, version)
);

CREATE TABLE IF NOT EXISTS plugin_config (
  plugin_name TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL DEFAULT '',
  is_secret INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (plugin_name, key)
);
CREATE INDEX IF NOT EXISTS idx_plugin_config_plugin ON plugin_config(plugin_name);
