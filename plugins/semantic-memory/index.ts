import {
  badRequest,
  documented,
  documentedRequired,
  forbidden,
  NoInput,
  sentence,
  z,
  dataObject,
  type PluginEventInput,
  type ContextScorer,
  type PluginApi,
  type PluginRequest,
  type Principal,
} from '../../worker/src/plugins/sdk.js';
import { chunkText } from './chunk.js';
import { embedderFrom, type Embedder } from './embeddings.js';
import { store, type ChunkRow, type DocKey, type DocWrite, type Scope } from './store.js';

/**
 * semantic-memory (spec 06 §5.4, W18; issue 14). A searchable index over platform content
 * (tasks, plans, context keys, auto-memory facts) and documents agents index themselves.
 * Search is hybrid: FTS5 BM25 and libSQL's vector index, fused by reciprocal rank (K = 60);
 * without an embeddings provider it is keyword-only and says so (`mode: "keyword"`).
 * Every document belongs to a project; an agent reads only its own and its teams' projects plus
 * global rows, and never another agent's private rows (W18: the original searched everything).
 */

const RRF_K = 60;
const MAX_TEXT = 200_000;
/** Inline embedding in a request or hook gets this long; what is left over is embedded by the job. */
const INLINE_EMBED_MS = 4_000;
const PENDING_BATCH = 100;
/** Platform content is written by the plugin's hooks only: agents may not overwrite it. */
const RESERVED_TYPES = new Set(['task', 'plan', 'context_key', 'memory']);
const SOURCE_TYPE_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface IndexInput {
  project_id: string;
  source_type: string;
  source_id: string;
  content_text: string;
  namespace?: string;
  metadata?: Record<string, unknown>;
  /** '' = visible to the whole project; an agent id = only that agent (and humans). */
  owner_agent?: string;
  indexed_by?: string;
}

/** What other plugins (auto-memory) use through `api.service('memory')`. */
export interface MemoryService {
  index(doc: IndexInput): Promise<{ chunks: number; embedded: number }>;
  remove(doc: DocKey): Promise<number>;
}

type Result = Omit<ChunkRow, 'metadata' | 'owner_agent' | 'embedding_dim'> & {
  metadata: unknown;
  visibility: 'project' | 'private';
  score: number;
  rrf_score?: number;
  vector_score?: number;
};

function str(body: Record<string, unknown>, field: string, max: number, required = false): string | undefined {
  let v = body[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw badRequest(`${field} is required`);
    return undefined;
  }
  if (typeof v === 'number' && Number.isFinite(v)) v = String(v);
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (v.length > max) throw badRequest(`${field} exceeds max length (${max} chars)`);
  return v;
}

