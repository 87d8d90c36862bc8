import type { PluginApi } from '../../worker/src/plugins/sdk.js';

/**
 * The LLM port of auto-memory, configured by env (AUTO_MEMORY_LLM_PROVIDER / _URL / _MODEL / _KEY):
 *  - `none` (default): nothing is extracted, nothing fails;
 *  - `openai`: OpenAI-compatible chat completions, `POST {url}/chat/completions`, `Authorization: Bearer`;
 *  - `anthropic`: the Messages API, `POST {url}/messages`, `x-api-key` + `anthropic-version: 2023-06-01`;
 *  - `ollama`: `POST {url}/api/chat` with `stream: false`.
 * Every call goes through the host's SSRF-guarded fetch with a deadline.
 */
const LLM_PROVIDERS = ['none', 'openai', 'anthropic', 'ollama'] as const;
export type LlmProvider = (typeof LLM_PROVIDERS)[number];

export interface Llm {
  readonly provider: Exclude<LlmProvider, 'none'>;
  readonly model: string;
  readonly url: string;
  /** The model's text answer to one system + user prompt. */
  complete(system: string, user: string, timeoutMs: number): Promise<string>;
}

const DEFAULTS = {
  openai: { url: 'https://api.openai.com/v1', model: 'gpt-4o-mini' },
  anthropic: { url: 'https://api.anthropic.com/v1', model: 'claude-haiku-4-5' },
  ollama: { url: 'http://localhost:11434', model: 'llama3.2' },
} as const;

export function llmFrom(api: PluginApi): Llm | null {
  const provider = (api.env('AUTO_MEMORY_LLM_PROVIDER') ?? 'none').toLowerCase();
  if (provider === 'none') return null;
  if (!(LLM_PROVIDERS as readonly string[]).includes(provider)) {
    api.log.error(
      `AUTO_MEMORY_LLM_PROVIDER "${provider}" is not one of ${LLM_PROVIDERS.join(', ')}; extraction is off`,
    );
    return null;
  }
  const p = provider as Exclude<LlmProvider, 'none'>;
  const url = (api.env('AUTO_MEMORY_LLM_URL') ?? DEFAULTS[p].url).replace(/\/+$/, '');
  const model = api.env('AUTO_MEMORY_LLM_MODEL') ?? DEFAULTS[p].model;
  const key = api.env('AUTO_MEMORY_LLM_KEY');
  const allow = (api.env('MEMORY_PROVIDER_ALLOW_PRIVATE') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  async function post(path: string, headers: Record<string, string>, body: unknown, timeoutMs: number) {
    const res = await api.fetch(
      `${url}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) },
      { allow, timeoutMs },
    );
    if (!res.ok) {
      const detail = (await res.text().catch(() => '')).slice(0, 200);
      throw new Error(`${p} answered ${res.status}${detail ? `: ${detail}` : ''}`);
    }
    return (await res.json()) as any;
  }

  return {
    provider: p,
    model,
    url,
    async complete(system, user, timeoutMs) {
      if (p === 'openai') {
        const r = await post(
          '/chat/completions',
          key ? { authorization: `Bearer ${key}` } : {},
          {
            model,
            messages: [
              { role: 'system', content: system },
              { role: 'user', content: user },
            ],
            temperature: 0.2,
            response_format: { type: 'json_object' },
          },
          timeoutMs,
        );
        return String(r?.choices?.[0]?.message?.content ?? '');
      }
      if (p === 'anthropic') {
        const r = await post(
          '/messages',
          { ...(key ? { 'x-api-key': key } : {}), 'anthropic-version': '2023-06-01' },
          { model, max_tokens: 1024, system, messages: [{ role: 'user', content: user }] },
          timeoutMs,
        );
        const parts = Array.isArray(r?.content) ? r.content : [];
        return parts
          .filter((c: { type?: string }) => c?.type === 'text')
          .map((c: { text?: string }) => String(c.text ?? ''))
          .join('');
      }
      const r = await post(
        '/api/chat',
        key ? { authorization: `Bearer ${key}` } : {},
        {
          model,
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: user },
          ],
          stream: false,
          format: 'json',
        },
        timeoutMs,
      );
      return String(r?.message?.content ?? '');
    },
  };
}

/** The first JSON value in a model's answer (models wrap JSON in prose or code fences). */
export function firstJson(answer: string): unknown {
  const text = answer.slice(0, 20_000);
  const start = text.search(/[[{]/);
  if (start < 0) return null;
  for (let end = text.length; end > start; end--) {
    const ch = text[end - 1];
    if (ch !== '}' && ch !== ']') continue;
    try {
      return JSON.parse(text.slice(start, end));
    } catch {
      // keep shrinking
    }
  }
  return null;
}
