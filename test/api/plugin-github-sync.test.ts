import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac, randomUUID } from 'node:crypto';
import { startTarget, type Target } from '../support/target.js';
import { startFakeServer, type FakeServer } from '../support/fake-servers.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * github-sync (spec 06 §5.10, W15): GitHub webhooks signed with X-Hub-Signature-256 over the exact
 * bytes, deduplicated by X-GitHub-Delivery, turned into bugs, inbox items, events and status moves of
 * linked tasks/bugs; finished work is reported back to a fake GitHub API on 127.0.0.1.
 */
let t: Target;
let github: FakeServer;
const SECRET = 'gh_whsec_7f3a';
const REPO = 'octo/widgets';

beforeAll(async () => {
  // A fake of GitHub's "create an issue comment" endpoint (201 + the comment, as documented).
  github = await startFakeServer((req) =>
    req.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/issues\/\d+\/comments$/.test(req.url)
      ? { status: 201, body: { id: 1, body: JSON.parse(req.body).body } }
      : { status: 404, body: { message: 'Not Found' } },
  );
  // The SSRF guard refuses loopback unless the development allow-list names it.
  t = await startTarget({ env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${github.port}` } });
  expect((await t.call('PUT', '/plugins/github-sync/enable', { admin: true })).body).toMatchObject({ loaded: true });
  await t.db.run("INSERT INTO operators (id, display_name, status) VALUES ('op-gh', 'Gh', 'active')");
});
afterAll(async () => {
  await t?.close();
  await github?.close();
});

const sign = (raw: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

/** Sends a delivery the way GitHub does: exact bytes, event name, delivery id, signature. */
function deliver(event: string, payload: unknown, o: { delivery?: string; sig?: string | null; raw?: string } = {}) {
  const raw = o.raw ?? JSON.stringify(payload, null, 2);
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'X-GitHub-Event': event,
    'X-GitHub-Delivery': o.delivery ?? randomUUID(),
    'User-Agent': 'GitHub-Hookshot/abc123',
  };
  if (o.sig !== null) headers['X-Hub-Signature-256'] = o.sig ?? sign(raw);
  return t.call('POST', '/github/webhook', { raw, headers });
}

const repository = { full_name: REPO, name: 'widgets', owner: { login: 'octo' } };
const issue = (number: number, action: string, extra: Record<string, unknown> = {}) => ({
  action,
  issue: {
    number,
    title: `Widget ${number} breaks`,
    body: 'Steps: open it',
    html_url: `https://github.com/${REPO}/issues/${number}`,
    state: action === 'closed' ? 'closed' : 'open',
    labels: [{ name: 'bug' }],
    ...extra,
  },
  repository,
});

async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const storedEvents = async () =>
  (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE type LIKE ?', ['github_%']))!.n;

describe('github-sync webhook verification (W15)', () => {
  it('without a configured secret nothing is accepted', async () => {
    const r = await deliver('issues', issue(1, 'opened'));
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ error: 'Webhook secret not configured' });
  });

  it('a missing, wrong or re-serialised signature is a 401 JSON error and nothing is written', async () => {
    const put = await t.call('PUT', '/plugins/github-sync/config', { admin: true, body: { webhook_secret: SECRET } });
    expect(put.status).toBe(200);
    expect(put.text).not.toContain(SECRET);
    const before = await storedEvents();
    const payload = issue(1, 'opened');
    const raw = JSON.stringify(payload, null, 2);
    const cases = [
      await deliver('issues', payload, { sig: null }),
      await deliver('issues', payload, { sig: sign(raw, 'not-the-secret') }),
      await deliver('issues', payload, { sig: sign(raw).replace('sha256=', 'sha1=') }),
      // Signed over the same JSON serialised differently: the check is over the exact bytes received.
      await deliver('issues', payload, { raw, sig: sign(JSON.stringify(payload)) }),
    ];
    for (const r of cases) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'Invalid signature' });
      expect(r.headers.get('content-type')).toContain('application/json');
    }
    expect((await t.call('GET', '/github/events', { admin: true })).body).toEqual([]);
    expect(await t.db.get("SELECT id FROM bugs WHERE title LIKE '[GH]%'")).toBeUndefined();
    expect(await storedEvents()).toBe(before);
  });
});

