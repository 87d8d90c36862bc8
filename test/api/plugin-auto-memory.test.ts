import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startFakeAi, type FakeAi } from '../support/fake-ai.js';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';

async function eventually<T>(fn: () => Promise<T>, ms = 6000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const amDb = (t: Target) => new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', 'auto-memory.db')));
const factsReply = (facts: { category: string; fact_text: string; confidence?: number }[]) => JSON.stringify({ facts });

describe('auto-memory without an LLM provider (default none)', () => {
  let t: Target;
  let a: { id: string; key: string };
  beforeAll(async () => {
    t = await startTarget();
    a = await registerAgent(t, 'am-none', 'proj-n');
    expect((await t.call('PUT', '/plugins/auto-memory/enable', { admin: true })).body).toMatchObject({ loaded: true });
  });
  afterAll(() => t.close());

  it('extracts nothing and fails nothing', async () => {
    const r = await t.call('POST', '/auto-memory/extract', {
      agentKey: a.key,
      body: { text: 'We decided to always use UTC timestamps in every table' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, facts_extracted: 0, facts: [], provider: 'none' });
    const cfg = await t.call('GET', '/auto-memory/config', { admin: true });
    expect(cfg.body).toMatchObject({ llm_provider: 'none', llm_api_key: null, extraction_enabled: true });
    const bad = await t.call('POST', '/auto-memory/extract', { agentKey: a.key, body: { text: '' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('text is required');
    const stats = await t.call('GET', '/auto-memory/stats', { agentKey: a.key });
    expect(stats.body).toMatchObject({ active_facts: 0, llm_provider: 'none', extraction_errors: { total: 0 } });
  });
});

describe('auto-memory with an OpenAI-compatible chat provider, mirrored into semantic-memory', () => {
  let t: Target;
  let ai: FakeAi;
  let a: { id: string; key: string };
  let b: { id: string; key: string };
  beforeAll(async () => {
    ai = await startFakeAi({ dim: 64 });
    t = await startTarget({
      env: {
        AUTO_MEMORY_LLM_PROVIDER: 'openai',
        AUTO_MEMORY_LLM_URL: `${ai.url}/v1`,
        AUTO_MEMORY_LLM_MODEL: 'fake-chat',
        AUTO_MEMORY_LLM_KEY: 'sk-llm-secret-key',
        MEMORY_EMBEDDINGS_URL: `${ai.url}/v1`,
        MEMORY_EMBEDDINGS_MODEL: 'fake-embed',
        MEMORY_PROVIDER_ALLOW_PRIVATE: ai.hostPort,
      },
    });
    a = await registerAgent(t, 'am-a', 'proj-x');
    b = await registerAgent(t, 'am-b', 'proj-y');
    for (const p of ['semantic-memory', 'auto-memory'])
      expect((await t.call('PUT', `/plugins/${p}/enable`, { admin: true })).body).toMatchObject({ loaded: true });
  });
  afterAll(async () => {
    await t.close();
    await ai.close();
  });

  it('extracts facts with the documented request shape and mirrors them into semantic-memory', async () => {
    ai.chatReply = `Here you go:\n${factsReply([
      { category: 'convention', fact_text: 'All database timestamps are stored in UTC', confidence: 0.9 },
      { category: 'bogus', fact_text: 'The staging cluster is called ostrich-stage' },
      { category: 'insight', fact_text: 'too short' },
    ])}`;
    const r = await t.call('POST', '/auto-memory/extract', {
      agentKey: a.key,
      body: { text: 'Notes: timestamps are UTC everywhere; staging is ostrich-stage.' },
    });
    expect(r.status).toBe(200);
    expect(r.body.facts_extracted).toBe(2);
    expect(r.body.facts).toEqual([
      expect.objectContaining({
        category: 'convention',
        fact_text: 'All database timestamps are stored in UTC',
        confidence: 0.9,
      }),
      expect.objectContaining({
        category: 'general',
        fact_text: 'The staging cluster is called ostrich-stage',
        confidence: 0.8,
      }),
    ]);
    const call = ai.requests.filter((q) => q.path === '/v1/chat/completions').at(-1)!;
    expect(call.headers.authorization).toBe('Bearer sk-llm-secret-key');
    expect(call.body).toMatchObject({ model: 'fake-chat', response_format: { type: 'json_object' } });
    expect(call.body.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user']);
    expect(call.body.messages[1].content).toContain('ostrich-stage');
    // Mirrored: the project's agents find the fact by search; the other project does not.
    const s = await t.call('POST', '/memory/search', { agentKey: a.key, body: { query: 'ostrich staging cluster' } });
    expect(s.body.results[0]).toMatchObject({ source_type: 'memory', project_id: 'proj-x', namespace: 'auto-memory' });
    const other = await t.call('POST', '/memory/search', {
      agentKey: b.key,
      body: { query: 'ostrich staging cluster' },
    });
    expect(other.body.results.filter((x: { source_type: string }) => x.source_type === 'memory')).toHaveLength(0);
    // The same fact again reinforces instead of duplicating.
    ai.chatReply = factsReply([{ category: 'convention', fact_text: 'All database timestamps are stored in UTC.' }]);
    const again = await t.call('POST', '/auto-memory/extract', {
      agentKey: a.key,
      body: { text: 'UTC timestamps again' },
    });
    expect(again.body.facts_extracted).toBe(0);
    const facts = await t.call('GET', '/auto-memory/facts', { agentKey: a.key });
    expect(facts.body).toHaveLength(2);
    expect(facts.body[0]).toMatchObject({ fact_text: 'All database timestamps are stored in UTC', confidence: 0.95 });
  });

  it('SEC-41: an agent reads only its own facts whatever ?agent_id= says; admins filter by agent', async () => {
    const r = await t.call('GET', `/auto-memory/facts?agent_id=${a.id}`, { agentKey: b.key });
    expect(r.status).toBe(200);
    expect(r.body).toEqual([]);
    const one = (await t.call('GET', '/auto-memory/facts', { agentKey: a.key })).body[0];
    expect((await t.call('GET', `/auto-memory/facts/${one.id}`, { agentKey: b.key })).status).toBe(404);
    const adm = await t.call('GET', `/auto-memory/facts?agent_id=${a.id}`, { admin: true });
    expect(adm.body.length).toBe(2);
    const bad = await t.call('GET', '/auto-memory/facts?min_confidence=lots', { agentKey: a.key });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toContain('min_confidence');
  });

  it('extraction after a resolved request runs after commit: a slow or failing LLM never delays or fails the resolve', async () => {
    const req = await t.call('POST', '/messages', {
      agentKey: b.key,
      body: { to_agent: a.id, content: 'Which port does the metrics exporter listen on?', msg_type: 'request' },
    });
    expect(req.status).toBe(200);
    ai.chatReply = factsReply([{ category: 'architecture', fact_text: 'The metrics exporter listens on port 9464' }]);
    ai.delayMs = 1500;
    const started = Date.now();
    const res = await t.call('PUT', `/messages/${req.body.id}/resolve`, {
      agentKey: a.key,
      body: { response: 'Port 9464.' },
    });
    const took = Date.now() - started;
    ai.delayMs = 0;
    expect(res.status).toBe(200);
    expect(took).toBeLessThan(1500);
    const fact = await eventually(async () => {
      const f = await t.call('GET', '/auto-memory/facts?category=architecture', { agentKey: a.key });
      return f.body[0];
    });
    // Learnt from a direct message: private to the agent, in semantic-memory too.
    expect(fact).toMatchObject({
      fact_text: 'The metrics exporter listens on port 9464',
      private: true,
      source_id: `message:${req.body.id}`,
    });
    const prompt = ai.requests.filter((q) => q.path === '/v1/chat/completions').at(-1)!.body.messages[1].content;
    expect(prompt).toContain('Which port does the metrics exporter listen on?');
    expect(prompt).toContain('Port 9464.');

    ai.failWith = 503;
    const req2 = await t.call('POST', '/messages', {
      agentKey: b.key,
      body: { to_agent: a.id, content: 'What is the name of the release train this quarter?', msg_type: 'request' },
    });
    const res2 = await t.call('PUT', `/messages/${req2.body.id}/resolve`, {
      agentKey: a.key,
      body: { response: 'Kestrel.' },
    });
    expect(res2.status).toBe(200);
    const pdb = amDb(t);
    const err = await eventually(() =>
      pdb.get<{ source_event: string; error_message: string; input_text_preview: string }>(
        'SELECT source_event, error_message, input_text_preview FROM am_extraction_errors ORDER BY id DESC LIMIT 1',
      ),
    );
    await pdb.close();
    ai.failWith = null;
    expect(err).toMatchObject({ source_event: 'request_resolved' });
    expect(err!.error_message).toContain('503');
    expect(err!.input_text_preview).toContain('release train');
    const stats = await t.call('GET', '/auto-memory/stats', { agentKey: a.key });
    expect(stats.body.extraction_errors).toMatchObject({ total: 1, last_error: { source: 'request_resolved' } });
    // A provider failure on the route is a 502 naming it, logged as well.
    ai.failWith = 500;
    const direct = await t.call('POST', '/auto-memory/extract', {
      agentKey: a.key,
      body: { text: 'something long enough' },
    });
    ai.failWith = null;
    expect(direct.status).toBe(502);
    expect(direct.body.error).toMatch(/^Extraction failed: openai answered 500/);
  });

  it('consolidation supersedes merged facts (gone from facts and from search) and adds insights', async () => {
    ai.chatReply = factsReply([
      { category: 'decision', fact_text: 'Deploys happen on Tuesdays only' },
      { category: 'decision', fact_text: 'Deployments are scheduled for Tuesday' },
      { category: 'pattern', fact_text: 'Flaky tests are quarantined within a day' },
    ]);
    const ex = await t.call('POST', '/auto-memory/extract', {
      agentKey: a.key,
      body: { text: 'deploy notes and test notes' },
    });
    expect(ex.body.facts_extracted).toBe(3);
    const [keep, dup] = ex.body.facts;
    ai.chatReply = JSON.stringify({
      keep: [{ id: keep.id, new_confidence: 0.97 }],
      merge: [{ keep_id: keep.id, supersede_ids: [dup.id, 999999] }],
      insights: [{ category: 'insight', fact_text: 'The team prefers a fixed weekly release rhythm', confidence: 0.7 }],
    });
    const c = await t.call('POST', '/auto-memory/consolidate', { admin: true });
    expect(c.status).toBe(200);
    expect(c.body.result).toMatchObject({ facts_merged: 1, facts_superseded: 1, insights_added: 1 });
    const facts = (await t.call('GET', '/auto-memory/facts?limit=100', { agentKey: a.key })).body as {
      id: number;
      fact_text: string;
      confidence: number;
    }[];
    expect(facts.map((f) => f.id)).not.toContain(dup.id);
    expect(facts.find((f) => f.id === keep.id)?.confidence).toBe(0.97);
    expect(facts.map((f) => f.fact_text)).toContain('The team prefers a fixed weekly release rhythm');
    const old = await t.call('GET', `/auto-memory/facts/${dup.id}`, { agentKey: a.key });
    expect(old.body).toMatchObject({ current: false, superseded_by: keep.id, retired_reason: 'merged' });
    const s = await t.call('POST', '/memory/search', {
      agentKey: a.key,
      body: { query: 'Deployments are scheduled for Tuesday', source_types: ['memory'], limit: 20 },
    });
    const ids = s.body.results.map((x: { source_id: string }) => x.source_id);
    expect(ids).toContain(String(keep.id));
    expect(ids).not.toContain(String(dup.id));
    expect((await t.call('POST', '/auto-memory/consolidate', { agentKey: a.key })).status).toBe(401);
  });

  it('decay lowers unused facts by category; facts below the floor for a week are pruned (W12: no FK failure)', async () => {
    ai.chatReply = factsReply([
      { category: 'insight', fact_text: 'Old insight nobody looked at again', confidence: 0.8 },
      { category: 'convention', fact_text: 'Old convention nobody looked at again', confidence: 0.8 },
      { category: 'insight', fact_text: 'Weak fact that should be pruned soon', confidence: 0.8 },
    ]);
    const ex = await t.call('POST', '/auto-memory/extract', { agentKey: b.key, body: { text: 'old notes' } });
    const [insight, convention, weak] = ex.body.facts;
    const pdb = amDb(t);
    await pdb.run("UPDATE am_facts SET created_at = datetime('now', '-20 days') WHERE id IN (?, ?)", [
      insight.id,
      convention.id,
    ]);
    await pdb.run(
      "UPDATE am_facts SET confidence = 0.1, created_at = datetime('now', '-20 days'), updated_at = datetime('now', '-10 days') WHERE id = ?",
      [weak.id],
    );
    ai.chatReply = '{"keep": [], "merge": [], "insights": []}';
    const c = await t.call('POST', '/auto-memory/consolidate', { admin: true });
    expect(c.status).toBe(200);
    expect(c.body.result.facts_pruned).toBe(1);
    const rows = await pdb.all<{ id: number; confidence: number; retired_reason: string | null }>(
      'SELECT id, confidence, retired_reason FROM am_facts WHERE id IN (?, ?, ?) ORDER BY id',
      [insight.id, convention.id, weak.id],
    );
    await pdb.close();
    // insight: 0.8 × (1 − 20 × 0.01) = 0.64; convention: 0.8 × (1 − 20 × 0.002) = 0.768
    expect(rows[0]).toMatchObject({ confidence: 0.64, retired_reason: null });
    expect(rows[1]).toMatchObject({ confidence: 0.768, retired_reason: null });
    expect(rows[2]).toMatchObject({ retired_reason: 'decayed' });
    const stats = await t.call('GET', '/auto-memory/stats', { agentKey: b.key });
    expect(stats.body.decay.facts_decay_pruned).toBe(1);
  });

  it('SEC-39: config never shows the LLM key', async () => {
    const cfg = await t.call('GET', '/auto-memory/config', { admin: true });
    expect(cfg.body).toMatchObject({ llm_provider: 'openai', llm_model: 'fake-chat', llm_api_key: '••••••••' });
    expect(cfg.text).not.toContain('sk-llm-secret-key');
  });
});

describe('auto-memory with the Anthropic messages API', () => {
  let t: Target;
  let ai: FakeAi;
  let a: { id: string; key: string };
  beforeAll(async () => {
    ai = await startFakeAi();
    t = await startTarget({
      env: {
        AUTO_MEMORY_LLM_PROVIDER: 'anthropic',
        AUTO_MEMORY_LLM_URL: `${ai.url}/anthropic/v1`,
        AUTO_MEMORY_LLM_KEY: 'sk-ant-test',
        MEMORY_PROVIDER_ALLOW_PRIVATE: ai.hostPort,
      },
    });
    a = await registerAgent(t, 'am-ant', 'proj-z');
    expect((await t.call('PUT', '/plugins/auto-memory/enable', { admin: true })).body).toMatchObject({ loaded: true });
  });
  afterAll(async () => {
    await t.close();
    await ai.close();
  });

  it('sends x-api-key and anthropic-version and reads the text content blocks', async () => {
    ai.chatReply = factsReply([{ category: 'preference', fact_text: 'The operator prefers short status reports' }]);
    const r = await t.call('POST', '/auto-memory/extract', {
      agentKey: a.key,
      body: { text: 'keep reports short please' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ facts_extracted: 1, provider: 'anthropic' });
    const call = ai.requests.find((q) => q.path === '/anthropic/v1/messages')!;
    expect(call.headers['x-api-key']).toBe('sk-ant-test');
    expect(call.headers['anthropic-version']).toBe('2023-06-01');
    expect(call.headers.authorization).toBeUndefined();
    expect(call.body).toMatchObject({ model: 'claude-haiku-4-5', max_tokens: 1024 });
    expect(typeof call.body.system).toBe('string');
    expect(call.body.messages).toEqual([{ role: 'user', content: 'keep reports short please' }]);
  });

  it('max_facts_per_agent caps each agent: the weakest current facts go first', async () => {
    const cfg = await t.call('PUT', '/plugins/auto-memory/config', { admin: true, body: { max_facts_per_agent: 2 } });
    expect(cfg.status).toBe(200);
    ai.chatReply = factsReply([
      { category: 'decision', fact_text: 'Strong fact number one stays', confidence: 0.9 },
      { category: 'decision', fact_text: 'Weak fact number two is dropped', confidence: 0.2 },
      { category: 'decision', fact_text: 'Strong fact number three stays', confidence: 0.85 },
    ]);
    const r = await t.call('POST', '/auto-memory/extract', { agentKey: a.key, body: { text: 'three decisions' } });
    expect(r.body.facts_extracted).toBe(3);
    const facts = await t.call('GET', '/auto-memory/facts', { agentKey: a.key });
    expect(facts.body.map((f: { fact_text: string }) => f.fact_text).sort()).toEqual([
      'Strong fact number one stays',
      'Strong fact number three stays',
    ]);
  });
});
