import type { PluginApi } from '../../worker/src/plugins/sdk.js';

/**
 * The one embeddings port: an OpenAI-compatible `POST {url}/embeddings` with `{model, input}`
 * answering `{data: [{index, embedding}]}`. OpenAI, Ollama (`/v1`), vLLM and LM Studio all speak
 * it. Configured by env (MEMORY_EMBEDDINGS_URL / _MODEL / _KEY); no URL = keyword-only search.
 * Calls go through the host's SSRF-guarded fetch; MEMORY_PROVIDER_ALLOW_PRIVATE lets an operator
 * name a local provider (e.g. `localhost:11434`).
 */
export interface Embedder {
  readonly model: string;
  embed(texts: string[], timeoutMs?: number): Promise<number[][]>;
}

const BATCH = 64;
const DEFAULT_EMBED_TIMEOUT_MS = 15_000;

function allowList(api: PluginApi): string[] {
  return (api.env('MEMORY_PROVIDER_ALLOW_PRIVATE') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function embedderFrom(api: PluginApi): Embedder | null {
  const url = api.env('MEMORY_EMBEDDINGS_URL')?.replace(/\/+$/, '');
  if (!url) return null;
  const model = api.env('MEMORY_EMBEDDINGS_MODEL') ?? 'text-embedding-3-small';
  const key = api.env('MEMORY_EMBEDDINGS_KEY');
  const allow = allowList(api);
  return {
    model,
    async embed(texts, timeoutMs = DEFAULT_EMBED_TIMEOUT_MS) {
      const out: number[][] = [];
      for (let i = 0; i < texts.length; i += BATCH) {
        const input = texts.slice(i, i + BATCH);
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (key) headers.authorization = `Bearer ${key}`;
        const res = await api.fetch(
          `${url}/embeddings`,
          { method: 'POST', headers, body: JSON.stringify({ model, input }) },
          { allow, timeoutMs },
        );
        if (!res.ok) {
          const detail = (await res.text().catch(() => '')).slice(0, 200);
          throw new Error(`embeddings provider answered ${res.status}${detail ? `: ${detail}` : ''}`);
        }
        const body = (await res.json()) as { data?: { index?: number; embedding?: unknown }[] };
        const data = Array.isArray(body?.data) ? [...body.data] : [];
        if (data.length !== input.length)
          throw new Error(`embeddings provider returned ${data.length} vectors for ${input.length} inputs`);
        data.sort((a, b) => Number(a.index ?? 0) - Number(b.index ?? 0));
        for (const d of data) {
          const v = d.embedding;
          if (
            !Array.isArray(v) ||
            !v.length ||
            v.length > 8192 ||
            !v.every((x) => typeof x === 'number' && Number.isFinite(x))
          )
            throw new Error('embeddings provider returned a malformed vector');
          out.push(v as number[]);
        }
      }
      return out;
    },
  };
}
