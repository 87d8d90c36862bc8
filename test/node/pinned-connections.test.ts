import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedFetch } from '../../node-adapter/pinned-fetch.js';
import { assertPublicUrl, guardedFetch, SsrfBlockedError } from '../../worker/src/http/ssrf.js';
import { startTarget, type Target } from '../support/target.js';
import { startFakeServer, type FakeServer } from '../support/fake-servers.js';

/**
 * Pinned outbound connections on Node (issue 17; spec 07 SEC-32, DNS rebinding): the address
 * the SSRF guard checked is the address connected to. The resolver below plays a rebinding DNS
 * server — a public address for the check, loopback right after — and the loopback receiver
 * must never see a request.
 */
let receiver: FakeServer;
beforeAll(async () => {
  receiver = await startFakeServer(() => ({ status: 200, body: { reached: true } }));
});
afterAll(() => receiver.close());

/** Answers `first` for the first `n` lookups, loopback after that. */
function rebinding(n: number, first = '93.184.216.34') {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    return calls.length <= n ? [first] : ['127.0.0.1'];
  };
  return { resolve, calls };
}

describe('pinned connections (Node)', () => {
  it('SEC-32: a name that rebinds to loopback after the check is refused at connect; loopback is never reached', async () => {
    const dns = rebinding(1);
    const url = `http://rebind.example.com:${receiver.port}/hook`;
    const before = receiver.requests.length;
    await expect(assertPublicUrl(url, { resolveHost: dns.resolve })).resolves.toBeInstanceOf(URL); // the check saw a public address
    const pinned = createPinnedFetch(dns.resolve, []);
    const err = await guardedFetch(
      url,
      { method: 'POST', body: '{}' },
      { resolveHost: async () => ['93.184.216.34'], fetchFn: pinned },
    ).catch((e) => e);
    expect(err).toBeInstanceOf(SsrfBlockedError);
    expect(err.message).toBe('URL points to private IP address: 127.0.0.1');
    expect(dns.calls.length).toBeGreaterThanOrEqual(2); // the connect resolved for itself
    expect(receiver.requests.length).toBe(before);
  });

  it("the connection goes to the address the pinned lookup checked (an allow-listed name reaches the resolver's answer)", async () => {
    // The name does not exist in real DNS: the request can only arrive through our resolver's answer.
    const pinned = createPinnedFetch(async () => ['127.0.0.1'], [`dev-receiver.example.com:${receiver.port}`]);
    const before = receiver.requests.length;
    const res = await pinned(`http://dev-receiver.example.com:${receiver.port}/pinned`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ reached: true });
    expect(receiver.requests.slice(before).map((r) => r.url)).toEqual(['/pinned']);
  });

  it('a redirect hop is re-checked and pinned too', async () => {
    const hop = await startFakeServer(() => ({
      status: 307,
      headers: { location: `http://rebind-hop.example.com:${receiver.port}/second` },
    }));
    try {
      // The first hop (an allow-listed literal) redirects to a name that resolves to loopback.
      const pinned = createPinnedFetch(async () => ['127.0.0.1'], []);
      const before = receiver.requests.length;
      const err = await guardedFetch(
        `${hop.url}/first`,
        { method: 'POST', body: '{}' },
        {
          allow: [`127.0.0.1:${hop.port}`],
          resolveHost: async () => ['8.8.8.8'],
          fetchFn: pinned,
          methodPreservingOnly: true,
        },
      ).catch((e) => e);
      expect(err).toBeInstanceOf(SsrfBlockedError);
      expect(hop.requests).toHaveLength(1);
      expect(receiver.requests.length).toBe(before);
    } finally {
      await hop.close();
    }
  });

  it('issue 17: a webhook to a rebinding name is never delivered to loopback; the delivery log says SSRF blocked', async () => {
    // Lookups: 1 at registration, 2 at the delivery's check — public; the connect's own lookup — loopback.
    const dns = rebinding(2);
    let t: Target | null = null;
    try {
      t = await startTarget({ resolver: dns.resolve });
      const c = await t.call('POST', '/webhooks', {
        admin: true,
        body: {
          agent_id: '__global__',
          url: `http://rebind.example.com:${receiver.port}/webhook`,
          events: ['custom.rebind'],
        },
      });
      expect(c.status).toBe(200);
      const before = receiver.requests.length;
      await t.call('POST', '/events', { admin: true, body: { type: 'custom.rebind' } });
      await t.settle();
      const row = await t.db.get<any>('SELECT * FROM webhook_deliveries WHERE webhook_id = ?', [c.body.id]);
      expect(row).toMatchObject({
        state: 'failed',
        error: 'SSRF blocked: URL points to private IP address: 127.0.0.1',
      });
      expect(dns.calls.length).toBe(3);
      expect(receiver.requests.length).toBe(before);
    } finally {
      await t?.close();
    }
  });
});
