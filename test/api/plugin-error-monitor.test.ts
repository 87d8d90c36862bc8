import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { startTarget, type Target } from '../support/target.js';

let t: Target;
const SECRET = 'whsec_test_123';

beforeAll(async () => {
  t = await startTarget();
  expect((await t.call('PUT', '/plugins/error-monitor/enable', { admin: true })).body).toMatchObject({ loaded: true });
});
afterAll(() => t.close());

const sentry = (id: string, title = 'TypeError: x is undefined') => ({
  action: 'created',
  data: {
    issue: { id, title, metadata: { value: 'x is undefined' }, permalink: `https://sentry.example/issues/${id}` },
  },
});

describe('error-monitor', () => {
  it('SEC-42: with no secret configured the intake refuses everything (no admin-key fallback)', async () => {
    const r = await t.call('POST', '/errors/webhook/sentry', { admin: true, body: sentry('1') });
    expect(r.status).toBe(503);
    expect(r.body.error).toBe('Webhook secret not configured');
    expect((await t.call('GET', '/errors/events', { admin: true })).body).toEqual([]);
  });

  it('W15: the secret is checked in constant time from the header only; a query-string secret is not accepted', async () => {
    const put = await t.call('PUT', '/plugins/error-monitor/config', { admin: true, body: { webhook_secret: SECRET } });
    expect(put.text).not.toContain(SECRET);
    const wrong = await t.call('POST', '/errors/webhook/sentry', {
      headers: { 'X-Webhook-Secret': 'nope' },
      body: sentry('1'),
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe('Invalid webhook secret');
    const query = await t.call('POST', `/errors/webhook/sentry?secret=${SECRET}`, { body: sentry('1') });
    expect(query.status).toBe(403);
    expect((await t.call('GET', '/errors/events', { admin: true })).body).toEqual([]);
  });

  it('a verified delivery becomes an error and a bug; repeats are deduplicated into one error and one bug', async () => {
    const r1 = await t.call('POST', '/errors/webhook/sentry', {
      headers: { 'X-Webhook-Secret': SECRET },
      body: sentry('42'),
    });
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ ok: true, is_new: true, occurrences: 1 });
    const r2 = await t.call('POST', '/errors/webhook/sentry', {
      headers: { 'X-Webhook-Secret': SECRET },
      body: sentry('42'),
    });
    expect(r2.body).toMatchObject({ ok: true, error_id: r1.body.error_id, is_new: false, occurrences: 2 });
    const bugs = await t.db.all("SELECT id, title, project_id, reporter FROM bugs WHERE title LIKE '[sentry]%'");
    expect(bugs).toEqual([
      {
        id: expect.any(Number),
        title: '[sentry] TypeError: x is undefined',
        project_id: 'mycelium',
        reporter: '__system__',
      },
    ]);
    const e = await t.call('GET', `/errors/events/${r1.body.error_id}`, { admin: true });
    expect(e.body).toMatchObject({ bug_id: bugs[0].id, occurrences: 2, error_key: 'sentry:42', status: 'open' });
    expect(await t.db.get("SELECT type FROM events WHERE type = 'error_bug_filed'")).toBeTruthy();
  });

  it('Sentry HMAC signature over the exact body bytes is accepted; a bad signature is 403', async () => {
    const raw = JSON.stringify(sentry('77', 'RangeError'));
    const sig = createHmac('sha256', SECRET).update(raw).digest('hex');
    const ok = await t.call('POST', '/errors/webhook/sentry', {
      raw,
      headers: { 'Content-Type': 'application/json', 'sentry-hook-signature': sig },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.is_new).toBe(true);
    const bad = await t.call('POST', '/errors/webhook/sentry', {
      raw,
      headers: {
        'Content-Type': 'application/json',
        'sentry-hook-signature': sig.replace(/^./, (c) => (c === 'a' ? 'b' : 'a')),
      },
    });
    expect(bad.status).toBe(403);
  });

  it('a replayed delivery id is acknowledged without effect; the threshold delays filing', async () => {
    await t.call('PUT', '/plugins/error-monitor/config', { admin: true, body: { auto_file_threshold: 3 } });
    const h = { 'X-Webhook-Secret': SECRET, 'X-Delivery-Id': 'dd-1' };
    const body = { id: 'dd', title: 'Disk full', text: 'no space', url: 'https://dd.example/1' };
    const first = await t.call('POST', '/errors/webhook/datadog', { headers: h, body });
    expect(first.body.occurrences).toBe(1);
    const replay = await t.call('POST', '/errors/webhook/datadog', { headers: h, body });
    expect(replay.body).toEqual({ ok: true, duplicate: true });
    await t.call('POST', '/errors/webhook/datadog', { headers: { 'X-Webhook-Secret': SECRET }, body });
    expect(await t.db.get("SELECT id FROM bugs WHERE title = '[datadog] Disk full'")).toBeUndefined();
    const third = await t.call('POST', '/errors/webhook/datadog', { headers: { 'X-Webhook-Secret': SECRET }, body });
    expect(third.body.occurrences).toBe(3);
    expect(await t.db.get("SELECT id FROM bugs WHERE title = '[datadog] Disk full'")).toBeTruthy();
  });

  it('manual file-bug, mute, stats and widget; bad input is a 400', async () => {
    await t.call('PUT', '/plugins/error-monitor/config', { admin: true, body: { auto_file_threshold: 100 } });
    const r = await t.call('POST', '/errors/webhook/bugsnag', {
      headers: { 'X-Webhook-Secret': SECRET },
      body: { error: { exceptionClass: 'NullPointer', message: 'npe', stackTrace: [{ file: 'a.java' }] } },
    });
    expect(r.status).toBe(200);
    const f = await t.call('POST', `/errors/events/${r.body.error_id}/file-bug`, { admin: true });
    expect(f.body).toMatchObject({ ok: true, error_id: r.body.error_id });
    expect((await t.call('POST', `/errors/events/${r.body.error_id}/file-bug`, { admin: true })).body.error).toBe(
      `Error already linked to bug #${f.body.bug_id}`,
    );
    expect(
      (await t.call('PUT', `/errors/events/${r.body.error_id}`, { admin: true, body: { status: 'gone' } })).body.error,
    ).toBe('status must be one of: open, muted, resolved');
    expect(
      (await t.call('PUT', `/errors/events/${r.body.error_id}`, { admin: true, body: { status: 'muted' } })).body.error
        .status,
    ).toBe('muted');
    expect(
      (
        await t.call('POST', '/errors/webhook/bugsnag', {
          headers: { 'X-Webhook-Secret': SECRET },
          body: { nothing: 1 },
        })
      ).body.error,
    ).toBe('Unrecognised bugsnag payload');
    const stats = await t.call('GET', '/errors/stats', { admin: true });
    expect(stats.body.by_provider.map((p: { provider: string }) => p.provider).sort()).toEqual([
      'bugsnag',
      'datadog',
      'sentry',
    ]);
    expect((await t.call('GET', '/errors/widgets/error-count', { admin: true })).body).toMatchObject({
      type: 'stat',
      label: 'Errors (24h)',
      value: 4,
    });
    expect((await t.call('GET', '/errors/events/abc', { admin: true })).body.error).toBe('Error event not found');
  });

  it('a linked bug marked fixed resolves its open error (bug_updated hook)', async () => {
    const r = await t.call('POST', '/errors/webhook/sentry', {
      headers: { 'X-Webhook-Secret': SECRET },
      body: sentry('fixme', 'Fix me'),
    });
    const f = await t.call('POST', `/errors/events/${r.body.error_id}/file-bug`, { admin: true });
    expect(f.status).toBe(200);
    const u = await t.call('PUT', `/bugs/${f.body.bug_id}`, { admin: true, body: { status: 'fixed' } });
    expect(u.status).toBe(200);
    let status = '';
    for (let i = 0; i < 100 && status !== 'resolved'; i++) {
      await t.settle();
      status = (await t.call('GET', `/errors/events/${r.body.error_id}`, { admin: true })).body.status;
      if (status !== 'resolved') await new Promise((res) => setTimeout(res, 20));
    }
    expect(status).toBe('resolved');
  });
});
