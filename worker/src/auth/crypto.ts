/** Small Web Crypto helpers shared by auth code (portable: Node 20 and workerd). */

const enc = new TextEncoder();

function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

export const randomHex = (nBytes: number) => toHex(randomBytes(nBytes));

export async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(text))));
}

export async function hmacSha256Hex(secret: string, message: string | Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const data = (typeof message === 'string' ? enc.encode(message) : message) as Uint8Array<ArrayBuffer>;
  return toHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, data)));
}

/** Base64 HMAC-SHA256 with raw key bytes (Standard Webhooks `webhook-signature`). */
export async function hmacSha256Base64(key: Uint8Array, message: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    'raw',
    key as Uint8Array<ArrayBuffer>,
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const sig = new Uint8Array(await crypto.subtle.sign('HMAC', k, enc.encode(message)));
  let bin = '';
  for (const b of sig) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Constant-time equality of two equal-length byte strings. */
export function timingSafeEqualBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Compares two secrets without leaking length or encoding (spec 07 SEC-01): both sides are
 * hashed to fixed-length digests first. An empty expected value never matches.
 */
export async function secretsEqual(
  provided: string | undefined | null,
  expected: string | undefined | null,
): Promise<boolean> {
  if (!expected || !provided) return false;
  const [a, b] = await Promise.all([
    crypto.subtle.digest('SHA-256', enc.encode(provided)),
    crypto.subtle.digest('SHA-256', enc.encode(expected)),
  ]);
  return timingSafeEqualBytes(new Uint8Array(a), new Uint8Array(b));
}

export function base64Encode(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function base64Decode(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
