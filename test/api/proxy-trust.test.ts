import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

/**
 * SEC-07 with TRUST_PROXY unset, over HTTP on both runtimes. On Node the test client's TCP peer is
 * loopback (a proxy on the same host), so X-Forwarded-For names the client. On Workers the client
 * address is CF-Connecting-IP, set by Cloudflare: a varying X-Forwarded-For changes nothing.
 * (A directly exposed Node server — a public peer — is covered in test/node/proxy-trust.test.ts.)
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

// A forged agent key: the agent-key failure limiter allows 30 per minute per client (SEC-06).
const forged = (headers: Record<string, string>) =>
  t.call('GET', '/tasks', { agentKey: `dvk_${'0'.repeat(48)}`, headers });

describe('client address with TRUST_PROXY unset (SEC-07)', () => {
  it('32 forged agent keys with one CF-Connecting-IP and a new X-Forwarded-For each: limited on Workers, distinct clients on Node', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 32; i++) {
      statuses.push(
        (await forged({ 'CF-Connecting-IP': '198.51.100.77', 'X-Forwarded-For': `203.0.113.${100 + i}` })).status,
      );
    }
    expect(statuses.slice(0, 30).every((s) => s === 403)).toBe(true);
    // Workers: one client, walking X-Forwarded-For gets nowhere. Node: CF-Connecting-IP means
    // nothing, and the loopback peer is a local proxy whose X-Forwarded-For is believed.
    expect(statuses[31]).toBe(t.runtime === 'worker' ? 429 : 403);
  });
});
