import WebSocket from 'ws';

/**
 * A `/voice` signalling client on the real `ws` package, for tests on both runtimes: it keeps every
 * JSON message it receives and lets a test wait for the next one of a given type.
 */
export interface VoiceClient {
  ws: WebSocket;
  id: string;
  /** The first `welcome` (own id and the lobby's peers). */
  welcome: any;
  messages: any[];
  next(type: string, timeoutMs?: number): Promise<any>;
  send(msg: unknown): void;
  closed: Promise<number>;
}

export type VoiceConnectResult = { ok: true; client: VoiceClient } | { ok: false; status: number; body: any };

export function connectVoice(
  url: string,
  headers: Record<string, string> = {},
  opts: { autoPong?: boolean } = {},
): Promise<VoiceConnectResult> {
  const ws = new WebSocket(url, { headers, autoPong: opts.autoPong ?? true });
  const messages: any[] = [];
  const waiters: { type: string; resolve: (m: any) => void }[] = [];
  const take = (type: string) => {
    for (let i = 0; i < messages.length; i++) {
      if (messages[i].type === type) {
        const [m] = messages.splice(i, 1);
        return m;
      }
    }
    return undefined;
  };
  ws.on('message', (data) => {
    let m: any;
    try {
      m = JSON.parse(data.toString());
    } catch {
      return;
    }
    // The Workers keepalive is a message (workerd sends no ping frames); a live client answers it.
    if (m.type === 'ping' && opts.autoPong !== false) {
      ws.send('{"type":"pong"}');
      return;
    }
    const w = waiters.findIndex((x) => x.type === m.type);
    if (w >= 0) waiters.splice(w, 1)[0].resolve(m);
    else messages.push(m);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON
        }
        resolve({ ok: false, status: res.statusCode ?? 0, body });
      });
    });
    ws.on('error', (err) => reject(err));
    ws.on('open', () => {
      const client: VoiceClient = {
        ws,
        id: '',
        welcome: null,
        messages,
        next(type, timeoutMs = 3000) {
          const ready = take(type);
          if (ready) return Promise.resolve(ready);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => rej(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs);
            waiters.push({
              type,
              resolve: (m) => {
                clearTimeout(timer);
                res(m);
              },
            });
          });
        },
        send: (msg) => ws.send(JSON.stringify(msg)),
        closed,
      };
      client
        .next('welcome')
        .then((w) => {
          client.id = w.id;
          client.welcome = w;
          resolve({ ok: true, client });
        })
        .catch(reject);
    });
  });
}

/** Connects and fails the test unless the upgrade was accepted. */
export async function mustConnect(
  url: string,
  headers: Record<string, string> = {},
  opts: { autoPong?: boolean } = {},
) {
  const r = await connectVoice(url, headers, opts);
  if (!r.ok) throw new Error(`voice connect refused: ${r.status} ${JSON.stringify(r.body)}`);
  return r.client;
}
