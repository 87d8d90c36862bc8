/**
 * Local stand-ins for the AI providers the memory plugins call, on 127.0.0.1, speaking the
 * documented request and response shapes:
 *  - OpenAI-compatible embeddings: POST {base}/v1/embeddings {model, input} → {data:[{index, embedding}]}
 *  - OpenAI chat completions:      POST {base}/v1/chat/completions → {choices:[{message:{content}}]}
 *  - Anthropic messages:           POST {base}/anthropic/v1/messages → {content:[{type:'text', text}]}
 *  - Ollama chat:                  POST {base}/api/chat {stream:false} → {message:{content}}
 * Embeddings are deterministic (hashed words and character trigrams, see `fakeEmbedding`), so
 * similar wording gives similar vectors without any model. Every request is recorded.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export interface FakeAi {
  url: string;
  /** host:port, for MEMORY_PROVIDER_ALLOW_PRIVATE. */
  hostPort: string;
  requests: RecordedRequest[];
  /** What the chat endpoints answer next (text content); default: an empty facts list. */
  chatReply: string;
  /** Answer status for every endpoint while set (simulates a provider outage / bad key). */
  failWith: number | null;
  /** Delay before answering, ms. */
  delayMs: number;
  close(): Promise<void>;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A deterministic bag-of-words + character-trigram vector, L2-normalised. */
export function fakeEmbedding(text: string, dim = 256): number[] {
  const v = new Array<number>(dim).fill(0);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  for (const w of words) {
    v[fnv1a(`w:${w}`) % dim] += 1;
    const padded = `#${w}#`;
    for (let i = 0; i + 3 <= padded.length; i++) v[fnv1a(`t:${padded.slice(i, i + 3)}`) % dim] += 0.5;
  }
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

export async function startFakeAi(opts: { dim?: number } = {}): Promise<FakeAi> {
  const dim = opts.dim ?? 256;
  const state = { chatReply: '{"facts": []}', failWith: null as number | null, delayMs: 0 };
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let body: any = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = null;
      }
      requests.push({ path: req.url ?? '', headers: req.headers, body });
      if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (state.failWith) return send(state.failWith, { error: { message: 'fake provider failure' } });
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/v1/embeddings') {
        const input: string[] = Array.isArray(body?.input) ? body.input : [body?.input];
        return send(200, {
          object: 'list',
          model: body?.model,
          data: input.map((t, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(String(t), dim) })),
          usage: { prompt_tokens: 1, total_tokens: 1 },
        });
      }
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        return send(200, {
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          model: body?.model,
          choices: [{ index: 0, message: { role: 'assistant', content: state.chatReply }, finish_reason: 'stop' }],
        });
      }
      if (req.method === 'POST' && path === '/anthropic/v1/messages') {
        return send(200, {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: body?.model,
          content: [{ type: 'text', text: state.chatReply }],
          stop_reason: 'end_turn',
        });
      }
      if (req.method === 'POST' && path === '/api/chat') {
        return send(200, { model: body?.model, message: { role: 'assistant', content: state.chatReply }, done: true });
      }
      send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeAi = {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    requests,
    get chatReply() {
      return state.chatReply;
    },
    set chatReply(v) {
      state.chatReply = v;
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v) {
      state.delayMs = v;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections?.();
        server.close(() => r());
      }),
  };
  return fake;
}
