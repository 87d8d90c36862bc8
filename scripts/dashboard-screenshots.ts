/**
 * Screenshots of every dashboard page into docs/dashboard/ (`npm run screenshots:dashboard`).
 * Starts a throw-away Node target, fills it with a small believable instance through the API,
 * signs in as an admin in Debian's Chromium and captures each page (plus the overview at phone
 * width). Nothing here is part of the test suite; the pages it shows are the ones the tests drive.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTarget, type Target } from '../test/support/target.js';
import { serveOverHttp } from '../test/support/http-bridge.js';
import { launchChromium } from '../test/support/browser.js';

const OUT = join(process.cwd(), 'docs/dashboard');
const PASSWORD = 'correct horse battery';

async function ok(t: Target, method: string, path: string, opts: Parameters<Target['call']>[2]) {
  const r = await t.call(method, path, opts);
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.body;
}

async function seed(t: Target) {
  const user = await ok(t, 'POST', '/studio/users', {
    admin: true,
    body: { username: 'ada', password: PASSWORD, display_name: 'Ada Lovelace', role: 'admin' },
  });
  await ok(t, 'POST', '/operators', {
    admin: true,
    body: { id: 'ada', display_name: 'Ada Lovelace', studio_user_id: user.id },
  });
  const agents: Record<string, string> = {};
  const roster: [string, string, string, Record<string, unknown>][] = [
    ['planner', 'web', 'online', { working_on: 'Plan: checkout redesign' }],
    ['coder-1', 'web', 'online', { working_on: 'Task #2 Payment form validation' }],
    ['coder-2', 'web', 'idle', {}],
    ['reviewer', 'web', 'online', { working_on: 'Reviewing PR 118' }],
    ['build-drone', 'web', 'online', { working_on: 'Drone job: nightly build' }],
  ];
  for (const [id, project, , extra] of roster) {
    agents[id] = (
      await ok(t, 'POST', '/admin/agents', {
        admin: true,
        body: { id, name: id, project_id: project, agent_type: id.endsWith('drone') ? 'drone' : 'agent' },
      })
    ).api_key;
    void extra;
  }
  for (const [id, , status, extra] of roster)
    await ok(t, 'POST', '/agents/heartbeat', { agentKey: agents[id], body: { status, ...extra } });
  // One agent that stopped reporting a few minutes ago reads "stale".
  await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-8 minutes') WHERE id = 'reviewer'");

  for (const [title, priority] of [
    ['Payment form validation', 'high'],
    ['Refund e-mails', 'normal'],
    ['Dark mode for receipts', 'low'],
    ['Update the privacy page', 'normal'],
  ] as const) {
    await ok(t, 'POST', '/tasks', {
      admin: true,
      body: { title, priority, project_id: 'web', description: `${title} for the checkout.` },
    });
  }
  await ok(t, 'PUT', '/tasks/1', { admin: true, body: { assignee: 'coder-1', status: 'in_progress' } });
  await ok(t, 'POST', '/tasks/1/comments', {
    agentKey: agents['coder-1'],
    body: { content: 'Card number check done; expiry next.' },
  });
  await ok(t, 'POST', '/tasks/1/comments', {
    agentKey: agents.reviewer,
    body: { content: 'Please add a test for 29 February.' },
  });

  const plan = await ok(t, 'POST', '/plans', {
    admin: true,
    body: {
      title: 'Checkout redesign',
      project_id: 'web',
      owner: 'planner',
      steps: [{ title: 'Wireframes' }, { title: 'Payment form' }, { title: 'Receipts' }, { title: 'Launch' }],
    },
  });
  await ok(t, 'PUT', `/plans/${plan.id}`, { admin: true, body: { status: 'active' } });
  const full = await ok(t, 'GET', `/plans/${plan.id}`, { admin: true });
  await ok(t, 'PUT', `/plans/${plan.id}/steps/${full.steps[0].id}`, { admin: true, body: { status: 'completed' } });
  await ok(t, 'PUT', `/plans/${plan.id}/steps/${full.steps[1].id}`, { admin: true, body: { status: 'in_progress' } });

  await ok(t, 'POST', '/bugs', {
    agentKey: agents.reviewer,
    body: {
      title: 'Total rounds wrong',
      description: '0.1 + 0.2 shows 0.30000000000000004',
      project_id: 'web',
      severity: 'high',
    },
  });
  await ok(t, 'POST', '/approvals', {
    agentKey: agents.planner,
    body: {
      action_type: 'deploy',
      title: 'Deploy checkout v2 to production',
      payload: { version: '2.0.0' },
      project_id: 'web',
    },
  });
  await ok(t, 'POST', '/approvals', {
    agentKey: agents['coder-1'],
    body: {
      action_type: 'delete',
      title: 'Drop the legacy_orders table',
      payload: { table: 'legacy_orders' },
      project_id: 'web',
      risk_tier: 'high',
    },
  });

  const costs: [string, number][] = [
    ['planner', 2.4],
    ['coder-1', 5.1],
    ['coder-2', 1.7],
    ['reviewer', 0.9],
  ];
  // Ten days of spend: each day's rows are logged now, then dated back (the ledger has no date field).
  for (let day = 9; day >= 0; day--) {
    const before = (await t.db.get<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM agent_spend'))!.n;
    for (const [id, base] of costs) {
      await ok(t, 'POST', '/spend', {
        agentKey: agents[id],
        body: {
          cost_usd: Math.round(base * (0.6 + ((day * 7 + id.length) % 9) / 10) * 100) / 100,
          project_id: 'web',
          model: 'sonnet',
        },
      });
    }
    await t.db.run(`UPDATE agent_spend SET created_at = datetime('now', '-${day} days') WHERE id > ?`, [before]);
  }
  await ok(t, 'PUT', '/spend/budgets', {
    admin: true,
    body: { scope: 'agent', scope_id: 'coder-1', period: 'month', limit_usd: 60, hard_stop: false },
  });
  await ok(t, 'PUT', '/spend/budgets', {
    admin: true,
    body: { scope: 'project', scope_id: 'web', period: 'day', limit_usd: 14, hard_stop: false },
  });

  const general = (await ok(t, 'GET', '/channels', { admin: true })).find(
    (c: { slug: string }) => c.slug === 'general',
  );
  if (general) {
    await ok(t, 'POST', `/channels/${general.id}/messages`, {
      agentKey: agents.planner,
      body: { content: 'Checkout redesign: step 2 of 4 started.' },
    });
    await ok(t, 'POST', `/channels/${general.id}/messages`, {
      agentKey: agents['coder-1'],
      body: { content: 'Payment form is behind a flag on staging.' },
    });
  }
  await ok(t, 'POST', '/inbox', {
    admin: true,
    body: {
      operator_id: 'ada',
      type: 'approval',
      title: 'Deploy checkout v2 needs your vote',
      summary: 'planner asks to deploy 2.0.0 to production.',
      priority: 'high',
    },
  });
  await ok(t, 'POST', '/inbox', {
    admin: true,
    body: {
      operator_id: 'ada',
      type: 'message',
      title: 'Budget warning: web',
      summary: 'Project web is at 85% of its daily budget.',
    },
  });
  for (const [id, summary] of [
    ['coder-1', 'opened PR 121: payment form'],
    ['reviewer', 'requested changes on PR 118'],
    ['build-drone', 'nightly build passed in 4m12s'],
  ]) {
    await ok(t, 'POST', '/events', { agentKey: agents[id], body: { type: 'activity', summary, project_id: 'web' } });
  }
}

const PAGES = ['', 'approvals', 'control', 'inbox', 'channels', 'tasks', 'tasks/1', 'spend', 'events', 'plugins'];

async function main() {
  mkdirSync(OUT, { recursive: true });
  const t = await startTarget();
  const bridge = await serveOverHttp(t.fetch);
  const browser = await launchChromium();
  try {
    await seed(t);
    const context = await browser.newContext({ baseURL: bridge.url, viewport: { width: 1280, height: 820 } });
    const page = await context.newPage();
    await page.goto('/');
    await page.screenshot({ path: join(OUT, 'sign-in.png') });
    await page.getByLabel('Username').fill('ada');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    for (const p of PAGES) {
      await page.goto(`/dashboard/${p}`);
      await page.locator('main .view > *').first().waitFor();
      await page.waitForLoadState('networkidle').catch(() => undefined);
      await page.waitForTimeout(300);
      const name = (p || 'overview').replace('/', '-');
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
      console.log(`docs/dashboard/${name}.png`);
    }
    // Frozen: the banner every page shows.
    await ok(t, 'PUT', '/admin/override', { admin: true, body: { action: 'freeze' } });
    await page.goto('/dashboard/control');
    await page.locator('#frozen-banner').waitFor();
    await page.screenshot({ path: join(OUT, 'control-frozen.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('/dashboard/');
    await page.locator('tr[data-agent]').first().waitFor();
    await page.screenshot({ path: join(OUT, 'overview-phone.png') });
    console.log('docs/dashboard/control-frozen.png, docs/dashboard/overview-phone.png');
  } finally {
    await browser.close();
    await bridge.close();
    await t.close();
  }
}

await main();
