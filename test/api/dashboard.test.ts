/**
 * The operator dashboard (issue 13) in real headless Chromium, against a live server on both
 * runtimes (the vitest project decides which). One browser for the file; each operator has its
 * own browser context (cookie jar) and page, reused across tests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { serveOverHttp, type HttpBridge } from '../support/http-bridge.js';
import { launchChromium } from '../support/browser.js';

let t: Target;
let bridge: HttpBridge;
let browser: Browser;
let agent: { id: string; key: string };
const contexts: BrowserContext[] = [];
const PASSWORD = 'correct horse battery';
const DASH = { 'X-Mycelium-Dashboard': '1' };

beforeAll(async () => {
  [t, browser] = await Promise.all([startTarget(), launchChromium()]);
  bridge = await serveOverHttp(t.fetch);
  // Accounts only: each sign-in below is part of what is tested (and costs an argon2 verify).
  for (const [username, role] of [
    ['dash-admin', 'admin'],
    ['dash-op', 'operator'],
  ]) {
    const u = await t.call('POST', '/studio/users', {
      admin: true,
      body: { username, password: PASSWORD, display_name: username, role },
    });
    expect(u.status).toBe(200);
  }
  agent = await registerAgent(t, 'dash-agent', 'dash');
  const hb = await t.call('POST', '/agents/heartbeat', {
    agentKey: agent.key,
    body: { status: 'online', working_on: 'indexing the handbook' },
  });
  expect(hb.status).toBe(200);
});

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  await bridge?.close();
  await t?.close();
});

/** A fresh browser context (own cookies) with one page, signed in through the form. */
async function signIn(username: string): Promise<Page> {
  const context = await browser.newContext({ baseURL: bridge.url, viewport: { width: 1280, height: 860 } });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  return page;
}

