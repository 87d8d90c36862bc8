import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstJson, llmFrom } from './llm.js';
import { parseFacts } from './index.js';
import { chunkText } from '../semantic-memory/chunk.js';
import { ftsQuery } from '../semantic-memory/index.js';
import { startFakeAi, type FakeAi } from '../../test/support/fake-ai.js';
import type { PluginApi } from '../../worker/src/plugins/sdk.js';

/** The slice of PluginApi the LLM port uses: env and fetch (plain fetch here; the host's is SSRF-guarded). */
function apiWith(env: Record<string, string>): PluginApi {
  const logged: string[] = [];
  return {
    env: (k: string) => env[k],
    fetch: (url: string, init?: RequestInit) => fetch(url, init),
    log: { debug() {}, info() {}, warn() {}, error: (m: string) => void logged.push(m) },
  } as unknown as PluginApi;
}

describe('auto-memory LLM port', () => {
  let ai: FakeAi;
  beforeAll(async () => {
    ai = await startFakeAi();
  });
  afterAll(() => ai.close());

  it('Ollama: POST /api/chat with stream false and format json; reads message.content', async () => {
    ai.chatReply = '{"facts":[]}';
    const llm = llmFrom(apiWith({ AUTO_MEMORY_LLM_PROVIDER: 'ollama', AUTO_MEMORY_LLM_URL: ai.url }))!;
    expect(llm.model).toBe('llama3.2');
    expect(await llm.complete('sys', 'hello', 5000)).toBe('{"facts":[]}');
    const call = ai.requests.at(-1)!;
    expect(call.path).toBe('/api/chat');
    expect(call.body).toEqual({
      model: 'llama3.2',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hello' },
      ],
      stream: false,
      format: 'json',
    });
  });

  it('none is the default; an unknown provider is refused with a log line', () => {
    expect(llmFrom(apiWith({}))).toBeNull();
    expect(llmFrom(apiWith({ AUTO_MEMORY_LLM_PROVIDER: 'gpt5-magic' }))).toBeNull();
  });

  it('OpenAI defaults to api.openai.com; a provider error names the status', async () => {
    expect(llmFrom(apiWith({ AUTO_MEMORY_LLM_PROVIDER: 'openai' }))!.url).toBe('https://api.openai.com/v1');
    ai.failWith = 429;
    const llm = llmFrom(apiWith({ AUTO_MEMORY_LLM_PROVIDER: 'openai', AUTO_MEMORY_LLM_URL: `${ai.url}/v1` }))!;
    await expect(llm.complete('s', 'u', 5000)).rejects.toThrow(/openai answered 429/);
    ai.failWith = null;
  });

  it('parses facts out of prose and code fences, validating each', () => {
    expect(firstJson('sure! ```json\n{"facts": [1]}\n``` done')).toEqual({ facts: [1] });
    expect(parseFacts('[{"category":"decision","fact_text":"We ship on Tuesdays only","confidence":2}]')).toEqual([
      { category: 'decision', fact_text: 'We ship on Tuesdays only', confidence: 0.8 },
    ]);
    expect(() => parseFacts('no json here')).toThrow(/no JSON facts list/);
  });
});

describe('semantic-memory text helpers', () => {
  it('chunking is lossless and cuts at paragraph, line or word boundaries in the second half', () => {
    const text = `${'a'.repeat(300)}\n\n${'b '.repeat(200)}\n${'c'.repeat(700)}`;
    const chunks = chunkText(text, 500);
    expect(chunks.join('')).toBe(text);
    expect(chunks.every((c) => c.length <= 500)).toBe(true);
    expect(chunks[0].endsWith('\n\n')).toBe(true);
    expect(chunkText('short', 500)).toEqual(['short']);
  });

  it('FTS queries quote every token, so FTS5 syntax in a query is inert', () => {
    expect(ftsQuery('deploy* OR "x" NEAR(a b)')).toBe('"deploy" OR "or" OR "x" OR "near" OR "a" OR "b"');
    expect(ftsQuery('  ***  ')).toBeNull();
  });
});
