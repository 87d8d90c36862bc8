import type { Db, Statement } from '../../worker/src/plugins/sdk.js';

/**
 * All SQL of semantic-memory's own database: chunks, their FTS5 rows and their vectors.
 * Vectors are binary float32 in libSQL's native vector columns (`F32_BLOB(dim)`), one table per
 * dimension with a `libsql_vector_idx` (DiskANN, cosine); queries use `vector_top_k` and
 * `vector_distance_cos`. The same SQL runs on the embedded `libsql` file (Node) and on remote
 * libSQL (Workers): no extension to load, no JSON-text vectors.
 */

export interface ChunkRow {
  id: number;
  project_id: string;
  namespace: string;
  source_type: string;
  source_id: string;
  chunk_index: number;
  content_text: string;
  metadata: string;
  owner_agent: string;
  indexed_by: string;
  embedding_model: string | null;
  embedding_dim: number | null;
  created_at: string;
  updated_at: string;
}

export interface DocKey {
  project_id: string;
  source_type: string;
  source_id: string;
}

export interface DocWrite extends DocKey {
  namespace: string;
  metadata: Record<string, unknown>;
  owner_agent: string;
  indexed_by: string;
  chunks: string[];
}

/** Who may see what: `projects` null = every project (humans); `agentId` hides other agents' private rows. */
export interface Scope {
  projects: string[] | null;
  agentId: string | null;
  namespace?: string;
  sourceTypes?: string[];
}

const COLS =
  'c.id, c.project_id, c.namespace, c.source_type, c.source_id, c.chunk_index, c.content_text, c.metadata, c.owner_agent, c.indexed_by, c.embedding_model, c.embedding_dim, c.created_at, c.updated_at';
const DOC = 'project_id = ? AND source_type = ? AND source_id = ?';
const docArgs = (d: DocKey) => [d.project_id, d.source_type, d.source_id];

const dimOk = (dim: number) => Number.isInteger(dim) && dim > 0 && dim <= 8192;
const vecTable = (dim: number) => {
  if (!dimOk(dim)) throw new Error(`bad vector dimension ${dim}`);
  return `sm_vectors_${dim}`;
};

