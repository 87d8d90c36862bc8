-- One row per chunk of an indexed document. A document is (project_id, source_type, source_id):
-- two projects never share or overwrite each other's rows (spec 06 W18). owner_agent = '' means
-- every agent of the project may find it; otherwise only that agent (and humans) may.
CREATE TABLE sm_chunks (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  project_id TEXT NOT NULL DEFAULT '',
  namespace TEXT NOT NULL DEFAULT '',
  source_type TEXT NOT NULL,
  source_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL DEFAULT 0,
  content_text TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  owner_agent TEXT NOT NULL DEFAULT '',
  indexed_by TEXT NOT NULL DEFAULT '',
  -- model of the vector stored for this chunk (sm_vectors_<dim>); NULL = not embedded yet
  embedding_model TEXT,
  embedding_dim INTEGER,
  created_at TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  UNIQUE (project_id, source_type, source_id, chunk_index)
);
CREATE INDEX idx_sm_chunks_doc ON sm_chunks (source_type, source_id);
CREATE INDEX idx_sm_chunks_scope ON sm_chunks (project_id, namespace);
CREATE INDEX idx_sm_chunks_pending ON sm_chunks (embedding_model) WHERE embedding_model IS NULL;

-- Full-text index (BM25); rowid = sm_chunks.id, kept in step by the plugin's own batches.
CREATE VIRTUAL TABLE sm_fts USING fts5 (content_text, tokenize = 'porter unicode61');

-- Vector spaces in use: one table sm_vectors_<dim> (F32_BLOB(dim) + libsql_vector_idx) per
-- embedding dimension, created when a provider first answers (the dimension is the model's).
CREATE TABLE sm_vector_spaces (
  dim INTEGER PRIMARY KEY,
  model TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
