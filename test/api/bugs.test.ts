import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let alice: { id: string; key: string };
let bob: { id: string; key: string };
let outsider: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  alice = await registerAgent(t, 'alice', 'proj-a');
  bob = await registerAgent(t, 'bob', 'proj-a');
  outsider = await registerAgent(t, 'olga', 'proj-b');
});
afterAll(async () => t?.close());

async function newBug(body: Record<string, unknown> = {}) {
  const r = await t.call('POST', '/bugs', {
    admin: true,
    body: { title: 'Crash', description: 'boom', project_id: 'proj-a', ...body },
  });
  if (r.status !== 200) throw new Error(`bug create failed ${r.status} ${r.text}`);
  return r.body.id as number;
}
const bugRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM bugs WHERE id = ?', [id]);

describe('bugs', () => {
  it('GET /bugs on an empty table: {bugs:[], counts} with integer zeros (W24)', async () => {
    const r = await t.call('GET', '/bugs', { agentKey: alice.key });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ bugs: [], counts: { open: 0, in_progress: 0, fixed: 0, total: 0 } });
  });

  it('files a bug: raw text, reporter = caller, defaults, diagnostic_data as JSON text, bug_created event', async () => {
    const r = await t.call('POST', '/bugs', {
      agentKey: alice.key,
      body: {
        title: 'Login <fails>',
        description: 'on "submit" & more',
        project: 'proj-a',
        reporter: 'spoof',
        diagnostic_data: { stack: 'x' },
      },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true, id: expect.any(Number) });
    const g = await t.call('GET', `/bugs/${r.body.id}`, { agentKey: outsider.key });
    expect(g.body).toMatchObject({
      title: 'Login <fails>',
      description: 'on "submit" & more',
      project_id: 'proj-a',
      reporter: 'alice',
      category: 'other',
      severity: 'normal',
      status: 'open',
      assignee: null,
      admin_notes: '',
      diagnostic_data: '{"stack":"x"}',
    });
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'bug_created' ORDER BY id DESC LIMIT 1",
    );
    expect(ev).toMatchObject({ agent: 'alice', summary: `alice filed bug #${r.body.id}: Login <fails>` });
    expect(JSON.parse(ev!.data)).toEqual({
      bug_id: r.body.id,
      title: 'Login <fails>',
      project_id: 'proj-a',
      severity: 'normal',
      reporter: 'alice',
      assignee: null,
    });
  });

  it('requires title and description; validates severity and the project categories', async () => {
    expect((await t.call('POST', '/bugs', { admin: true, body: { title: 't' } })).body).toEqual({
      error: 'title and description are required',
    });
    expect((await t.call('POST', '/bugs', { admin: true, body: { description: 'd', title: ' ' } })).body).toEqual({
      error: 'title and description are required',
    });
    const sev = await t.call('POST', '/bugs', {
      admin: true,
      body: { title: 't', description: 'd', severity: 'blocker' },
    });
    expect(sev.body).toMatchObject({
      error: 'severity must be one of: low, normal, high, critical',
      code: 'invalid_enum',
      allowed: ['low', 'normal', 'high', 'critical'],
    });
    const cat = await t.call('POST', '/bugs', {
      admin: true,
      body: { title: 't', description: 'd', category: 'nonsense' },
    });
    expect(cat.status).toBe(400);
    expect(cat.body.error).toBe('category must be one of: bug, feature, ui, crash, api, infrastructure, other');
    await t.call('POST', '/projects', { admin: true, body: { id: 'game', name: 'Game' } });
    await t.call('PUT', '/projects/game', { admin: true, body: { bug_categories: ['gameplay', 'art'] } });
    const custom = await t.call('POST', '/bugs', {
      admin: true,
      body: { title: 't', description: 'd', project_id: 'game', category: 'art', severity: 'critical' },
    });
    expect(custom.status).toBe(200);
    expect(await bugRow(custom.body.id)).toMatchObject({ category: 'art', severity: 'critical' });
    expect(
      (
        await t.call('POST', '/bugs', {
          admin: true,
          body: { title: 't', description: 'd', project_id: 'game', category: 'ui' },
        })
      ).status,
    ).toBe(400);
    expect(
      (await t.call('POST', '/bugs', { admin: true, body: { title: 'x'.repeat(501), description: 'd' } })).body.error,
    ).toBe('title exceeds max length (500 chars)');
  });

  it('SEC-19: an agent files bugs only in its own project', async () => {
    const r = await t.call('POST', '/bugs', {
      agentKey: outsider.key,
      body: { title: 't', description: 'd', project_id: 'proj-a' },
    });
    expect(r.status).toBe(403);
  });

  it('lists with filters newest first; counts are global', async () => {
    const a = await newBug({ project_id: 'bl', severity: 'high' });
    const b = await newBug({ project_id: 'bl' });
    const r = await t.call('GET', '/bugs?project_id=bl', { admin: true });
    expect(r.body.bugs.map((x: any) => x.id)).toEqual([b, a]);
    expect(r.body.counts.total).toBeGreaterThanOrEqual(2);
    expect(
      (await t.call('GET', '/bugs?project_id=bl&severity=high', { admin: true })).body.bugs.map((x: any) => x.id),
    ).toEqual([a]);
    expect((await t.call('GET', '/bugs?project_id=bl&limit=1', { admin: true })).body.bugs).toHaveLength(1);
    expect((await t.call('GET', '/bugs/nope', { admin: true })).body).toEqual({ error: 'Bug not found' });
  });

  it('REL-03: concurrent claims → one winner, the other 409 {error:"Bug already claimed", assignee}; re-claim idempotent; fixed → 409', async () => {
    const id = await newBug();
    const [x, y] = await Promise.all([
      t.call('POST', `/bugs/${id}/claim`, { agentKey: alice.key }),
      t.call('POST', `/bugs/${id}/claim`, { agentKey: bob.key }),
    ]);
    expect([x.status, y.status].sort()).toEqual([200, 409]);
    const win = x.status === 200 ? x : y;
    const lose = x.status === 200 ? y : x;
    expect(win.body).toMatchObject({ ok: true, id, status: 'in_progress' });
    expect(lose.body).toEqual({ error: 'Bug already claimed', assignee: win.body.assignee });
    const again = await t.call('POST', `/bugs/${id}/claim`, {
      agentKey: win.body.assignee === 'alice' ? alice.key : bob.key,
    });
    expect(again.status).toBe(200);
    const claimed = (await t.db.all<{ data: string }>("SELECT data FROM events WHERE type = 'bug_claimed'")).filter(
      (e) => JSON.parse(e.data).bug_id === id,
    );
    expect(claimed).toHaveLength(1);

    const fixed = await newBug();
    await t.call('PUT', `/bugs/${fixed}`, { admin: true, body: { status: 'fixed' } });
    const late = await t.call('POST', `/bugs/${fixed}/claim`, { agentKey: bob.key });
    expect(late.status).toBe(409);
    expect((await bugRow(fixed))?.status).toBe('fixed');
  });

  it('SEC-13: cross-project claim 403; agent_id honoured only for admins', async () => {
    const id = await newBug();
    expect((await t.call('POST', `/bugs/${id}/claim`, { agentKey: outsider.key })).status).toBe(403);
    expect((await bugRow(id))?.assignee).toBeNull();
    const spoof = await t.call('POST', `/bugs/${id}/claim`, { agentKey: alice.key, body: { agent_id: 'bob' } });
    expect(spoof.body.assignee).toBe('alice');
    const id2 = await newBug();
    expect((await t.call('POST', `/bugs/${id2}/claim`, { admin: true, body: { agent_id: 'bob' } })).body).toEqual({
      ok: true,
      id: id2,
      assignee: 'bob',
      status: 'in_progress',
      lease_token: expect.stringMatching(/^[0-9a-f]{32}$/),
      lease_ttl_seconds: 900,
    });
    expect((await t.call('POST', '/bugs/424242/claim', { agentKey: alice.key })).body).toEqual({
      error: 'Bug not found',
    });
  });

  it('kill switch: bug claims answer 503 while frozen', async () => {
    const id = await newBug();
    await t.db.run("UPDATE instance_config SET value = 'frozen' WHERE key = 'admin_status'");
    try {
      const r = await t.call('POST', `/bugs/${id}/claim`, { agentKey: alice.key });
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('Claude Admin is frozen. Work routing paused. Contact a human operator.');
    } finally {
      await t.db.run("UPDATE instance_config SET value = 'coordinator' WHERE key = 'admin_status'");
    }
    expect((await bugRow(id))?.assignee).toBeNull();
  });

  it('SEC-51/REL-22: PUT validates status and severity; the row is unchanged on 400; reopening a fixed bug is allowed', async () => {
    const id = await newBug();
    const bad = await t.call('PUT', `/bugs/${id}`, { agentKey: alice.key, body: { status: 'nope', admin_notes: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      code: 'invalid_enum',
      field: 'status',
      value: 'nope',
      allowed: ['open', 'in_progress', 'fixed', 'closed'],
    });
    expect((await bugRow(id))?.admin_notes).toBe('');
    const ok = await t.call('PUT', `/bugs/${id}`, {
      agentKey: alice.key,
      body: { status: 'fixed', admin_notes: 'patched', title: 'ignored' },
    });
    expect(ok.body).toEqual({ ok: true, id });
    expect(await bugRow(id)).toMatchObject({ status: 'fixed', admin_notes: 'patched', title: 'Crash' });
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'bug_updated' ORDER BY id DESC LIMIT 1",
    );
    expect(ev?.summary).toBe(`alice set bug #${id} to fixed`);
    expect((await t.call('PUT', `/bugs/${id}`, { agentKey: alice.key, body: { status: 'open' } })).status).toBe(200);
    expect((await t.call('PUT', '/bugs/abc', { agentKey: alice.key, body: { status: 'open' } })).body).toEqual({
      error: 'Bug not found',
    });
  });

  it('fixing a bug credits its assignee once', async () => {
    const id = await newBug({ assignee: 'bob' });
    const before =
      (await t.db.get<{ n: number }>("SELECT total_bugs_fixed AS n FROM agent_profiles WHERE agent_id = 'bob'"))?.n ??
      0;
    await t.call('PUT', `/bugs/${id}`, { agentKey: alice.key, body: { status: 'fixed' } });
    await t.call('PUT', `/bugs/${id}`, { agentKey: alice.key, body: { status: 'closed' } });
    expect(
      (await t.db.get<{ n: number }>("SELECT total_bugs_fixed AS n FROM agent_profiles WHERE agent_id = 'bob'"))?.n,
    ).toBe(before + 1);
  });

  it('SEC-19: PUT from another project is 403; an agent cannot take a bug in progress under someone else', async () => {
    const id = await newBug();
    expect((await t.call('PUT', `/bugs/${id}`, { agentKey: outsider.key, body: { status: 'closed' } })).status).toBe(
      403,
    );
    await t.call('POST', `/bugs/${id}/claim`, { agentKey: alice.key });
    const steal = await t.call('PUT', `/bugs/${id}`, {
      agentKey: bob.key,
      body: { assignee: 'bob', status: 'in_progress' },
    });
    expect(steal.status).toBe(409);
    expect(steal.body).toEqual({ error: 'Bug already claimed', assignee: 'alice' });
  });

  it('DELETE is admin only and emits bug_deleted', async () => {
    const id = await newBug();
    expect((await t.call('DELETE', `/bugs/${id}`, { agentKey: alice.key })).status).toBe(401);
    expect((await t.call('DELETE', `/bugs/${id}`, { admin: true })).body).toEqual({ ok: true, id });
    expect(await bugRow(id)).toBeUndefined();
    expect((await t.call('DELETE', `/bugs/${id}`, { admin: true })).status).toBe(404);
    const ev = await t.db.get<Record<string, any>>(
      "SELECT * FROM events WHERE type = 'bug_deleted' ORDER BY id DESC LIMIT 1",
    );
    expect(JSON.parse(ev!.data)).toEqual({ bug_id: id });
  });

  it('agent write rate limit applies to POST /bugs', async () => {
    const spam = await registerAgent(t, 'bugspam', 'bs');
    let last;
    for (let i = 0; i < 31; i++)
      last = await t.call('POST', '/bugs', {
        agentKey: spam.key,
        body: { title: `b${i}`, description: 'd', project_id: 'bs' },
      });
    expect(last!.status).toBe(429);
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});
