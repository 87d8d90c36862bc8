import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let key = '';
beforeAll(async () => {
  t = await startTarget();
  key = (await registerAgent(t, 'fs-agent', 'p')).key;
});
afterAll(async () => t?.close());

describe('file server HTTP side (spec 05 §11.2)', () => {
  it('SEC-57: an ordinary agent key gets 403 on every /file-server route', async () => {
    for (const [m, p] of [
      ['POST', '/file-server/browse'],
      ['POST', '/file-server/search'],
      ['POST', '/file-server/info'],
      ['GET', '/file-server/status'],
      ['GET', '/file-server/download?path=/a'],
      ['GET', '/file-server/download-folder?path=/a'],
    ] as const) {
      const r = await t.call(m, p, { agentKey: key, body: m === 'POST' ? { path: '/' } : undefined });
      expect(r.status, `${m} ${p}`).toBe(403);
      expect(r.body.error).toBe('Operator or admin access required');
    }
  });

  it('humans with no drone connected: status online:false, operations 503 (no drone is reported before a missing path)', async () => {
    const op = await createOperator(t, 'fs-op', 'operator');
    expect((await t.call('GET', '/file-server/status', { token: op.token })).body).toEqual({
      online: false,
      message: 'No file drone connected',
    });
    const b = await t.call('POST', '/file-server/browse', { admin: true, body: { path: '/' } });
    expect(b.status).toBe(503);
    expect(b.body).toEqual({ error: 'No file drone connected' });
    expect((await t.call('GET', '/file-server/download', { admin: true })).status).toBe(503);
    expect((await t.call('POST', '/file-server/browse', { admin: true, body: { path: '../x' } })).body).toEqual({
      error: 'invalid path',
    });
  });
});
