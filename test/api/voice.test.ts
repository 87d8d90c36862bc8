import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Voice REST (spec 01 §1.10, weak spot 14): ROOT GET /api/voice/peers and /api/voice/turn-credentials
 * with the REST guard; TURN REST-API credentials (coturn `use-auth-secret`) only when a relay and its
 * secret are configured, else STUN only. The /voice socket itself: test/node/voice*.test.ts.
 */
let plain: Target;
let turn: Target;
const TURN_SECRET = 'turn-shared-secret-for-tests';

beforeAll(async () => {
  [plain, turn] = await Promise.all([
    startTarget(),
    startTarget({
      env: {
        TURN_URLS: 'turn:turn.example.org:3478,turns:turn.example.org:5349?transport=tcp',
        TURN_SECRET,
        TURN_TTL_SECONDS: '3600',
        STUN_URLS: 'stun:stun.example.org:3478',
      },
    }),
  ]);
});
afterAll(async () => {
  await plain?.close();
  await turn?.close();
});

describe('voice REST', () => {
  it('both routes need the same credentials as REST (401 without, 403 for a bad agent key)', async () => {
    for (const path of ['/api/voice/peers', '/api/voice/turn-credentials']) {
      const none = await plain.call('GET', path);
      expect(none.status).toBe(401);
      expect(none.body).toEqual({ error: 'Missing X-Agent-Key header' });
      expect((await plain.call('GET', path, { agentKey: 'dvk_bad' })).status).toBe(403);
    }
  });

  it('peers: an empty room has {peers: [], count: 0}; a channel filter over 50 characters is a 400', async () => {
    const agent = await registerAgent(plain, 'voice-rest', 'p');
    const r = await plain.call('GET', '/api/voice/peers?channel=room', { agentKey: agent.key });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ peers: [], count: 0 });
    const long = await plain.call('GET', `/api/voice/peers?channel=${'x'.repeat(51)}`, { admin: true });
    expect(long.status).toBe(400);
    expect(long.body.error).toBe('channel must be at most 50 characters');
  });

  it('weak spot 14: without TURN_URLS/TURN_SECRET only STUN is offered (no public relay, no shared default secret)', async () => {
    const r = await plain.call('GET', '/api/voice/turn-credentials', { admin: true });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ iceServers: [{ urls: 'stun:stun.l.google.com:19302' }] });
  });

  it('with a relay configured: time-limited credentials, username "<expiry>:<user>", credential = base64 HMAC-SHA1', async () => {
    const agent = await registerAgent(turn, 'voice-turn', 'p');
    const before = Math.floor(Date.now() / 1000);
    const r = await turn.call('GET', '/api/voice/turn-credentials', { agentKey: agent.key });
    expect(r.status).toBe(200);
    const [stun, udp, tls] = r.body.iceServers;
    expect(stun).toEqual({ urls: 'stun:stun.example.org:3478' });
    expect(r.body.iceServers).toHaveLength(3);
    expect(r.body.ttl).toBe(3600);
    expect(udp.urls).toBe('turn:turn.example.org:3478');
    expect(tls.urls).toBe('turns:turn.example.org:5349?transport=tcp');
    expect(tls.username).toBe(udp.username);
    const [expiry, user] = udp.username.split(':');
    expect(user).toBe('agent-voice-turn');
    expect(Number(expiry)).toBeGreaterThanOrEqual(before + 3600);
    expect(Number(expiry)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
    // What coturn recomputes from its static-auth-secret:
    expect(udp.credential).toBe(createHmac('sha1', TURN_SECRET).update(udp.username).digest('base64'));
    const admin = await turn.call('GET', '/api/voice/turn-credentials', { admin: true });
    expect(admin.body.iceServers[1].username).toMatch(/^\d+:admin$/);
  });
});
