/**
 * The one SSRF guard (spec 04 §8.4, spec 07 SEC-30/31/32) for every server-side fetch of a URL
 * that a user or the database supplied. Portable: no node:dns. It refuses
 *  - schemes other than http/https and unparseable URLs;
 *  - IP literals in loopback, private, shared, link-local, metadata, multicast, reserved and
 *    documentation ranges, including every IPv6 spelling of them (mapped, compatible, NAT64,
 *    6to4, Teredo) and the decimal/octal/hex IPv4 forms (the URL parser normalises those);
 *  - internal names (`localhost`, `*.localhost`, `*.internal`, `*.local`, `*.invalid`);
 *  - DNS names resolving to any blocked address, where the runtime can resolve (Runtime.resolveHost;
 *    a failed or empty lookup is refused — fail closed).
 * An explicit allow-list (MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `host[:port]` entries, or `1` for
 * 127.0.0.1 and ::1) exempts exact hosts for local development; it is empty by default.
 * DNS rebinding (a name re-resolving between check and connect) is closed on Node by a pinned
 * fetch (Runtime.pinnedFetch, node-adapter/pinned-fetch.ts) passed as `fetchFn`; on Workers the
 * platform resolves and connects, and IP literals and internal names are closed regardless.
 */

export class SsrfBlockedError extends Error {
  readonly ssrf = true;
}

export type ResolveHost = (hostname: string) => Promise<string[]>;

export interface GuardOptions {
  /** Exact `host` or `host:port` entries that bypass the guard (off by default). */
  allow?: readonly string[];
  resolveHost?: ResolveHost;
}

// ---- IPv4 -------------------------------------------------------------------------------------

/** A dotted/decimal/octal/hex IPv4 literal as a 32-bit number, or null when it is not one. */
function parseIPv4(host: string): number | null {
  const parts = host.split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => p === '')) return null;
  const nums: number[] = [];
  for (const p of parts) {
    let n: number;
    if (/^0x[0-9a-f]*$/i.test(p)) n = p.length === 2 ? 0 : parseInt(p.slice(2), 16);
    else if (/^0[0-7]+$/.test(p)) n = parseInt(p, 8);
    else if (/^(0|[1-9]\d*)$/.test(p)) n = Number(p);
    else return null;
    if (!Number.isFinite(n)) return null;
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - nums.length)) return null;
  let v = 0;
  for (let i = 0; i < nums.length; i++) v += nums[i] * 256 ** (3 - i);
  return v + last;
}

const V4_BLOCKED: [string, number][] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const V4_RANGES = V4_BLOCKED.map(([base, bits]) => ({ base: parseIPv4(base)!, bits }));

function isBlockedIPv4(v: number): boolean {
  return V4_RANGES.some(({ base, bits }) => Math.floor(v / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));
}

const v4Text = (v: number) => [24, 16, 8, 0].map((s) => Math.floor(v / 2 ** s) % 256).join('.');

// ---- IPv6 -------------------------------------------------------------------------------------

