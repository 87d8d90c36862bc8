import {
  badRequest,
  IdParams,
  NoInput,
  notFound,
  parseIntId,
  sentence,
  z,
  dataObject,
  reply,
  type PluginApi,
  type PluginRequest,
  type Principal,
} from '../../worker/src/plugins/sdk.js';
import type { MemoryService } from '../semantic-memory/index.js';
import { firstJson, llmFrom, type Llm } from './llm.js';

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
/** A number in the query within bounds (`?min_confidence=0.5`); absent or empty means the default. */
const numberQuery = (min: number, max: number, doc: Record<string, unknown> = {}) =>
  sentence({ type: 'number', minimum: min, maximum: max, ...doc }, (v) => {
    if (v === undefined || v === '') return null;
    const n = Number(v);
    return Number.isFinite(n) && n >= min && n <= max ? null : `must be a number between ${min} and ${max}`;
  });
/** The validated value of a `numberQuery` field, or undefined. */
const queryNumber = (raw: unknown) => (raw === undefined || raw === '' ? undefined : Number(raw));
const FactsQuery = z.object({
  agent_id: z.string().optional().meta({ description: 'Humans only: whose facts (agents always see their own)' }),
  project_id: z.string().optional(),
  category: z.string().optional(),
  min_confidence: numberQuery(0, 1),
  limit: numberQuery(1, 100_000, { type: 'integer', description: 'At most 500 are answered (default 50)' }),
  offset: numberQuery(0, 1e9, { type: 'integer' }),
});
const ExtractBody = z.object({
  text: sentence(
    { type: 'string', maxLength: 100_000 },
    (v) =>
      typeof v !== 'string' || !v.trim()
        ? 'is required'
        : v.length > 100_000
          ? 'exceeds max length (100000 chars)'
          : null,
    { always: true },
  ),
  project_id: sentence({ type: ['string', 'null'], description: "Default: the agent's project" }, (v) =>
    v === undefined || v === null || typeof v === 'string' ? null : 'must be a string',
  ),
});
const ErrorsQuery = z.object({ limit: numberQuery(1, 500, { type: 'integer', description: 'Default 50' }) });

/**
 * auto-memory (spec 06 §5.5, W12; spec 07 SEC-41; issue 14). An LLM extracts durable facts
 * from finished work (task_done) and resolved requests; facts decay unless used, merge into one
 * another (supersession) and are pruned; each is mirrored into semantic-memory so agents find
 * it by search. Extraction runs in event hooks, i.e. after the core write committed, with a
 * deadline: it can never block or fail a core request. Failures land in am_extraction_errors.
 */

const CATEGORIES = ['preference', 'decision', 'pattern', 'architecture', 'convention', 'insight', 'general'] as const;
const DECAY_RATE: Record<string, number> = {
  convention: 0.002,
  architecture: 0.002,
  decision: 0.005,
  pattern: 0.005,
  preference: 0.005,
};
const DEFAULT_DECAY = 0.01;
const PRUNE_BELOW = 0.15;
const MAX_INPUT = 4000;
const MAX_FACTS_PER_EXTRACTION = 20;
/** Hooks get 5 s from the host; the LLM gets most of it, the writes the rest. */
const HOOK_LLM_MS = 3500;
const ROUTE_LLM_MS = 30_000;

const EXTRACT_PROMPT = `You extract durable facts from an AI agent team's activity: preferences, decisions, patterns,
architecture, conventions and insights worth remembering next week. Skip small talk and one-off details.
Answer with JSON only: {"facts": [{"category": "preference|decision|pattern|architecture|convention|insight",
"fact_text": "one self-contained sentence", "confidence": 0.0-1.0}]}. Answer {"facts": []} when nothing qualifies.`;

const CONSOLIDATE_PROMPT = `You maintain an agent's long-term memory. Given its current facts (id, category, confidence, text),
merge duplicates and contradictions (the newer or better fact wins), adjust confidences, and add at most 3 insights
that follow from several facts. Answer with JSON only: {"keep": [{"id": n, "new_confidence": 0.0-1.0}],
"merge": [{"keep_id": n, "supersede_ids": [n, ...]}], "insights": [{"category": "insight", "fact_text": "...", "confidence": 0.0-1.0}]}.`;