describe('github-sync issues and pull requests (spec 06 §5.10)', () => {
  it('issues opened files one bug with a link; a redelivery (same X-GitHub-Delivery) changes nothing', async () => {
    const delivery = randomUUID();
    const r = await deliver('issues', issue(7, 'opened'), { delivery });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, event_id: expect.any(Number), bug_id: expect.any(Number) });
    const bug = await t.db.get<any>('SELECT * FROM bugs WHERE id = ?', [r.body.bug_id]);
    expect(bug).toMatchObject({
      title: '[GH] Widget 7 breaks',
      project_id: 'mycelium',
      category: 'other',
      severity: 'normal',
      status: 'open',
      reporter: 'github-sync',
    });
    expect(bug.description).toContain(`Source: https://github.com/${REPO}/issues/7`);
    const links = (await t.call('GET', `/github/links?repo=${REPO}`, { admin: true })).body;
    expect(links).toEqual([
      expect.objectContaining({ github_type: 'issue', github_number: 7, mycelium_type: 'bug', mycelium_id: bug.id }),
    ]);
    expect(await t.db.get("SELECT data FROM events WHERE type = 'github_issue_synced'")).toMatchObject({
      data: JSON.stringify({ repo: REPO, number: 7, bug_id: bug.id, title: 'Widget 7 breaks' }),
    });

    const again = await deliver('issues', issue(7, 'opened'), { delivery });
    expect(again.body).toEqual({ ok: true, duplicate: true, event_id: r.body.event_id });
    // A new delivery id for an issue that already has its bug does not file a second one.
    const other = await deliver('issues', issue(7, 'opened'));
    expect(other.body).toMatchObject({ ok: true, duplicate_issue: true });
    expect((await t.db.all("SELECT id FROM bugs WHERE title = '[GH] Widget 7 breaks'")).length).toBe(1);
    const ev = await t.call('GET', `/github/events/${r.body.event_id}`, { admin: true });
    expect(ev.body).toMatchObject({
      event_type: 'issues',
      action: 'opened',
      repo: REPO,
      processed: 1,
      delivery_id: delivery,
    });
    expect(ev.body.payload.issue.number).toBe(7);
  });

  it('closing, reopening and abandoning the issue moves the linked bug (ours)', async () => {
    const bugId = (
      await t.db
        .get<{ mycelium_id: number }>('SELECT mycelium_id FROM github_links WHERE github_number = 7', [])
        .catch(() => undefined)
    )?.mycelium_id;
    // The link lives in the plugin's own database, not the core one.
    expect(bugId).toBeUndefined();
    const link = (await t.call('GET', `/github/links?repo=${REPO}&github_type=issue`, { admin: true })).body[0];
    const status = async () =>
      (await t.db.get<{ status: string }>('SELECT status FROM bugs WHERE id = ?', [link.mycelium_id]))!.status;
    const closed = await deliver('issues', issue(7, 'closed', { state_reason: 'completed' }));
    expect(closed.body.synced).toEqual([{ mycelium_type: 'bug', mycelium_id: link.mycelium_id, status: 'fixed' }]);
    expect(await status()).toBe('fixed');
    await deliver('issues', issue(7, 'reopened'));
    expect(await status()).toBe('open');
    await deliver('issues', issue(7, 'closed', { state_reason: 'not_planned' }));
    expect(await status()).toBe('closed');
    const ev = await t.db.get<any>("SELECT agent FROM events WHERE type = 'bug_updated' ORDER BY id DESC LIMIT 1");
    expect(ev.agent).toBe('github-sync');
  });

  it('PR opened alerts operators; a PR linked to a task finishes it when merged', async () => {
    const task = await t.call('POST', '/tasks', {
      admin: true,
      body: { title: 'Ship widgets', project_id: 'mycelium' },
    });
    expect(task.status).toBe(200);
    const link = await t.call('POST', '/github/links', {
      admin: true,
      body: {
        github_repo: REPO,
        github_number: 12,
        github_type: 'pr',
        mycelium_type: 'task',
        mycelium_id: task.body.id,
      },
    });
    expect(link.body).toEqual({ ok: true, link_id: expect.any(Number) });
    const pr = (action: string, merged = false) => ({
      action,
      number: 12,
      pull_request: {
        number: 12,
        title: 'Fix widgets',
        html_url: `https://github.com/${REPO}/pull/12`,
        merged,
        user: { login: 'dev' },
        body: 'fixes',
      },
      repository,
    });
    expect((await deliver('pull_request', pr('opened'))).status).toBe(200);
    const inbox = await t.db.get<any>("SELECT * FROM operator_inbox WHERE type = 'github_pr'");
    expect(inbox).toMatchObject({ operator_id: 'op-gh', entity_type: 'github_pr', entity_id: `${REPO}#12` });
    expect(await t.db.get("SELECT id FROM events WHERE type = 'github_pr_opened'")).toBeTruthy();

    const merged = await deliver('pull_request', pr('closed', true));
    expect(merged.body.synced).toEqual([{ mycelium_type: 'task', mycelium_id: task.body.id, status: 'done' }]);
    expect((await t.db.get<any>('SELECT status FROM tasks WHERE id = ?', [task.body.id])).status).toBe('done');
    const ev = await t.db.get<any>("SELECT data FROM events WHERE type = 'github_pr_merged'");
    expect(JSON.parse(ev.data)).toMatchObject({
      repo: REPO,
      number: 12,
      title: 'Fix widgets',
      link: { mycelium_id: task.body.id },
    });

    const widget = (await t.call('GET', '/github/widgets/pr-status', { admin: true })).body;
    expect(widget).toMatchObject({ open_prs: 0, recent_merges: [{ repo: REPO, number: 12, state: 'closed' }] });
  });

  it('push, comments and failed CI become events; CI failures alert operators; stats count them', async () => {
    await deliver('push', {
      ref: 'refs/heads/main',
      commits: [{ id: 'a' }, { id: 'b' }],
      head_commit: { id: 'b', message: 'wip' },
      repository,
    });
    await deliver('issue_comment', {
      action: 'created',
      issue: { number: 7 },
      comment: { body: 'x'.repeat(900), user: { login: 'eve' } },
      repository,
    });
    await deliver('workflow_run', {
      action: 'completed',
      workflow_run: { name: 'CI', conclusion: 'failure', head_branch: 'main', html_url: 'https://github.com/x' },
      repository,
    });
    await deliver('check_suite', {
      action: 'completed',
      check_suite: { conclusion: 'success', head_branch: 'main' },
      repository,
    });
    const push = JSON.parse((await t.db.get<any>("SELECT data FROM events WHERE type = 'github_push'")).data);
    expect(push).toEqual({ repo: REPO, branch: 'main', commit_count: 2, head_commit: { id: 'b', message: 'wip' } });
    const comment = JSON.parse((await t.db.get<any>("SELECT data FROM events WHERE type = 'github_comment'")).data);
    expect(comment.body).toHaveLength(500);
    expect(comment.user).toBe('eve');
    expect(await t.db.get("SELECT id FROM events WHERE type = 'github_workflow_failed'")).toBeTruthy();
    expect(await t.db.get("SELECT id FROM events WHERE type = 'github_ci_failed'")).toBeUndefined();
    expect(await t.db.get<any>("SELECT priority FROM operator_inbox WHERE type = 'github_ci'")).toEqual({
      priority: 'urgent',
    });
    const ci = (await t.call('GET', '/github/widgets/ci-status', { admin: true })).body;
    expect(ci.latest_fail).toMatchObject({ type: 'workflow_run', name: 'CI', branch: 'main' });
    expect(ci.latest_pass).toMatchObject({ type: 'check_suite', conclusion: 'success' });
    const stats = (await t.call('GET', '/github/stats', { admin: true })).body;
    expect(stats.total_links).toBe(2);
    expect(stats.unprocessed_events).toBe(0);
    expect(stats.events_by_type).toEqual(expect.arrayContaining([{ event_type: 'push', count: 1 }]));
    const filtered = (await t.call('GET', '/github/events?event_type=push&processed=true', { admin: true })).body;
    expect(filtered.map((e: any) => e.event_type)).toEqual(['push']);
    expect((await t.call('GET', '/github/events?processed=maybe', { admin: true })).status).toBe(400);
    expect((await t.call('GET', '/github/events/99999', { admin: true })).body).toEqual({ error: 'Event not found' });
  });

  it('POST /links validates, refuses duplicates with 409 and another project for agents; DELETE unlinks', async () => {
    const bad = async (body: unknown) => (await t.call('POST', '/github/links', { admin: true, body })).body.error;
    expect(await bad({ github_repo: REPO })).toBe(
      'Required: github_repo, github_number, github_type, mycelium_type, mycelium_id',
    );
    const base = { github_repo: REPO, github_number: 3, github_type: 'issue', mycelium_type: 'bug', mycelium_id: 1 };
    expect(await bad({ ...base, github_type: 'commit' })).toBe('github_type must be pr, issue, or check');
    expect(await bad({ ...base, mycelium_type: 'plan' })).toBe('mycelium_type must be task or bug');
    expect(await bad({ ...base, github_number: '3x' })).toBe('github_number must be a positive integer');
    expect(await bad({ ...base, github_repo: { a: 1 } })).toBe('github_repo must be owner/name');
    expect(
      (await t.call('POST', '/github/links', { admin: true, body: { ...base, mycelium_id: 424242 } })).status,
    ).toBe(404);

    const dup = await t.call('POST', '/github/links', { admin: true, body: { ...base, github_number: 7 } });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({
      error: 'Link already exists',
      existing: { github_number: 7, github_type: 'issue' },
    });

    const other = await t.call('POST', '/tasks', { admin: true, body: { title: 'Theirs', project_id: 'elsewhere' } });
    const agent = await registerAgent(t, 'gh-agent', 'mine');
    const scoped = await t.call('POST', '/github/links', {
      agentKey: agent.key,
      body: { ...base, github_number: 99, mycelium_type: 'task', mycelium_id: other.body.id },
    });
    expect(scoped.status).toBe(403);
    const anon = await t.call('GET', '/github/links');
    expect(anon.status).toBe(401);

    const made = await t.call('POST', '/github/links', {
      admin: true,
      body: { ...base, github_number: 99, mycelium_type: 'task', mycelium_id: other.body.id },
    });
    expect((await t.call('DELETE', `/github/links/${made.body.link_id}`, { agentKey: agent.key })).status).toBe(403);
    expect((await t.call('DELETE', `/github/links/${made.body.link_id}`, { admin: true })).body).toEqual({ ok: true });
    expect((await t.call('DELETE', `/github/links/${made.body.link_id}`, { admin: true })).body).toEqual({ ok: true });
    expect(
      (await t.call('GET', '/github/links?github_type=issue&repo=octo/widgets', { admin: true })).body.map(
        (l: any) => l.github_number,
      ),
    ).toEqual([7]);
  });

  it('the core GitHub proxy keeps /github/prs under the shared /github prefix', async () => {
    const r = await t.call('GET', '/github/prs/octo/widgets', { admin: true });
    // Answered by the core proxy (not configured here), never by the plugin's 404.
    expect(r.body.error).not.toBe('Not found');
  });
});