// ---- Declared answers (issue 15): the host shapes each answer through its schema. A search hit
// never carries the owner column, the embedding blob or dimension, nor the ranking internals
// (`rank`, `dist`) the queries select.
const SearchHit = z.object({
  id: z.number(),
  project_id: z.string(),
  namespace: z.string(),
  source_type: z.string(),
  source_id: z.string(),
  chunk_index: z.number(),
  content_text: z.string(),
  /** The caller's own metadata object: free-form JSON. */
  metadata: z.unknown(),
  indexed_by: z.string(),
  embedding_model: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  visibility: z.enum(['project', 'private']),
  score: z.number(),
  rrf_score: z.number().optional(),
  vector_score: z.number().optional(),
});
const SearchOut = z.object({
  results: z.array(SearchHit),
  mode: z.enum(['keyword', 'hybrid']),
  query: z.string(),
  count: z.number(),
});
const IndexOut = z.object({
  ok: z.boolean(),
  source_type: z.string(),
  source_id: z.string(),
  project_id: z.string(),
  chunks: z.number(),
  embedded: z.number(),
});
const BulkOut = z.object({ ok: z.boolean(), indexed: z.number(), rows: z.number(), embedded: z.number() });
const DeleteOut = z.object({ ok: z.boolean(), deleted: z.number() });
const StatsOut = z.object({
  total_indexed: z.number(),
  documents: z.number(),
  with_embeddings: z.number(),
  embedding_coverage: z.number(),
  by_source_type: z.array(z.object({ source_type: z.string(), count: z.number() })),
  by_namespace: z.array(z.object({ namespace: z.string(), count: z.number() })),
  mode: z.enum(['keyword', 'hybrid']),
  embedding_model: z.string().nullable(),
  vector_index: z.string(),
});
const ConfigOut = z.object({
  embedding_provider: z.string(),
  embedding_url: z.string().nullable(),
  embedding_model: z.string().nullable(),
  /** Masked: never the key (SEC-39). */
  embedding_api_key: z.string().nullable(),
  chunk_size: z.number(),
  auto_index: z.boolean(),
  mode: z.enum(['keyword', 'hybrid']),
});
const ReindexOut = z.object({
  ok: z.boolean(),
  message: z.string(),
  embedded: z.number(),
  errors: z.number(),
  remaining: z.boolean(),
});

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
/** The check `str` makes, as a schema field (numbers are taken as their text, as `str` does). */
const strField = (max: number, doc: Record<string, unknown> = {}, required = false) =>
  sentence(
    { type: 'string', maxLength: max, ...doc },
    (raw) => {
      if (raw === undefined || raw === null || raw === '') return required ? 'is required' : null;
      const v = typeof raw === 'number' && Number.isFinite(raw) ? String(raw) : raw;
      if (typeof v !== 'string') return 'must be a string';
      if (v.length > max) return `exceeds max length (${max} chars)`;
      return required && !v.trim() ? 'is required' : null;
    },
    { always: required },
  );
const SearchBody = z.object({
  query: strField(2000, {}, true),
  limit: sentence({ type: 'integer', minimum: 1, description: 'At most 100 are answered (default 10)' }, (v) =>
    v === undefined || v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 1)
      ? null
      : 'must be a positive integer',
  ),
  mode: sentence({ type: 'string', enum: ['hybrid', 'keyword'], description: 'Default hybrid' }, (v) =>
    v === undefined || v === null || v === 'hybrid' || v === 'keyword' ? null : 'must be "hybrid" or "keyword"',
  ),
  source_types: sentence({ type: 'array', items: { type: 'string' }, maxItems: 20 }, (v) =>
    v === undefined || (Array.isArray(v) && v.length <= 20 && v.every((t) => typeof t === 'string'))
      ? null
      : 'must be an array of strings',
  ),
  project_id: strField(200),
  namespace: strField(200),
});
/** Index fields are checked by `parseIndexItem` (also per bulk item, its sentences prefixed); documented here. */
const indexFields = {
  // "source_type, source_id, and content_text are required" names the three: checked by the handler.
  source_type: documentedRequired({ type: 'string', maxLength: 64, pattern: SOURCE_TYPE_RE.source }),
  source_id: documentedRequired({ type: 'string', maxLength: 200 }),
  content_text: documentedRequired({ type: 'string', maxLength: MAX_TEXT }),
  namespace: documented({ type: 'string', maxLength: 200 }),
  metadata: documented({ type: 'object' }),
  visibility: documented({ type: 'string', enum: ['project', 'private'], description: 'Default project' }),
};
const projectField = documented({ type: 'string', maxLength: 200, description: "Default: the agent's project" });
const IndexBody = z.object({ ...indexFields, project_id: projectField });
const BulkBody = z.object({
  items: documentedRequired({ type: 'array', maxItems: 100, items: { type: 'object' } }),
  project_id: projectField,
});
const ProjectQuery = z.object({ project_id: z.string().optional() });
const DocParams = z.object({
  sourceType: z.string().meta({ description: 'source_type' }),
  sourceId: z.string().meta({ description: 'source_id' }),
});
const ReindexBody = z.object({
  batch_size: sentence({ type: 'integer', minimum: 1, maximum: 500, description: 'Default 50' }, (v) =>
    v === undefined || v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 500)
      ? null
      : 'must be an integer between 1 and 500',
  ),
});

