import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startFakeAi, type FakeAi } from '../support/fake-ai.js';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';

/** Polls until `fn` returns a truthy value (hooks run after the response, in the background). */
async function eventually<T>(fn: () => Promise<T>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const pluginDb = (t: Target) => new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', 'semantic-memory.db')));

describe('semantic-memory without an embeddings provider (spec 06 §5.4)', () => {
  let t: Target;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  beforeAll(async () => {
    t = await startTarget();
    a = await registerAgent(t, 'mem-a', 'proj-a');
    b = await registerAgent(t, 'mem-b', 'proj-b');
    const en = await t.call('PUT', '/plugins/semantic-memory/enable', { admin: true });
    expect(en.body).toMatchObject({ loaded: true });
  });
  afterAll(() => t.close());

  it('indexes and finds by keyword, saying mode "keyword"', async () => {
    const r = await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: {
        source_type: 'note',
        source_id: 'n1',
        content_text: 'The deploy pipeline uses blue-green switching on Fridays',
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      ok: true,
      source_type: 'note',
      source_id: 'n1',
      project_id: 'proj-a',
      chunks: 1,
      embedded: 0,
    });
    const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'deploy switching' } });
    expect(s.status).toBe(200);
    expect(s.body.mode).toBe('keyword');
    expect(s.body.count).toBe(1);
    expect(s.body.results[0]).toMatchObject({
      source_type: 'note',
      source_id: 'n1',
      project_id: 'proj-a',
      chunk_index: 0,
    });
    expect(s.body.results[0].score).toBeGreaterThan(0);
    // The plugin path works too, and a hybrid request without a provider degrades to keyword.
    const s2 = await t.call('POST', '/plugins/semantic-memory/search', {
      agentKey: a.key,
      body: { query: 'pipeline', mode: 'hybrid' },
    });
    expect(s2.body).toMatchObject({ mode: 'keyword', count: 1 });
  });

  it("W18: an agent never finds another project's text, and cannot ask for it", async () => {
    await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'note', source_id: 'secret', content_text: 'zanzibar launch codes are kept in the vault' },
    });
    const other = await t.call('POST', '/memory/search', { agentKey: b.key, body: { query: 'zanzibar launch codes' } });
    expect(other.status).toBe(200);
    expect(other.body.count).toBe(0);
    const asked = await t.call('POST', '/memory/search', {
      agentKey: b.key,
      body: { query: 'zanzibar', project_id: 'proj-a' },
    });
    expect(asked.status).toBe(403);
    expect(asked.body.error).toContain('proj-a');
    // Writing into another project is refused by the core scope rule.
    const w = await t.call('POST', '/memory/index', {
      agentKey: b.key,
      body: { source_type: 'note', source_id: 'x', content_text: 'poison', project_id: 'proj-a' },
    });
    expect(w.status).toBe(403);
    // Admins see everything.
    const adm = await t.call('POST', '/memory/search', { admin: true, body: { query: 'zanzibar' } });
    expect(adm.body.count).toBe(1);
  });

  it('private documents stay with their agent inside the project', async () => {
    const a2 = await registerAgent(t, 'mem-a2', 'proj-a');
    await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: {
        source_type: 'scratch',
        source_id: 's1',
        content_text: 'my personal quokka reminder',
        visibility: 'private',
      },
    });
    const mine = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'quokka' } });
    expect(mine.body.results[0]).toMatchObject({ source_id: 's1', visibility: 'private' });
    const peer = await t.call('POST', '/memory/search', { agentKey: a2.key, body: { query: 'quokka' } });
    expect(peer.body.count).toBe(0);
    const overwrite = await t.call('POST', '/memory/index', {
      agentKey: a2.key,
      body: { source_type: 'scratch', source_id: 's1', content_text: 'hijacked' },
    });
    expect(overwrite.status).toBe(403);
    const del = await t.call('DELETE', '/memory/index/scratch/s1', { agentKey: a2.key });
    expect(del.status).toBe(403);
  });

  it('re-indexing replaces the old text; delete removes chunks and full-text rows', async () => {
    const idx = (text: string) =>
      t.call('POST', '/memory/index', {
        agentKey: a.key,
        body: { source_type: 'doc', source_id: 'd1', content_text: text },
      });
    await idx('original wording about pelicans');
    await idx('revised wording about flamingos');
    const old = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'pelicans' } });
    expect(old.body.count).toBe(0);
    const fresh = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'flamingos' } });
    expect(fresh.body.results[0].content_text).toBe('revised wording about flamingos');
    const del = await t.call('DELETE', '/memory/index/doc/d1', { agentKey: a.key });
    expect(del.body).toEqual({ ok: true, deleted: 1 });
    const gone = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'flamingos' } });
    expect(gone.body.count).toBe(0);
    const pdb = pluginDb(t);
    const rows = await pdb.get<{ n: number }>(
      "SELECT (SELECT COUNT(*) FROM sm_chunks WHERE source_id = 'd1') + (SELECT COUNT(*) FROM sm_fts WHERE sm_fts MATCH 'flamingos') AS n",
    );
    expect(rows?.n).toBe(0);
    await pdb.close();
  });

  it('chunks long documents and answers with the best chunk once per document', async () => {
    const para = (word: string, n: number) =>
      `${Array.from({ length: n }, (_, i) => `${word}${i % 7} filler text`).join(' ')}.`;
    const text = [
      para('alpha', 60),
      para('beta', 60),
      'The capybara protocol is described here.',
      para('gamma', 60),
    ].join('\n\n');
    const r = await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'doc', source_id: 'long', content_text: text },
    });
    expect(r.body.chunks).toBeGreaterThan(2);
    const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'capybara filler' } });
    expect(s.body.results.filter((x: { source_id: string }) => x.source_id === 'long')).toHaveLength(1);
    expect(s.body.results[0].content_text).toContain('capybara');
    const pdb = pluginDb(t);
    const chunks = await pdb.all<{ content_text: string }>(
      "SELECT content_text FROM sm_chunks WHERE source_id = 'long' ORDER BY chunk_index",
    );
    expect(chunks.map((c) => c.content_text).join('')).toBe(text);
    await pdb.close();
  });

  it('indexes tasks as they are created, in their project only', async () => {
    const task = await t.call('POST', '/tasks', {
      agentKey: a.key,
      body: {
        title: 'Migrate the walrus service',
        description: 'Move walrus to the new cluster',
        project_id: 'proj-a',
      },
    });
    expect(task.status).toBe(200);
    const found = await eventually(async () => {
      const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'walrus cluster' } });
      return s.body.count > 0 ? s.body : null;
    });
    expect(found?.results[0]).toMatchObject({
      source_type: 'task',
      source_id: String(task.body.id),
      project_id: 'proj-a',
    });
    const other = await t.call('POST', '/memory/search', { agentKey: b.key, body: { query: 'walrus' } });
    expect(other.body.count).toBe(0);
    // Platform content cannot be overwritten by an agent.
    const forge = await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'task', source_id: String(task.body.id), content_text: 'forged' },
    });
    expect(forge.status).toBe(400);
    expect(forge.body.error).toContain('reserved');
  });

  it('bad input answers 400 naming the field; no credentials 401; nothing written', async () => {
    const cases: [unknown, string][] = [
      [{}, 'query is required'],
      [{ query: 5n.toString(), limit: 'x' }, 'limit'],
      [{ query: 'x', mode: 'vector' }, 'mode'],
      [{ query: 'x', source_types: 'note' }, 'source_types'],
      [{ query: { a: 1 } }, 'query must be a string'],
    ];
    for (const [body, msg] of cases) {
      const r = await t.call('POST', '/memory/search', { agentKey: a.key, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toContain(msg);
    }
    const bad = await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'note', source_id: 'z' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('source_type, source_id, and content_text are required');
    const bulk = await t.call('POST', '/memory/index/bulk', {
      agentKey: a.key,
      body: { items: [{ source_type: 'note', source_id: 'ok1', content_text: 'fine text' }, { source_type: 'note' }] },
    });
    expect(bulk.status).toBe(400);
    expect(bulk.body.error).toContain('items[1]');
    const pdb = pluginDb(t);
    expect(await pdb.get("SELECT 1 FROM sm_chunks WHERE source_id IN ('z', 'ok1')")).toBeUndefined();
    await pdb.close();
    const anon = await t.call('POST', '/memory/search', { body: { query: 'x' } });
    expect(anon.status).toBe(401);
  });

  it('stats are scoped to the caller; config is admin-only; reindex without provider is a 400', async () => {
    const sb = await t.call('GET', '/memory/stats', { agentKey: b.key });
    expect(sb.body).toMatchObject({ total_indexed: 0, mode: 'keyword', embedding_model: null });
    const sa = await t.call('GET', '/memory/stats', { agentKey: a.key });
    expect(sa.body.total_indexed).toBeGreaterThan(0);
    expect((await t.call('GET', '/memory/config', { agentKey: a.key })).status).toBe(401);
    const cfg = await t.call('GET', '/memory/config', { admin: true });
    expect(cfg.body).toMatchObject({ embedding_provider: 'none', mode: 'keyword' });
    const re = await t.call('POST', '/memory/reindex', { admin: true, body: {} });
    expect(re.status).toBe(400);
    expect(re.body.error).toContain('MEMORY_EMBEDDINGS_URL');
  });

  it('smart boot without vectors ranks by keyword+access', async () => {
    const r = await t.call('GET', `/boot/${a.id}?smart=true`, { agentKey: a.key });
    expect(r.status).toBe(200);
    expect(r.body.context_meta.method).toBe('keyword+access');
  });
});