interface FactRow {
  id: number;
  agent_id: string;
  project_id: string;
  category: string;
  fact_text: string;
  confidence: number;
  source_type: string;
  source_id: string | null;
  private: number;
  superseded_by: number | null;
  retired_at: string | null;
  retired_reason: string | null;
  access_count: number;
  last_accessed_at: string | null;
  created_at: string;
  updated_at: string;
}

interface ExtractedFact {
  category: string;
  fact_text: string;
  confidence: number;
}

const presentFact = (f: FactRow) => ({ ...f, private: Number(f.private) === 1, current: f.retired_at === null });

/** Validates the model's facts: unknown categories become `general`, short or huge texts are dropped. */
export function parseFacts(answer: string): ExtractedFact[] {
  const v = firstJson(answer);
  const list = Array.isArray(v) ? v : v && typeof v === 'object' ? (v as { facts?: unknown }).facts : null;
  if (!Array.isArray(list)) throw new Error('the model answered no JSON facts list');
  const out: ExtractedFact[] = [];
  for (const f of list) {
    if (!f || typeof f !== 'object') continue;
    const o = f as Record<string, unknown>;
    const text = typeof o.fact_text === 'string' ? o.fact_text.trim() : '';
    if (text.length < 10 || text.length > 1000) continue;
    const category =
      typeof o.category === 'string' && (CATEGORIES as readonly string[]).includes(o.category) ? o.category : 'general';
    const c = Number(o.confidence);
    out.push({ category, fact_text: text, confidence: Number.isFinite(c) && c >= 0 && c <= 1 ? c : 0.8 });
    if (out.length >= MAX_FACTS_PER_EXTRACTION) break;
  }
  return out;
}

const normal = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();

