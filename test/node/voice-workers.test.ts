/**
 * `/voice` on Workers (spec 01 §1.10, spec 07 P-06): the bundled Worker in workerd, every peer's
 * socket held by the VoiceHubObject Durable Object, two real `ws` clients on workerd's socket.
 * (A node-project test because it drives WebSocket upgrades over a real port.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { buildWorker } from '../../scripts/build-worker.mjs';
import { startHranaServer, type HranaServer } from '../../dev/hrana-server.js';
import { PLUGIN_NAMES } from '../../worker/src/plugins/registry.generated.js';
import { pluginDbVar } from '../../worker/src/worker-runtime.js';
import { mustConnect } from '../support/voice-client.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import type { Target } from '../support/target.js';
import {
  deadPeerIsDropped,
  refusalsBeforeUpgrade,
  signallingBetweenTwoPeers,
  type VoiceSetup,
} from '../support/voice-scenario.js';

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

/**
 * "Two peers connected to different isolates meet": two separately named Workers (each its own
 * isolate in workerd, each with its own socket), the second binding the first one's VoiceHubObject
 * class, as two isolates of one deployment share one Durable Object instance.
 */
describe('/voice across isolates', () => {
  const ADMIN = 'v'.repeat(40);
  let dir: string;
  let core: HranaServer;
  const others: HranaServer[] = [];
  let mf: Miniflare;
  let urlA: string;
  let urlB: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mycelium-voice-iso-'));
    const bundle = await buildWorker(join(dir, 'worker.js'));
    mkdirSync(join(dir, 'plugins'));
    core = await startHranaServer({ dbPath: join(dir, 'core.db') });
    const bindings: Record<string, string> = {
      ADMIN_KEY: ADMIN,
      JWT_SECRET: 'j'.repeat(40),
      LIBSQL_URL: core.url,
      LOG_LEVEL: 'error',
    };
    for (const n of PLUGIN_NAMES) {
      const h = await startHranaServer({ dbPath: join(dir, 'plugins', `${n}.db`) });
      others.push(h);
      bindings[pluginDbVar(n)] = h.url;
    }
    const common = { modules: true, modulesRoot: dir, scriptPath: bundle, compatibilityDate: '2025-07-01', bindings };
    mf = new Miniflare({
      workers: [
        {
          ...common,
          name: 'edge-a',
          durableObjects: { VOICE_HUB: 'VoiceHubObject' },
          unsafeDirectSockets: [{ port: 0 }],
        },
        {
          ...common,
          name: 'edge-b',
          durableObjects: { VOICE_HUB: { className: 'VoiceHubObject', scriptName: 'edge-a' } },
          unsafeDirectSockets: [{ port: 0 }],
        },
      ],
    });
    await mf.ready;
    urlA = (await mf.unsafeGetDirectURL('edge-a')).toString().replace(/\/$/, '');
    urlB = (await mf.unsafeGetDirectURL('edge-b')).toString().replace(/\/$/, '');
  });
  afterAll(async () => {
    await mf?.dispose();
    await core?.close();
    for (const h of others) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a peer on one Worker and a peer on another see each other and exchange an offer', async () => {
    expect(urlA).not.toBe(urlB);
    const ws = (u: string) => `${u.replace(/^http/, 'ws')}/voice`;
    const a = await mustConnect(ws(urlA), { 'X-Admin-Key': ADMIN });
    const b = await mustConnect(ws(urlB), { 'X-Admin-Key': ADMIN });
    expect(b.welcome.peers.map((p: { id: string }) => p.id)).toEqual([a.id]);
    expect((await a.next('peer_joined')).peer.id).toBe(b.id);
    b.send({ type: 'offer', to: a.id, sdp: 'from the other isolate' });
    expect(await a.next('offer')).toEqual({ type: 'offer', from: b.id, sdp: 'from the other isolate' });
    for (const u of [urlA, urlB]) {
      const r = await fetch(`${u}/api/voice/peers`, { headers: { 'X-Admin-Key': ADMIN } });
      expect(((await r.json()) as { count: number }).count).toBe(2);
    }
    a.ws.close();
    expect(await b.next('peer_left')).toEqual({ type: 'peer_left', id: a.id });
    b.ws.close();
  });
});
