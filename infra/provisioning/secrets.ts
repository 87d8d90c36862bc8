/**
 * Tenant secrets: generated with crypto.getRandomValues, handed to the caller once, and
 * stored here only as SHA-256 hex digests. The tenant's admin key deliberately does NOT use
 * the agent-key prefix `dvk_` so it can never be mistaken for (or validated as) an agent key.
 */
export const TENANT_ADMIN_KEY_PREFIX = 'mya_';

export interface TenantSecrets {
  /** The tenant's ADMIN_KEY (`mya_` + 48 hex). */
  adminKey: string;
  /** The tenant's JWT_SECRET (64 hex = 256 bits). */
  jwtSecret: string;
  /** Password of the tenant's first admin operator (22 chars base64url = 128 bits). */
  adminPassword: string;
}

export interface TenantSecretHashes {
  adminKeyHash: string;
  jwtSecretHash: string;
  adminPasswordHash: string;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return b;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function generateTenantSecrets(): TenantSecrets {
  return {
    adminKey: TENANT_ADMIN_KEY_PREFIX + hex(randomBytes(24)),
    jwtSecret: hex(randomBytes(32)),
    adminPassword: base64url(randomBytes(16)),
  };
}

export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
  return hex(new Uint8Array(digest));
}

export async function hashTenantSecrets(s: TenantSecrets): Promise<TenantSecretHashes> {
  const [adminKeyHash, jwtSecretHash, adminPasswordHash] = await Promise.all([
    sha256Hex(s.adminKey),
    sha256Hex(s.jwtSecret),
    sha256Hex(s.adminPassword),
  ]);
  return { adminKeyHash, jwtSecretHash, adminPasswordHash };
}

/** Compares a clear value with a stored digest without an early exit on the first difference. */
export async function matchesHash(value: string, storedHex: string | null | undefined): Promise<boolean> {
  if (!storedHex) return false;
  const a = await sha256Hex(value);
  if (a.length !== storedHex.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ storedHex.charCodeAt(i);
  return diff === 0;
}
