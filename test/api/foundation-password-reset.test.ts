import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator } from '../support/fixtures.js';
import { startFakeResend, type FakeServer } from '../support/fake-servers.js';

let t: Target;
let resend: FakeServer;
let user: { id: number; token: string; password: string };

beforeAll(async () => {
  resend = await startFakeResend();
  t = await startTarget({
    env: { RESEND_KEY: 're_test_key', RESEND_API_URL: resend.url, PUBLIC_BASE_URL: 'https://myc.example.org' },
  });
  user = await createOperator(t, 'forgetful', 'operator');
  await t.db.run(
    "INSERT INTO operators (id, display_name, email, studio_user_id) VALUES ('forgetful', 'Forgetful', 'Forget@Example.org', ?)",
    [user.id],
  );
});
afterAll(async () => {
  await t?.close();
  await resend?.close();
});

async function requestToken(email: string): Promise<string> {
  const before = resend.requests.length;
  const r = await t.call('POST', '/studio/forgot-password', { body: { email }, ip: `203.0.113.${10 + before}` });
  expect(r.status).toBe(200);
  for (let i = 0; i < 50 && resend.requests.length === before; i++) await new Promise((res) => setTimeout(res, 20));
  const mail = JSON.parse(resend.requests.at(-1)!.body);
  return mail.text.match(/token=([0-9a-f]{64})/)[1];
}

describe('password reset (SEC-09)', () => {
  it('forgot-password always answers the same; mail goes only to a known active operator, with a link on PUBLIC_BASE_URL', async () => {
    const unknown = await t.call('POST', '/studio/forgot-password', { body: { email: 'nobody@example.org' } });
    expect(unknown.body).toEqual({
      ok: true,
      message: 'If that email is associated with an account, a reset link has been sent.',
    });
    await t.settle();
    expect(resend.requests.length).toBe(0);
    const token = await requestToken(' forget@example.org ');
    const mail = resend.requests.at(-1)!;
    expect(mail.headers.authorization).toBe('Bearer re_test_key');
    const payload = JSON.parse(mail.body);
    expect(payload.to).toEqual(['forget@example.org']);
    expect(payload.subject).toBe('Reset your Mycelium password');
    expect(payload.text).toContain(`https://myc.example.org/studio/#/reset-password?token=${token}`);
    const stored = await t.db.all<{ token_hash: string }>('SELECT token_hash FROM password_resets');
    expect(stored.map((r) => r.token_hash)).not.toContain(token);
    expect((await t.call('POST', '/studio/forgot-password', { body: {} })).body).toEqual({
      error: 'email is required',
    });
  });

  it('a token works once; older sessions and sibling tokens die with it', async () => {
    const older = await requestToken('forget@example.org');
    const token = await requestToken('forget@example.org');
    const ok = await t.call('POST', '/studio/reset-password', { body: { token, password: 'fresh password 1' } });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, message: 'Password has been reset. You can now log in.' });
    const again = await t.call('POST', '/studio/reset-password', { body: { token, password: 'fresh password 2' } });
    expect(again.body).toEqual({ error: 'Invalid or expired reset token' });
    const sibling = await t.call('POST', '/studio/reset-password', {
      body: { token: older, password: 'fresh password 3' },
    });
    expect(sibling.status).toBe(400);
    expect((await t.call('GET', '/studio/me', { token: user.token })).status).toBe(401);
    const login = await t.call('POST', '/studio/login', {
      body: { username: 'forgetful', password: 'fresh password 1' },
      ip: '203.0.113.99',
    });
    expect(login.status).toBe(200);
  });

  it('two concurrent resets with one token: exactly one succeeds', async () => {
    // another account: the forgot-password limiter allows 3 requests per address per 15 min
    const twin = await createOperator(t, 'twin', 'operator');
    await t.db.run(
      "INSERT INTO operators (id, display_name, email, studio_user_id) VALUES ('twin', 'Twin', 'twin@example.org', ?)",
      [twin.id],
    );
    const token = await requestToken('twin@example.org');
    const results = await Promise.all(
      ['concurrent one!', 'concurrent two!'].map((password, i) =>
        t.call('POST', '/studio/reset-password', { body: { token, password }, ip: `203.0.113.${200 + i}` }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it('the 4th forgot-password request for one address within 15 minutes → 429', async () => {
    const r = await t.call('POST', '/studio/forgot-password', {
      body: { email: 'FORGET@example.org' },
      ip: '203.0.113.160',
    });
    expect(r.status).toBe(429);
  });

  it('bad input is a 400 naming the problem', async () => {
    expect(
      (await t.call('POST', '/studio/reset-password', { body: { password: 'whatever123' }, ip: '203.0.113.150' })).body,
    ).toEqual({ error: 'token is required' });
    const short = await t.call('POST', '/studio/reset-password', {
      body: { token: 'abc', password: 'short' },
      ip: '203.0.113.151',
    });
    expect(short.body).toEqual({ error: 'Password must be at least 8 characters' });
  });
});
