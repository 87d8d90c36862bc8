import { z } from 'zod';
import { UpstreamError, safeText, timedFetch } from './errors.js';

/**
 * Typed client for the Cloudflare DNS records API, limited to the proxied CNAME a tenant
 * needs. A record always points at the Railway-provided target; pointing a name at itself
 * (the original's bug) is refused here, before any call.
 */
export const CLOUDFLARE_DEFAULT_URL = 'https://api.cloudflare.com/client/v4';

const cfMessage = z.object({ code: z.number().optional(), message: z.string() }).passthrough();
const dnsRecord = z.object({
  id: z.string(),
  type: z.string(),
  name: z.string(),
  content: z.string(),
  proxied: z.boolean().optional(),
});
const envelope = z.object({
  success: z.boolean(),
  errors: z.array(cfMessage).default([]),
  result: z.unknown().optional(),
});

export type CloudflareDnsRecord = z.infer<typeof dnsRecord>;

export interface CloudflareClientOptions {
  token: string;
  zoneId: string;
  apiUrl?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export class CloudflareClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;

  constructor(private readonly opts: CloudflareClientOptions) {
    this.base = (opts.apiUrl ?? CLOUDFLARE_DEFAULT_URL).replace(/\/$/, '');
    this.fetchFn = opts.fetch ?? ((...a) => fetch(...a));
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  private async request<T extends z.ZodTypeAny>(
    method: string,
    path: string,
    schema: T,
    body?: unknown,
  ): Promise<z.infer<T>> {
    const operation = `${method} dns_records`;
    const url = `${this.base}/zones/${encodeURIComponent(this.opts.zoneId)}/dns_records${path}`;
    const res = await timedFetch(
      this.fetchFn,
      'cloudflare',
      operation,
      url,
      {
        method,
        headers: { Authorization: `Bearer ${this.opts.token}`, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      this.timeoutMs,
    );
    const text = await safeText(res, 100_000);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UpstreamError(
        'cloudflare',
        res.status,
        text.slice(0, 500) || res.statusText || 'empty response',
        operation,
      );
    }
    const env = envelope.safeParse(json);
    if (!env.success)
      throw new UpstreamError('cloudflare', res.status, 'response is not a Cloudflare envelope', operation);
    if (!res.ok || !env.data.success) {
      const msg =
        env.data.errors.map((e) => (e.code ? `${e.code}: ${e.message}` : e.message)).join(', ') || 'unknown error';
      throw new UpstreamError('cloudflare', res.status, msg, operation);
    }
    const out = schema.safeParse(env.data.result);
    if (!out.success) throw new UpstreamError('cloudflare', res.status, 'unexpected result shape', operation);
    return out.data;
  }

  /** CNAME records with exactly this fully-qualified name. */
  async findCname(name: string): Promise<CloudflareDnsRecord[]> {
    const q = `?type=CNAME&name=${encodeURIComponent(name)}`;
    return this.request('GET', q, z.array(dnsRecord));
  }

  async createCname(name: string, target: string): Promise<CloudflareDnsRecord> {
    return this.request('POST', '', dnsRecord, cnameBody(name, target));
  }

  async updateCname(recordId: string, name: string, target: string): Promise<CloudflareDnsRecord> {
    return this.request('PUT', `/${encodeURIComponent(recordId)}`, dnsRecord, cnameBody(name, target));
  }

  async deleteRecord(recordId: string): Promise<void> {
    await this.request('DELETE', `/${encodeURIComponent(recordId)}`, z.object({ id: z.string() }));
  }
}

/** Proxied CNAME, automatic TTL. Throws if the target is empty or is the name itself. */
export function cnameBody(
  name: string,
  target: string,
): { type: 'CNAME'; name: string; content: string; proxied: true; ttl: 1 } {
  const n = name.toLowerCase().replace(/\.$/, '');
  const t = target.toLowerCase().replace(/\.$/, '');
  if (!t) throw new Error('CNAME target is empty');
  if (t === n) throw new Error(`CNAME target must not be the record's own name (${name})`);
  return { type: 'CNAME', name: n, content: t, proxied: true, ttl: 1 };
}