function parseMeta(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return {};
  }
}

function present(r: ChunkRow, score: number, extra: Partial<Result> = {}): Result {
  const { owner_agent, embedding_dim: _d, metadata, ...rest } = r;
  return {
    ...rest,
    metadata: parseMeta(metadata),
    visibility: owner_agent ? 'private' : 'project',
    score: Math.round(score * 1e6) / 1e6,
    ...extra,
  };
}

/** Quoted tokens joined with OR: FTS5 syntax in a query can never be injected or raise an error. */
export function ftsQuery(q: string): string | null {
  const tokens = q
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 0)
    .slice(0, 64);
  return tokens.length ? [...new Set(tokens)].map((t) => `"${t}"`).join(' OR ') : null;
}

const docKeyOf = (r: { project_id: string; source_type: string; source_id: string }) =>
  `${r.project_id}\u0000${r.source_type}\u0000${r.source_id}`;

export async function setup(api: PluginApi) {
  const db = api.db;
  const embedder: Embedder | null = embedderFrom(api);

  const chunkSize = async () => {
    const n = Number(await api.config.get('chunk_size'));
    return Number.isFinite(n) && n >= 200 && n <= 8000 ? Math.floor(n) : 1500;
  };

  /** Embeds the given chunks (best effort, time-boxed); returns how many got a vector. */
  async function embedChunks(rows: { id: number; content_text: string }[], timeoutMs: number): Promise<number> {
    if (!embedder || !rows.length) return 0;
    const vectors = await embedder.embed(
      rows.map((r) => r.content_text),
      timeoutMs,
    );
    return store.storeVectors(
      db,
      embedder.model,
      rows.map((r, i) => ({ id: r.id, text: r.content_text, vector: vectors[i] })),
    );
  }

  async function embedInline(doc: DocKey): Promise<number> {
    if (!embedder) return 0;
    try {
      const rows = (await store.docChunks(db, doc)).filter((r) => r.embedding_model !== embedder.model);
      return await embedChunks(rows, INLINE_EMBED_MS);
    } catch (err) {
      // The text is indexed and searchable by keyword; the job embeds it later.
      api.log.warn(`embedding ${doc.source_type}:${doc.source_id} deferred: ${(err as Error).message}`);
      return 0;
    }
  }

  /**
   * Writes a document (unchanged text keeps its vectors), then embeds what needs it. With `event`,
   * the write and that event (given the chunk count) commit together.
   */
  async function indexDoc(
    input: IndexInput,
    event?: (chunks: number) => PluginEventInput,
  ): Promise<{ chunks: number; embedded: number }> {
    const chunks = chunkText(input.content_text, await chunkSize());
    const w: DocWrite = {
      project_id: input.project_id,
      source_type: input.source_type,
      source_id: input.source_id,
      namespace: input.namespace ?? '',
      metadata: input.metadata ?? {},
      owner_agent: input.owner_agent ?? '',
      indexed_by: input.indexed_by ?? '',
      chunks,
    };
    const existing = await store.docChunks(db, w);
    const same = existing.length === chunks.length && existing.every((r, i) => r.content_text === chunks[i]);
    const stmts = same ? [store.touchDoc(w)] : store.writeDoc(w, await store.dims(db));
    if (event)
      await api.atomic(async (tx, emit) => {
        for (const st of stmts) await tx.execute(st.sql, st.args);
        emit(event(chunks.length));
      });
    else await db.batch(stmts);
    return { chunks: chunks.length, embedded: await embedInline(w) };
  }

  async function removeDoc(doc: DocKey): Promise<number> {
    const res = await db.batch(store.deleteDoc(doc, await store.dims(db)));
    return res[res.length - 1].rowsAffected;
  }

  /** The reader's scope: humans everything; an agent its projects (+ global rows), never others' private rows. */
  async function scopeOf(p: Principal, projectFilter?: string): Promise<Scope> {
    const readable = await api.core.projects.readableBy(p);
    const agentId = p.kind === 'agent' ? p.id : null;
    if (projectFilter !== undefined) {
      if (readable && projectFilter !== '' && !readable.includes(projectFilter))
        throw forbidden(`Agent ${agentId} cannot read memory of project ${projectFilter}`);
      return { projects: [projectFilter], agentId };
    }
    return { projects: readable ? ['', ...readable] : null, agentId };
  }

  /** Project a write lands in: an agent's own by default, checked by the core scope rule. */
  async function writeProject(req: PluginRequest): Promise<string> {
    const p = req.principal!;
    const requested =
      str(req.body, 'project_id', 200) ?? (typeof req.query.project_id === 'string' ? req.query.project_id : undefined);
    const projectId = requested ?? (p.kind === 'agent' ? p.projectId : '');
    if (p.kind === 'agent' && projectId === '') throw forbidden('Only humans may write global memory (project_id "")');
    await api.core.projects.assertWrite(p, projectId || null);
    return projectId;
  }

  /** Refuses an agent touching another agent's private document in the same project. */
  async function assertOwnable(p: Principal, doc: DocKey) {
    if (p.kind !== 'agent') return;
    const first = (await store.docChunks(db, doc))[0];
    if (first?.owner_agent && first.owner_agent !== p.id)
      throw forbidden(`Document ${doc.source_type}:${doc.source_id} is private to another agent`);
  }

  function parseIndexItem(body: Record<string, unknown>, p: Principal) {
    const source_type = str(body, 'source_type', 64);
    const source_id = str(body, 'source_id', 200);
    const content_text = str(body, 'content_text', MAX_TEXT);
    if (!source_type || !source_id || !content_text)
      throw badRequest('source_type, source_id, and content_text are required');
    if (!SOURCE_TYPE_RE.test(source_type)) throw badRequest('source_type must be 1-64 letters, digits or _ . : -');
    if (p.kind === 'agent' && RESERVED_TYPES.has(source_type))
      throw badRequest(`source_type "${source_type}" is reserved for platform content`);
    const namespace = str(body, 'namespace', 200) ?? '';
    const metadata = body.metadata ?? {};
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
      throw badRequest('metadata must be an object');
    const visibility = body.visibility ?? 'project';
    if (visibility !== 'project' && visibility !== 'private')
      throw badRequest('visibility must be "project" or "private"');
    return {
      source_type,
      source_id,
      content_text,
      namespace,
      metadata: metadata as Record<string, unknown>,
      owner_agent: visibility === 'private' ? p.who : '',
      indexed_by: p.who,
    };
  }

  async function search(req: PluginRequest) {
    const body = req.input.body as Record<string, unknown>;
    const query = str(body, 'query', 2000)!;
    const limit = Math.min(100, (body.limit as number | null | undefined) ?? 10);
    const mode = body.mode ?? 'hybrid';
    const types = body.source_types;
    const scope = await scopeOf(req.principal!, str(body, 'project_id', 200));
    scope.namespace = str(body, 'namespace', 200);
    scope.sourceTypes = types as string[] | undefined;

    const match = ftsQuery(query);
    const keyword = match ? await store.keyword(db, match, scope, limit * 2) : [];
    let queryVector: number[] | null = null;
    if (mode === 'hybrid' && embedder) {
      try {
        [queryVector] = await embedder.embed([query], INLINE_EMBED_MS);
      } catch (err) {
        api.log.warn(`query embedding failed, keyword search only: ${(err as Error).message}`);
      }
    }
    if (!queryVector || !embedder) {
      const results = collapse(keyword.map((r) => present(r, -r.rank))).slice(0, limit);
      return { results, mode: 'keyword', query, count: results.length };
    }
    const vector = await store.nearest(db, embedder.model, queryVector, scope, limit * 2);
    // Reciprocal rank fusion over chunk ids (spec 06 §5.4).
    const fused = new Map<number, { row: ChunkRow; rrf: number; vec?: number }>();
    for (const [i, r] of keyword.entries()) fused.set(r.id, { row: r, rrf: 1 / (RRF_K + i + 1) });
    vector.forEach((r, i) => {
      const cur = fused.get(r.id) ?? { row: r, rrf: 0 };
      cur.rrf += 1 / (RRF_K + i + 1);
      cur.vec = 1 - Number(r.dist);
      fused.set(r.id, cur);
    });
    const ranked = [...fused.values()]
      .sort((a, b) => b.rrf - a.rrf)
      .map((f) =>
        present(f.row, f.rrf, {
          rrf_score: Math.round(f.rrf * 1e6) / 1e6,
          ...(f.vec !== undefined ? { vector_score: Math.round(f.vec * 1e6) / 1e6 } : {}),
        }),
      );
    const results = collapse(ranked).slice(0, limit);
    return { results, mode: 'hybrid', query, count: results.length };
  }

  /** The best chunk per document (input is best first). */
  function collapse(rows: Result[]): Result[] {
    const seen = new Set<string>();
    return rows.filter((r) => {
      const k = docKeyOf(r);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  }

  async function embedPending(batch: number) {
    if (!embedder) return { embedded: 0, errors: 0, remaining: 0 };
    let embedded = 0;
    let errors = 0;
    const rows = await store.pending(db, embedder.model, batch);
    try {
      embedded = await embedChunks(rows, 30_000);
    } catch (err) {
      // A provider failure is an answer, never a crash (REL: reindex with a bad key must not take the server down).
      errors = rows.length;
      api.log.warn(`embedding ${rows.length} pending chunk(s) failed: ${(err as Error).message}`);
    }
    return { embedded, errors, remaining: await store.pendingCount(db, embedder.model) };
  }

  // ── routes ──────────────────────────────────────────────────────────────────────────────────

  api.post('/search', search, {
    summary: "Hybrid (keyword + vector) search over your projects' memory",
    response: SearchOut,
    body: SearchBody,
  });

  api.post(
    '/index',
    async (req) => {
      const p = req.principal!;
      const item = parseIndexItem(req.body, p);
      const project_id = await writeProject(req);
      await assertOwnable(p, { project_id, ...item });
      const r = await indexDoc({ project_id, ...item }, (chunks) => ({
        type: 'memory_indexed',
        agent: item.indexed_by,
        projectId: project_id || null,
        summary: `Indexed ${item.source_type}:${item.source_id} (${chunks} chunk${chunks === 1 ? '' : 's'})`,
        data: { source_type: item.source_type, source_id: item.source_id, chunks },
      }));
      return { ok: true, source_type: item.source_type, source_id: item.source_id, project_id, ...r };
    },
    { summary: 'Index a document (the same source_type/source_id replaces it)', body: IndexBody, response: IndexOut },
  );

  api.post(
    '/index/bulk',
    async (req) => {
      const p = req.principal!;
      const items = req.body.items;
      if (!Array.isArray(items) || !items.length) throw badRequest('items array is required');
      if (items.length > 100) throw badRequest('Max 100 items per bulk request');
      const project_id = await writeProject(req);
      // Every item is checked before anything is written (nothing half-written).
      const parsed = items.map((it, i) => {
        if (!it || typeof it !== 'object' || Array.isArray(it)) throw badRequest(`items[${i}] must be an object`);
        try {
          return parseIndexItem(it as Record<string, unknown>, p);
        } catch (err) {
          throw badRequest(`items[${i}]: ${(err as Error).message}`);
        }
      });
      for (const it of parsed) await assertOwnable(p, { project_id, ...it });
      const size = await chunkSize();
      const dims = await store.dims(db);
      let rows = 0;
      const stmts = parsed.flatMap((it) => {
        const chunks = chunkText(it.content_text, size);
        rows += chunks.length;
        return store.writeDoc({ project_id, ...it, chunks }, dims);
      });
      await db.batch(stmts);
      let embedded = 0;
      for (const it of parsed) embedded += await embedInline({ project_id, ...it });
      return { ok: true, indexed: parsed.length, rows, embedded };
    },
    {
      summary: 'Index up to 100 documents (all checked before any is written)',
      body: BulkBody,
      response: BulkOut,
    },
  );

  api.delete(
    '/index/:sourceType/:sourceId',
    async (req) => {
      const p = req.principal!;
      const project_id = await writeProject(req);
      const doc = { project_id, source_type: req.params.sourceType, source_id: req.params.sourceId };
      if (p.kind === 'agent' && RESERVED_TYPES.has(doc.source_type))
        throw badRequest(`source_type "${doc.source_type}" is reserved for platform content`);
      await assertOwnable(p, doc);
      return { ok: true, deleted: await removeDoc(doc) };
    },
    {
      summary: 'Remove a document',
      response: DeleteOut,
      params: DocParams,
      query: ProjectQuery,
      body: z.object({ project_id: projectField }),
    },
  );

  api.get(
    '/stats',
    async (req) => {
      const scope = await scopeOf(req.principal!, (req.input.query as z.output<typeof ProjectQuery>).project_id);
      const { totals, byType, byNs } = await store.stats(db, scope);
      const total = Number(totals?.total ?? 0);
      const embedded = Number(totals?.embedded ?? 0);
      return {
        total_indexed: total,
        documents: Number(totals?.docs ?? 0),
        with_embeddings: embedded,
        embedding_coverage: total ? Math.round((embedded / total) * 100) : 0,
        by_source_type: byType.map((r) => ({ source_type: r.source_type, count: Number(r.count) })),
        by_namespace: byNs.map((r) => ({ namespace: r.namespace, count: Number(r.count) })),
        mode: embedder ? 'hybrid' : 'keyword',
        embedding_model: embedder?.model ?? null,
        vector_index: 'libsql_vector_idx',
      };
    },
    { summary: 'Documents, chunks and embedding coverage of your projects', query: ProjectQuery, response: StatsOut },
  );

  api.get(
    '/config',
    async () => ({
      embedding_provider: embedder ? 'openai-compatible' : 'none',
      embedding_url: api.env('MEMORY_EMBEDDINGS_URL') ?? null,
      embedding_model: embedder?.model ?? null,
      // Never the key itself (SEC-39).
      embedding_api_key: api.env('MEMORY_EMBEDDINGS_KEY') ? '••••••••' : null,
      chunk_size: await chunkSize(),
      auto_index: (await api.config.get('auto_index')) !== 'false',
      mode: embedder ? 'hybrid' : 'keyword',
    }),
    { auth: 'admin', summary: 'Effective settings (the key masked)', query: NoInput, response: ConfigOut },
  );

  api.post(
    '/reindex',
    async (req) => {
      if (!embedder) throw badRequest('No embedding provider configured (set MEMORY_EMBEDDINGS_URL)');
      const b = ((req.input.body as z.output<typeof ReindexBody>).batch_size as number | null | undefined) ?? 50;
      const r = await embedPending(b);
      return {
        ok: true,
        message: r.remaining ? 'Batch complete, more remaining — call again' : 'Reindex complete',
        embedded: r.embedded,
        errors: r.errors,
        remaining: r.remaining > 0,
      };
    },
    {
      auth: 'admin',
      summary: 'Embed chunks still without a vector (one batch)',
      response: ReindexOut,
      body: ReindexBody,
      lazyBody: true,
    },
  );

  // ── platform content (hooks run after the core write committed) ────────────────────────────

  const autoIndex = async () => (await api.config.get('auto_index')) !== 'false';

  async function indexTask(id: number) {
    const t = await api.core.tasks.get(id);
    if (!t) return;
    const text = `${t.title}\n${t.description ?? ''}`.trim();
    await indexDoc({
      project_id: String(t.project_id ?? ''),
      source_type: 'task',
      source_id: String(t.id),
      content_text: t.status === 'done' ? `COMPLETED: ${text}` : text,
      metadata: { status: t.status, assignee: t.assignee ?? null },
      indexed_by: '__system__',
    });
  }

  /**
   * Where a context key's text may be found: the key's owner project (null = shared with all),
   * and only by its agent when the namespace is an agent's own (spec 04 §3 read scope).
   */
  async function contextHome(namespace: string, projectId: string | null) {
    const agent = await api.core.agents.get(namespace);
    return { project_id: projectId ?? '', owner_agent: agent ? agent.id : '' };
  }

  api.on('task_created', async (ev) => {
    const id = Number(dataObject(ev.data).task_id);
    if (id && (await autoIndex())) await indexTask(id);
  });
  api.on('task_done', async (ev) => {
    const id = Number(dataObject(ev.data).task_id);
    if (id && (await autoIndex())) await indexTask(id);
  });
  api.on('task_deleted', async (ev) => {
    const id = Number(dataObject(ev.data).task_id);
    if (!id) return;
    await db.batch(
      store.deleteDoc(
        { project_id: String(ev.project_id ?? ''), source_type: 'task', source_id: String(id) },
        await store.dims(db),
      ),
    );
  });
  api.on('plan_created', async (ev) => {
    const d = dataObject(ev.data);
    if (!d.plan_id || typeof d.title !== 'string' || !(await autoIndex())) return;
    await indexDoc({
      project_id: String(d.project_id ?? ev.project_id ?? ''),
      source_type: 'plan',
      source_id: String(d.plan_id),
      content_text: d.title,
      indexed_by: '__system__',
    });
  });
  api.on('context_key_updated', async (ev) => {
    const d = dataObject(ev.data);
    if (typeof d.namespace !== 'string' || typeof d.key !== 'string' || !(await autoIndex())) return;
    const row = await api.core.context.get(d.namespace, d.key);
    if (!row) return;
    const sourceId = `${d.namespace}:${d.key}`;
    const home = await contextHome(d.namespace, row.project_id);
    await indexDoc({
      ...home,
      source_type: 'context_key',
      source_id: sourceId,
      namespace: d.namespace,
      content_text: `${d.namespace}:${d.key}\n${row.data}`.slice(0, MAX_TEXT),
      indexed_by: '__system__',
    });
  });
  api.on('context_key_deleted', async (ev) => {
    const d = dataObject(ev.data);
    if (typeof d.namespace !== 'string' || typeof d.key !== 'string') return;
    await db.batch(store.deleteSource('context_key', `${d.namespace}:${d.key}`, await store.dims(db)));
  });

  api.job({ name: 'embed-pending', everyMs: 5 * 60_000, run: () => embedPending(PENDING_BATCH) });

  // ── services for the core (smart boot) and other plugins (auto-memory) ─────────────────────

  const memory: MemoryService = { index: indexDoc, remove: removeDoc };
  api.provide('memory', memory);

  const scorer: ContextScorer = {
    async score({ query, keys }) {
      if (!embedder || !query.trim()) return null;
      const [vector] = await embedder.embed([query.slice(0, 8000)], INLINE_EMBED_MS);
      const ids = keys.map((k) => `${k.namespace}:${k.key}`);
      const rows = await store.contextSimilarity(db, embedder.model, vector, ids);
      const scores = new Map<string, number>(ids.map((id) => [id, 0]));
      for (const r of rows) scores.set(r.source_id, Math.max(0, Math.min(1, Number(r.sim))));
      return { scores, method: 'hybrid' };
    },
  };
  api.provide('context-scorer', scorer);

  api.log.info(
    embedder
      ? `hybrid search: FTS5 BM25 + libSQL vector index, embeddings ${embedder.model} via ${new URL(api.env('MEMORY_EMBEDDINGS_URL')!).host}`
      : 'keyword-only search (FTS5 BM25): MEMORY_EMBEDDINGS_URL is not set, answers say mode "keyword"',
  );
}
