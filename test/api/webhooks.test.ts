import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startLateReceiver, type FakeServer } from '../support/fake-servers.js';

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let receiver: Server;
let port = 0;
const received: Received[] = [];
let open: Target; // no allow-list: the default
let dev: Target; // allow-list names the local receiver
let agentKey = '';
let closedPort = 0;
let down: FakeServer | undefined;
let flakyHits = 0;

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The webhook's deliveries once none is pending. Retries due within the inline window (15 s) are
 * sent by the delivering request's own background work; on a loaded runner the window can pass
 * first, and then production sends the rest on its next maintenance tick (the Worker's cron, Node's
 * timer). So every second this runs a tick, as production would, instead of waiting for one that
 * a test never gets.
 */
async function settledDeliveries(t: Target, webhookId: number, ms: number) {
  let ticked = Date.now();
  return waitFor(async () => {
    if (Date.now() - ticked > 1000) {
      ticked = Date.now();
      await t.scheduled();
    }
    const r = await t.call('GET', `/webhooks/deliveries?webhook_id=${webhookId}`, { admin: true });
    return r.body.length && r.body.every((d: any) => d.state !== 'pending') ? r.body : null;
  }, ms);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ method: req.method!, path: req.url!, headers: req.headers, body });
      if (req.url === '/flaky' && ++flakyHits === 1) {
        res.writeHead(503);
        res.end('busy');
        return;
      }
      if (req.url === '/redirect-inward') {
        res.writeHead(307, { Location: 'http://169.254.169.254/latest/meta-data' });
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('thanks');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
  // A receiver that is never up (every connection reset), for network failures: a port held, not
  // one probed free and closed, which a test file running alongside could take.
  down = await startLateReceiver();
  closedPort = down.port;
  open = await startTarget();
  dev = await startTarget({
    env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${port},127.0.0.1:${closedPort}`, WEBHOOK_MAX_ATTEMPTS: '3' },
  });
  agentKey = (await registerAgent(open, 'wh-agent', 'pw')).key;
});
afterAll(async () => {
  await open?.close();
  await dev?.close();
  await new Promise((r) => receiver.close(r));
  await down?.close();
});

describe('webhook CRUD', () => {
  it('is admin only', async () => {
    const r = await open.call('GET', '/webhooks', { agentKey });
    expect(r.status).toBe(401);
    expect(r.body.error).toBe('Authentication required');
  });

  it('requires agent_id and url, validates events', async () => {
    const r = await open.call('POST', '/webhooks', { admin: true, body: { url: 'https://93.184.216.34/h' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('agent_id and url are required');
    const bad = await open.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: 'x', url: 'https://93.184.216.34/h', events: [1] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^events/);
    const badName = await open.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: 'x', url: 'https://93.184.216.34/h', events: ['no spaces'] },
    });
    expect(badName.status).toBe(400);
  });

  it('SEC-39: the secret is never returned after creation; defaults apply', async () => {
    const c = await open.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: 'https://93.184.216.34/hook', secret: 'shh-very-secret' },
    });
    expect(c.status).toBe(200);
    expect(c.body).toEqual({ ok: true, id: expect.any(Number) });
    const list = await open.call('GET', '/webhooks', { admin: true });
    expect(list.text).not.toContain('shh-very-secret');
    const row = list.body.find((w: any) => w.id === c.body.id);
    expect(row.secret).toBeUndefined();
    expect(row.secret_set).toBe(true);
    expect(JSON.parse(row.events)).toEqual(['task_created', 'request_created', 'message_sent']);
    const put = await open.call('PUT', `/webhooks/${c.body.id}`, {
      admin: true,
      body: { events: ['never.fires'], secret: '••••••••' },
    });
    expect(put.status).toBe(200);
    expect(put.text).not.toContain('shh-very-secret');
    expect(put.body.events).toBe('["never.fires"]');
    const stored = await open.db.get<any>('SELECT secret FROM webhooks WHERE id = ?', [c.body.id]);
    expect(stored.secret).toBe('shh-very-secret');
    const off = await open.call('PUT', `/webhooks/${c.body.id}`, { admin: true, body: { active: false } });
    expect(off.body.active).toBe(0);
    expect((await open.call('GET', '/webhooks', { admin: true })).body.map((w: any) => w.id)).not.toContain(c.body.id);
    const withInactive = await open.call('GET', '/webhooks?include_inactive=true', { admin: true });
    expect(withInactive.body.map((w: any) => w.id)).toContain(c.body.id);
    expect(withInactive.text).not.toContain('shh-very-secret');
  });

  it('PUT and DELETE answer 404 for unknown ids; DELETE removes', async () => {
    expect((await open.call('PUT', '/webhooks/99999', { admin: true, body: { active: false } })).status).toBe(404);
    expect((await open.call('DELETE', '/webhooks/99999', { admin: true })).status).toBe(404);
    expect((await open.call('DELETE', '/webhooks/1abc', { admin: true })).status).toBe(404);
    const c = await open.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: 'a1', url: 'https://93.184.216.34/x' },
    });
    const d = await open.call('DELETE', `/webhooks/${c.body.id}`, { admin: true });
    expect(d.body).toEqual({ ok: true });
    const list = await open.call('GET', '/webhooks?agent_id=a1', { admin: true });
    expect(list.body).toEqual([]);
    const audit = await open.db.all<any>("SELECT type, data FROM events WHERE type LIKE 'webhook_%' AND data LIKE ?", [
      `%"webhook_id":${c.body.id},%`,
    ]);
    expect(audit.map((e) => e.type)).toEqual(['webhook_created', 'webhook_deleted']);
  });

  it('SEC-32: internal URLs are refused at registration and on update', async () => {
    const cases: [string, string][] = [
      ['http://169.254.169.254/latest', 'URL points to private IP address: 169.254.169.254'],
      [`http://127.0.0.1:${port}/`, 'URL points to private IP address: 127.0.0.1'],
      ['http://[::1]/', 'URL points to private IP address: ::1'],
      ['http://[::ffff:10.0.0.1]/', 'URL points to private IP address: ::ffff:a00:1'],
      ['http://2130706433/', 'URL points to private IP address: 127.0.0.1'],
      ['http://0x7f.0.0.1/', 'URL points to private IP address: 127.0.0.1'],
      [
        'http://metadata.google.internal/computeMetadata/v1/',
        'URL points to internal host name: metadata.google.internal',
      ],
      ['http://localhost:3002/', 'URL points to internal host name: localhost'],
      ['ftp://example.com/x', 'Invalid URL scheme: ftp. Only http and https are allowed.'],
      ['not a url', 'Invalid URL: not a url'],
    ];
    for (const [url, error] of cases) {
      const r = await open.call('POST', '/webhooks', {
        admin: true,
        body: { agent_id: '__global__', url, events: ['*'] },
      });
      expect(r.status, url).toBe(400);
      expect(r.body.error, url).toBe(error);
    }
    const ok = await open.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: 'upd', url: 'https://93.184.216.34/ok' },
    });
    const upd = await open.call('PUT', `/webhooks/${ok.body.id}`, { admin: true, body: { url: 'http://10.1.2.3/' } });
    expect(upd.status).toBe(400);
    expect(upd.body.error).toBe('URL points to private IP address: 10.1.2.3');
  });
});

