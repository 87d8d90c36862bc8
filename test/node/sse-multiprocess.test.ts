import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { eventStream, SSE_KEEPALIVE_MS } from '../../worker/src/domain/events/stream.js';

/**
 * Two app instances (as two processes would be) over one SQLite file: a stream on one sees an
 * event posted to the other, because streams read the events table by cursor.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'mycelium-sse-mp-'));
const adminKey = `test_admin_${randomBytes(20).toString('hex')}`;
const config = loadConfig({ ADMIN_KEY: adminKey, JWT_SECRET: randomBytes(32).toString('hex'), DATA_DIR: dataDir });
const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
const rt1 = createNodeRuntime({ config, log: quiet });
const rt2 = createNodeRuntime({ config, log: quiet });
const { app: app1, ctx: ctx1 } = createApp(rt1);
const app2 = createApp(rt2).app;

beforeAll(async () => {
  await prepareDatabase(rt1);
  await prepareDatabase(rt2);
});
afterAll(async () => {
  await rt1.close();
  await rt2.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const req = (path: string, init: RequestInit = {}) =>
  new Request(`http://localhost/api/mycelium${path}`, {
    ...init,
    headers: { 'X-Admin-Key': adminKey, 'Content-Type': 'application/json', ...(init.headers ?? {}) },
  });

describe('SSE across processes', () => {
  it('a stream on instance 2 receives an event posted to instance 1 within one second', async () => {
    const res = await app2.fetch(req('/events/stream?type=cross.process'));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const posted = await app1.fetch(
      req('/events', {
        method: 'POST',
        body: JSON.stringify({ type: 'cross.process', summary: 'hello from 1', data: { n: 7 } }),
      }),
    );
    const { id } = (await posted.json()) as { id: number };
    const deadline = Date.now() + 1000;
    let text = '';
    while (!text.includes('hello from 1')) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
      if (chunk && !chunk.done) text += new TextDecoder().decode(chunk.value);
    }
    await reader.cancel();
    const frame = text.split('\n\n').find((f) => f.includes('hello from 1'));
    expect(frame).toBeDefined();
    const data = JSON.parse(
      frame!
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6),
    );
    expect(data.id).toBe(id);
    expect(data.data).toBe('{"n":7}');
  });

  it('sends the `: keepalive` comment every 30 s', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      let closed = false;
      const { body, close } = eventStream(ctx1, {
        filters: { type: 'never.happens' },
        scope: null,
        resumeAfter: null,
        onClose: () => (closed = true),
      });
      const reader = body.getReader();
      vi.advanceTimersByTime(SSE_KEEPALIVE_MS);
      const chunk = await reader.read();
      expect(new TextDecoder().decode(chunk.value)).toBe(': keepalive\n\n');
      expect(SSE_KEEPALIVE_MS).toBe(30_000);
      close();
      expect(closed).toBe(true);
      expect((await reader.read()).done).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