describe('semantic-memory with an OpenAI-compatible embeddings provider (hybrid)', () => {
  let t: Target;
  let ai: FakeAi;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  beforeAll(async () => {
    ai = await startFakeAi({ dim: 128 });
    t = await startTarget({
      env: {
        MEMORY_EMBEDDINGS_URL: `${ai.url}/v1`,
        MEMORY_EMBEDDINGS_MODEL: 'fake-embed-1',
        MEMORY_EMBEDDINGS_KEY: 'sk-test-embeddings-key',
        MEMORY_PROVIDER_ALLOW_PRIVATE: ai.hostPort,
      },
    });
    a = await registerAgent(t, 'vec-a', 'proj-a');
    b = await registerAgent(t, 'vec-b', 'proj-b');
    expect((await t.call('PUT', '/plugins/semantic-memory/enable', { admin: true })).body).toMatchObject({
      loaded: true,
    });
  });
  afterAll(async () => {
    await t.close();
    await ai.close();
  });

  it('stores float32 vectors in a native libSQL vector column and answers mode "hybrid"', async () => {
    const r = await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'note', source_id: 'v1', content_text: 'Kubernetes autoscaling of worker pods' },
    });
    expect(r.body).toMatchObject({ ok: true, chunks: 1, embedded: 1 });
    const call = ai.requests.find((q) => q.path === '/v1/embeddings');
    expect(call?.headers.authorization).toBe('Bearer sk-test-embeddings-key');
    expect(call?.body).toEqual({ model: 'fake-embed-1', input: ['Kubernetes autoscaling of worker pods'] });
    const pdb = pluginDb(t);
    const v = await pdb.get<{ kind: string; bytes: number }>(
      'SELECT typeof(embedding) AS kind, length(embedding) AS bytes FROM sm_vectors_128',
    );
    expect(v).toEqual({ kind: 'blob', bytes: 128 * 4 });
    const idx = await pdb.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'sm_vectors_128_idx'");
    expect(idx?.sql).toContain('libsql_vector_idx');
    await pdb.close();
    // A misspelled query has no keyword hit but is close in vector space.
    const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'kuberntes autoskaling' } });
    expect(s.body.mode).toBe('hybrid');
    expect(s.body.results[0]).toMatchObject({ source_id: 'v1' });
    expect(s.body.results[0].vector_score).toBeGreaterThan(0.3);
    expect(s.body.results[0].rrf_score).toBeGreaterThan(0);
    const kw = await t.call('POST', '/memory/search', {
      agentKey: a.key,
      body: { query: 'kuberntes autoskaling', mode: 'keyword' },
    });
    expect(kw.body).toMatchObject({ mode: 'keyword', count: 0 });
  });

  it('W18: vector search is scoped too: the other project never sees the text', async () => {
    await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'note', source_id: 'v2', content_text: 'confidential merger with acme corporation' },
    });
    const s = await t.call('POST', '/memory/search', {
      agentKey: b.key,
      body: { query: 'confidential merger acme corporation' },
    });
    expect(s.body.mode).toBe('hybrid');
    expect(s.body.results.map((x: { source_id: string }) => x.source_id)).not.toContain('v2');
    expect(JSON.stringify(s.body.results)).not.toContain('merger');
  });

  it('SEC-39: the config never shows the embeddings key', async () => {
    const cfg = await t.call('GET', '/memory/config', { admin: true });
    expect(cfg.body).toMatchObject({
      embedding_provider: 'openai-compatible',
      embedding_model: 'fake-embed-1',
      mode: 'hybrid',
    });
    expect(cfg.text).not.toContain('sk-test-embeddings-key');
  });

  it('a provider outage degrades to keyword search and deferred embedding; reindex reports errors, never 500', async () => {
    ai.failWith = 500;
    try {
      const r = await t.call('POST', '/memory/index', {
        agentKey: a.key,
        body: { source_type: 'note', source_id: 'v3', content_text: 'outage-time note about gardening' },
      });
      expect(r.body).toMatchObject({ ok: true, embedded: 0 });
      const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'gardening' } });
      expect(s.body).toMatchObject({ mode: 'keyword', count: 1 });
      const re = await t.call('POST', '/memory/reindex', { admin: true, body: {} });
      expect(re.status).toBe(200);
      expect(re.body).toMatchObject({ ok: true, embedded: 0 });
      expect(re.body.errors).toBeGreaterThanOrEqual(1);
    } finally {
      ai.failWith = null;
    }
    const re = await t.call('POST', '/memory/reindex', { admin: true, body: {} });
    expect(re.body).toMatchObject({ ok: true, embedded: 1, errors: 0, remaining: false, message: 'Reindex complete' });
    const stats = await t.call('GET', '/memory/stats', { agentKey: a.key });
    expect(stats.body).toMatchObject({ embedding_coverage: 100, mode: 'hybrid', embedding_model: 'fake-embed-1' });
  });

  it('spec 02 §3.4.2: smart boot ranks context keys by vector similarity when the plugin is on', async () => {
    await t.call('PUT', '/context/keys/proj-a/runbook', {
      agentKey: a.key,
      body: { data: 'How to restart the payment gateway safely' },
    });
    await t.call('PUT', '/context/keys/proj-a/lunch', {
      agentKey: a.key,
      body: { data: 'Team lunch menu for friday' },
    });
    await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'Restart payment gateway', project_id: 'proj-a', assignee: a.id },
    });
    const pdb = pluginDb(t);
    await eventually(() =>
      pdb.get("SELECT 1 FROM sm_chunks WHERE source_id = 'proj-a:lunch' AND embedding_model IS NOT NULL"),
    );
    await pdb.close();
    const r = await t.call('GET', `/boot/${a.id}?smart=true`, { agentKey: a.key });
    expect(r.status).toBe(200);
    expect(r.body.context_meta.method).toBe('hybrid');
    const keys = r.body.context_keys as { key: string; score: number; reasons: string[] }[];
    const runbook = keys.find((k) => k.key === 'runbook')!;
    const lunch = keys.find((k) => k.key === 'lunch')!;
    expect(runbook.reasons.some((x) => x.startsWith('vector:'))).toBe(true);
    expect(runbook.score).toBeGreaterThan(lunch.score);
    // Disabled again: boot is back to keyword ranking.
    await t.call('PUT', '/plugins/semantic-memory/disable', { admin: true });
    await new Promise((res) => setTimeout(res, 2100)); // the host's enabled-flag cache (2 s) on other isolates
    const off = await t.call('GET', `/boot/${a.id}?smart=true`, { agentKey: a.key });
    expect(off.body.context_meta.method).toBe('keyword+access');
    await t.call('PUT', '/plugins/semantic-memory/enable', { admin: true });
  });
});

