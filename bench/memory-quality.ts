/**
 * Search quality of semantic-memory on a small labelled set, keyword-only vs hybrid.
 *
 *   npx tsx bench/memory-quality.ts
 *
 * 50 documents and 20 queries are generated deterministically (seeded PRNG, no files): each
 * document is about one topic named by three key terms and padded with sentences from a shared
 * pool (so many documents share words); each query targets one document. A quarter of the
 * queries use the key terms as written, the rest the way people type them: misspelled,
 * truncated, or with words run together. Embeddings come from the local fake provider
 * (test/support/fake-ai.ts: hashed words + character trigrams, 256 dims) — a lexical stand-in,
 * not a language model, so this measures the fusion and the plumbing (FTS5 BM25 + libSQL vector
 * index + RRF), not semantic understanding. A query "hits" when its document is in the top 3.
 */
import { startTarget } from '../test/support/target.js';
import { registerAgent } from '../test/support/fixtures.js';
import { startFakeAi } from '../test/support/fake-ai.js';

const TOPICS: [string, string, string][] = [
  ['kubernetes', 'autoscaler', 'pods'],
  ['postgres', 'replication', 'lag'],
  ['redis', 'eviction', 'policy'],
  ['terraform', 'state', 'locking'],
  ['nginx', 'upstream', 'timeouts'],
  ['kafka', 'consumer', 'rebalancing'],
  ['webpack', 'bundle', 'splitting'],
  ['oauth', 'refresh', 'tokens'],
  ['grafana', 'dashboard', 'panels'],
  ['prometheus', 'alerting', 'rules'],
  ['docker', 'layer', 'caching'],
  ['elasticsearch', 'shard', 'allocation'],
  ['typescript', 'generics', 'inference'],
  ['graphql', 'resolver', 'batching'],
  ['rabbitmq', 'dead', 'letters'],
  ['cloudflare', 'worker', 'limits'],
  ['sqlite', 'journal', 'checkpoint'],
  ['react', 'hydration', 'mismatch'],
  ['stripe', 'webhook', 'signatures'],
  ['certificate', 'renewal', 'letsencrypt'],
  ['python', 'virtualenv', 'pinning'],
  ['memory', 'leak', 'profiling'],
  ['latency', 'percentile', 'histogram'],
  ['feature', 'flag', 'rollout'],
  ['database', 'migration', 'rollback'],
  ['password', 'hashing', 'argon2'],
  ['rate', 'limiter', 'buckets'],
  ['backup', 'retention', 'snapshots'],
  ['dns', 'propagation', 'ttl'],
  ['cors', 'preflight', 'headers'],
  ['websocket', 'heartbeat', 'reconnect'],
  ['cron', 'schedule', 'drift'],
  ['unicode', 'normalization', 'collation'],
  ['pagination', 'cursor', 'stability'],
  ['invoice', 'rounding', 'currency'],
  ['thumbnail', 'generation', 'queue'],
  ['translation', 'locale', 'fallback'],
  ['accessibility', 'screenreader', 'labels'],
  ['gpu', 'driver', 'mismatch'],
  ['audit', 'log', 'immutability'],
  ['tenant', 'isolation', 'schemas'],
  ['compiler', 'warning', 'budget'],
  ['flamegraph', 'sampling', 'profiler'],
  ['bluegreen', 'deployment', 'switch'],
  ['quarantine', 'flaky', 'tests'],
  ['vector', 'index', 'recall'],
  ['email', 'bounce', 'handling'],
  ['session', 'cookie', 'samesite'],
  ['timezone', 'conversion', 'bugs'],
  ['openapi', 'schema', 'generation'],
];

const FILLER = [
  'The service owner reviewed this during the weekly operations meeting.',
  'See the runbook for the configuration steps and the rollback plan.',
  'This affected production twice last quarter before the fix landed.',
  'The team agreed to document the decision in the architecture notes.',
  'Monitoring covers the main path; edge cases still need more tests.',
  'Ask the platform channel before changing the shared configuration.',
  'A staging environment reproduces the issue with the default settings.',
  'The change was small but the investigation took most of the sprint.',
];

