import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { startFakeGithub, type FakeServer } from '../support/fake-servers.js';

const TOKEN = 'ghp_test_token_for_the_fake';
let t: Target;
let bare: Target;
let gh: FakeServer;
let key = '';
beforeAll(async () => {
  gh = await startFakeGithub(TOKEN);
  t = await startTarget({ env: { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: gh.url } });
  bare = await startTarget();
  key = (await registerAgent(t, 'gh-agent', 'p')).key;
});
afterAll(async () => {
  await t?.close();
  await bare?.close();
  await gh?.close();
});

describe('GitHub PR proxy (spec 05 §14) against a local fake GitHub', () => {
  it('lists PRs in the documented shape with the documented upstream headers; a deleted user is author null', async () => {
    const r = await t.call('GET', '/github/prs/acme/game', { agentKey: key });
    expect(r.status).toBe(200);
    expect(r.body.count).toBe(2);
    expect(r.body.prs[0]).toEqual({
      number: 12,
      title: 'Add sprites',
      author: 'octo',
      branch: 'feat/sprites',
      base: 'main',
      state: 'open',
      draft: false,
      url: 'https://github.example/acme/game/pull/12',
      created_at: '2026-01-01T00:00:00Z',
      updated_at: '2026-01-02T00:00:00Z',
    });
    expect(r.body.prs[1]).toMatchObject({ number: 13, author: null, draft: true });
    const up = gh.requests.at(-1)!;
    expect(up.url).toBe('/repos/acme/game/pulls?state=open&per_page=30');
    expect(up.headers).toMatchObject({
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'Mycelium/1.0',
      authorization: `Bearer ${TOKEN}`,
    });
    expect((await t.call('GET', '/github/prs/acme/game?state=closed', { agentKey: key })).body).toEqual({
      count: 0,
      prs: [],
    });
  });

  it('validates owner, repo and state before calling GitHub (no path walking with the server token)', async () => {
    const before = gh.requests.length;
    expect((await t.call('GET', '/github/prs/acme/game?state=merged', { agentKey: key })).body.code).toBe(
      'invalid_enum',
    );
    expect((await t.call('GET', '/github/prs/..%2F..%2Fuser/game', { agentKey: key })).body).toEqual({
      error: 'invalid owner',
    });
    expect((await t.call('GET', '/github/prs/acme/%2E%2E', { agentKey: key })).status).toBeGreaterThanOrEqual(400);
    expect((await t.call('GET', '/github/prs/acme/ga%20me', { agentKey: key })).body).toEqual({
      error: 'invalid repo',
    });
    expect(gh.requests.length).toBe(before);
  });

  it('upstream errors keep their status and message', async () => {
    const r = await t.call('GET', '/github/prs/acme/unknown', { agentKey: key });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'Not Found' });
  });

  it('create and merge are admin-only; create needs 201 upstream; merge answers {number, sha, merged}', async () => {
    expect(
      (await t.call('POST', '/github/prs/acme/game', { agentKey: key, body: { title: 'x', head: 'a', base: 'main' } }))
        .status,
    ).toBe(401);
    expect(
      (await t.call('POST', '/github/prs/acme/game', { admin: true, body: { head: 'a', base: 'main' } })).body,
    ).toEqual({ error: 'title is required' });
    const c = await t.call('POST', '/github/prs/acme/game', {
      admin: true,
      body: { title: 'New', head: 'feat', base: 'main', draft: true },
    });
    expect(c.body).toEqual({ number: 99, title: 'New', url: 'https://github.example/acme/game/pull/99' });
    expect(JSON.parse(gh.requests.at(-1)!.body)).toEqual({
      title: 'New',
      head: 'feat',
      base: 'main',
      body: '',
      draft: true,
    });
    const bad = await t.call('POST', '/github/prs/acme/game', {
      admin: true,
      body: { title: 'New', head: 'missing', base: 'main' },
    });
    expect(bad.status).toBe(422);
    expect(bad.body).toEqual({ error: 'Validation Failed' });
    expect((await t.call('POST', '/github/prs/acme/game/12/merge', { agentKey: key, body: {} })).status).toBe(401);
    const m = await t.call('POST', '/github/prs/acme/game/12/merge', { admin: true, body: {} });
    expect(m.body).toEqual({ number: 12, sha: 'abc123', merged: true });
    expect(JSON.parse(gh.requests.at(-1)!.body)).toEqual({ merge_method: 'squash' });
    const no = await t.call('POST', '/github/prs/acme/game/13/merge', {
      admin: true,
      body: { merge_method: 'rebase' },
    });
    expect(no.status).toBe(405);
    expect(no.body).toEqual({ error: 'Pull Request is not mergeable' });
    expect((await t.call('POST', '/github/prs/acme/game/1x/merge', { admin: true, body: {} })).status).toBe(400);
    expect(
      (await t.call('POST', '/github/prs/acme/game/12/merge', { admin: true, body: { merge_method: 'yolo' } })).body
        .code,
    ).toBe('invalid_enum');
  });

  it('a blocking enforcement rule for merge_pr refuses the merge with 403 before GitHub is called', async () => {
    await t.call('PUT', '/context/keys/mycelium/enforcement_rules', {
      admin: true,
      body: {
        data: [
          {
            id: 'freeze-game',
            tool: 'merge_pr',
            severity: 'block',
            message: 'Release freeze',
            match: { repo: 'game' },
          },
        ],
      },
    });
    const before = gh.requests.length;
    const r = await t.call('POST', '/github/prs/acme/game/12/merge', { admin: true, body: {} });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'Release freeze', enforcement_rule: 'freeze-game' });
    expect(gh.requests.length).toBe(before);
  });

  it('without GITHUB_TOKEN: auth is checked first (401), then 503', async () => {
    expect((await bare.call('GET', '/github/prs/acme/game')).status).toBe(401);
    expect((await bare.call('GET', '/github/prs/acme/game', { admin: true })).body).toEqual({
      error: 'GITHUB_TOKEN not configured on server',
    });
    expect((await bare.call('GET', '/github/prs/acme/game', { admin: true })).status).toBe(503);
  });
});
