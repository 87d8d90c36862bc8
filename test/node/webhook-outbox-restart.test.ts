import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { Webhook } from 'standardwebhooks';
import { startLateReceiver } from '../support/fake-servers.js';

/**
 * Issue 17: the webhook outbox survives a crash. The real `npm start` process is killed with
 * SIGKILL while a delivery waits for its receiver, started again on the same data folder, and
 * the receiver comes up only after that: the delivery arrives, once, with its original
 * webhook-id, and verifies with the official Standard Webhooks library.
 */
const dirs: string[] = [];
const children: ChildProcess[] = [];
let receiver: Awaited<ReturnType<typeof startLateReceiver>> | null = null;
afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await receiver?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function start(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'node-adapter/index.ts'], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const exited = new Promise((r) => child.on('exit', r));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = out.match(/Mycelium (http:\/\/localhost:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1], exited });
      }
    });
  });
}

async function until<T>(fn: () => T | null | undefined | false, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('webhook outbox across a crash (Node)', () => {
  it('issue 17: a delivery pending at SIGKILL is sent after restart, when its receiver comes up later, with the same webhook-id', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'mycelium-outbox-')), 'data');
    dirs.push(join(dataDir, '..'));
    // A receiver that is down (resets every connection) until it comes up below.
    receiver = await startLateReceiver();
    const port = receiver.port;
    const secret = 'restart-shared-secret';
    const env = {
      DATA_DIR: dataDir,
      ADMIN_KEY: 'k'.repeat(40),
      JWT_SECRET: 'j'.repeat(40),
      MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${port}`,
      WEBHOOK_RETRY_BASE_MS: '500',
    };
    const admin = { 'X-Admin-Key': env.ADMIN_KEY, 'Content-Type': 'application/json' };

    const first = await start(env);
    const hook = await fetch(`${first.url}/api/mycelium/webhooks`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        agent_id: '__global__',
        url: `http://127.0.0.1:${port}/late`,
        events: ['custom.survivor'],
        secret,
      }),
    });
    expect(hook.status).toBe(200);
    const ev = await fetch(`${first.url}/api/mycelium/events`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ type: 'custom.survivor', data: { n: 7 } }),
    });
    expect(ev.status).toBe(200);

    // Wait until at least one attempt failed (receiver down), then crash the server.
    const db = new Database(join(dataDir, 'mycelium.db'), { readonly: true });
    const failed = await until(() => {
      const r = db.prepare("SELECT * FROM webhook_deliveries WHERE event = 'custom.survivor'").get() as any;
      return r && r.state === 'pending' && r.error ? r : null;
    }, 10_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const pending = db.prepare('SELECT * FROM webhook_deliveries WHERE id = ?').get(failed.id) as any;
    expect(pending.state).toBe('pending');
    db.close();

    const second = await start(env);
    // Only now does the receiver come up.
    receiver.up();

    const arrived = await until(() => receiver!.received[0], 30_000);
    expect(arrived.headers['webhook-id']).toBe(failed.delivery_id);
    const verified = new Webhook(secret, { format: 'raw' }).verify(arrived.body, {
      'webhook-id': String(arrived.headers['webhook-id']),
      'webhook-timestamp': String(arrived.headers['webhook-timestamp']),
      'webhook-signature': String(arrived.headers['webhook-signature']),
    });
    expect(verified).toMatchObject({ event: 'custom.survivor', data: { n: 7 } });

    let rows: any[] = [];
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${second.url}/api/mycelium/webhooks/deliveries?event=custom.survivor`, {
        headers: admin,
      });
      rows = await res.json();
      if (rows[0]?.state !== 'pending') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ state: 'delivered', status_code: 200, delivery_id: failed.delivery_id });
    expect(rows[0].attempts).toBeGreaterThanOrEqual(2);
    await new Promise((r) => setTimeout(r, 1500)); // a few more poll ticks: nothing is sent twice
    expect(receiver.received).toHaveLength(1);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 90_000);
});
