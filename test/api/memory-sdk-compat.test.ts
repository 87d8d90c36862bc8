import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startFakeAi, type FakeAi } from '../support/fake-ai.js';

/**
 * The original SDK's memory calls, byte for byte (sdk/src/agent.js + api.js at REV, spec 06 §5.4,
 * §5.5, §7.1): JSON bodies with `Content-Type: application/json`, `X-Agent-Key` (or `X-Admin-Key`
 * + `X-Acting-As` in admin role), GET filters as String()-ified query parameters, `error` read
 * from failed answers.
 */
const API = '/api/mycelium';

function sdkClient(t: Target, opts: { apiKey: string; role?: 'agent' | 'admin'; agentId?: string }) {
  const headers = (): Record<string, string> =>
    opts.role === 'admin'
      ? { 'X-Admin-Key': opts.apiKey, ...(opts.agentId ? { 'X-Acting-As': opts.agentId } : {}) }
      : { 'X-Agent-Key': opts.apiKey };
  async function request(method: string, path: string, body?: unknown) {
    const h = headers();
    const init: RequestInit = { method, headers: h };
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await t.fetch(API + path, init);
    const text = await res.text();
    let data: any;
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
    if (!res.ok) throw Object.assign(new Error(data?.error || text || `HTTP ${res.status}`), { status: res.status });
    return data;
  }
  return {
    memorySearch(
      query: string,
      o?: { sourceTypes?: string[]; namespace?: string; projectId?: string; limit?: number; mode?: string },
    ) {
      const body: Record<string, unknown> = { query };
      if (o) {
        if (o.sourceTypes) body.source_types = o.sourceTypes;
        if (o.namespace) body.namespace = o.namespace;
        if (o.projectId) body.project_id = o.projectId;
        if (o.limit) body.limit = o.limit;
        if (o.mode) body.mode = o.mode;
      }
      return request('POST', '/memory/search', body);
    },
    memoryIndex(
      sourceType: string,
      sourceId: unknown,
      contentText: string,
      o?: { namespace?: string; metadata?: object },
    ) {
      const body: Record<string, unknown> = { source_type: sourceType, source_id: sourceId, content_text: contentText };
      if (o) {
        if (o.namespace) body.namespace = o.namespace;
        if (o.metadata) body.metadata = o.metadata;
      }
      return request('POST', '/memory/index', body);
    },
    getAutoMemoryFacts(o?: Record<string, unknown>) {
      const params = new URLSearchParams();
      if (o) for (const k in o) params.set(k, String(o[k]));
      const qs = params.toString();
      return request('GET', `/auto-memory/facts${qs ? `?${qs}` : ''}`);
    },
    extract(text: string) {
      return request('POST', '/auto-memory/extract', { text });
    },
  };
}

describe('original SDK memory methods against our server (spec 06 §7.1)', () => {
  let t: Target;
  let ai: FakeAi;
  let a: { id: string; key: string };
  beforeAll(async () => {
    ai = await startFakeAi();
    t = await startTarget({
      env: {
        AUTO_MEMORY_LLM_PROVIDER: 'openai',
        AUTO_MEMORY_LLM_URL: `${ai.url}/v1`,
        MEMORY_EMBEDDINGS_URL: `${ai.url}/v1`,
        MEMORY_PROVIDER_ALLOW_PRIVATE: ai.hostPort,
      },
    });
    a = await registerAgent(t, 'sdk-agent', 'sdk-proj');
    for (const p of ['semantic-memory', 'auto-memory'])
      expect((await t.call('PUT', `/plugins/${p}/enable`, { admin: true })).body).toMatchObject({ loaded: true });
  });
  afterAll(async () => {
    await t.close();
    await ai.close();
  });

  it('memoryIndex then memorySearch with every option the SDK sends', async () => {
    const sdk = sdkClient(t, { apiKey: a.key });
    const idx = await sdk.memoryIndex('doc', 42, 'Release checklist: bump version, tag, publish notes', {
      namespace: 'runbooks',
      metadata: { author: 'sdk' },
    });
    expect(idx).toMatchObject({ ok: true, source_type: 'doc', source_id: '42', chunks: 1 });
    await sdk.memoryIndex('doc', 'other', 'Unrelated text about lunch');
    const res = await sdk.memorySearch('release checklist', {
      sourceTypes: ['doc'],
      namespace: 'runbooks',
      projectId: 'sdk-proj',
      limit: 5,
      mode: 'hybrid',
    });
    expect(res).toMatchObject({ mode: 'hybrid', query: 'release checklist', count: 1 });
    expect(res.results[0]).toMatchObject({
      source_type: 'doc',
      source_id: '42',
      namespace: 'runbooks',
      metadata: { author: 'sdk' },
      content_text: 'Release checklist: bump version, tag, publish notes',
    });
    expect(typeof res.results[0].score).toBe('number');
    const plain = await sdk.memorySearch('lunch');
    // Hybrid answers also carry vector neighbours; the keyword match ranks first.
    expect(plain.results[0].source_id).toBe('other');
    // Failed calls throw with the server's `error` sentence, as the SDK reports it.
    await expect(sdk.memorySearch('')).rejects.toThrow('query is required');
    await expect(sdk.memoryIndex('doc', 'x', '')).rejects.toThrow(
      'source_type, source_id, and content_text are required',
    );
  });

  it('admin role (X-Admin-Key + X-Acting-As) indexes globally and searches everything', async () => {
    const admin = sdkClient(t, { apiKey: t.adminKey, role: 'admin', agentId: 'sdk-agent' });
    const r = await admin.memoryIndex('policy', 'p1', 'Global policy: rotate keys quarterly');
    expect(r).toMatchObject({ ok: true, project_id: '' });
    const agent = sdkClient(t, { apiKey: a.key });
    const found = await agent.memorySearch('rotate keys quarterly', { sourceTypes: ['policy'] });
    expect(found.results[0]).toMatchObject({ source_id: 'p1', project_id: '' });
  });

  it("getAutoMemoryFacts with String()-ified filters returns the caller's facts", async () => {
    ai.chatReply = JSON.stringify({
      facts: [
        { category: 'decision', fact_text: 'Releases are tagged from the main branch', confidence: 0.9 },
        { category: 'preference', fact_text: 'Release notes are written in plain English', confidence: 0.4 },
      ],
    });
    const sdk = sdkClient(t, { apiKey: a.key });
    expect((await sdk.extract('release process notes from the retro')).facts_extracted).toBe(2);
    const all = await sdk.getAutoMemoryFacts();
    expect(all).toHaveLength(2);
    const filtered = await sdk.getAutoMemoryFacts({
      category: 'decision',
      min_confidence: 0.5,
      limit: 10,
      agent_id: 'someone-else',
    });
    expect(filtered).toEqual([
      expect.objectContaining({ agent_id: 'sdk-agent', category: 'decision', confidence: 0.9 }),
    ]);
  });
});