/** The WHERE part that keeps a reader inside its projects and away from other agents' private rows. */
function scopeWhere(s: Scope): { sql: string; args: (string | number)[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (s.projects) {
    where.push(`c.project_id IN (${s.projects.map(() => '?').join(', ')})`);
    args.push(...s.projects);
  }
  if (s.agentId) {
    where.push("(c.owner_agent = '' OR c.owner_agent = ?)");
    args.push(s.agentId);
  }
  if (s.namespace !== undefined) {
    where.push('c.namespace = ?');
    args.push(s.namespace);
  }
  if (s.sourceTypes?.length) {
    where.push(`c.source_type IN (${s.sourceTypes.map(() => '?').join(', ')})`);
    args.push(...s.sourceTypes);
  }
  return { sql: where.length ? where.join(' AND ') : '1 = 1', args };
}

export const store = {
  async dims(db: Db): Promise<number[]> {
    return (await db.all<{ dim: number }>('SELECT dim FROM sm_vector_spaces ORDER BY dim')).map((r) => Number(r.dim));
  },

  docChunks(db: Db, d: DocKey) {
    return db.all<ChunkRow>(`SELECT ${COLS} FROM sm_chunks c WHERE ${DOC} ORDER BY chunk_index`, docArgs(d));
  },

  /** Statements removing a document (chunks, FTS rows, vectors in every space): part of one batch. */
  deleteDoc(d: DocKey, dims: number[]): Statement[] {
    const ids = `SELECT id FROM sm_chunks WHERE ${DOC}`;
    return [
      { sql: `DELETE FROM sm_fts WHERE rowid IN (${ids})`, args: docArgs(d) },
      ...dims.map((dim) => ({ sql: `DELETE FROM ${vecTable(dim)} WHERE chunk_id IN (${ids})`, args: docArgs(d) })),
      { sql: `DELETE FROM sm_chunks WHERE ${DOC}`, args: docArgs(d) },
    ];
  },

  /** A source removed wherever it was filed (context keys: the event no longer knows the owner project). */
  deleteSource(sourceType: string, sourceId: string, dims: number[]): Statement[] {
    const where = 'source_type = ? AND source_id = ?';
    const ids = `SELECT id FROM sm_chunks WHERE ${where}`;
    const args = [sourceType, sourceId];
    return [
      { sql: `DELETE FROM sm_fts WHERE rowid IN (${ids})`, args },
      ...dims.map((dim) => ({ sql: `DELETE FROM ${vecTable(dim)} WHERE chunk_id IN (${ids})`, args })),
      { sql: `DELETE FROM sm_chunks WHERE ${where}`, args },
    ];
  },

  /** Statements replacing a document by its new chunks (re-index on update = delete + insert, atomically). */
  writeDoc(w: DocWrite, dims: number[]): Statement[] {
    const meta = JSON.stringify(w.metadata);
    return [
      ...store.deleteDoc(w, dims),
      ...w.chunks.map((text, i) => ({
        sql: `INSERT INTO sm_chunks (project_id, namespace, source_type, source_id, chunk_index, content_text, metadata, owner_agent, indexed_by)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        args: [w.project_id, w.namespace, w.source_type, w.source_id, i, text, meta, w.owner_agent, w.indexed_by],
      })),
      {
        sql: `INSERT INTO sm_fts (rowid, content_text) SELECT id, content_text FROM sm_chunks WHERE ${DOC}`,
        args: docArgs(w),
      },
    ];
  },

  /** Same text: only the descriptive fields change, and the stored vectors stay valid. */
  touchDoc(w: DocWrite): Statement {
    return {
      sql: `UPDATE sm_chunks SET namespace = ?, metadata = ?, owner_agent = ?, indexed_by = ?, updated_at = datetime('now') WHERE ${DOC}`,
      args: [w.namespace, JSON.stringify(w.metadata), w.owner_agent, w.indexed_by, ...docArgs(w)],
    };
  },

  /** Creates the vector table and ANN index for a dimension the first time a provider answers with it. */
  async ensureSpace(db: Db, dim: number, model: string): Promise<void> {
    const t = vecTable(dim);
    await db.batch([
      {
        sql: `CREATE TABLE IF NOT EXISTS ${t} (chunk_id INTEGER PRIMARY KEY, embedding F32_BLOB(${dim}) NOT NULL)`,
        args: [],
      },
      { sql: `CREATE INDEX IF NOT EXISTS ${t}_idx ON ${t} (libsql_vector_idx(embedding, 'metric=cosine'))`, args: [] },
      { sql: 'INSERT OR IGNORE INTO sm_vector_spaces (dim, model) VALUES (?, ?)', args: [dim, model] },
    ]);
  },

  /**
   * Stores vectors for chunks that still hold the text they were computed from (a re-index in
   * between replaced the rows, so a stale vector never lands on new text).
   */
  async storeVectors(db: Db, model: string, items: { id: number; text: string; vector: number[] }[]): Promise<number> {
    if (!items.length) return 0;
    const dim = items[0].vector.length;
    await store.ensureSpace(db, dim, model);
    const t = vecTable(dim);
    const stmts: Statement[] = [];
    for (const it of items) {
      if (it.vector.length !== dim) throw new Error('embeddings of one batch differ in dimension');
      const vec = JSON.stringify(it.vector);
      stmts.push(
        { sql: `DELETE FROM ${t} WHERE chunk_id = ?`, args: [it.id] },
        {
          sql: `INSERT INTO ${t} (chunk_id, embedding) SELECT id, vector32(?) FROM sm_chunks WHERE id = ? AND content_text = ?`,
          args: [vec, it.id, it.text],
        },
        {
          sql: `UPDATE sm_chunks SET embedding_model = ?, embedding_dim = ? WHERE id = ? AND content_text = ?`,
          args: [model, dim, it.id, it.text],
        },
      );
    }
    const res = await db.batch(stmts);
    return res.filter((_, i) => i % 3 === 2).reduce((n, r) => n + r.rowsAffected, 0);
  },

  /** Chunks without a vector from the current model, oldest first. */
  pending(db: Db, model: string, limit: number) {
    return db.all<{ id: number; content_text: string }>(
      `SELECT id, content_text FROM sm_chunks WHERE embedding_model IS NULL OR embedding_model != ? ORDER BY id LIMIT ?`,
      [model, limit],
    );
  },
  async pendingCount(db: Db, model: string | null): Promise<number> {
    const r = await db.get<{ n: number }>(
      model
        ? 'SELECT COUNT(*) AS n FROM sm_chunks WHERE embedding_model IS NULL OR embedding_model != ?'
        : 'SELECT COUNT(*) AS n FROM sm_chunks WHERE embedding_model IS NULL',
      model ? [model] : [],
    );
    return Number(r?.n ?? 0);
  },

  /** BM25 over FTS5 (best first); `match` is an FTS5 query of quoted tokens. */
  keyword(db: Db, match: string, s: Scope, limit: number) {
    const w = scopeWhere(s);
    return db.all<ChunkRow & { rank: number }>(
      `SELECT ${COLS}, bm25(sm_fts) AS rank FROM sm_fts JOIN sm_chunks c ON c.id = sm_fts.rowid
        WHERE sm_fts MATCH ? AND ${w.sql} ORDER BY rank LIMIT ?`,
      [match, ...w.args, limit],
    );
  },

  /**
   * Nearest chunks by cosine distance. First the ANN index (`vector_top_k`, over-fetching so the
   * scope filter keeps enough); when that leaves fewer than `limit` (a small project in a big
   * index), an exact scan of the caller's own rows, so scoping never costs recall.
   */
  async nearest(db: Db, model: string, vector: number[], s: Scope, limit: number) {
    const dim = vector.length;
    if (!(await store.dims(db)).includes(dim)) return [];
    const t = vecTable(dim);
    const w = scopeWhere(s);
    const vec = JSON.stringify(vector);
    const k = Math.min(1000, Math.max(100, limit * 10));
    type Hit = ChunkRow & { dist: number };
    const ann = await db.all<Hit>(
      `SELECT ${COLS}, vector_distance_cos(v.embedding, vector32(?)) AS dist
         FROM vector_top_k('${t}_idx', vector32(?), ?) top
         JOIN ${t} v ON v.rowid = top.id JOIN sm_chunks c ON c.id = v.chunk_id
        WHERE c.embedding_model = ? AND ${w.sql} ORDER BY dist LIMIT ?`,
      [vec, vec, k, model, ...w.args, limit],
    );
    if (ann.length >= limit) return ann;
    return db.all<Hit>(
      `SELECT ${COLS}, vector_distance_cos(v.embedding, vector32(?)) AS dist
         FROM ${t} v JOIN sm_chunks c ON c.id = v.chunk_id
        WHERE c.embedding_model = ? AND ${w.sql} ORDER BY dist LIMIT ?`,
      [vec, model, ...w.args, limit],
    );
  },

  /** Best cosine similarity per context key (`namespace:key`) among the given ones. */
  async contextSimilarity(db: Db, model: string, vector: number[], sourceIds: string[]) {
    const dim = vector.length;
    if (!sourceIds.length || !(await store.dims(db)).includes(dim)) return [];
    const t = vecTable(dim);
    return db.all<{ source_id: string; sim: number }>(
      `SELECT c.source_id, MAX(1 - vector_distance_cos(v.embedding, vector32(?))) AS sim
         FROM sm_chunks c JOIN ${t} v ON v.chunk_id = c.id
        WHERE c.source_type = 'context_key' AND c.embedding_model = ? AND c.source_id IN (${sourceIds.map(() => '?').join(', ')})
        GROUP BY c.source_id`,
      [JSON.stringify(vector), model, ...sourceIds],
    );
  },

  async stats(db: Db, s: Scope) {
    const w = scopeWhere(s);
    const [totals, byType, byNs] = await Promise.all([
      db.get<{ total: number; embedded: number; docs: number }>(
        `SELECT COUNT(*) AS total, SUM(CASE WHEN c.embedding_model IS NOT NULL THEN 1 ELSE 0 END) AS embedded,
                COUNT(DISTINCT c.project_id || char(0) || c.source_type || char(0) || c.source_id) AS docs
           FROM sm_chunks c WHERE ${w.sql}`,
        w.args,
      ),
      db.all<{ source_type: string; count: number }>(
        `SELECT c.source_type, COUNT(*) AS count FROM sm_chunks c WHERE ${w.sql} GROUP BY c.source_type ORDER BY count DESC`,
        w.args,
      ),
      db.all<{ namespace: string; count: number }>(
        `SELECT c.namespace, COUNT(*) AS count FROM sm_chunks c WHERE ${w.sql} GROUP BY c.namespace ORDER BY count DESC LIMIT 20`,
        w.args,
      ),
    ]);
    return { totals, byType, byNs };
  },
};
