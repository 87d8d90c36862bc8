import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { loadConfig } from '../../worker/src/config.js';
import { secretsEqual, sha256Hex, sha256HexSync } from '../../worker/src/auth/crypto.js';
import { generateAgentKey, hashAgentKey } from '../../worker/src/auth/agent-keys.js';

const nodeSha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describe('synchronous SHA-256 of per-request secrets (auth/crypto.ts)', () => {
  it('gives the same digest as node:crypto and crypto.subtle: keys, empty, non-ASCII, long, block edges', async () => {
    const inputs = [
      '',
      'a',
      'é',
      '🍄 mycelium',
      'x'.repeat(55),
      'x'.repeat(56),
      'x'.repeat(64),
      'y'.repeat(1000),
      ...Array.from({ length: 20 }, () => generateAgentKey()),
      ...Array.from({ length: 10 }, () => randomBytes(40).toString('base64')),
    ];
    for (const s of inputs) {
      expect(sha256HexSync(s), JSON.stringify(s)).toBe(nodeSha(s));
      expect(sha256HexSync(s)).toBe(await sha256Hex(s));
    }
    const key = generateAgentKey();
    expect(hashAgentKey(key)).toBe(nodeSha(key));
  });

  it("the Node runtime's native digest (runtime.sha256Hex, used for agent keys) equals the portable one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'myc-sha-'));
    const runtime = createNodeRuntime({
      config: loadConfig({ ADMIN_KEY: 'a'.repeat(40), JWT_SECRET: 'z'.repeat(48), DATA_DIR: dir }),
    });
    try {
      expect(runtime.sha256Hex).toBeTypeOf('function');
      const keys = ['', 'é', '🍄 mycelium', 'x'.repeat(64), ...Array.from({ length: 20 }, () => generateAgentKey())];
      // A key stored with the portable digest (registration) matches the native one (every call).
      for (const k of keys) expect(runtime.sha256Hex?.(k), JSON.stringify(k)).toBe(hashAgentKey(k));
    } finally {
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('secretsEqual: equal strings only; empty or missing never match', async () => {
    const k = randomBytes(24).toString('hex');
    expect(await secretsEqual(k, k)).toBe(true);
    expect(await secretsEqual(`${k}x`, k)).toBe(false);
    expect(await secretsEqual(k.slice(0, -1), k)).toBe(false);
    expect(await secretsEqual('é'.repeat(k.length), k)).toBe(false);
    expect(await secretsEqual('', '')).toBe(false);
    expect(await secretsEqual(k, '')).toBe(false);
    expect(await secretsEqual(null, k)).toBe(false);
    expect(await secretsEqual(k, undefined)).toBe(false);
  });
});