describe('github-sync outbound (through the SSRF-guarded fetch)', () => {
  it('a linked bug fixed in Mycelium comments on its issue at the fake GitHub API; its own changes are not echoed', async () => {
    await t.call('PUT', '/plugins/github-sync/config', {
      admin: true,
      body: { github_token: 'ghp_faketoken', api_url: github.url },
    });
    const opened = await deliver('issues', issue(21, 'opened'));
    // Closed on GitHub: the bug is fixed by github-sync itself, which is not commented back.
    const closed = await deliver('issues', issue(21, 'closed'));
    expect(closed.body.synced).toEqual([{ mycelium_type: 'bug', mycelium_id: opened.body.bug_id, status: 'fixed' }]);
    await deliver('issues', issue(21, 'reopened'));
    await t.settle();
    await new Promise((r) => setTimeout(r, 200));
    expect(github.requests).toEqual([]);
    const put = await t.call('PUT', `/bugs/${opened.body.bug_id}`, { admin: true, body: { status: 'fixed' } });
    expect(put.status).toBe(200);
    const req = await waitFor(async () => github.requests[0]);
    expect(req.method).toBe('POST');
    expect(req.url).toBe(`/repos/${REPO}/issues/21/comments`);
    expect(req.headers.authorization).toBe('Bearer ghp_faketoken');
    expect(req.headers.accept).toBe('application/vnd.github+json');
    expect(JSON.parse(req.body).body).toContain(`bug #${opened.body.bug_id} is now **fixed**`);
    const ev = await waitFor(() => t.db.get<any>("SELECT data FROM events WHERE type = 'github_sync_outbound'"));
    expect(JSON.parse(ev.data)).toMatchObject({
      repo: REPO,
      number: 21,
      mycelium_type: 'bug',
      status: 'fixed',
      commented: true,
    });
    expect(github.requests).toHaveLength(1);
  });

  it('a GitHub API URL on a private address is refused by the SSRF guard (nothing sent)', async () => {
    await t.call('PUT', '/plugins/github-sync/config', { admin: true, body: { api_url: 'http://10.0.0.1:9' } });
    const n = github.requests.length;
    const hookErrors = async () =>
      (await t.call('GET', '/plugins/github-sync', { admin: true })).body.errors.hook_errors;
    const before = await hookErrors();
    const opened = await deliver('issues', issue(22, 'opened'));
    await t.call('PUT', `/bugs/${opened.body.bug_id}`, { admin: true, body: { status: 'fixed' } });
    // The hook failed on the guard's refusal (contained and counted), not silently.
    await waitFor(async () => (await hookErrors()) > before);
    expect(github.requests.length).toBe(n);
    const outbound = await t.db.all<any>("SELECT data FROM events WHERE type = 'github_sync_outbound'");
    expect(outbound.some((e) => JSON.parse(e.data).number === 22)).toBe(false);
  });
});
