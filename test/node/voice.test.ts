/**
 * `/voice` WebRTC signalling on a live Node server (spec 01 §1.10, spec 07 P-06): two real `ws`
 * clients, authentication before the upgrade, keepalive with protocol pings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import type { RunningServer } from '../../node-adapter/server.js';
import { startLocalServer } from '../support/server-process.js';
import {
  deadPeerIsDropped,
  refusalsBeforeUpgrade,
  signallingBetweenTwoPeers,
  type VoiceSetup,
} from '../support/voice-scenario.js';

const KEEPALIVE_MS = 150;
let server: RunningServer;
let stopServer: () => Promise<void>;
let setup: VoiceSetup;
let ADMIN_KEY: string;

beforeAll(async () => {
  ({
    server,
    adminKey: ADMIN_KEY,
    stop: stopServer,
  } = await startLocalServer('voice', { voiceKeepaliveMs: KEEPALIVE_MS }));
  const httpBase = `http://127.0.0.1:${server.port}`;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) =>
    (await fetch(`${httpBase}/api/mycelium${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }).then((r) => r.json())) as any;
  const agent = await post(
    '/admin/agents',
    { id: 'voice-agent', name: 'v', project_id: 'p' },
    { 'X-Admin-Key': ADMIN_KEY },
  );
  await post(
    '/studio/users',
    { username: 'vop', password: 'correct horse battery', display_name: 'Vop', role: 'operator' },
    { 'X-Admin-Key': ADMIN_KEY },
  );
  const login = await post('/studio/login', { username: 'vop', password: 'correct horse battery' });
  setup = { httpBase, adminKey: ADMIN_KEY, agentKey: agent.api_key, operatorToken: login.token };
});
afterAll(async () => {
  await stopServer?.();
});

describe('/voice on Node', () => {
  it('P-06: no credentials, a bad token or a bad key are refused with an HTTP status before the upgrade', async () => {
    await refusalsBeforeUpgrade(setup);
  });

  it('spec 01 §1.10: welcome / peer_joined / peer_updated / offer-answer-ice / channels / peer_left between two ws clients', async () => {
    await signallingBetweenTwoPeers(setup);
  });

  it('keepalive: a client that answers no ping is terminated and announced as peer_left', async () => {
    await deadPeerIsDropped(setup, KEEPALIVE_MS);
  });

  it('an upgrade to any other path is destroyed', async () => {
    const text = await new Promise<string>((resolve) => {
      let got = '';
      const sock = connect(server.port, '127.0.0.1', () =>
        sock.write(
          'GET /ws/other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
      );
      sock.on('data', (d) => (got += d.toString()));
      sock.on('close', () => resolve(got));
    });
    expect(text).toBe('');
  });
});
