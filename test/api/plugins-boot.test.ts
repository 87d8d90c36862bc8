import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

describe('plugin host boot', () => {
  it('REL-13: the host finishes booting even when the first request (which starts it) is quick; guarded writes then proceed', async () => {
    // The very first request does not touch the plugin host at all...
    expect((await t.call('GET', '/health')).status).toBe(200);
    // ...and the next guarded write (it waits for the host) still completes.
    const r = await t.call('POST', '/tasks', { admin: true, body: { title: 'after a quick first request' } });
    expect(r.status).toBe(200);
    expect((await t.call('GET', '/plugins', { admin: true })).body.length).toBeGreaterThan(0);
  });
});