describe('webhook delivery', () => {
  it('SEC-30/SEC-32: a stored internal URL is refused at delivery, logged as SSRF blocked, never fetched or retried', async () => {
    // As if registered before the guard existed: written straight into the table.
    for (const url of [
      `http://127.0.0.1:${port}/should-not-arrive`,
      'http://169.254.169.254/latest',
      'http://[::ffff:10.0.0.1]/',
    ]) {
      await open.db.run("INSERT INTO webhooks (agent_id, url, events) VALUES ('__global__', ?, '[\"ssrf.probe\"]')", [
        url,
      ]);
    }
    const before = received.length;
    const ev = await open.call('POST', '/events', { agentKey, body: { type: 'ssrf.probe', summary: 'x' } });
    expect(ev.status).toBe(200);
    const rows = await waitFor(async () => {
      const r = await open.call('GET', '/webhooks/deliveries?error_only=true&event=ssrf.probe', { admin: true });
      return r.body.length === 3 ? r.body : null;
    });
    const errors = rows.map((d: any) => d.error).sort();
    expect(errors).toEqual([
      'SSRF blocked: URL points to private IP address: 127.0.0.1',
      'SSRF blocked: URL points to private IP address: 169.254.169.254',
      'SSRF blocked: URL points to private IP address: ::ffff:a00:1',
    ]);
    expect(rows.every((d: any) => d.status_code === null && d.attempts === 0)).toBe(true);
    expect(received.slice(before).some((r) => r.path === '/should-not-arrive')).toBe(false);
  });

  it('delivers to an allow-listed local receiver with a signature the receiver verifies', async () => {
    const secret = 'receiver-shared-secret';
    const c = await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `http://127.0.0.1:${port}/hook`, events: ['custom.ping'], secret },
    });
    expect(c.status).toBe(200);
    const agent = await registerAgent(dev, 'wh-dev', 'pd');
    const ev = await dev.call('POST', '/events', {
      agentKey: agent.key,
      body: { type: 'custom.ping', summary: 'hi', data: { n: 3 } },
    });
    expect(ev.status).toBe(200);
    const got = await waitFor(async () => received.find((r) => r.path === '/hook'));
    expect(got.method).toBe('POST');
    expect(got.headers['content-type']).toBe('application/json');
    const expected = createHmac('sha256', secret).update(got.body).digest('hex');
    expect(got.headers['x-webhook-signature']).toBe(expected);
    const ts = got.headers['x-webhook-timestamp'] as string;
    expect(got.headers['x-webhook-signature-v2']).toBe(
      `t=${ts},v1=${createHmac('sha256', secret).update(`${ts}.${got.body}`).digest('hex')}`,
    );
    const payload = JSON.parse(got.body);
    expect(Object.keys(payload)).toEqual(['event', 'agent_id', 'data', 'timestamp']);
    expect(payload).toMatchObject({ event: 'custom.ping', agent_id: 'wh-dev', data: { n: 3 } });
    const log = await settledDeliveries(dev, c.body.id, 8000);
    expect(log[0]).toMatchObject({
      event: 'custom.ping',
      status_code: 200,
      response_body: 'thanks',
      error: null,
      attempts: 1,
    });
    expect(log[0].delivery_id).toBe(got.headers['x-webhook-delivery']);
  });

  it('routes to the acting agent and __global__ only, filtered by events', async () => {
    const mine = await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: 'wh-route-a', url: `http://127.0.0.1:${port}/route-a`, events: ['custom.route'] },
    });
    expect(mine.status).toBe(200);
    const a = await registerAgent(dev, 'wh-route-a', 'pr');
    const b = await registerAgent(dev, 'wh-route-b', 'pr');
    await dev.call('POST', '/events', { agentKey: b.key, body: { type: 'custom.route', summary: 'from b' } });
    await dev.call('POST', '/events', { agentKey: a.key, body: { type: 'custom.other', summary: 'other type' } });
    await dev.call('POST', '/events', { agentKey: a.key, body: { type: 'custom.route', summary: 'from a' } });
    const hit = await waitFor(async () => received.find((r) => r.path === '/route-a'));
    await dev.settle();
    const hits = received.filter((r) => r.path === '/route-a');
    expect(hits).toHaveLength(1);
    expect(JSON.parse(hit.body).agent_id).toBe('wh-route-a');
  });

  it('SEC-30: a redirect to a private address is refused and logged, and not followed', async () => {
    const c = await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `http://127.0.0.1:${port}/redirect-inward`, events: ['custom.redirect'] },
    });
    const before = received.length;
    await dev.call('POST', '/events', { admin: true, body: { type: 'custom.redirect' } });
    const log = await settledDeliveries(dev, c.body.id, 8000);
    expect(log[0].error).toBe('SSRF blocked: URL points to private IP address: 169.254.169.254');
    expect(log[0].status_code).toBeNull();
    expect(received.slice(before).filter((r) => r.path === '/redirect-inward')).toHaveLength(1);
  });

  it('the delivery log filters and prunes after 7 days', async () => {
    await dev.db.run(
      "INSERT INTO webhook_deliveries (webhook_id, event, created_at) VALUES (1, 'old.one', datetime('now', '-8 days'))",
    );
    const { webhooksRepo } = await import('../../worker/src/domain/webhooks/repo.js');
    await webhooksRepo.pruneDeliveries(dev.db, 7);
    const r = await dev.call('GET', '/webhooks/deliveries?event=old.one', { admin: true });
    expect(r.body).toEqual([]);
    const bad = await dev.call('GET', '/webhooks/deliveries?webhook_id=abc', { admin: true });
    expect(bad.status).toBe(400);
  });

  it('an event queues a delivery only while a matching webhook is active (none active: the outbox trigger does nothing)', async () => {
    const c = await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `http://127.0.0.1:${port}/toggled`, events: ['custom.toggled'] },
    });
    const queued = async () =>
      Number(
        (await dev.db.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event = 'custom.toggled'",
        ))!.n,
      );
    // No webhook of the instance active at all (migration 0033: the trigger's body does not run).
    const active = await dev.db.all<{ id: number }>('SELECT id FROM webhooks WHERE active = 1');
    await dev.db.run('UPDATE webhooks SET active = 0');
    try {
      expect((await dev.call('POST', '/events', { admin: true, body: { type: 'custom.toggled' } })).status).toBe(200);
      expect(await queued()).toBe(0);
    } finally {
      for (const w of active) await dev.db.run('UPDATE webhooks SET active = 1 WHERE id = ?', [w.id]);
    }
    expect((await dev.call('PUT', `/webhooks/${c.body.id}`, { admin: true, body: { active: true } })).status).toBe(200);
    await dev.call('POST', '/events', { admin: true, body: { type: 'custom.toggled' } });
    expect(await queued()).toBe(1);
    const log = await settledDeliveries(dev, c.body.id, 25000);
    expect(log[0]).toMatchObject({ status_code: 200, attempts: 1 });
  });

  it('H4: a 5xx answer is retried with backoff and the final outcome logged once', async () => {
    const c = await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `http://127.0.0.1:${port}/flaky`, events: ['custom.flaky'] },
    });
    await dev.call('POST', '/events', { admin: true, body: { type: 'custom.flaky' } });
    // The retry is ~2 s away (WEBHOOK_RETRY_BASE_MS).
    const log = await settledDeliveries(dev, c.body.id, 25000);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ status_code: 200, error: null, attempts: 2 });
    expect(received.filter((r) => r.path === '/flaky')).toHaveLength(2);
  });

  it('REL-20: a failing receiver never delays the request; network errors are retried 3 times, then logged', async () => {
    const c = await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `http://127.0.0.1:${closedPort}/down`, events: ['custom.down'] },
    });
    const ev = await dev.call('POST', '/events', { admin: true, body: { type: 'custom.down' } });
    expect(ev.status).toBe(200);
    // The request has answered while the delivery is still being attempted in the background;
    // the delivery is already a durable row waiting in the outbox.
    const early = await dev.call('GET', `/webhooks/deliveries?webhook_id=${c.body.id}`, { admin: true });
    expect(early.body).toHaveLength(1);
    expect(early.body[0]).toMatchObject({ state: 'pending', status_code: null });
    // Two backoffs (~2 s and ~4 s) and three connection attempts.
    const log = await settledDeliveries(dev, c.body.id, 30000);
    expect(log[0].status_code).toBeNull();
    expect(log[0].attempts).toBe(3);
    expect(log[0].error).toMatch(/\(after 3 attempts\)$/);
    expect(log[0].state).toBe('dead');
  }, 40000);

  it("spec 04 §8.3: message and task notices go to the recipient's / assignee's webhooks with the spec payload", async () => {
    const sender = await registerAgent(dev, 'wh-sender', 'pm');
    await registerAgent(dev, 'wh-recipient', 'pm');
    await dev.call('POST', '/webhooks', {
      admin: true,
      body: {
        agent_id: 'wh-recipient',
        url: `http://127.0.0.1:${port}/recipient`,
        events: ['message_sent', 'task_created'],
      },
    });
    await dev.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: 'wh-sender', url: `http://127.0.0.1:${port}/sender`, events: ['message_sent', 'task_created'] },
    });
    const msg = await dev.call('POST', '/messages', {
      agentKey: sender.key,
      body: { to: 'wh-recipient', content: 'x'.repeat(250) },
    });
    expect(msg.status).toBe(200);
    const got = await waitFor(async () =>
      received.find((r) => r.path === '/recipient' && JSON.parse(r.body).event === 'message_sent'),
    );
    const payload = JSON.parse(got.body);
    expect(payload.agent_id).toBe('wh-recipient');
    expect(payload.data).toEqual({ message_id: expect.any(Number), from: 'wh-sender', content: 'x'.repeat(200) });

    await dev.settle();
    expect(received.filter((r) => r.path === '/recipient' && JSON.parse(r.body).event === 'message_sent')).toHaveLength(
      1,
    );

    const task = await dev.call('POST', '/tasks', {
      agentKey: sender.key,
      body: { title: 'Review PR', project_id: 'pm', assignee: 'wh-recipient' },
    });
    expect(task.status).toBe(200);
    const tgot = await waitFor(async () =>
      received.find((r) => r.path === '/recipient' && JSON.parse(r.body).event === 'task_created'),
    );
    expect(JSON.parse(tgot.body).data).toEqual({ task_id: task.body.id, title: 'Review PR' });
    await dev.settle();
    expect(received.filter((r) => r.path === '/sender')).toEqual([]);
  });
});