/** Eight 16-bit groups, or null when not an IPv6 literal (brackets already stripped). */
function parseIPv6(host: string): number[] | null {
  let h = host.toLowerCase();
  const zone = h.indexOf('%');
  if (zone >= 0) h = h.slice(0, zone);
  if (!h.includes(':')) return null;
  // A trailing dotted IPv4 becomes two groups.
  const dotted = h.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const v4 = parseIPv4(dotted[2]);
    if (v4 === null || !/^\d+\.\d+\.\d+\.\d+$/.test(dotted[2])) return null;
    h = `${dotted[1]}${(Math.floor(v4 / 65536)).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = h.split('::');
  if (halves.length > 2) return null;
  const side = (s: string) => (s === '' ? [] : s.split(':'));
  const head = side(halves[0]);
  const tail = halves.length === 2 ? side(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.length !== 8) return null;
  const out: number[] = [];
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
    out.push(parseInt(g, 16));
  }
  return out;
}

const embeddedV4 = (g: number[], at: number) => g[at] * 65536 + g[at + 1];

/** Why an IPv6 address is internal, or null when it is public. */
function isBlockedIPv6(g: number[]): boolean {
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(8)) return true; // ::
  if (zeroTo(7) && g[7] === 1) return true; // ::1
  if (zeroTo(5) && g[5] === 0xffff) return isBlockedIPv4(embeddedV4(g, 6)); // ::ffff:a.b.c.d
  if (zeroTo(4) && g[4] === 0xffff && g[5] === 0) return isBlockedIPv4(embeddedV4(g, 6)); // ::ffff:0:a.b.c.d (SIIT)
  if (zeroTo(6)) return true; // ::a.b.c.d, deprecated IPv4-compatible: never a legitimate target
  if (g[0] === 0x64 && g[1] === 0xff9b) return true; // NAT64 64:ff9b::/96 and 64:ff9b:1::/48
  if (g[0] === 0x2002) return isBlockedIPv4(embeddedV4(g, 1)); // 6to4 with an internal embedded v4
  if (g[0] === 0x2001 && g[1] === 0) return true; // Teredo 2001::/32
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation 2001:db8::/32
  if ((g[0] & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g[0] & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local (fe80–febf)
  if ((g[0] & 0xffc0) === 0xfec0) return true; // fec0::/10 site-local
  if ((g[0] & 0xff00) === 0xff00) return true; // ff00::/8 multicast
  return false;
}

/** True when an address (v4 or v6 text) is not publicly routable. Unparseable → blocked. */
export function isBlockedAddress(addr: string): boolean {
  const a = addr.replace(/^\[|\]$/g, '');
  const v4 = /^[0-9a-fx.]+$/i.test(a) ? parseIPv4(a) : null;
  if (v4 !== null) return isBlockedIPv4(v4);
  const v6 = parseIPv6(a);
  if (v6) return isBlockedIPv6(v6);
  return true;
}

// ---- names and URLs ---------------------------------------------------------------------------

const INTERNAL_SUFFIXES = ['.localhost', '.internal', '.local', '.invalid', '.home.arpa'];

function isInternalName(host: string): boolean {
  return host === 'localhost' || INTERNAL_SUFFIXES.some((s) => host.endsWith(s)) || !host.includes('.');
}

function defaultPort(u: URL) {
  return u.port || (u.protocol === 'https:' ? '443' : '80');
}

/** Whether the URL's host (and port) is on the explicit allow-list. */
function allowListed(u: URL, allow: readonly string[]): boolean {
  if (!allow.length) return false;
  const host = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = defaultPort(u);
  for (const raw of allow) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '1' || entry === 'true') {
      if (host === '127.0.0.1' || host === '::1') return true;
      continue;
    }
    const m = entry.match(/^\[([^\]]+)\](?::(\d+))?$/) ??
      entry.match(/^([^:]+)(?::(\d+))?$/) ?? [entry, entry, undefined];
    const [, h, p] = m;
    if (h === host && (!p || p === port)) return true;
  }
  return false;
}

/**
 * Validates one URL (one hop). Returns the parsed URL or throws SsrfBlockedError with the
 * spec's message.
 */
export async function assertPublicUrl(raw: string, opts: GuardOptions = {}): Promise<URL> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SsrfBlockedError(`Invalid URL: ${raw}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new SsrfBlockedError(`Invalid URL scheme: ${u.protocol.replace(/:$/, '')}. Only http and https are allowed.`);
  }
  if (allowListed(u, opts.allow ?? [])) return u;
  const host = u.hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (!host) throw new SsrfBlockedError(`Invalid URL: ${raw}`);
  const v6 = host.includes(':') ? parseIPv6(host) : null;
  const v4 = v6 ? null : /^[0-9a-fx.]+$/i.test(host) ? parseIPv4(host) : null;
  if (v6 || v4 !== null) {
    if (v6 ? isBlockedIPv6(v6) : isBlockedIPv4(v4!))
      throw new SsrfBlockedError(`URL points to private IP address: ${v4 !== null ? v4Text(v4) : host}`);
    return u;
  }
  if (host.includes(':')) throw new SsrfBlockedError(`Invalid URL: ${raw}`);
  if (isInternalName(host)) throw new SsrfBlockedError(`URL points to internal host name: ${host}`);
  if (opts.resolveHost) {
    let addrs: string[];
    try {
      addrs = await opts.resolveHost(host);
    } catch (err) {
      throw new SsrfBlockedError(`DNS resolution failed for ${host}: ${(err as Error).message}`);
    }
    if (!addrs.length) throw new SsrfBlockedError(`No DNS records for ${host}`);
    const bad = addrs.find(isBlockedAddress);
    if (bad) throw new SsrfBlockedError(`URL points to private IP address: ${bad}`);
  }
  return u;
}

export interface GuardedFetchOptions extends GuardOptions {
  /** Hops after the first request (default 3). */
  maxRedirects?: number;
  /**
   * Follow only 307/308, which keep method and body; a 301/302/303 is returned as the answer.
   * Webhooks use this so a redirect never turns a signed POST into a body-less GET (weak spot H5).
   */
  methodPreservingOnly?: boolean;
  fetchFn?: typeof fetch;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** fetch() with the guard applied before the first request and again before every redirect hop. */
export async function guardedFetch(
  url: string,
  init: RequestInit = {},
  opts: GuardedFetchOptions = {},
): Promise<Response> {
  const max = opts.maxRedirects ?? 3;
  const doFetch = opts.fetchFn ?? fetch;
  let current = url;
  let method = (init.method ?? 'GET').toUpperCase();
  let body = init.body;
  for (let hop = 0; ; hop++) {
    const u = await assertPublicUrl(current, opts);
    const res = await doFetch(u.toString(), { ...init, method, body, redirect: 'manual' });
    const location = res.headers.get('location');
    if (!REDIRECTS.has(res.status) || !location) return res;
    if (opts.methodPreservingOnly && res.status !== 307 && res.status !== 308) return res;
    if (hop >= max) {
      await res.body?.cancel().catch(() => undefined);
      throw new SsrfBlockedError(`Too many redirects (>${max}) following ${url}`);
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      throw new SsrfBlockedError(`Malformed redirect Location: ${location}`);
    }
    await res.body?.cancel().catch(() => undefined);
    if ((res.status === 301 || res.status === 302 || res.status === 303) && method !== 'GET' && method !== 'HEAD') {
      method = 'GET';
      body = undefined;
    }
    current = next.toString();
  }
}
