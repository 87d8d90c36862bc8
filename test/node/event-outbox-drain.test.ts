import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { loadConfig } from '../../worker/src/config.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import { recordStatements } from '../support/query-plan.js';
import { appCaller } from '../support/app-caller.js';

/**
 * Issue 11: an event written while no webhook is active queues nothing in the outbox (the trigger
 * of migration 0022 joins active webhooks), so no outbox drain follows it — the event row itself
 * says so, read in the same transaction. Once a webhook is active, every event is followed by the
 * drain and delivered at once, as before. Built in process (no server): the server's 1 s outbox
 * poller would read the outbox on its own and blur what the calls themselves cause.
 */
const ADMIN = 'o'.repeat(40);
const DRAIN = /FROM webhook_deliveries WHERE state = 'pending'/;

let dir: string;
let receiver: Server;
let port = 0;
const received: string[] = [];
let runtime: ReturnType<typeof createNodeRuntime>;
let app: ReturnType<typeof createApp>['app'];
let agentKey = '';

const call = appCaller(() => app);

/** The statements a context put causes, its background work included. */
async function putAndRecord(value: string) {
  const rec = recordStatements(runtime.db);
  const r = await call('PUT', '/context/keys/drain/k', { 'X-Agent-Key': agentKey }, { data: value });
  await runtime.settle();
  const stmts = rec.stop();
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return stmts.filter((s) => DRAIN.test(s.sql)).length;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
  dir = mkdtempSync(join(tmpdir(), 'mycelium-drain-'));
  runtime = createNodeRuntime({
    config: loadConfig({
      ADMIN_KEY: ADMIN,
      JWT_SECRET: 'j'.repeat(40),
      DATA_DIR: dir,
      MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${port}`,
    }),
    log: consoleLogger('error', { log: () => undefined, error: () => undefined }),
  });
  await prepareDatabase(runtime);
  app = createApp(runtime).app;
  const reg = await call(
    'POST',
    '/admin/agents',
    { 'X-Admin-Key': ADMIN },
    { id: 'drainer', name: 'D', project_id: 'p' },
  );
  agentKey = String(reg.body.api_key);
});
afterAll(async () => {
  await runtime?.close();
  await new Promise((r) => receiver.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('webhook outbox drain after an event (issue 11)', () => {
  it('no active webhook: the event is written, nothing is queued, and no drain read follows', async () => {
    expect(await putAndRecord('one')).toBe(0);
    const ev = await runtime.db.get<{ n: number }>(
      "SELECT count(*) AS n FROM events WHERE type = 'context_key_updated' AND agent = 'drainer'",
    );
    expect(ev?.n).toBe(1);
    expect((await runtime.db.get<{ n: number }>('SELECT count(*) AS n FROM webhook_deliveries'))?.n).toBe(0);
  });

  it('an active webhook: the drain follows the event and delivers it at once; disabled again: no drain', async () => {
    const hook = await call(
      'POST',
      '/webhooks',
      { 'X-Admin-Key': ADMIN },
      { agent_id: '__global__', url: `http://127.0.0.1:${port}/hook`, events: ['context_key_updated'] },
    );
    expect(hook.status, JSON.stringify(hook.body)).toBe(200);
    expect(await putAndRecord('two')).toBeGreaterThanOrEqual(1);
    expect(received.some((b) => b.includes('"context_key_updated"'))).toBe(true);
    const sent = await runtime.db.get<{ state: string }>(
      "SELECT state FROM webhook_deliveries WHERE event = 'context_key_updated' ORDER BY id DESC LIMIT 1",
    );
    expect(sent?.state).toBe('delivered');

    const off = await call('PUT', `/webhooks/${hook.body.id}`, { 'X-Admin-Key': ADMIN }, { active: false });
    expect(off.status, JSON.stringify(off.body)).toBe(200);
    const before = received.length;
    expect(await putAndRecord('three')).toBe(0);
    expect(received.length).toBe(before);
  });
});
