/**
 * The file-drone tunnel on a live Node server (spec 05 §11): a scripted drone connects over
 * /ws/file-drone and serves list/info/search/download requests that humans make over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningServer } from '../../node-adapter/server.js';
import { startLocalServer } from '../support/server-process.js';

let server: RunningServer;
let stopServer: () => Promise<void>;
let ADMIN_KEY: string;

beforeAll(async () => {
  ({ server, adminKey: ADMIN_KEY, stop: stopServer } = await startLocalServer('tunnel'));
  admin['X-Admin-Key'] = ADMIN_KEY;
});
afterAll(async () => {
  await stopServer?.();
});

async function api(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/mycelium${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return res;
}
/** Admin headers, filled in once the server (and its key) exists. */
const admin: Record<string, string> = {};
const register = async (id: string, extra: Record<string, unknown> = {}) =>
  (
    (await (await api('POST', '/admin/agents', admin, { id, name: id, project_id: 'p', ...extra })).json()) as {
      api_key: string;
    }
  ).api_key;

/** Connects and resolves with the socket once open, or with the close code and reason. */
function connect(query: string, headers: Record<string, string> = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/file-drone${query}`, { headers });
  return new Promise<{ ws: WebSocket; closed?: { code: number; reason: string } }>((resolve) => {
    let opened = false;
    ws.on('open', () => {
      opened = true;
      // A refused connection is closed right after the handshake; give it a moment.
      setTimeout(() => resolve({ ws }), 100);
    });
    ws.on('close', (code, reason) => resolve({ ws, closed: { code, reason: reason.toString() } }));
    ws.on('error', () => !opened && resolve({ ws, closed: { code: 0, reason: 'error' } }));
  });
}

/** A drone that answers like the reference file_drone.py. */
function serve(ws: WebSocket) {
  ws.send(JSON.stringify({ type: 'status', data: { drone_id: 'fd-1', root_dir: '/srv', os: 'linux', version: '1' } }));
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString());
    if (m.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
    if (m.type === 'file_list')
      return ws.send(
        JSON.stringify({
          id: m.id,
          type: 'result',
          data: { entries: [{ name: 'a.txt', type: 'file', size: 5 }], total: 1, path: m.params.path },
        }),
      );
    if (m.type === 'file_info')
      return ws.send(JSON.stringify({ id: m.id, type: 'result', data: { error: 'File not found' } }));
    if (m.type === 'file_search')
      return ws.send(JSON.stringify({ id: m.id, type: 'result', data: { results: [], query: m.params.query } }));
    if (m.type === 'file_download') {
      if (m.params.path === '/broken.bin') {
        ws.send(JSON.stringify({ id: m.id, type: 'file_start', data: { name: 'broken.bin', size: 10 } }));
        ws.send(JSON.stringify({ id: m.id, type: 'file_chunk', data: Buffer.from('12345').toString('base64') }));
        return ws.send(JSON.stringify({ id: m.id, type: 'error', data: { error: 'disk went away' } }));
      }
      ws.send(
        JSON.stringify({ id: m.id, type: 'file_start', data: { name: 'a "b".txt', size: 11, mime: 'text/plain' } }),
      );
      ws.send(JSON.stringify({ id: m.id, type: 'file_chunk', data: Buffer.from('hello ').toString('base64') }));
      ws.send(JSON.stringify({ id: m.id, type: 'file_chunk', data: Buffer.from('world').toString('base64') }));
      ws.send(JSON.stringify({ id: m.id, type: 'file_end', data: { bytes_sent: 11 } }));
    }
  });
}

describe('file-drone tunnel on Node (spec 05 §11)', () => {
  it('refuses missing credentials (4401), bad keys and non-drone agents (4403)', async () => {
    const agentKey = await register('plain-agent');
    expect((await connect('')).closed).toEqual({ code: 4401, reason: 'Missing key or drone_id' });
    expect((await connect('?key=dvk_x&drone_id=plain-agent')).closed).toEqual({
      code: 4403,
      reason: 'Invalid credentials',
    });
    // SEC-57: a valid ordinary agent key cannot become a file server.
    expect((await connect(`?key=${agentKey}&drone_id=plain-agent`)).closed?.code).toBe(4403);
    const st = await (await api('GET', '/file-server/status', admin)).json();
    expect(st).toEqual({ online: false, message: 'No file drone connected' });
  });

  it('a drone agent connects (key in a header), is marked online, and serves browse, info, search and download', async () => {
    const key = await register('fd-1', { agent_type: 'drone' });
    const { ws, closed } = await connect('?drone_id=fd-1', { 'X-Agent-Key': key });
    expect(closed, JSON.stringify(closed)).toBeUndefined();
    serve(ws);
    await new Promise((r) => setTimeout(r, 50));
    const st = await (await api('GET', '/file-server/status', admin)).json();
    expect(st).toEqual({
      online: true,
      drone_id: 'fd-1',
      info: { drone_id: 'fd-1', root_dir: '/srv', os: 'linux', version: '1' },
    });
    const agent = await (await api('GET', '/agents/fd-1', admin)).json();
    expect(agent.status).toBe('online');

    const browse = await api('POST', '/file-server/browse', admin, { path: '/docs' });
    expect(await browse.json()).toEqual({
      entries: [{ name: 'a.txt', type: 'file', size: 5 }],
      total: 1,
      path: '/docs',
    });
    const info = await api('POST', '/file-server/info', admin, { path: '/nope' });
    expect(info.status).toBe(404);
    expect(await info.json()).toEqual({ error: 'File not found' });
    expect(await (await api('POST', '/file-server/search', admin, { drone_id: 'fd-1' })).json()).toEqual({
      results: [],
      query: '*',
    });
    expect((await api('POST', '/file-server/browse', admin, { path: '../../etc' })).status).toBe(400);

    const dl = await api('GET', '/file-server/download?path=/a.txt', admin);
    expect(dl.status).toBe(200);
    expect(dl.headers.get('content-disposition')).toBe('attachment; filename="a _b_.txt"');
    expect(await dl.text()).toBe('hello world');
    expect((await api('GET', '/file-server/download', admin)).status).toBe(400);

    // A failure after file_start aborts the response instead of leaving it open (§17.4).
    const broken = await api('GET', '/file-server/download?path=/broken.bin', admin);
    expect(broken.status).toBe(200);
    await expect(broken.text()).rejects.toThrow();

    ws.close();
    await new Promise((r) => setTimeout(r, 100));
    expect((await (await api('GET', '/agents/fd-1', admin)).json()).status).toBe('offline');
    expect((await api('POST', '/file-server/browse', admin, {})).status).toBe(503);
  });

  it('a newer connection replaces the older one, and the old socket closing does not remove it', async () => {
    const key = await register('fd-2', { agent_type: 'file_drone' });
    const first = await connect(`?key=${key}&drone_id=fd-2`);
    const firstClosed = new Promise<number>((r) => first.ws.on('close', (code) => r(code)));
    const second = await connect(`?key=${key}&drone_id=fd-2`);
    serve(second.ws);
    expect(await firstClosed).toBe(4000);
    await new Promise((r) => setTimeout(r, 50));
    expect(await (await api('GET', '/file-server/status?drone_id=fd-2', admin)).json()).toMatchObject({
      online: true,
      drone_id: 'fd-2',
    });
    expect((await api('POST', '/file-server/browse', admin, { drone_id: 'fd-2' })).status).toBe(200);
    second.ws.close();
  });
});