/** mulberry32: a tiny seeded PRNG, so the set is the same on every run. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(20261204);
const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];

const docs = TOPICS.map(([a, b, c], i) => ({
  id: `doc-${i}`,
  text: `Notes on ${a} ${b} ${c}. We looked at how ${a} handles ${b} and what ${c} means for us. ${pick(FILLER)} ${pick(FILLER)} ${pick(FILLER)}`,
}));

const typo = (w: string) => (w.length < 5 ? `${w}${w.at(-1)}` : `${w.slice(0, 2)}${w[3]}${w[2]}${w.slice(4)}`);
const trunc = (w: string) => (w.length > 6 ? w.slice(0, Math.max(5, Math.ceil(w.length * 0.7))) : w);

const KINDS = ['exact', 'typo', 'truncated', 'run-together'] as const;
const queries = Array.from({ length: 20 }, (_, q) => {
  const target = (q * 7 + 3) % TOPICS.length;
  const [a, b, c] = TOPICS[target];
  const kind = KINDS[q % 4];
  const text =
    kind === 'exact'
      ? `${a} ${b} ${c}`
      : kind === 'typo'
        ? `${typo(a)} ${typo(b)} ${typo(c)} configuration`
        : kind === 'truncated'
          ? `${trunc(a)} ${trunc(b)} ${trunc(c)} service`
          : `${a}${b} ${typo(c)} production`;
  return { target: `doc-${target}`, kind, text };
});

async function main() {
  const ai = await startFakeAi({ dim: 256 });
  const t = await startTarget({
    env: {
      MEMORY_EMBEDDINGS_URL: `${ai.url}/v1`,
      MEMORY_EMBEDDINGS_MODEL: 'fake-trigram-256',
      MEMORY_PROVIDER_ALLOW_PRIVATE: ai.hostPort,
    },
  });
  try {
    const agent = await registerAgent(t, 'bench-agent', 'bench');
    await t.call('PUT', '/plugins/semantic-memory/enable', { admin: true });
    const bulk = await t.call('POST', '/memory/index/bulk', {
      agentKey: agent.key,
      body: { items: docs.map((d) => ({ source_type: 'doc', source_id: d.id, content_text: d.text })) },
    });
    if (bulk.status !== 200 || bulk.body.embedded !== docs.length) throw new Error(`indexing failed: ${bulk.text}`);
    const rows: { kind: string; keyword: number; hybrid: number }[] = [];
    const mrr = { keyword: 0, hybrid: 0 };
    for (const q of queries) {
      const rank = async (mode: 'keyword' | 'hybrid') => {
        const r = await t.call('POST', '/memory/search', {
          agentKey: agent.key,
          body: { query: q.text, mode, limit: 10 },
        });
        if (r.body.mode !== mode) throw new Error(`asked ${mode}, got ${r.body.mode}`);
        const i = (r.body.results as { source_id: string }[]).findIndex((x) => x.source_id === q.target);
        return i < 0 ? Infinity : i + 1;
      };
      const k = await rank('keyword');
      const h = await rank('hybrid');
      mrr.keyword += Number.isFinite(k) ? 1 / k : 0;
      mrr.hybrid += Number.isFinite(h) ? 1 / h : 0;
      rows.push({ kind: q.kind, keyword: k <= 3 ? 1 : 0, hybrid: h <= 3 ? 1 : 0 });
      if (process.env.BENCH_VERBOSE)
        console.log(`${q.kind.padEnd(13)} ${q.text.padEnd(48)} keyword #${k} hybrid #${h}`);
    }
    const sum = (kind: string | null, m: 'keyword' | 'hybrid') =>
      rows.filter((r) => kind === null || r.kind === kind).reduce((s, r) => s + r[m], 0);
    console.log(`${docs.length} documents, ${queries.length} queries; top-3 hits (keyword-only vs hybrid)\n`);
    console.log('| queries | n | keyword-only | hybrid |');
    console.log('|---|---|---|---|');
    for (const kind of KINDS) {
      const n = rows.filter((r) => r.kind === kind).length;
      console.log(`| ${kind} | ${n} | ${sum(kind, 'keyword')} | ${sum(kind, 'hybrid')} |`);
    }
    console.log(
      `| **all** | ${rows.length} | **${sum(null, 'keyword')}/${rows.length}** | **${sum(null, 'hybrid')}/${rows.length}** |`,
    );
    console.log(
      `\nMRR@10: keyword-only ${(mrr.keyword / rows.length).toFixed(3)}, hybrid ${(mrr.hybrid / rows.length).toFixed(3)}`,
    );
  } finally {
    await t.close();
    await ai.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
