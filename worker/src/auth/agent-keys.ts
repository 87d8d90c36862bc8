import { randomHex, sha256HexSync } from './crypto.js';

/** `dvk_` + 48 lowercase hex (24 random bytes, 192 bits). Shown once; only its SHA-256 is stored. */
export const AGENT_KEY_PATTERN = /^dvk_[0-9a-f]{48}$/;

export function generateAgentKey(): string {
  return `dvk_${randomHex(24)}`;
}

/** The stored form of a key. Synchronous: every agent call hashes its key (auth/principal.ts). */
export const hashAgentKey = (key: string): string => sha256HexSync(key);
