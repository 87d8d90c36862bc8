import { randomHex, sha256Hex } from './crypto.js';

/** `dvk_` + 48 lowercase hex (24 random bytes, 192 bits). Shown once; only its SHA-256 is stored. */
export const AGENT_KEY_PATTERN = /^dvk_[0-9a-f]{48}$/;

export function generateAgentKey(): string {
  return `dvk_${randomHex(24)}`;
}

export const hashAgentKey = (key: string) => sha256Hex(key);