export async function setup(api: PluginApi) {
  const db = api.db;
  const llm: Llm | null = llmFrom(api);

  const flag = async (key: string) => (await api.config.get(key)) !== 'false';
  const num = async (key: string, dflt: number, min: number, max: number) => {
    const n = Number(await api.config.get(key));
    return Number.isFinite(n) && n >= min && n <= max ? n : dflt;
  };

  async function logError(e: { agent: string; project: string; source: string; message: string; text: string }) {
    await db.run(
      'INSERT INTO am_extraction_errors (agent_id, project_id, source_event, error_message, input_text_preview) VALUES (?, ?, ?, ?, ?)',
      [e.agent, e.project, e.source, e.message.slice(0, 1000), e.text.slice(0, 500)],
    );
  }

  /** Mirrors facts into semantic-memory when it is enabled (best effort: the fact is stored either way). */
  async function mirror(facts: FactRow[]) {
    const mem = await api.service<MemoryService>('memory');
    if (!mem) return;
    for (const f of facts) {
      try {
        await mem.index({
          project_id: f.project_id,
          source_type: 'memory',
          source_id: String(f.id),
          content_text: f.fact_text,
          namespace: 'auto-memory',
          metadata: { category: f.category, agent_id: f.agent_id, confidence: f.confidence },
          owner_agent: Number(f.private) === 1 ? f.agent_id : '',
          indexed_by: 'auto-memory',
        });
      } catch (err) {
        api.log.warn(`mirroring fact #${f.id} into semantic-memory failed: ${(err as Error).message}`);
      }
    }
  }
  async function unmirror(facts: { id: number; project_id: string }[]) {
    const mem = await api.service<MemoryService>('memory');
    if (!mem) return;
    for (const f of facts) {
      await mem.remove({ project_id: f.project_id, source_type: 'memory', source_id: String(f.id) }).catch(() => 0);
    }
  }

  /**
   * Extraction: LLM → validated facts → stored (a fact the agent already holds is reinforced,
   * not duplicated) → mirrored → the agent's oldest retired, then weakest facts beyond the cap go.
   */
  async function extract(o: {
    agent: string;
    project: string;
    text: string;
    source: string;
    sourceId?: string;
    private?: boolean;
    timeoutMs: number;
  }): Promise<FactRow[]> {
    if (!llm) return [];
    const text = o.text.slice(0, MAX_INPUT);
    const facts = parseFacts(await llm.complete(EXTRACT_PROMPT, text, o.timeoutMs));
    if (!facts.length) return [];
    const held = await db.all<{ id: number; fact_text: string }>(
      'SELECT id, fact_text FROM am_facts WHERE agent_id = ? AND retired_at IS NULL',
      [o.agent],
    );
    const byText = new Map(held.map((h) => [normal(h.fact_text), h.id]));
    const fresh: ExtractedFact[] = [];
    const reinforce: number[] = [];
    for (const f of facts) {
      const same = byText.get(normal(f.fact_text));
      if (same) reinforce.push(same);
      else {
        byText.set(normal(f.fact_text), -1);
        fresh.push(f);
      }
    }
    const res = await db.batch([
      ...fresh.map((f) => ({
        sql: `INSERT INTO am_facts (agent_id, project_id, category, fact_text, confidence, source_type, source_id, private)
              VALUES (?, ?, ?, ?, ?, 'extraction', ?, ?) RETURNING *`,
        args: [o.agent, o.project, f.category, f.fact_text, f.confidence, o.sourceId ?? o.source, o.private ? 1 : 0],
      })),
      ...reinforce.map((id) => ({
        sql: `UPDATE am_facts SET confidence = MIN(1.0, ROUND(confidence + 0.05, 3)), updated_at = datetime('now') WHERE id = ?`,
        args: [id],
      })),
    ]);
    const inserted = res.slice(0, fresh.length).map((r) => r.rows[0] as unknown as FactRow);
    await mirror(inserted);
    await capFacts(o.agent);
    return inserted;
  }

  async function capFacts(agent: string) {
    const max = await num('max_facts_per_agent', 500, 1, 100_000);
    const over = await db.all<{ id: number; project_id: string }>(
      `SELECT id, project_id FROM am_facts WHERE agent_id = ?
        ORDER BY (retired_at IS NULL), confidence, created_at, id
        LIMIT MAX(0, (SELECT COUNT(*) FROM am_facts WHERE agent_id = ?) - ?)`,
      [agent, agent, max],
    );
    if (!over.length) return;
    await db.run(
      `DELETE FROM am_facts WHERE id IN (${over.map(() => '?').join(', ')})`,
      over.map((f) => f.id),
    );
    await unmirror(over);
  }

  /** Runs extraction for a hook: deadline-bound, every failure logged, nothing thrown at the host. */
  async function extractInBackground(o: Parameters<typeof extract>[0]) {
    if (!llm || !(await flag('extraction_enabled')) || o.text.trim().length < 20) return;
    try {
      await extract(o);
    } catch (err) {
      await logError({
        agent: o.agent,
        project: o.project,
        source: o.source,
        message: (err as Error).message,
        text: o.text,
      });
    }
  }

  /** Decay (unused facts lose confidence by category), prune (below the floor for a week), clean-up. */
  async function decayAndPrune() {
    const due = await db.all<{ id: number; category: string; confidence: number; days: number }>(
      `SELECT id, category, confidence,
              julianday('now') - julianday(COALESCE(decayed_at, last_accessed_at, created_at)) AS days
         FROM am_facts
        WHERE retired_at IS NULL
          AND julianday('now') - julianday(COALESCE(last_accessed_at, created_at)) >= 1
          AND julianday('now') - julianday(COALESCE(decayed_at, last_accessed_at, created_at)) >= 1`,
    );
    const updates = due.flatMap((f) => {
      const rate = DECAY_RATE[f.category] ?? DEFAULT_DECAY;
      const next = Math.round(Number(f.confidence) * Math.max(0.1, 1 - Number(f.days) * rate) * 1000) / 1000;
      if (Math.abs(next - Number(f.confidence)) <= 0.001) return [];
      return [
        {
          sql: "UPDATE am_facts SET confidence = ?, decayed_at = datetime('now') WHERE id = ? AND retired_at IS NULL",
          args: [next, f.id],
        },
      ];
    });
    if (updates.length) await db.batch(updates);
    const pruned = await db.all<{ id: number; project_id: string }>(
      `UPDATE am_facts SET retired_at = datetime('now'), retired_reason = 'decayed'
        WHERE retired_at IS NULL AND confidence < ? AND updated_at < datetime('now', '-7 days')
        RETURNING id, project_id`,
      [PRUNE_BELOW],
    );
    await unmirror(pruned);
    await db.run("DELETE FROM am_facts WHERE retired_at IS NOT NULL AND retired_at < datetime('now', '-30 days')");
    return { decayed: updates.length, pruned: pruned.length };
  }

  /** LLM consolidation of one agent's current facts: merges become supersessions, insights new facts. */
  async function consolidateAgent(agent: string, timeoutMs: number) {
    const facts = await db.all<FactRow>(
      `SELECT * FROM am_facts WHERE agent_id = ? AND retired_at IS NULL ORDER BY confidence DESC, updated_at DESC LIMIT 200`,
      [agent],
    );
    if (facts.length < 5 || !llm) return { processed: facts.length, merged: 0, superseded: 0, insights: 0 };
    const listing = facts.map((f) => `#${f.id} [${f.category}, ${f.confidence}] ${f.fact_text}`).join('\n');
    const v = firstJson(await llm.complete(CONSOLIDATE_PROMPT, listing, timeoutMs));
    if (!v || typeof v !== 'object') throw new Error('Could not parse consolidation response');
    const plan = v as { keep?: unknown; merge?: unknown; insights?: unknown };
    const ids = new Map(facts.map((f) => [f.id, f]));
    const stmts: { sql: string; args: (string | number)[] }[] = [];
    for (const k of Array.isArray(plan.keep) ? plan.keep : []) {
      const id = Number(k?.id);
      const c = Number(k?.new_confidence);
      if (ids.has(id) && Number.isFinite(c) && c >= 0 && c <= 1)
        stmts.push({
          sql: "UPDATE am_facts SET confidence = ?, updated_at = datetime('now') WHERE id = ?",
          args: [Math.round(c * 1000) / 1000, id],
        });
    }
    const superseded: FactRow[] = [];
    let merged = 0;
    for (const m of Array.isArray(plan.merge) ? plan.merge : []) {
      const keep = Number(m?.keep_id);
      if (!ids.has(keep)) continue;
      const gone = (Array.isArray(m?.supersede_ids) ? m.supersede_ids : [])
        .map(Number)
        .filter((id: number) => id !== keep && ids.has(id) && !superseded.some((s) => s.id === id));
      if (!gone.length) continue;
      merged++;
      for (const id of gone) {
        superseded.push(ids.get(id)!);
        stmts.push({
          sql: `UPDATE am_facts SET superseded_by = ?, retired_at = datetime('now'), retired_reason = 'merged', updated_at = datetime('now')
                 WHERE id = ? AND agent_id = ? AND retired_at IS NULL`,
          args: [keep, id, agent],
        });
      }
    }
    const insights = parseFacts(
      JSON.stringify({ facts: Array.isArray(plan.insights) ? plan.insights.slice(0, 3) : [] }),
    );
    const home = facts[0];
    const firstInsight = stmts.length;
    for (const f of insights)
      stmts.push({
        sql: `INSERT INTO am_facts (agent_id, project_id, category, fact_text, confidence, source_type, private)
              VALUES (?, ?, ?, ?, ?, 'consolidation', ?) RETURNING *`,
        args: [
          agent,
          home.project_id,
          f.category,
          f.fact_text,
          f.confidence,
          facts.some((x) => Number(x.private) === 1) ? 1 : 0,
        ],
      });
    const res = stmts.length ? await db.batch(stmts) : [];
    await unmirror(superseded);
    await mirror(res.slice(firstInsight).map((r) => r.rows[0] as unknown as FactRow));
    return { processed: facts.length, merged, superseded: superseded.length, insights: insights.length };
  }

  async function consolidate(timeoutMs: number) {
    const started = Date.now();
    const decay = await decayAndPrune();
    const totals = { processed: 0, merged: 0, superseded: 0, insights: 0 };
    let note = '';
    if (llm && (await flag('consolidation_enabled'))) {
      const agents = await db.all<{ agent_id: string }>(
        `SELECT agent_id FROM am_facts WHERE retired_at IS NULL GROUP BY agent_id HAVING COUNT(*) >= 5 ORDER BY COUNT(*) DESC LIMIT 20`,
      );
      for (const a of agents) {
        try {
          const r = await consolidateAgent(a.agent_id, timeoutMs);
          totals.processed += r.processed;
          totals.merged += r.merged;
          totals.superseded += r.superseded;
          totals.insights += r.insights;
        } catch (err) {
          note = (err as Error).message;
          await logError({ agent: a.agent_id, project: '', source: 'consolidation', message: note, text: '' });
        }
      }
    } else note = llm ? 'Consolidation is disabled' : 'No LLM provider configured';
    const duration_ms = Date.now() - started;
    await db.run(
      `INSERT INTO am_consolidation_log (facts_processed, facts_merged, facts_superseded, facts_decayed, facts_pruned, insights_added, duration_ms, note)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        totals.processed,
        totals.merged,
        totals.superseded,
        decay.decayed,
        decay.pruned,
        totals.insights,
        duration_ms,
        note,
      ],
    );
    return {
      facts_processed: totals.processed,
      facts_merged: totals.merged,
      facts_superseded: totals.superseded,
      facts_decayed: decay.decayed,
      facts_pruned: decay.pruned,
      insights_added: totals.insights,
      duration_ms,
      ...(note ? { message: note } : {}),
    };
  }

  // Declared answers (issue 15): the host shapes each answer through its schema, so a column added
  // to these tables later never leaves unless it is named here.
  const FactOut = z.object({
    id: z.number(),
    agent_id: z.string(),
    project_id: z.string(),
    category: z.string(),
    fact_text: z.string(),
    confidence: z.number(),
    source_type: z.string(),
    source_id: z.string().nullable(),
    private: z.boolean(),
    current: z.boolean(),
    superseded_by: z.number().nullable(),
    retired_at: z.string().nullable(),
    retired_reason: z.string().nullable(),
    access_count: z.number(),
    last_accessed_at: z.string().nullable(),
    decayed_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  });
  const OkOut = z.object({ ok: z.boolean() });
  const ExtractOut = z.object({
    ok: z.boolean(),
    facts_extracted: z.number(),
    facts: z.array(z.object({ id: z.number(), category: z.string(), fact_text: z.string(), confidence: z.number() })),
    provider: z.string(),
  });
  const ConsolidateOut = z.object({
    ok: z.boolean(),
    result: z.object({
      facts_processed: z.number(),
      facts_merged: z.number(),
      facts_superseded: z.number(),
      facts_decayed: z.number(),
      facts_pruned: z.number(),
      insights_added: z.number(),
      duration_ms: z.number(),
      message: z.string().optional(),
    }),
  });
  const ConfigOut = z.object({
    llm_provider: z.string(),
    llm_model: z.string().nullable(),
    llm_url: z.string().nullable(),
    /** Masked: never the key (SEC-39). */
    llm_api_key: z.string().nullable(),
    extraction_enabled: z.boolean(),
    consolidation_enabled: z.boolean(),
    consolidation_interval_hours: z.number(),
    max_facts_per_agent: z.number(),
  });
  const StatsOut = z.object({
    active_facts: z.number(),
    superseded_facts: z.number(),
    by_category: z.array(z.object({ category: z.string(), count: z.number() })),
    by_agent: z.array(z.object({ agent_id: z.string(), count: z.number() })),
    total_consolidations: z.number(),
    last_consolidation: z.string().nullable(),
    decay: z.object({ facts_below_threshold: z.number(), facts_decay_pruned: z.number() }),
    extraction_errors: z.object({
      total: z.number(),
      last_24h: z.number(),
      last_error: z.object({ at: z.string(), source: z.string(), message: z.string() }).nullable(),
    }),
    llm_provider: z.string(),
  });
  const ErrorRowOut = z.object({
    id: z.number(),
    agent_id: z.string(),
    project_id: z.string(),
    source_event: z.string(),
    error_message: z.string(),
    input_text_preview: z.string(),
    created_at: z.string(),
  });

  // ── routes ──────────────────────────────────────────────────────────────────────────────────

  const isHuman = (p: Principal) => p.kind !== 'agent';
  const self = (p: Principal) => p.who;

  api.get(
    '/facts',
    async (req: PluginRequest) => {
      const p = req.principal!;
      const q = req.input.query as Record<string, string | undefined>;
      // SEC-41: an agent sees its own facts whatever ?agent_id= says.
      const agent = isHuman(p) ? q.agent_id || undefined : self(p);
      const minConfidence = queryNumber(q.min_confidence);
      const limit = Math.floor(queryNumber(q.limit) ?? 50);
      const offset = Math.floor(queryNumber(q.offset) ?? 0);
      const where = ['retired_at IS NULL'];
      const args: (string | number)[] = [];
      if (agent) {
        where.push('agent_id = ?');
        args.push(agent);
      }
      if (q.project_id) {
        where.push('project_id = ?');
        args.push(q.project_id);
      }
      if (q.category) {
        where.push('category = ?');
        args.push(q.category);
      }
      if (minConfidence !== undefined) {
        where.push('confidence >= ?');
        args.push(minConfidence);
      }
      const rows = await db.all<FactRow>(
        `SELECT * FROM am_facts WHERE ${where.join(' AND ')} ORDER BY confidence DESC, updated_at DESC, id DESC LIMIT ? OFFSET ?`,
        [...args, Math.min(500, limit), offset],
      );
      return rows.map(presentFact);
    },
    {
      summary: 'Current facts, most confident first (agents: their own)',
      query: FactsQuery,
      response: z.array(FactOut),
    },
  );

  api.get(
    '/facts/:id',
    async (req) => {
      const p = req.principal!;
      const id = parseIntId(req.params.id);
      // Use counts as access: it keeps a fact from decaying.
      const row =
        id === null
          ? undefined
          : await db.get<FactRow>(
              `UPDATE am_facts SET access_count = access_count + 1, last_accessed_at = datetime('now')
              WHERE id = ? ${isHuman(p) ? '' : 'AND agent_id = ?'} RETURNING *`,
              isHuman(p) ? [id] : [id, self(p)],
            );
      if (!row) throw notFound('Fact not found');
      return presentFact(row);
    },
    {
      summary: 'One fact (counts as a use: it keeps it from decaying)',
      params: IdParams,
      query: NoInput,
      response: FactOut,
    },
  );

  api.delete(
    '/facts/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const row =
        id === null
          ? undefined
          : await db.get<FactRow>('DELETE FROM am_facts WHERE id = ? RETURNING id, project_id', [id]);
      if (!row) throw notFound('Fact not found');
      await unmirror([row]);
      return { ok: true };
    },
    { auth: 'admin', summary: 'Delete a fact', params: IdParams, query: NoInput, response: OkOut },
  );

  api.post(
    '/extract',
    async (req) => {
      const p = req.principal!;
      const b = req.input.body as { text: string; project_id?: string | null };
      const text = b.text;
      const project = b.project_id ?? (p.kind === 'agent' ? p.projectId : '');
      if (project) await api.core.projects.assertWrite(p, project);
      if (!(await flag('extraction_enabled'))) throw badRequest('Extraction is disabled');
      if (!llm) return { ok: true, facts_extracted: 0, facts: [], provider: 'none' };
      let facts: FactRow[];
      try {
        facts = await extract({ agent: self(p), project, text, source: 'api', timeoutMs: ROUTE_LLM_MS });
      } catch (err) {
        const message = (err as Error).message;
        await logError({ agent: self(p), project, source: 'api', message, text });
        // The provider failed, not the caller: a gateway error naming the cause.
        return reply(502, { error: `Extraction failed: ${message}` });
      }
      return {
        ok: true,
        facts_extracted: facts.length,
        facts: facts.map((f) => ({ id: f.id, category: f.category, fact_text: f.fact_text, confidence: f.confidence })),
        provider: llm.provider,
      };
    },
    { summary: 'Extract durable facts from text into your memory', body: ExtractBody, response: ExtractOut },
  );

  api.post(
    '/consolidate',
    async () => {
      if (!(await flag('consolidation_enabled'))) throw badRequest('Consolidation is disabled');
      return { ok: true, result: await consolidate(ROUTE_LLM_MS) };
    },
    { auth: 'admin', summary: 'Decay, prune and merge facts now', body: NoInput, response: ConsolidateOut },
  );

  api.get(
    '/config',
    async () => ({
      llm_provider: llm?.provider ?? 'none',
      llm_model: llm?.model ?? null,
      llm_url: llm?.url ?? null,
      // Never the key itself (SEC-39, W10).
      llm_api_key: api.env('AUTO_MEMORY_LLM_KEY') ? '••••••••' : null,
      extraction_enabled: await flag('extraction_enabled'),
      consolidation_enabled: await flag('consolidation_enabled'),
      consolidation_interval_hours: await num('consolidation_interval_hours', 6, 1, 24 * 30),
      max_facts_per_agent: await num('max_facts_per_agent', 500, 1, 100_000),
    }),
    { auth: 'admin', summary: 'Effective settings (the key masked)', query: NoInput, response: ConfigOut },
  );

  api.get(
    '/stats',
    async (req) => {
      const p = req.principal!;
      const mine = isHuman(p) ? '' : 'WHERE agent_id = ?';
      const args = isHuman(p) ? [] : [self(p)];
      const and = mine ? `${mine} AND` : 'WHERE';
      const [counts, byCategory, byAgent, runs, errors, lastError] = await Promise.all([
        db.get<{ active: number; retired: number; low: number; pruned: number }>(
          `SELECT SUM(CASE WHEN retired_at IS NULL THEN 1 ELSE 0 END) AS active,
                SUM(CASE WHEN retired_at IS NOT NULL THEN 1 ELSE 0 END) AS retired,
                SUM(CASE WHEN retired_at IS NULL AND confidence < ${PRUNE_BELOW} THEN 1 ELSE 0 END) AS low,
                SUM(CASE WHEN retired_reason = 'decayed' THEN 1 ELSE 0 END) AS pruned
           FROM am_facts ${mine}`,
          args,
        ),
        db.all<{ category: string; count: number }>(
          `SELECT category, COUNT(*) AS count FROM am_facts ${and} retired_at IS NULL GROUP BY category ORDER BY count DESC`,
          args,
        ),
        db.all<{ agent_id: string; count: number }>(
          `SELECT agent_id, COUNT(*) AS count FROM am_facts ${and} retired_at IS NULL GROUP BY agent_id ORDER BY count DESC LIMIT 20`,
          args,
        ),
        db.get<{ n: number; last: string | null }>(
          'SELECT COUNT(*) AS n, MAX(run_at) AS last FROM am_consolidation_log',
        ),
        db.get<{ total: number; day: number }>(
          `SELECT COUNT(*) AS total, SUM(CASE WHEN created_at > datetime('now', '-1 day') THEN 1 ELSE 0 END) AS day
           FROM am_extraction_errors ${mine}`,
          args,
        ),
        db.get<{ created_at: string; source_event: string; error_message: string }>(
          `SELECT created_at, source_event, error_message FROM am_extraction_errors ${mine} ORDER BY id DESC LIMIT 1`,
          args,
        ),
      ]);
      return {
        active_facts: Number(counts?.active ?? 0),
        superseded_facts: Number(counts?.retired ?? 0),
        by_category: byCategory.map((r) => ({ category: r.category, count: Number(r.count) })),
        by_agent: byAgent.map((r) => ({ agent_id: r.agent_id, count: Number(r.count) })),
        total_consolidations: Number(runs?.n ?? 0),
        last_consolidation: runs?.last ?? null,
        decay: { facts_below_threshold: Number(counts?.low ?? 0), facts_decay_pruned: Number(counts?.pruned ?? 0) },
        extraction_errors: {
          total: Number(errors?.total ?? 0),
          last_24h: Number(errors?.day ?? 0),
          last_error: lastError
            ? { at: lastError.created_at, source: lastError.source_event, message: lastError.error_message }
            : null,
        },
        llm_provider: llm?.provider ?? 'none',
      };
    },
    {
      summary: 'Facts, consolidations and extraction errors (agents: their own)',
      query: NoInput,
      response: StatsOut,
    },
  );

  api.get(
    '/errors',
    async (req) => {
      const limit = Math.floor(queryNumber((req.input.query as { limit?: string }).limit) ?? 50);
      return db.all('SELECT * FROM am_extraction_errors ORDER BY id DESC LIMIT ?', [limit]);
    },
    { auth: 'admin', summary: 'Recent extraction errors', query: ErrorsQuery, response: z.array(ErrorRowOut) },
  );

  // ── hooks: after commit, deadline-bound ────────────────────────────────────────────────────

  api.on('request_resolved', async (ev) => {
    const id = Number(dataObject(ev.data).message_id);
    if (!id || !llm) return;
    const m = await api.core.messages.resolvedRequest(id);
    if (!m?.resolved_by) return;
    const agent = await api.core.agents.get(m.resolved_by);
    if (!agent) return;
    await extractInBackground({
      agent: agent.id,
      project: m.project_id ?? agent.project_id,
      text: `Request from ${m.from_agent}: ${m.content}\nResponse: ${m.response ?? '(resolved without a reply)'}`,
      source: 'request_resolved',
      sourceId: `message:${id}`,
      // A request is a direct message: what is learnt from it stays with the agent (spec README, privacy of messages).
      private: true,
      timeoutMs: HOOK_LLM_MS,
    });
  });

  api.on('task_done', async (ev) => {
    const id = Number(dataObject(ev.data).task_id);
    if (!id || !llm) return;
    const t = await api.core.tasks.get(id);
    const owner = t?.assignee || ev.agent;
    const agent = t && owner ? await api.core.agents.get(owner) : null;
    if (!t || !agent) return;
    await extractInBackground({
      agent: agent.id,
      project: String(t.project_id ?? agent.project_id),
      text: `Task completed: ${t.title}\n${t.description ?? ''}`,
      source: 'task_done',
      sourceId: `task:${id}`,
      timeoutMs: HOOK_LLM_MS,
    });
  });

  // Hourly check; runs when the configured interval has passed since the last consolidation.
  api.job({
    name: 'consolidate',
    everyMs: 60 * 60_000,
    async run() {
      const hours = await num('consolidation_interval_hours', 6, 1, 24 * 30);
      const due = await db.get<{ due: number }>(
        `SELECT COALESCE(MAX(run_at) < datetime('now', ?), 1) AS due FROM am_consolidation_log`,
        [`-${hours} hours`],
      );
      if (!Number(due?.due ?? 1)) return null;
      return consolidate(ROUTE_LLM_MS);
    },
  });

  api.log.info(
    llm
      ? `fact extraction with ${llm.provider} (${llm.model}) at ${new URL(llm.url).host}; facts mirrored into semantic-memory when it is enabled`
      : 'no LLM provider (AUTO_MEMORY_LLM_PROVIDER=none): nothing is extracted; decay and the fact store still work',
  );
}
