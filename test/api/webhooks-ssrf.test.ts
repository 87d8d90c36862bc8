import { describe, expect, it } from 'vitest';
import { assertPublicUrl, guardedFetch, isBlockedAddress, SsrfBlockedError } from '../../worker/src/http/ssrf.js';

const blocked = async (url: string, opts = {}) => {
  await expect(assertPublicUrl(url, opts)).rejects.toBeInstanceOf(SsrfBlockedError);
};

describe('SSRF guard (SEC-32)', () => {
  it('blocks every internal IPv4 range, in any spelling', async () => {
    for (const host of [
      '127.0.0.1',
      '127.1.1.1',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '0.0.0.1',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
      '198.18.0.1',
      '198.19.255.1',
      '192.0.0.8',
      '192.0.2.1',
      '198.51.100.1',
      '203.0.113.1',
      '2130706433',
      '0177.0.0.1',
      '0x7f.0.0.1',
      '127.1',
      '0x7f000001',
      '017700000001',
    ]) {
      await blocked(`http://${host}/x`);
    }
  });

  it('blocks every internal IPv6 form', async () => {
    for (const host of [
      '::1',
      '::',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::ffff:0:10.0.0.1',
      '::127.0.0.1',
      'fc00::1',
      'fd12:3456::1',
      'fe80::1',
      'febf::1',
      'fec0::1',
      'ff02::1',
      '64:ff9b::a9fe:a9fe',
      '64:ff9b:1::1',
      '2002:7f00:1::1',
      '2001:0:4136:e378::1',
      '2001:db8::1',
      '0:0:0:0:0:0:0:1',
    ]) {
      await blocked(`http://[${host}]/x`);
    }
  });

  it('allows public addresses and names', async () => {
    for (const url of [
      'https://example.com/hook',
      'http://8.8.8.8/',
      'http://[2606:4700::1111]/',
      'http://[::ffff:8.8.8.8]/',
      'http://[2002:808:808::1]/',
      'http://172.32.0.1/',
    ]) {
      expect((await assertPublicUrl(url)).toString()).toBe(new URL(url).toString());
    }
  });

  it('blocks internal names, other schemes and unparseable URLs with the spec messages', async () => {
    await expect(assertPublicUrl('http://localhost/')).rejects.toThrow('URL points to internal host name: localhost');
    await blocked('http://app.localhost/');
    await blocked('http://metadata.google.internal/');
    await blocked('http://printer.local/');
    await blocked('http://intranet/');
    await blocked('http://x.invalid/');
    await expect(assertPublicUrl('ftp://example.com/')).rejects.toThrow(
      'Invalid URL scheme: ftp. Only http and https are allowed.',
    );
    await expect(assertPublicUrl('file:///etc/passwd')).rejects.toThrow(/Invalid URL scheme: file/);
    await expect(assertPublicUrl('http//nope')).rejects.toThrow('Invalid URL: http//nope');
  });

  it('the allow-list exempts exactly the listed host[:port]; "1" means 127.0.0.1 and ::1', async () => {
    expect((await assertPublicUrl('http://127.0.0.1:8080/', { allow: ['127.0.0.1:8080'] })).hostname).toBe('127.0.0.1');
    await blocked('http://127.0.0.1:8081/', { allow: ['127.0.0.1:8080'] });
    await blocked('http://127.0.0.2:8080/', { allow: ['127.0.0.1:8080'] });
    expect((await assertPublicUrl('http://[::1]:9/', { allow: ['1'] })).hostname).toBe('[::1]');
    await blocked('http://127.0.0.2/', { allow: ['1'] });
    await blocked('http://169.254.169.254/', { allow: ['1'] });
  });

  it('refuses names that resolve inward when the runtime can resolve, and fails closed', async () => {
    const resolveHost = async (h: string) =>
      h === 'inward.example.com'
        ? ['93.184.216.34', '127.0.0.1']
        : h === 'empty.example.com'
          ? []
          : h === 'v6.example.com'
            ? ['fd00::5']
            : ['93.184.216.34'];
    await expect(assertPublicUrl('http://inward.example.com/', { resolveHost })).rejects.toThrow(
      'URL points to private IP address: 127.0.0.1',
    );
    await expect(assertPublicUrl('http://v6.example.com/', { resolveHost })).rejects.toThrow(
      'URL points to private IP address: fd00::5',
    );
    await expect(assertPublicUrl('http://empty.example.com/', { resolveHost })).rejects.toThrow(
      'No DNS records for empty.example.com',
    );
    const failing = async () => {
      throw new Error('ENOTFOUND');
    };
    await expect(assertPublicUrl('http://gone.example.com/', { resolveHost: failing })).rejects.toThrow(
      'DNS resolution failed for gone.example.com: ENOTFOUND',
    );
    expect((await assertPublicUrl('http://fine.example.com/', { resolveHost })).hostname).toBe('fine.example.com');
    expect(isBlockedAddress('not-an-ip')).toBe(true);
  });
});