describe('semantic-memory provider calls go through the SSRF guard', () => {
  let t: Target;
  let ai: FakeAi;
  let a: { id: string; key: string };
  beforeAll(async () => {
    ai = await startFakeAi();
    // A provider on loopback without MEMORY_PROVIDER_ALLOW_PRIVATE: the guard must refuse it.
    t = await startTarget({ env: { MEMORY_EMBEDDINGS_URL: `${ai.url}/v1` } });
    a = await registerAgent(t, 'ssrf-a', 'proj-s');
    expect((await t.call('PUT', '/plugins/semantic-memory/enable', { admin: true })).body).toMatchObject({
      loaded: true,
    });
  });
  afterAll(async () => {
    await t.close();
    await ai.close();
  });

  it('SEC-31: a loopback provider not on the allow-list is never called; indexing and search still answer (keyword)', async () => {
    const r = await t.call('POST', '/memory/index', {
      agentKey: a.key,
      body: { source_type: 'note', source_id: 'g1', content_text: 'guarded outbound call test' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, chunks: 1, embedded: 0 });
    const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'guarded outbound' } });
    expect(s.body).toMatchObject({ mode: 'keyword', count: 1 });
    const re = await t.call('POST', '/memory/reindex', { admin: true, body: {} });
    expect(re.status).toBe(200);
    expect(re.body).toMatchObject({ embedded: 0, errors: 1, remaining: true });
    expect(ai.requests).toHaveLength(0);
  });
});
