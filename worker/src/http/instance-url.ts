import type { Config } from '../config.js';
import { badRequest } from './errors.js';

/**
 * The instance's public URL for generated configs (spec 01 §2.8.2): PUBLIC_BASE_URL wins;
 * else the Host header, which must be on ALLOWED_HOSTS when that is set. Resolved BEFORE any
 * write so a bad Host creates nothing (weak spot 13).
 */
export function instanceUrl(config: Config, req: Request): string {
  if (config.publicBaseUrl) return config.publicBaseUrl;
  const url = new URL(req.url);
  const host = (req.headers.get('host') ?? url.host).trim();
  if (config.allowedHosts && !config.allowedHosts.includes(host.toLowerCase())) {
    throw badRequest(`Invalid Host header: Host not allowed: ${host}`);
  }
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(host)) {
    throw badRequest(`Invalid Host header: ${host}`);
  }
  const fwd = req.headers.get('x-forwarded-proto')?.split(',')[0].trim();
  const proto = fwd === 'http' || fwd === 'https' ? fwd : url.protocol.replace(':', '') || 'https';
  return `${proto}://${host}`;
}