describe('guardedFetch', () => {
  const fake = (routes: Record<string, () => Response>) => {
    const calls: { url: string; method: string; body: unknown }[] = [];
    const fn = (async (url: string, init: RequestInit) => {
      calls.push({ url, method: init.method ?? 'GET', body: init.body });
      expect(init.redirect).toBe('manual');
      const h = routes[url];
      return h ? h() : new Response('ok', { status: 200 });
    }) as unknown as typeof fetch;
    return { fn, calls };
  };
  const redirect =
    (to: string, status = 302) =>
    () =>
      new Response(null, { status, headers: { Location: to } });

  it('re-checks every hop: a redirect to loopback or metadata throws after exactly one fetch', async () => {
    for (const target of ['http://127.0.0.1/admin', 'http://169.254.169.254/latest', 'http://[::ffff:127.0.0.1]/']) {
      const { fn, calls } = fake({ 'https://public.example.com/a': redirect(target) });
      await expect(guardedFetch('https://public.example.com/a', {}, { fetchFn: fn })).rejects.toBeInstanceOf(
        SsrfBlockedError,
      );
      expect(calls).toHaveLength(1);
    }
  });

  it('follows a public redirect; 303 turns POST into GET, 307 keeps method and body', async () => {
    const a = fake({ 'https://a.example.com/': redirect('https://b.example.com/next', 303) });
    const r = await guardedFetch('https://a.example.com/', { method: 'POST', body: 'x' }, { fetchFn: a.fn });
    expect(r.status).toBe(200);
    expect(a.calls.map((c) => [c.url, c.method, c.body])).toEqual([
      ['https://a.example.com/', 'POST', 'x'],
      ['https://b.example.com/next', 'GET', undefined],
    ]);
    const b = fake({ 'https://a.example.com/': redirect('/moved', 307) });
    await guardedFetch('https://a.example.com/', { method: 'POST', body: 'y' }, { fetchFn: b.fn });
    expect(b.calls[1]).toEqual({ url: 'https://a.example.com/moved', method: 'POST', body: 'y' });
  });

  it('webhook mode returns 301/302/303 as the answer instead of following', async () => {
    const a = fake({ 'https://a.example.com/': redirect('https://b.example.com/', 302) });
    const r = await guardedFetch(
      'https://a.example.com/',
      { method: 'POST', body: 'x' },
      { fetchFn: a.fn, methodPreservingOnly: true },
    );
    expect(r.status).toBe(302);
    expect(a.calls).toHaveLength(1);
  });

  it('caps the hops', async () => {
    const loop = fake({ 'https://a.example.com/': redirect('https://a.example.com/') });
    await expect(guardedFetch('https://a.example.com/', {}, { fetchFn: loop.fn, maxRedirects: 3 })).rejects.toThrow(
      /redirects/,
    );
    expect(loop.calls.length).toBeLessThanOrEqual(4);
  });
});
