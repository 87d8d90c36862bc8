/**
 * The file-drone tunnel on Workers (spec 05 §11): the bundled Worker in workerd, the drone's
 * socket held by the FileDroneHubObject Durable Object, requests made over HTTP by an admin.
 * (A node-project test because it drives the WebSocket upgrade through Miniflare directly.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorker } from '../../scripts/build-worker.mjs';
import { registerAgent } from '../support/fixtures.js';
import type { Target } from '../support/target.js';

let dir: string;
let t: Target;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-tunnel-wk-'));
  // The bundle where the worker test project puts it (Miniflare resolves modules under the cwd).
  process.env.MYCELIUM_WORKER_BUNDLE = await buildWorker();
  process.env.MYCELIUM_TEST_RUNTIME = 'worker';
  const { startTarget } = await import('../support/target.js');
  t = await startTarget();
});
afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface MfSocket {
  accept(): void;
  send(s: string): void;
  close(code?: number): void;
  addEventListener(t: string, fn: (e: any) => void): void;
}

async function connect(query: string) {
  const res = (await t.fetch(`/ws/file-drone${query}`, { headers: { Upgrade: 'websocket' } })) as Response & {
    webSocket?: MfSocket;
  };
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  const closed = new Promise<{ code: number; reason: string }>((r) =>
    ws.addEventListener('close', (e) => r({ code: e.code, reason: e.reason })),
  );
  ws.accept();
  return { ws, closed };
}

describe('file-drone tunnel on Workers (Durable Object)', () => {
  it('refuses non-drones with 4403 and missing credentials with 4401', async () => {
    const plain = await registerAgent(t, 'wk-plain', 'p');
    expect(await (await connect('')).closed).toEqual({ code: 4401, reason: 'Missing key or drone_id' });
    expect((await (await connect(`?key=${plain.key}&drone_id=wk-plain`)).closed).code).toBe(4403);
  });

  it('a drone connects; admins browse and download through the object', async () => {
    const drone = await registerAgent(t, 'wk-drone', 'p', { agent_type: 'drone' });
    const { ws } = await connect(`?key=${drone.key}&drone_id=wk-drone`);
    ws.addEventListener('message', (e) => {
      const m = JSON.parse(String(e.data));
      if (m.type === 'file_list')
        ws.send(JSON.stringify({ id: m.id, type: 'result', data: { entries: [], total: 0, path: m.params.path } }));
      if (m.type === 'file_download') {
        ws.send(JSON.stringify({ id: m.id, type: 'file_start', data: { name: 'w.txt', size: 4 } }));
        ws.send(JSON.stringify({ id: m.id, type: 'file_chunk', data: Buffer.from('wkrs').toString('base64') }));
        ws.send(JSON.stringify({ id: m.id, type: 'file_end', data: { bytes_sent: 4 } }));
      }
    });
    ws.send(JSON.stringify({ type: 'status', data: { root_dir: '/w' } }));
    await new Promise((r) => setTimeout(r, 100));
    expect((await t.call('GET', '/file-server/status', { admin: true })).body).toEqual({
      online: true,
      drone_id: 'wk-drone',
      info: { root_dir: '/w' },
    });
    expect((await t.db.get<any>("SELECT status FROM agents WHERE id = 'wk-drone'")).status).toBe('online');
    expect((await t.call('POST', '/file-server/browse', { admin: true, body: { path: '/x' } })).body).toEqual({
      entries: [],
      total: 0,
      path: '/x',
    });
    const dl = await t.call('GET', '/file-server/download?path=/w.txt', { admin: true });
    expect(dl.status).toBe(200);
    expect(dl.text).toBe('wkrs');
    expect(dl.headers.get('content-disposition')).toBe('attachment; filename="w.txt"');
    ws.close(1000);
  });
});
