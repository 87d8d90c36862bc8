import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startTarget, type Target } from '../support/target.js';
import { startFakeServer, startLateReceiver, waitFor, type FakeServer } from '../support/fake-servers.js';

/**
 * The durable webhook outbox (issue 17): deliveries are rows written with their event, sent by
 * a sender that survives restarts, retried with backoff, dead-lettered, redeliverable, and signed
 * with Standard Webhooks headers that the official `standardwebhooks` library verifies.
 */

let t: Target;
let receiver: FakeServer;
let failing = false;
/** Down (connections reset) until a test brings it up. */
let late: Awaited<ReturnType<typeof startLateReceiver>>;
let latePort = 0;

async function finalRows(webhookId: number, ms = 8000) {
  return poll(async () => {
    const r = await t.call('GET', `/webhooks/deliveries?webhook_id=${webhookId}`, { admin: true });
    return r.body.length && r.body.every((d: any) => d.state !== 'pending') ? r.body : null;
  }, ms);
}

async function poll<T>(fn: () => Promise<T | null | undefined | false>, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  receiver = await startFakeServer((req) => {
    if (failing && req.url === '/sometimes') return { status: 503, body: 'busy' };
    return { status: 200, body: 'ok' };
  });
  late = await startLateReceiver();
  latePort = late.port;
  t = await startTarget({
    env: {
      MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${receiver.port},127.0.0.1:${latePort}`,
      // One attempt per kick window for the dead-letter case; a long base keeps retries in the table.
      WEBHOOK_MAX_ATTEMPTS: '2',
      WEBHOOK_RETRY_BASE_MS: '60000',
    },
  });
});

afterAll(async () => {
  await t.close();
  await receiver.close();
  await late?.close();
});

describe('webhook outbox', () => {
  it('Standard Webhooks: the official library verifies webhook-signature (raw and whsec_ secrets); the original header stays', async () => {
    const raw = 'a-plain-shared-secret';
    const whsec = `whsec_${Buffer.from('sixteen-byte-key-0123456789abcdef').toString('base64')}`;
    const a = await t.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `${receiver.url}/raw`, events: ['custom.sw'], secret: raw },
    });
    const b = await t.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `${receiver.url}/whsec`, events: ['custom.sw'], secret: whsec },
    });
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const ev = await t.call('POST', '/events', {
      admin: true,
      body: { type: 'custom.sw', summary: 'x', data: { n: 1 } },
    });
    expect(ev.status).toBe(200);
    const gotRaw = await waitFor(() => receiver.requests.find((r) => r.url === '/raw'));
    const gotWhsec = await waitFor(() => receiver.requests.find((r) => r.url === '/whsec'));

    const headersOf = (h: Record<string, unknown>) => ({
      'webhook-id': String(h['webhook-id']),
      'webhook-timestamp': String(h['webhook-timestamp']),
      'webhook-signature': String(h['webhook-signature']),
    });
    expect(String(gotRaw.headers['webhook-signature'])).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(raw, { format: 'raw' }).verify(gotRaw.body, headersOf(gotRaw.headers))).toMatchObject({
      event: 'custom.sw',
      data: { n: 1 },
    });
    expect(new Webhook(whsec).verify(gotWhsec.body, headersOf(gotWhsec.headers))).toMatchObject({ event: 'custom.sw' });
    // A wrong secret or a changed body fails verification, as it must.
    expect(() =>
      new Webhook('another-secret', { format: 'raw' }).verify(gotRaw.body, headersOf(gotRaw.headers)),
    ).toThrow();
    expect(() =>
      new Webhook(raw, { format: 'raw' }).verify(gotRaw.body.replace('"n":1', '"n":2'), headersOf(gotRaw.headers)),
    ).toThrow();
    // Old receivers keep working: the original's bare hex HMAC of the body.
    expect(gotRaw.headers['x-webhook-signature']).toBe(createHmac('sha256', raw).update(gotRaw.body).digest('hex'));

    const log = await finalRows(a.body.id);
    expect(log[0]).toMatchObject({ state: 'delivered', status_code: 200, attempts: 1 });
    expect(log[0].delivery_id).toBe(gotRaw.headers['webhook-id']);
    expect(log[0].delivery_id).toMatch(/^msg_[0-9a-f]{24}$/);
  });

  it('the outbox row is written with its event: present the moment the request answers, with the webhook-id it will carry', async () => {
    // The late receiver is still down: the delivery stays in the outbox.
    await t.db.run('INSERT INTO webhooks (agent_id, url, events) VALUES (?, ?, ?)', [
      '__global__',
      `http://127.0.0.1:${latePort}/never-yet`,
      '["custom.atomic"]',
    ]);
    const ev = await t.call('POST', '/events', {
      admin: true,
      body: { type: 'custom.atomic', summary: 'x', data: { k: 'v' } },
    });
    expect(ev.status).toBe(200);
    const rows = await t.db.all<any>("SELECT * FROM webhook_deliveries WHERE event = 'custom.atomic'");
    expect(rows).toHaveLength(1);
    expect(rows[0].delivery_id).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(JSON.parse(rows[0].payload)).toMatchObject({ event: 'custom.atomic', data: { k: 'v' } });
    expect(await t.db.get<any>("SELECT COUNT(*) AS n FROM events WHERE type = 'custom.atomic'")).toMatchObject({
      n: 1,
    });
  });

  it('a receiver that comes up later gets the pending delivery at the next maintenance tick (Workers cron / Node timer)', async () => {
    // From the previous test: one row for custom.atomic to the late receiver, still down.
    const row = await poll(async () => {
      const r = await t.db.get<any>("SELECT * FROM webhook_deliveries WHERE event = 'custom.atomic'");
      return r && r.attempts === 1 && r.state === 'pending' && r.duration_ms !== null ? r : null;
    }, 20_000); // the first attempt runs in the background: slower when other test files run alongside
    expect(row.error).toBeTruthy();
    expect(row.next_attempt_at).toBeGreaterThan(Date.now() + 30_000); // backoff from WEBHOOK_RETRY_BASE_MS
    late.up();
    // The retry is due (as if the backoff had passed).
    await t.db.run('UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE id = ?', [row.id]);
    await t.scheduled();
    const got = await waitFor(() => late.received.find((b) => b.body.includes('custom.atomic')));
    expect(got.headers['webhook-id']).toBe(row.delivery_id);
    const after = await poll(async () => {
      const r = await t.db.get<any>('SELECT * FROM webhook_deliveries WHERE id = ?', [row.id]);
      return r.state !== 'pending' ? r : null;
    });
    expect(after).toMatchObject({ state: 'delivered', status_code: 200, attempts: 2, delivery_id: row.delivery_id });
    expect(late.received.filter((b) => b.body.includes('custom.atomic'))).toHaveLength(1);
  });

  it('gives up after WEBHOOK_MAX_ATTEMPTS into the dead-letter state; an admin redelivers it with the same webhook-id', async () => {
    failing = true;
    const c = await t.call('POST', '/webhooks', {
      admin: true,
      body: { agent_id: '__global__', url: `${receiver.url}/sometimes`, events: ['custom.dead'] },
    });
    await t.call('POST', '/events', { admin: true, body: { type: 'custom.dead' } });
    const first = await poll(async () => {
      const r = await t.db.get<any>('SELECT * FROM webhook_deliveries WHERE webhook_id = ?', [c.body.id]);
      return r && r.attempts === 1 && r.state === 'pending' && r.duration_ms !== null ? r : null;
    });
    expect(first.status_code).toBe(503);
    await t.db.run('UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE id = ?', [first.id]);
    await t.scheduled();
    const dead = await finalRows(c.body.id);
    expect(dead[0]).toMatchObject({
      state: 'dead',
      status_code: 503,
      attempts: 2,
      error: 'HTTP 503 (after 2 attempts)',
    });
    // The dead letter is visible in the delivery log, also through the error filter.
    const errs = await t.call('GET', '/webhooks/deliveries?error_only=true&event=custom.dead', { admin: true });
    expect(errs.body.map((d: any) => d.state)).toEqual(['dead']);

    const hits = () => receiver.requests.filter((r) => r.url === '/sometimes');
    expect(hits()).toHaveLength(2);
    expect(new Set(hits().map((h) => h.headers['webhook-id']))).toEqual(new Set([first.delivery_id]));

    failing = false;
    const nobody = await t.call('POST', `/webhooks/deliveries/${first.id}/redeliver`, {});
    expect(nobody.status).toBe(401);
    const missing = await t.call('POST', '/webhooks/deliveries/999999/redeliver', { admin: true });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('Delivery not found');
    const re = await t.call('POST', `/webhooks/deliveries/${first.id}/redeliver`, { admin: true });
    expect(re.status).toBe(200);
    expect(re.body).toMatchObject({ ok: true, id: first.id, delivery_id: first.delivery_id });
    const done = await finalRows(c.body.id);
    expect(done[0]).toMatchObject({ state: 'delivered', status_code: 200, attempts: 1, error: null });
    expect(hits()).toHaveLength(3);
    expect(hits()[2].headers['webhook-id']).toBe(first.delivery_id);
    expect(hits()[2].body).toBe(hits()[0].body);
  });

  it('redelivering a delivery that is still pending answers 409', async () => {
    await t.db.run('INSERT INTO webhooks (agent_id, url, events) VALUES (?, ?, ?)', [
      '__global__',
      `http://127.0.0.1:${latePort}/p`,
      '["custom.pending"]',
    ]);
    await t.db.run('UPDATE webhooks SET active = 0 WHERE url = ?', [`http://127.0.0.1:${latePort}/p`]);
    await t.db.run(
      "INSERT INTO webhook_deliveries (webhook_id, event, payload, attempts, delivery_id, state, next_attempt_at) VALUES (1, 'custom.pending', '{}', 1, 'msg_x', 'pending', ?)",
      [Date.now() + 3_600_000],
    );
    const row = await t.db.get<any>("SELECT id FROM webhook_deliveries WHERE delivery_id = 'msg_x'");
    const r = await t.call('POST', `/webhooks/deliveries/${row.id}/redeliver`, { admin: true });
    expect(r.status).toBe(409);
    expect(r.body.error).toMatch(/still pending/);
  });
});
