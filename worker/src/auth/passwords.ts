import { argon2idAsync } from '@noble/hashes/argon2.js';
import { base64Decode, base64Encode, randomBytes, timingSafeEqualBytes } from './crypto.js';

/**
 * Operator passwords: argon2id in pure JS (@noble/hashes). A WASM build would be faster but
 * workerd forbids compiling WebAssembly from bytes at run time, and one implementation must
 * serve both runtimes. Parameters follow OWASP's argon2id baseline (19 MiB, t=2, p=1).
 * Hashes are PHC strings, so parameters can be raised later without breaking old hashes.
 */
const PARAMS = { m: 19456, t: 2, p: 1 } as const;
const enc = new TextEncoder();

const PASSWORD_MIN_LENGTH = 8;
/** Long inputs only burn CPU; 72 bytes matches the original's bcrypt ceiling. */
const PASSWORD_MAX_BYTES = 72;

export interface Argon2Params {
  m: number;
  t: number;
  p: number;
  dkLen: number;
}
/** The argon2id key derivation; a runtime may supply one that runs off the request thread. */
export type Argon2idDerive = (password: Uint8Array, salt: Uint8Array, params: Argon2Params) => Promise<Uint8Array>;

/** In-isolate derivation (Workers, tests): pure JS, yields to the event loop as it goes. */
export const deriveInIsolate: Argon2idDerive = (password, salt, params) => argon2idAsync(password, salt, params);

const b64 = (u: Uint8Array) => base64Encode(u).replace(/=+$/, '');
const unb64 = (s: string) => base64Decode(s + '='.repeat((4 - (s.length % 4)) % 4));

export async function hashPassword(password: string, derive: Argon2idDerive = deriveInIsolate): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(enc.encode(password), salt, { ...PARAMS, dkLen: 32 });
  return `$argon2id$v=19$m=${PARAMS.m},t=${PARAMS.t},p=${PARAMS.p}$${b64(salt)}$${b64(hash)}`;
}

export async function verifyPassword(
  password: string,
  phc: string,
  derive: Argon2idDerive = deriveInIsolate,
): Promise<boolean> {
  const m = phc.match(/^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/);
  if (!m) return false;
  const [, mem, t, p, saltB64, hashB64] = m;
  const expected = unb64(hashB64);
  const actual = await derive(enc.encode(password), unb64(saltB64), {
    m: Number(mem),
    t: Number(t),
    p: Number(p),
    dkLen: expected.length,
  });
  return timingSafeEqualBytes(actual, expected);
}

/** Verified against when a username does not exist, so both paths cost the same (SEC-08). */
let dummyHash: Promise<string> | null = null;
export function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(`not-a-real-password-${Math.random()}`);
  return dummyHash;
}

/** Why a new password is unacceptable, or null. */
export function passwordProblem(password: unknown): string | null {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN_LENGTH) {
    return `Password must be at least ${PASSWORD_MIN_LENGTH} characters`;
  }
  if (enc.encode(password).length > PASSWORD_MAX_BYTES) {
    return `Password must be at most ${PASSWORD_MAX_BYTES} bytes`;
  }
  return null;
}
