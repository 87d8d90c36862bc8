import type { Agent } from 'undici';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isBlockedAddress, SsrfBlockedError } from '../worker/src/http/ssrf.js';
import { cjsExports } from './cjs-exports.js';

/** All A/AAAA addresses of a name (node:dns lookup by default; tests inject their own). */
export type Resolver = (hostname: string) => Promise<string[]>;

class LookupRefused extends Error {}

/** `host` of each `host[:port]` / `[v6]:port` allow-list entry. */
function allowedHosts(allow: readonly string[]): Set<string> {
  return new Set(
    allow
      .map((e) => e.trim().toLowerCase())
      .filter(Boolean)
      .map((e) => e.match(/^\[([^\]]+)\]/)?.[1] ?? e.replace(/:\d+$/, '')),
  );
}

/**
 * Outbound fetch with pinned connections (issue 17; spec 07 SEC-32, DNS rebinding): the DNS
 * lookup that opens the socket is the one that is checked. Every name is resolved inside the
 * connection's own `lookup`, every answer must pass the SSRF guard's address check, and the
 * socket connects to exactly those answers — a second resolution between check and connect
 * cannot slip in an internal address. IP literals skip DNS and were checked by the guard already;
 * hosts on MYCELIUM_WEBHOOK_ALLOW_LOOPBACK keep their exemption.
 */
export function createPinnedFetch(resolve: Resolver, allow: readonly string[]): typeof fetch {
  const exempt = allowedHosts(allow);
  const makeAgent = (Undici: typeof import('undici')) =>
    new Undici.Agent({
      connect: {
        lookup(
          hostname: string,
          options: LookupOptions,
          cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
        ) {
          resolve(hostname)
            .then((addrs) => {
              if (!exempt.has(hostname.toLowerCase())) {
                if (!addrs.length) throw new LookupRefused(`No DNS records for ${hostname}`);
                const bad = addrs.find(isBlockedAddress);
                if (bad) throw new LookupRefused(`URL points to private IP address: ${bad}`);
              }
              const list = addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
              if (options.all) cb(null, list);
              else cb(null, list[0].address, list[0].family);
            })
            .catch((err: Error) => cb(err, ''));
        },
      } as never,
    });
  // undici (~1 MB of code, plus its HTTP parser) is loaded on the first outbound request, not at
  // start: most servers send no webhook for a long time, and start-up memory counts (issue 11).
  let loaded: Promise<{ agent: Agent; fetch: typeof import('undici').fetch }> | undefined;
  const load = () =>
    (loaded ??= import('undici')
      .then((ns) => cjsExports(ns, 'Agent'))
      .then((Undici) => ({ agent: makeAgent(Undici), fetch: Undici.fetch })));
  const pinned = async (input: RequestInfo | URL, init?: RequestInit) => {
    try {
      const { agent, fetch: undiciFetch } = await load();
      return await undiciFetch(input as never, { ...(init as object), dispatcher: agent } as never);
    } catch (err) {
      // undici wraps connect errors as `TypeError: fetch failed` with the cause attached.
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof LookupRefused) throw new SsrfBlockedError(cause.message);
      throw err;
    }
  };
  return pinned as unknown as typeof fetch;
}
