/**
 * Every failure that crosses the provisioning boundary is an UpstreamError: it names the
 * upstream, carries the HTTP status it answered (0 when no answer arrived: timeout, network,
 * unparsable body) and the upstream's own message, so a failed job records why it failed.
 */
export type Upstream = 'railway' | 'cloudflare' | 'tenant';

export class UpstreamError extends Error {
  constructor(
    readonly upstream: Upstream,
    readonly status: number,
    readonly upstreamMessage: string,
    /** The operation that failed, e.g. `projectCreate` or `POST dns_records`. */
    readonly operation: string,
  ) {
    super(`${labels[upstream]} ${operation} failed${status ? ` (${status})` : ''}: ${upstreamMessage}`);
    this.name = 'UpstreamError';
  }

  /** 404-like answers: the thing is already gone, which teardown treats as success. */
  get isNotFound(): boolean {
    return this.status === 404 || /not\s*found/i.test(this.upstreamMessage);
  }
}

const labels: Record<Upstream, string> = { railway: 'Railway', cloudflare: 'Cloudflare', tenant: 'Tenant' };

/** A misuse of the module by its caller (unknown instance, wrong state). */
export class ProvisioningError extends Error {
  constructor(
    readonly code: 'not_found' | 'conflict' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'ProvisioningError';
  }
}

/** fetch with a per-call deadline; maps transport failures to UpstreamError(status 0). */
export async function timedFetch(
  fetchFn: typeof fetch,
  upstream: Upstream,
  operation: string,
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  try {
    return await fetchFn(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error;
    const msg =
      e?.name === 'TimeoutError' || e?.name === 'AbortError'
        ? `no answer within ${timeoutMs} ms`
        : String(e?.message ?? e);
    throw new UpstreamError(upstream, 0, msg, operation);
  }
}

/** Reads a body as text without ever throwing (for error messages). */
export async function safeText(res: Response, max = 500): Promise<string> {
  try {
    const t = await res.text();
    return t.length > max ? `${t.slice(0, max)}…` : t;
  } catch {
    return '';
  }
}
