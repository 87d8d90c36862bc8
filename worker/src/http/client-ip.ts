import type { TrustProxy } from '../config.js';

/** Addresses a proxy on the same host or network has: loopback, private, link-local, unique-local. */
const LOCAL_NETWORKS = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * The client address used by per-IP limits, following TRUST_PROXY (spec 07 SEC-07):
 * unset ('local-peer') → X-Forwarded-For counts only when the TCP peer is a local-network
 *   address, and then proxies on local networks are skipped from the right (a client cannot
 *   prepend a forged entry); from any other peer the peer is the client. On Workers the "peer" is
 *   CF-Connecting-IP, which Cloudflare sets, so forwarded headers never count there by default;
 * true → the left-most X-Forwarded-For entry (right behind a proxy that sets it);
 * false → the TCP peer only (a directly exposed instance: forged headers change nothing);
 * n → skip n proxy hops from the right; a list → skip entries that are trusted proxies.
 */
export function clientIp(trust: TrustProxy, forwardedFor: string | undefined, peer: string | undefined): string {
  const fallback = peer ?? 'unknown';
  if (trust === 'local-peer') {
    if (!peer || !isTrusted(peer, LOCAL_NETWORKS)) return normalise(fallback);
    return clientIp(LOCAL_NETWORKS, forwardedFor, peer);
  }
  if (trust === false || !forwardedFor) return normalise(fallback);
  const hops = forwardedFor
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (hops.length === 0) return normalise(fallback);
  if (trust === true) return normalise(hops[0]);
  // chain = client, proxy1, …, proxyN, peer — walk from the right
  const chain = [...hops, fallback];
  if (typeof trust === 'number') {
    const idx = Math.max(0, chain.length - 1 - trust);
    return normalise(chain[idx]);
  }
  for (let i = chain.length - 1; i > 0; i--) {
    if (!isTrusted(chain[i], trust)) return normalise(chain[i]);
  }
  return normalise(chain[0]);
}

function normalise(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

function isTrusted(ip: string, list: string[]): boolean {
  const addr = normalise(ip);
  return list.some((entry) => {
    if (entry === 'loopback') return addr === '::1' || addr.startsWith('127.');
    if (entry === 'linklocal') return addr.startsWith('169.254.') || addr.toLowerCase().startsWith('fe80:');
    if (entry === 'uniquelocal')
      return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(addr) || /^f[cd]/i.test(addr);
    if (entry.includes('/')) return inCidr4(addr, entry);
    return entry === addr;
  });
}

function ipv4ToInt(ip: string): number | null {
  const m = ip.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function inCidr4(ip: string, cidr: string): boolean {
  const [base, bitsRaw] = cidr.split('/');
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base);
  const bits = Number(bitsRaw);
  if (a === null || b === null || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (a & mask) === (b & mask);
}