/** Logs in through the session route the way the page does; returns the cookie pair. */
async function sessionCookie(username: string) {
  const r = await t.fetch('/dashboard/session', {
    method: 'POST',
    headers: { ...DASH, 'Content-Type': 'application/json', 'X-Forwarded-For': '198.51.100.77' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  expect(r.status).toBe(200);
  return { setCookie: r.headers.get('set-cookie') ?? '', body: (await r.json()) as any };
}

const frozenNow = async () =>
  (await t.db.get<{ value: string }>("SELECT value FROM instance_config WHERE key = 'admin_status'"))?.value ??
  'coordinator';

describe('dashboard: served by the app', () => {
  it('serves the page at / and /dashboard/* from the app, with the security headers and nothing external', async () => {
    for (const path of ['/', '/dashboard', '/dashboard/', '/dashboard/approvals', '/dashboard/tasks/3']) {
      const r = await t.fetch(path);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      const html = await r.text();
      expect(html).toContain('/dashboard/assets/app.js');
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
    const js = await t.fetch('/dashboard/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    const etag = js.headers.get('etag')!;
    expect((await t.fetch('/dashboard/assets/app.js', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    const css = await t.fetch('/dashboard/assets/style.css');
    expect(await css.text()).not.toMatch(/@import|url\(\s*['"]?https?:/);
    const missing = await t.fetch('/dashboard/assets/nope.js');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'Not found' });
  });
});

describe('dashboard: the spend chart data', () => {
  it('GET /dashboard/api/spend: every UTC day of the window, per agent, and the budgets; humans only', async () => {
    const spender = await registerAgent(t, 'dash-spender', 'dash');
    for (const cost of [1.25, 2.5])
      expect((await t.call('POST', '/spend', { agentKey: spender.key, body: { cost_usd: cost } })).status).toBe(200);
    await t.db.run(
      "UPDATE agent_spend SET created_at = datetime('now', '-2 days') WHERE agent_id = 'dash-spender' AND cost_usd = 1.25",
    );
    expect(
      (
        await t.call('PUT', '/spend/budgets', {
          admin: true,
          body: { scope: 'agent', scope_id: 'dash-spender', period: 'month', limit_usd: 10 },
        })
      ).status,
    ).toBe(200);
    // t.call prefixes /api/mycelium; these routes sit at the server root.
    const get = async (path: string, headers: Record<string, string>) => {
      const res = await t.fetch(path, { headers: { 'X-Forwarded-For': '198.51.100.79', ...headers } });
      return { status: res.status, body: (await res.json()) as any };
    };
    const admin = { 'X-Admin-Key': t.adminKey };
    const r = await get('/dashboard/api/spend?days=7', admin);
    expect(r.status).toBe(200);
    expect(r.body.days).toHaveLength(7);
    const day = (offset: number) => new Date(Date.now() - offset * 86_400_000).toISOString().slice(0, 10);
    expect(r.body.days[6]).toEqual({ day: day(0), total_cost: 2.5 });
    expect(r.body.days[4]).toEqual({ day: day(2), total_cost: 1.25 });
    expect(r.body.days[5].total_cost).toBe(0);
    expect(r.body.agents).toContainEqual({ agent_id: 'dash-spender', total_cost: 3.75, entry_count: 2 });
    expect(r.body.budgets).toContainEqual(
      expect.objectContaining({ scope: 'agent', scope_id: 'dash-spender', limit_usd: 10 }),
    );
    expect((await get('/dashboard/api/spend?days=abc', admin)).status).toBe(400);
    expect((await get('/dashboard/api/spend', { 'X-Agent-Key': spender.key })).status).toBe(403);
    const unknown = await get('/dashboard/api/nope', admin);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'Not found' });
  });
});

describe('dashboard: the session cookie (CSRF-safe)', () => {
  it('login sets an HttpOnly SameSite=Strict cookie and never hands the token to the page', async () => {
    const { setCookie, body } = await sessionCookie('dash-op');
    expect(setCookie).toMatch(/^mycelium_session=[^;]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/');
    expect(body).toEqual({ ok: true, user: expect.objectContaining({ username: 'dash-op', role: 'operator' }) });
    expect(JSON.stringify(body)).not.toContain(setCookie.split(';')[0].split('=')[1]);
  });

  it('login and logout answer only the dashboard itself (no login CSRF)', async () => {
    const noHeader = await t.fetch('/dashboard/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'dash-op', password: PASSWORD }),
    });
    expect(noHeader.status).toBe(403);
    expect(noHeader.headers.get('set-cookie')).toBeNull();
    const crossSite = await t.fetch('/dashboard/session', {
      method: 'DELETE',
      headers: { ...DASH, 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const out = await t.fetch('/dashboard/session', { method: 'DELETE', headers: DASH });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^mycelium_session=; Max-Age=0;.*HttpOnly.*SameSite=Strict/);
  });

  it('the API accepts the cookie only with the dashboard header and never cross-site; writes without it change nothing', async () => {
    const cookie = (await sessionCookie('dash-op')).setCookie.split(';')[0];
    const me = await t.fetch('/api/mycelium/studio/me', { headers: { Cookie: cookie, ...DASH } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as any).username).toBe('dash-op');
    // A cookie alone (what a cross-site form or image would carry) is no credential.
    expect((await t.fetch('/api/mycelium/studio/me', { headers: { Cookie: cookie } })).status).toBe(401);
    expect(
      (
        await t.fetch('/api/mycelium/studio/me', {
          headers: { Cookie: cookie, ...DASH, 'Sec-Fetch-Site': 'cross-site' },
        })
      ).status,
    ).toBe(401);
    expect(
      (
        await t.fetch('/api/mycelium/studio/me', {
          headers: { Cookie: cookie, ...DASH, 'Sec-Fetch-Site': 'same-site' },
        })
      ).status,
    ).toBe(401);
    const forged = await t.fetch('/api/mycelium/admin/override', {
      method: 'PUT',
      headers: { Cookie: cookie, 'Content-Type': 'application/json', 'X-Forwarded-For': '198.51.100.78' },
      body: JSON.stringify({ action: 'freeze' }),
    });
    expect(forged.status).toBe(403);
    expect(await frozenNow()).not.toBe('frozen');
    // The custom header is not one a cross-origin page may send: preflights never allow it.
    const pre = await t.fetch('/api/mycelium/admin/override', {
      method: 'OPTIONS',
      headers: {
        Origin: 'https://evil.example',
        'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'x-mycelium-dashboard',
      },
    });
    expect(pre.headers.get('access-control-allow-headers') ?? '').not.toMatch(/x-mycelium-dashboard/i);
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('dashboard in Chromium', () => {
  let admin: Page;
  let operator: Page;

  it('signs in with the form and shows a registered agent with its presence and work in the overview', async () => {
    admin = await signIn('dash-admin');
    const row = admin.locator('tr[data-agent="dash-agent"]');
    await row.waitFor();
    expect(await row.innerText()).toMatch(/online[\s\S]*indexing the handbook/);
    // The token never reaches the page's scripts.
    expect(await admin.evaluate(() => document.cookie)).not.toContain('mycelium_session');
  });

  it('a wrong password is a message, not a blank page', async () => {
    const context = await browser.newContext({ baseURL: bridge.url });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto('/dashboard/');
    await page.getByLabel('Username').fill('dash-op');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expectText(page.getByRole('alert'), 'Invalid username or password');
    await context.close();
  });

  it('approves a pending approval with a comment and it leaves the list', async () => {
    const created = await t.call('POST', '/approvals', {
      agentKey: agent.key,
      body: { action_type: 'deploy', title: 'Ship the handbook index', payload: { env: 'prod' }, project_id: 'dash' },
    });
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    await navLink(admin, 'Approvals').click();
    const card = admin.locator(`li[data-approval="${id}"]`);
    await card.waitFor();
    expect(await card.innerText()).toMatch(/medium risk[\s\S]*0 of 1/);
    await card.getByLabel('Comment').fill('looks right');
    await card.getByRole('button', { name: 'Approve' }).click();
    await card.waitFor({ state: 'detached' });
    await expectText(admin.getByRole('status').first(), 'is approved');
    const row = await t.db.get<{ status: string }>('SELECT status FROM approvals WHERE id = ?', [id]);
    expect(row?.status).toBe('approved');
    const vote = await t.db.get<{ notes: string; voter: string }>(
      'SELECT notes, voter FROM approval_votes WHERE approval_id = ?',
      [id],
    );
    expect(vote).toEqual({ notes: 'looks right', voter: 'dash-admin' });
  });

  it('SEC-49: freezing takes a confirmation, shows a banner on every page, and an agent claim answers 503', async () => {
    const task = await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'Index chapter 2', project_id: 'dash' },
    });
    expect(task.status).toBe(200);
    await navLink(admin, 'Kill switch').click();
    await admin.getByRole('button', { name: 'Freeze all agent work' }).click();
    expect(await frozenNow()).not.toBe('frozen'); // nothing happens before the confirmation
    await admin.getByRole('button', { name: 'Yes, freeze all agent work' }).click();
    await admin.locator('#frozen-banner').waitFor();
    expect(await frozenNow()).toBe('frozen');
    await navLink(admin, 'Tasks').click();
    await admin.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(await admin.locator('#frozen-banner').isVisible()).toBe(true);
    const claim = await t.call('POST', `/tasks/${task.body.id}/claim`, { agentKey: agent.key });
    expect(claim.status).toBe(503);
  });

  it('SEC-49: a non-admin operator cannot unfreeze, in the page or at the server', async () => {
    operator = await signIn('dash-op');
    await operator.locator('#frozen-banner').waitFor();
    await navLink(operator, 'Kill switch').click();
    const unfreeze = operator.getByRole('button', { name: 'Unfreeze' });
    await unfreeze.waitFor();
    expect(await unfreeze.isDisabled()).toBe(true);
    // The same request the page would send, with the operator's own session: refused.
    const status = await operator.evaluate(async () => {
      const r = await fetch('/api/mycelium/admin/override', {
        method: 'PUT',
        headers: { 'X-Mycelium-Dashboard': '1', 'Content-Type': 'application/json' },
        body: JSON.stringify({ action: 'unfreeze' }),
      });
      return { status: r.status, body: await r.json() };
    });
    expect(status).toEqual({ status: 403, body: { error: 'Admin role required' } });
    expect(await frozenNow()).toBe('frozen');
  });

  it('an admin unfreezes (with confirmation); the banner goes and claims work again', async () => {
    await navLink(admin, 'Kill switch').click();
    await admin.getByRole('button', { name: 'Unfreeze' }).click();
    await admin.getByRole('button', { name: 'Yes, unfreeze' }).click();
    await admin.locator('#frozen-banner').waitFor({ state: 'detached' });
    expect(await frozenNow()).toBe('coordinator');
    const task = await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'Index chapter 3', project_id: 'dash' },
    });
    expect((await t.call('POST', `/tasks/${task.body.id}/claim`, { agentKey: agent.key })).status).toBe(200);
  });

  it('an event arrives in the live feed without a reload', async () => {
    await navLink(admin, 'Events').click();
    await expectText(admin.locator('#feed-state'), 'Live');
    const marker = `handbook rebuilt ${Date.now()}`;
    const posted = await t.call('POST', '/events', {
      agentKey: agent.key,
      body: { type: 'handbook.rebuilt', summary: marker, project_id: 'dash' },
    });
    expect(posted.status).toBe(200);
    const navigations: string[] = [];
    admin.on('framenavigated', (f) => navigations.push(f.url()));
    await admin.locator('ol.feed li', { hasText: marker }).waitFor();
    expect(navigations).toEqual([]);
  });

  it("inbox: the operator's own items; mark one read", async () => {
    const me = await t.db.get<{ id: number }>("SELECT id FROM studio_users WHERE username = 'dash-admin'");
    expect(
      (
        await t.call('POST', '/operators', {
          admin: true,
          body: { id: 'dash-admin-op', display_name: 'Dash Admin', studio_user_id: me!.id },
        })
      ).status,
    ).toBe(200);
    const item = await t.call('POST', '/inbox', {
      admin: true,
      body: { operator_id: 'dash-admin-op', title: 'Glossary needs a decision', summary: 'Two spellings of "colour".' },
    });
    expect(item.status).toBe(200);
    await navLink(admin, 'Inbox').click();
    await admin.getByRole('button', { name: 'Mark read: Glossary needs a decision' }).click();
    await admin.getByRole('button', { name: 'Mark read: Glossary needs a decision' }).waitFor({ state: 'detached' });
    expect(
      (await t.db.get<{ status: string }>('SELECT status FROM operator_inbox WHERE id = ?', [item.body.id]))?.status,
    ).toBe('read');
  });

  it('tasks: filter, open one with its comments, reassign it', async () => {
    const task = await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'Proofread the glossary', project_id: 'dash', priority: 'high' },
    });
    await t.call('POST', `/tasks/${task.body.id}/comments`, {
      agentKey: agent.key,
      body: { content: 'Half done, the rest tomorrow.' },
    });
    await navLink(admin, 'Tasks').click();
    await admin.getByLabel('Priority').selectOption('high');
    await admin.getByRole('button', { name: 'Filter' }).click();
    await admin.getByRole('link', { name: `#${task.body.id} Proofread the glossary` }).click();
    await expectText(admin.getByRole('list', { name: 'Comments' }), 'Half done, the rest tomorrow.');
    await admin.getByLabel('Assignee').fill('dash-agent');
    await admin.getByRole('button', { name: 'Reassign' }).click();
    await expectText(admin.getByRole('status').first(), 'Task reassigned to dash-agent.');
    expect(
      (await t.db.get<{ assignee: string }>('SELECT assignee FROM tasks WHERE id = ?', [task.body.id]))?.assignee,
    ).toBe('dash-agent');
  });

  it('channels: read the posts of a channel and post to it', async () => {
    const general = (await t.call('GET', '/channels', { admin: true })).body.find(
      (c: { slug: string }) => c.slug === 'general',
    );
    await t.call('POST', `/channels/${general.id}/messages`, {
      agentKey: agent.key,
      body: { content: 'Glossary is in review.' },
    });
    await navLink(admin, 'Channels').click();
    await admin.getByRole('link', { name: '#general' }).click();
    await expectText(admin.getByRole('list', { name: 'Posts in #general' }), 'Glossary is in review.');
    await admin.getByLabel('Message').fill('Thanks, I will read it tonight.');
    await admin.getByRole('button', { name: 'Post' }).click();
    await expectText(admin.getByRole('list', { name: 'Posts in #general' }), 'Thanks, I will read it tonight.');
    const row = await t.db.get<{ from_agent: string }>(
      "SELECT from_agent FROM messages WHERE content = 'Thanks, I will read it tonight.'",
    );
    // The inbox test linked this login to its roster row: posts carry that canonical operator id.
    expect(row?.from_agent).toBe('dash-admin-op');
  });

  it('plugins: an admin enables and disables a plugin', async () => {
    await navLink(admin, 'Plugins').click();
    await admin.getByRole('button', { name: 'Enable Daily digest' }).click();
    await admin.getByRole('button', { name: 'Disable Daily digest' }).waitFor();
    expect(
      (await t.db.get<{ enabled: number }>("SELECT enabled FROM plugins WHERE name = 'daily-digest'"))?.enabled,
    ).toBe(1);
    await admin.getByRole('button', { name: 'Disable Daily digest' }).click();
    await admin.getByRole('button', { name: 'Enable Daily digest' }).waitFor();
    expect(
      (await t.db.get<{ enabled: number }>("SELECT enabled FROM plugins WHERE name = 'daily-digest'"))?.enabled,
    ).toBe(0);
  });

  it('an API error shows as a message (a missing task), and a non-admin sees that plugins are for admins', async () => {
    await admin.goto('/dashboard/tasks/987654');
    await expectText(admin.getByRole('alert'), 'Task not found');
    await navLink(operator, 'Plugins').click();
    await expectText(operator.locator('main'), 'Only admins manage plugins');
  });

  it('signs out: the cookie is cleared and the API no longer answers the page', async () => {
    await operator.getByRole('button', { name: 'Sign out' }).click();
    await operator.getByRole('button', { name: 'Sign in' }).waitFor();
    const cookies = await operator.context().cookies();
    expect(cookies.find((c) => c.name === 'mycelium_session')).toBeUndefined();
  });
});

/** A link of the main navigation (cards and in-page links may share its words). */
function navLink(page: Page, name: string) {
  return page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });
}

async function expectText(locator: import('playwright-core').Locator, text: string) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: 10_000 });
}
