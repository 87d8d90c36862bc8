import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * The per-process cache of verified agent keys (auth/key-cache.ts) serves the hot calls without a
 * database read; every change of a key's meaning drops it, so the very next call sees the change.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

const beat = (key: string) => t.call('POST', '/agents/heartbeat', { agentKey: key, body: { working_on: 'w' } });
const poll = (id: string, key: string) => t.call('GET', `/work/${id}`, { agentKey: key });

describe('agent key cache on the hot calls', () => {
  it('an admin rotation refuses the cached key on the very next heartbeat and work poll; the new key works at once', async () => {
    const a = await registerAgent(t, 'kc-rot', 'kc');
    expect((await beat(a.key)).status).toBe(200); // verified and cached
    expect((await poll(a.id, a.key)).status).toBe(200);
    const rot = await t.call('PUT', `/admin/agents/${a.id}/key`, { admin: true });
    expect(rot.status).toBe(200);
    const old = await beat(a.key);
    expect(old.status).toBe(403);
    expect(old.body).toEqual({ error: 'Invalid agent key' });
    expect((await poll(a.id, a.key)).status).toBe(403);
    expect((await beat(rot.body.api_key)).status).toBe(200);
    expect((await poll(a.id, rot.body.api_key)).status).toBe(200);
  });

  it('a self rekey refuses the old key on the very next heartbeat', async () => {
    const a = await registerAgent(t, 'kc-self', 'kc');
    expect((await beat(a.key)).status).toBe(200);
    const rekey = await t.call('POST', '/agents/rekey', { agentKey: a.key });
    expect(rekey.status).toBe(200);
    expect((await beat(a.key)).status).toBe(403);
    expect((await beat(rekey.body.api_key)).status).toBe(200);
  });

  it('deleting the agent refuses its cached key on the very next heartbeat and work poll', async () => {
    const a = await registerAgent(t, 'kc-del', 'kc');
    expect((await beat(a.key)).status).toBe(200);
    expect((await poll(a.id, a.key)).status).toBe(200);
    expect((await t.call('DELETE', `/admin/agents/${a.id}`, { admin: true })).status).toBe(200);
    expect((await beat(a.key)).status).toBe(403);
    expect((await poll(a.id, a.key)).status).toBe(403);
  });

  it('a key is stored as its lowercase hex SHA-256 and a one-character change of a cached key is refused', async () => {
    const a = await registerAgent(t, 'kc-hash', 'kc');
    const row = await t.db.get<{ api_key_hash: string }>('SELECT api_key_hash FROM agents WHERE id = ?', [a.id]);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(a.key)));
    expect(row!.api_key_hash).toBe(Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''));
    expect((await beat(a.key)).status).toBe(200);
    const forged = a.key.slice(0, -1) + (a.key.endsWith('0') ? '1' : '0');
    expect((await beat(forged)).status).toBe(403);
  });
});
