import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let alpha: { id: string; key: string };
let bravo: { id: string; key: string };
let op: { token: string };

beforeAll(async () => {
  t = await startTarget();
  alpha = await registerAgent(t, 'rt-alpha', 'alpha');
  bravo = await registerAgent(t, 'rt-bravo', 'bravo');
  op = await createOperator(t, 'ctx-op', 'operator');
});
afterAll(async () => t?.close());

const put = (path: string, body: unknown, who: { agentKey?: string; admin?: boolean; token?: string }) =>
  t.call('PUT', `/context/keys/${path}`, { ...who, body });
const get = (path: string, who: { agentKey?: string; admin?: boolean; token?: string }) =>
  t.call('GET', `/context/keys/${path}`, who);

describe('namespaced keys', () => {
  it('merges objects shallowly, keeps history newest first, and counts versions', async () => {
    const a = await put('alpha/config', { data: { a: 1, b: 2 } }, { agentKey: alpha.key });
    expect(a.body).toEqual({ ok: true, namespace: 'alpha', key: 'config', version: 1 });
    const b = await put('alpha/config', { data: { b: 3 } }, { agentKey: alpha.key });
    expect(b.body.version).toBe(2);
    const g = await get('alpha/config', { agentKey: alpha.key });
    expect(g.body).toMatchObject({
      namespace: 'alpha',
      key: 'config',
      data: '{"a":1,"b":3}',
      category: 'durable',
      project_id: 'alpha',
      version: 2,
      updated_by: alpha.id,
    });
    const h = await get('alpha/config/history', { agentKey: alpha.key });
    expect(h.body).toHaveLength(1);
    expect(h.body[0]).toMatchObject({ data: '{"a":1,"b":2}', changed_by: alpha.id, project_id: 'alpha', version: 1 });
    const ev = await t.db.get<{ agent: string; project_id: string; summary: string }>(
      "SELECT agent, project_id, summary FROM events WHERE type = 'context_key_updated' ORDER BY id DESC",
    );
    expect(ev).toEqual({ agent: alpha.id, project_id: 'alpha', summary: `${alpha.id} updated context alpha:config` });
  });

  it('C5: arrays and strings replace instead of being merged into objects', async () => {
    await put('alpha/list', { data: [1, 2, 3] }, { agentKey: alpha.key });
    await put('alpha/list', { data: [4] }, { agentKey: alpha.key });
    expect((await get('alpha/list', { agentKey: alpha.key })).body.data).toBe('[4]');
    await put('alpha/list', { data: { x: 1 } }, { agentKey: alpha.key });
    expect((await get('alpha/list', { agentKey: alpha.key })).body.data).toBe('{"x":1}');
    await put('alpha/list', { data: 'plain text' }, { agentKey: alpha.key });
    expect((await get('alpha/list', { agentKey: alpha.key })).body.data).toBe('plain text');
  });

  it('a string holding a JSON object merges onto a stored object (leading spaces too); other strings are kept verbatim', async () => {
    await put('alpha/text', { data: { a: 1 } }, { agentKey: alpha.key });
    await put('alpha/text', { data: '  {"b":2}' }, { agentKey: alpha.key });
    expect((await get('alpha/text', { agentKey: alpha.key })).body.data).toBe('{"a":1,"b":2}');
    await put('alpha/text', { data: '{not json' }, { agentKey: alpha.key });
    expect((await get('alpha/text', { agentKey: alpha.key })).body.data).toBe('{not json');
    await put('alpha/text', { data: '{"c":3}' }, { agentKey: alpha.key });
    expect((await get('alpha/text', { agentKey: alpha.key })).body.data).toBe('{"c":3}');
    await put('alpha/text', { data: '[1]' }, { agentKey: alpha.key });
    expect((await get('alpha/text', { agentKey: alpha.key })).body.data).toBe('[1]');
  });

  it('C6/C7: category and expiry are kept unless given; expires_at is validated and normalised', async () => {
    await put(
      'alpha/tmp',
      { data: { v: 1 }, category: 'ephemeral', expires_at: '2999-01-01 00:00:00' },
      { agentKey: alpha.key },
    );
    await put('alpha/tmp', { data: { v: 2 } }, { agentKey: alpha.key });
    const g = await get('alpha/tmp', { agentKey: alpha.key });
    expect(g.body).toMatchObject({ category: 'ephemeral', expires_at: '2999-01-01T00:00:00.000Z' });
    const bad = await put('alpha/tmp', { data: { v: 3 }, expires_at: 'next tuesday' }, { agentKey: alpha.key });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/expires_at/);
    expect((await put('alpha/tmp', { data: 1, ttl: -5 }, { agentKey: alpha.key })).body.error).toMatch(/ttl/);
    expect((await put('alpha/tmp', { data: 1, category: { x: 1 } }, { agentKey: alpha.key })).body.error).toMatch(
      /category/,
    );
    expect((await get('alpha/tmp', { agentKey: alpha.key })).body.data).toBe('{"v":2}');
    expect((await put('alpha/tmp', {}, { agentKey: alpha.key })).body).toEqual({ error: 'data field is required' });
  });

  it('an expired key is hidden from lists and answers 404', async () => {
    await put('alpha/old', { data: { v: 1 }, expires_at: '2001-01-01T00:00:00Z' }, { agentKey: alpha.key });
    expect((await get('alpha/old', { agentKey: alpha.key })).status).toBe(404);
    const list = await get('alpha', { agentKey: alpha.key });
    expect(list.body.map((k: { key: string }) => k.key)).not.toContain('old');
    await put('alpha/soon', { data: { v: 1 }, ttl: 3600 }, { agentKey: alpha.key });
    const soon = await get('alpha/soon', { agentKey: alpha.key });
    expect(Date.parse(soon.body.expires_at)).toBeGreaterThan(Date.now() + 3500_000);
  });

  it('SEC-53: prototype-polluting keys are dropped from merged objects', async () => {
    const r = await t.call('PUT', '/context/keys/n/k', {
      agentKey: alpha.key,
      raw: '{"data":{"__proto__":{"polluted":1},"constructor":{"x":1},"ok":1}}',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(200);
    await t.call('PUT', '/context/keys/n/k', {
      agentKey: alpha.key,
      raw: '{"data":{"__proto__":{"polluted":2},"more":2}}',
      headers: { 'Content-Type': 'application/json' },
    });
    const g = await get('n/k', { agentKey: alpha.key });
    expect(JSON.parse(g.body.data)).toEqual({ ok: 1, more: 2 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const agents = await t.call('GET', '/agents', { admin: true });
    expect(agents.status).toBe(200);
    const cfg = await t.call('GET', '/context/nothing-here', { agentKey: alpha.key });
    expect(cfg.body).toEqual({ project_id: 'nothing-here', data: '{}', updated_at: null, updated_by: '' });
  });

  it('LIKE wildcards in search are literal, and lists paginate', async () => {
    await put('alpha/pct', { data: 'has 100% inside' }, { agentKey: alpha.key });
    await put('alpha/plain', { data: 'nothing special' }, { agentKey: alpha.key });
    const r = await t.call('GET', '/context/keys?namespace=alpha&search=%25', { agentKey: alpha.key });
    expect(r.body.map((k: { key: string }) => k.key)).toEqual(['pct']);
    const page = await t.call('GET', '/context/keys?namespace=alpha&limit=2&offset=1', { agentKey: alpha.key });
    expect(page.body).toHaveLength(2);
    const all = await t.call('GET', '/context/keys?namespace=alpha', { agentKey: alpha.key });
    expect(page.body.map((k: { key: string }) => k.key)).toEqual(
      all.body.slice(1, 3).map((k: { key: string }) => k.key),
    );
    expect((await t.call('GET', '/context/keys?limit=abc', { agentKey: alpha.key })).status).toBe(400);
  });
});

describe('project ownership', () => {
  it('SEC-16: another project’s key is neither readable nor writable by an agent (HEAD context-project-scope)', async () => {
    expect((await put('alpha_secrets/prod', { data: { k: 'secret' } }, { agentKey: alpha.key })).status).toBe(200);
    expect((await get('alpha_secrets/prod', { agentKey: alpha.key })).body.project_id).toBe('alpha');
    const read = await get('alpha_secrets/prod', { agentKey: bravo.key });
    expect(read.status).toBe(403);
    expect(read.body.error).toMatch(/project/);
    expect((await get('alpha_secrets/prod', { admin: true })).status).toBe(200);
    expect((await get('alpha_secrets/prod', { token: op.token })).status).toBe(200);
    expect((await put('alpha_secrets/prod', { data: { k: 'poisoned' } }, { agentKey: bravo.key })).status).toBe(403);
    expect((await get('alpha_secrets/prod', { agentKey: alpha.key })).body.data).toBe('{"k":"secret"}');
    await put('alpha_secrets/prod', { data: { k: 'secret2' } }, { agentKey: alpha.key });
    expect((await get('alpha_secrets/prod/history', { agentKey: bravo.key })).status).toBe(403);
    const hist = await get('alpha_secrets/prod/history', { agentKey: alpha.key });
    expect(hist.body.length).toBeGreaterThan(0);
    const hid = hist.body[0].id;
    expect((await t.call('POST', `/context/keys/rollback/${hid}`, { agentKey: bravo.key })).status).toBe(403);
    expect((await t.call('POST', `/context/keys/rollback/${hid}`, { agentKey: alpha.key })).status).toBe(200);
    const bulk = await t.call('POST', '/context/keys/bulk', {
      agentKey: bravo.key,
      body: {
        keys: [
          { namespace: 'alpha_secrets', key: 'prod', data: { k: 'x' } },
          { namespace: 'bravo_stuff', key: 'mine', data: { ok: 1 } },
        ],
      },
    });
    expect(bulk.status).toBe(200);
    expect(bulk.body.results[0].error).toMatch(/forbidden|cross-project/);
    expect(bulk.body.results[1]).toMatchObject({ namespace: 'bravo_stuff', key: 'mine', ok: true });
    const list = await get('alpha_secrets', { agentKey: bravo.key });
    expect(list.body.map((k: { key: string }) => k.key)).not.toContain('prod');
    const search = await t.call('GET', '/context/keys?search=secret', { agentKey: bravo.key });
    expect(search.text).not.toContain('secret2');
    // A shared key (written by an admin with no project) is readable by both.
    await put('shared/notice', { data: { hello: 1 } }, { admin: true });
    expect((await get('shared/notice', { agentKey: alpha.key })).status).toBe(200);
    expect((await get('shared/notice', { agentKey: bravo.key })).status).toBe(200);
  });

  it('C12: an agent shares a key only by opting in; history of a deleted key stays private (C9)', async () => {
    await put('alpha_pub/readme', { data: { hello: 'all' }, shared: true }, { agentKey: alpha.key });
    expect((await get('alpha_pub/readme', { agentKey: bravo.key })).body.project_id).toBeNull();
    await put('alpha_priv/token', { data: { v: 1 } }, { agentKey: alpha.key });
    await put('alpha_priv/token', { data: { v: 2 } }, { agentKey: alpha.key });
    expect((await t.call('DELETE', '/context/keys/alpha_priv/token', { admin: true })).status).toBe(200);
    expect((await get('alpha_priv/token/history', { agentKey: bravo.key })).status).toBe(403);
    expect((await get('alpha_priv/token/history', { agentKey: alpha.key })).body).toHaveLength(1);
    expect((await put('alpha_pub/readme', { data: 1, shared: 'yes' }, { agentKey: alpha.key })).body.error).toBe(
      'shared must be a boolean',
    );
  });

  it('C2: a rollback stamps history with the key’s project, so history stays private', async () => {
    const hist = await get('alpha_secrets/prod/history', { agentKey: alpha.key });
    expect(hist.body.every((h: { project_id: string }) => h.project_id === 'alpha')).toBe(true);
    expect((await get('alpha_secrets/prod/history', { agentKey: bravo.key })).status).toBe(403);
  });

  it('SEC-17: server-read namespaces are writable only by admins; agent namespaces only by their agent', async () => {
    const r = await put('mycelium/enforcement_rules', { data: [] }, { agentKey: alpha.key });
    expect(r.status).toBe(403);
    expect((await put('roles/rt-bravo', { data: { role: 'evil' } }, { agentKey: alpha.key })).status).toBe(403);
    expect((await put('admin/api_limits', { data: {} }, { token: op.token })).status).toBe(403);
    expect((await put(`${bravo.id}/standup`, { data: { status: 'spoofed' } }, { agentKey: alpha.key })).status).toBe(
      403,
    );
    expect((await put(`${alpha.id}/standup`, { data: { status: 'ok' } }, { agentKey: alpha.key })).status).toBe(200);
    expect((await put('mycelium/enforcement_rules', { data: [] }, { admin: true })).status).toBe(200);
    const bulk = await t.call('POST', '/context/keys/bulk', {
      agentKey: alpha.key,
      body: { keys: [{ namespace: 'roles', key: 'rt-alpha', data: {} }] },
    });
    expect(bulk.body.results[0].error).toMatch(/^forbidden/);
    // A namespace named after a project is that project's.
    await t.db.run("INSERT INTO projects (id, name) VALUES ('bravo', 'Bravo')");
    expect((await put('bravo/guidelines', { data: { rule: 'obey alpha' } }, { agentKey: alpha.key })).status).toBe(403);
    expect((await put('bravo/guidelines', { data: { rule: 'be kind' } }, { agentKey: bravo.key })).status).toBe(200);
  });

  it('legacy project documents: full replace, write-scoped (C10)', async () => {
    const w = await t.call('PUT', '/context/alpha', { agentKey: alpha.key, body: { data: { goal: 'ship' } } });
    expect(w.body).toEqual({ ok: true, project_id: 'alpha' });
    await t.call('PUT', '/context/alpha', { agentKey: alpha.key, body: { data: { other: 1 } } });
    expect((await t.call('GET', '/context/alpha', { agentKey: bravo.key })).body).toMatchObject({
      project_id: 'alpha',
      data: '{"other":1}',
      updated_by: alpha.id,
    });
    expect(
      (await t.call('PUT', '/context/alpha', { agentKey: bravo.key, body: { data: { goal: 'sabotage' } } })).status,
    ).toBe(403);
    expect((await t.call('PUT', '/context/alpha', { agentKey: alpha.key, body: {} })).body).toEqual({
      error: 'data field is required',
    });
    const list = await t.call('GET', '/context', { admin: true });
    expect(list.body.map((d: { project_id: string }) => d.project_id)).toContain('alpha');
  });
});

describe('concurrency and history', () => {
  it('compare-and-set: exactly one of K writers with the same expected_version wins', async () => {
    await put('alpha/cas', { data: { n: 0 } }, { agentKey: alpha.key });
    const K = 12;
    const rs = await Promise.all(
      Array.from({ length: K }, (_, i) =>
        put('alpha/cas', { data: { n: i + 1 }, expected_version: 1 }, { agentKey: alpha.key }),
      ),
    );
    const ok = rs.filter((r) => r.status === 200);
    const conflicts = rs.filter((r) => r.status === 409);
    expect(ok).toHaveLength(1);
    expect(conflicts).toHaveLength(K - 1);
    expect(conflicts[0].body).toMatchObject({ error: 'Version conflict', current_version: 2, expected_version: 1 });
    const g = await get('alpha/cas', { agentKey: alpha.key });
    expect(g.body.version).toBe(2);
    const n = JSON.parse(g.body.data).n;
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(K);
    expect((await get('alpha/cas/history', { agentKey: alpha.key })).body).toHaveLength(1);
    // expected_version 0 = create only if absent.
    const creates = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        put('alpha/fresh', { data: { by: i }, expected_version: 0 }, { agentKey: alpha.key }),
      ),
    );
    expect(creates.filter((r) => r.status === 200)).toHaveLength(1);
    expect(creates.filter((r) => r.status === 409)).toHaveLength(5);
  });

  it('concurrent merges without a version never lose a writer’s field', async () => {
    await put('alpha/merge', { data: { start: true } }, { agentKey: alpha.key });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => put('alpha/merge', { data: { [`f${i}`]: i } }, { agentKey: alpha.key })),
    );
    const g = await get('alpha/merge', { agentKey: alpha.key });
    expect(Object.keys(JSON.parse(g.body.data)).sort()).toEqual([
      'f0',
      'f1',
      'f2',
      'f3',
      'f4',
      'f5',
      'f6',
      'f7',
      'f8',
      'f9',
      'start',
    ]);
    expect(g.body.version).toBe(11);
  });

  it('rollback is a new version; history is never rewritten; gone keys answer 404 (C8)', async () => {
    await put('alpha/rb', { data: 'one' }, { agentKey: alpha.key });
    await put('alpha/rb', { data: 'two' }, { agentKey: alpha.key });
    await put('alpha/rb', { data: 'three' }, { agentKey: alpha.key });
    const before = (await get('alpha/rb/history?limit=100', { agentKey: alpha.key })).body;
    const one = before.find((h: { data: string }) => h.data === 'one');
    const rb = await t.call('POST', `/context/keys/rollback/${one.id}`, { agentKey: alpha.key });
    expect(rb.body).toEqual({ ok: true, namespace: 'alpha', key: 'rb', restored_from: one.id, version: 4 });
    const g = await get('alpha/rb', { agentKey: alpha.key });
    expect(g.body).toMatchObject({ data: 'one', version: 4 });
    const after = (await get('alpha/rb/history?limit=100', { agentKey: alpha.key })).body;
    expect(after).toHaveLength(before.length + 1);
    expect(after.slice(1)).toEqual(before);
    expect(after[0]).toMatchObject({ data: 'three', version: 3 });
    expect((await t.call('POST', '/context/keys/rollback/abc', { agentKey: alpha.key })).body).toEqual({
      error: 'Invalid history ID',
    });
    expect((await t.call('POST', '/context/keys/rollback/0', { agentKey: alpha.key })).body).toEqual({
      error: 'Invalid history ID',
    });
    expect((await t.call('POST', '/context/keys/rollback/99999999', { agentKey: alpha.key })).body).toEqual({
      error: 'History entry not found',
    });
    expect((await t.call('DELETE', '/context/keys/alpha/rb', { admin: true })).body).toEqual({
      ok: true,
      deleted: 'alpha:rb',
    });
    expect((await t.call('POST', `/context/keys/rollback/${one.id}`, { agentKey: alpha.key })).status).toBe(404);
  });

  it('history keeps the newest 50 versions per key', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => ({ namespace: 'alpha', key: 'busy', data: { i } }));
    await t.call('POST', '/context/keys/bulk', { agentKey: alpha.key, body: { keys } });
    await t.call('POST', '/context/keys/bulk', { agentKey: alpha.key, body: { keys } });
    const n = await t.db.get<{ n: number; maxv: number }>(
      "SELECT COUNT(*) AS n, MAX(version) AS maxv FROM context_history WHERE namespace = 'alpha' AND key = 'busy'",
    );
    expect(n).toEqual({ n: 50, maxv: 59 });
  });

  it('the namespace cap refuses new keys and never deletes another project’s keys (C3)', async () => {
    for (let b = 0; b < 4; b++) {
      const keys = Array.from({ length: 50 }, (_, i) => ({ namespace: 'crowded', key: `a${b * 50 + i}`, data: { i } }));
      const r = await t.call('POST', '/context/keys/bulk', { agentKey: alpha.key, body: { keys } });
      expect(r.body.results.every((x: { ok?: boolean }) => x.ok)).toBe(true);
    }
    await put('crowded/bravo-key', { data: { mine: true } }, { agentKey: bravo.key });
    const full = await put('crowded/one-more', { data: 1 }, { agentKey: alpha.key });
    expect(full.status).toBe(409);
    expect(full.body.error).toBe('Namespace crowded is full (200 keys)');
    expect((await put('crowded/a0', { data: { i: 'updated' } }, { agentKey: alpha.key })).status).toBe(200);
    expect((await put('crowded/bravo-2', { data: 1 }, { agentKey: bravo.key })).status).toBe(200);
    const n = await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM context_keys WHERE namespace = 'crowded'");
    expect(n?.n).toBe(202);
  });

  it('bulk validation, admin delete, bulk-delete and stats', async () => {
    expect((await t.call('POST', '/context/keys/bulk', { agentKey: alpha.key, body: {} })).body).toEqual({
      error: 'keys array is required',
    });
    const many = Array.from({ length: 51 }, (_, i) => ({ namespace: 'alpha', key: `k${i}`, data: 1 }));
    expect((await t.call('POST', '/context/keys/bulk', { agentKey: alpha.key, body: { keys: many } })).body).toEqual({
      error: 'Maximum 50 keys per batch',
    });
    const partial = await t.call('POST', '/context/keys/bulk', {
      agentKey: alpha.key,
      body: { keys: [{ namespace: 'alpha', key: 'x' }] },
    });
    expect(partial.body.results[0]).toEqual({
      namespace: 'alpha',
      key: 'x',
      error: 'namespace, key, and data are required',
    });
    // Single-key delete is open to owners (C9, test/api/review-gaps); a stranger is still refused.
    expect((await t.call('DELETE', '/context/keys/alpha/plain', { agentKey: bravo.key })).status).toBe(403);
    const ids = (await t.db.all<{ id: number }>("SELECT id FROM context_keys WHERE namespace = 'crowded' LIMIT 5")).map(
      (r) => r.id,
    );
    expect((await t.call('POST', '/context/keys/bulk-delete', { agentKey: alpha.key, body: { ids } })).status).toBe(
      401,
    );
    expect(
      (await t.call('POST', '/context/keys/bulk-delete', { admin: true, body: { ids: ['1; DROP'] } })).status,
    ).toBe(400);
    expect((await t.call('POST', '/context/keys/bulk-delete', { admin: true, body: { ids } })).body).toEqual({
      ok: true,
      deleted: 5,
    });
    const stats = await t.call('GET', '/context/stats', { admin: true });
    expect(stats.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ namespace: 'crowded', category: 'durable', count: 197 })]),
    );
    expect((await t.call('GET', '/context/stats', { agentKey: alpha.key })).status).toBe(401);
    const ns = await t.call('GET', '/context/namespaces', { agentKey: bravo.key });
    expect(ns.body.find((n: { namespace: string }) => n.namespace === 'alpha_secrets')).toBeUndefined();
  });
});
