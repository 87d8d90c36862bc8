import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';

/**
 * SEC-07 on Node: which TCP peer may speak for the client. The app is driven with the peer
 * address the Node server hands it (env.incoming.socket.remoteAddress).
 */
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];

async function appWith(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-proxy-'));
  dirs.push(dir);
  const quiet = consoleLogger('error', { log: () => undefined, error: () => undefined });
  const runtime = createNodeRuntime({
    config: loadConfig({ ADMIN_KEY: 'a'.repeat(40), JWT_SECRET: 'j'.repeat(40), DATA_DIR: dir, ...env }),
    log: quiet,
  });
  await prepareDatabase(runtime);
  closers.push(() => runtime.close());
  const { app } = createApp(runtime);
  return (peer: string, forwardedFor: string) =>
    app.fetch(
      // a forged agent key: the agent-key failure limiter allows 30 per minute per client (SEC-06)
      new Request('http://localhost/api/mycelium/tasks', {
        headers: { 'X-Agent-Key': `dvk_${'0'.repeat(48)}`, 'X-Forwarded-For': forwardedFor },
      }),
      { incoming: { socket: { remoteAddress: peer } } },
    );
}

/** Status of the 32nd forged-key request, each from a new X-Forwarded-For. */
async function afterLimit(send: (peer: string, xff: string) => Response | Promise<Response>, peer: string) {
  let last = 0;
  for (let i = 0; i < 32; i++) last = (await send(peer, `203.0.113.${i + 1}`)).status;
  return last;
}

afterAll(async () => {
  for (const c of closers) await c();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('TRUST_PROXY on Node (SEC-07)', () => {
  it('unset, directly exposed (public peer): a new X-Forwarded-For per request does not walk past the agent-key limiter', async () => {
    expect(await afterLimit(await appWith({}), '198.51.100.20')).toBe(429);
  });

  it('unset, behind a proxy on a private network: each forwarded client is counted on its own', async () => {
    const send = await appWith({});
    expect(await afterLimit(send, '10.0.0.5')).toBe(403);
    expect(await afterLimit(send, '::ffff:172.17.0.1')).toBe(403);
  });

  it('true keeps its meaning: forwarded headers are believed from any peer (the documented trade-off)', async () => {
    expect(await afterLimit(await appWith({ TRUST_PROXY: 'true' }), '198.51.100.20')).toBe(403);
  });

  it('false keeps its meaning: even a loopback proxy is not believed', async () => {
    expect(await afterLimit(await appWith({ TRUST_PROXY: 'false' }), '127.0.0.1')).toBe(429);
  });
});
