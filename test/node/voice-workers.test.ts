/**
 * `/voice` on Workers (spec 01 §1.10, spec 07 P-06): the bundled Worker in workerd, every peer's
 * socket held by the VoiceHubObject Durable Object, two real `ws` clients on workerd's socket.
 * (A node-project test because it drives WebSocket upgrades over a real port.)
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { buildWorker } from '../../scripts/build-worker.mjs';
import { createOperator, registerAgent } from '../support/fixtures.js';
import type { Target } from '../support/target.js';
import { deadPeerIsDropped, refusalsBeforeUpgrade, signallingBetweenTwoPeers, type VoiceSetup } from '../support/voice-scenario.js';

const KEEPALIVE_MS = 150;
let t: Target;
let setup: VoiceSetup;
beforeAll(async () => {
  process.env.MYCELIUM_WORKER_BUNDLE = await buildWorker();
  process.env.MYCELIUM_TEST_RUNTIME = 'worker';
  const { startTarget } = await import('../support/target.js');
  // VOICE_KEEPALIVE_MS is read by the Durable Object only (deployments keep the spec's 10 s).
  t = await startTarget({ env: { VOICE_KEEPALIVE_MS: String(KEEPALIVE_MS) } });
  const agent = await registerAgent(t, 'wk-voice', 'p');
  const op = await createOperator(t, 'wkvoice');
  setup = { httpBase: t.httpUrl!, adminKey: t.adminKey, agentKey: agent.key, operatorToken: op.token };
});
afterAll(async () => {
  await t?.close();
});

describe('/voice on Workers (VOICE_HUB Durable Object)', () => {
  it('P-06: no credentials, a bad token or a bad key are refused with an HTTP status before the upgrade', async () => {
    await refusalsBeforeUpgrade(setup);
  });

  it('spec 01 §1.10: two ws clients meet in the Durable Object and exchange signalling within a channel', async () => {
    await signallingBetweenTwoPeers(setup);
  });

  it('keepalive: a client that answers no {"type":"ping"} is dropped and announced as peer_left', async () => {
    await deadPeerIsDropped(setup, KEEPALIVE_MS);
  });
});
