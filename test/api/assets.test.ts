import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let alpha = '';
let bravo = '';
beforeAll(async () => {
  t = await startTarget({ env: { UPLOAD_MAX_BYTES: '4096' } });
  alpha = (await registerAgent(t, 'asset-alpha', 'alpha')).key;
  bravo = (await registerAgent(t, 'asset-bravo', 'bravo')).key;
});
afterAll(async () => t?.close());

const form = (content: string | Uint8Array, name = 'sprite.png', field = 'file') => {
  const f = new FormData();
  f.append(field, new Blob([content as BlobPart]), name);
  return f;
};

describe('assets (spec 05 §9)', () => {
  it('registers with defaults, escapes the name, emits asset_registered, lists and reads', async () => {
    const r = await t.call('POST', '/assets', { agentKey: alpha, body: { name: '<b>hero</b>', metadata: { w: 32 } } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ id: expect.any(Number), name: '&lt;b&gt;hero&lt;/b&gt;' });
    const row = (await t.call('GET', `/assets/${r.body.id}`, { agentKey: bravo })).body;
    expect(row).toMatchObject({
      type: 'sprite',
      project_id: 'alpha',
      status: 'requested',
      requester: 'asset-alpha',
      metadata: '{"w":32}',
      path: '',
    });
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'asset_registered' ORDER BY id DESC LIMIT 1");
    expect(ev).toMatchObject({
      agent: 'asset-alpha',
      project_id: 'alpha',
      summary: 'asset-alpha registered asset: &lt;b&gt;hero&lt;/b&gt;',
    });
    expect(JSON.parse(ev.data)).toEqual({ asset_id: r.body.id });
    const list = await t.call('GET', '/assets?project_id=alpha&status=requested', { agentKey: bravo });
    expect(list.body.map((a: any) => a.id)).toContain(r.body.id);
    expect((await t.call('GET', '/assets/999999', { agentKey: alpha })).body).toEqual({ error: 'Asset not found' });
    expect((await t.call('GET', '/assets/1abc', { agentKey: alpha })).status).toBe(404);
    expect((await t.call('POST', '/assets', { agentKey: alpha, body: {} })).body).toEqual({
      error: 'name is required',
    });
  });

  it('REL-22: status is the canonical enum; the 400 lists the allowed values', async () => {
    const bad = await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'x', status: 'done' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      code: 'invalid_enum',
      field: 'status',
      value: 'done',
      allowed: ['requested', 'in_progress', 'ready', 'delivered', 'cancelled'],
    });
    expect(bad.body.error).toBe('status must be one of: requested, in_progress, ready, delivered, cancelled');
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'y' } })).body.id;
    expect((await t.call('PUT', `/assets/${id}`, { agentKey: alpha, body: { status: 'finished' } })).body.code).toBe(
      'invalid_enum',
    );
    expect((await t.call('GET', '/assets?status=nope', { agentKey: alpha })).status).toBe(400);
    const ok = await t.call('PUT', `/assets/${id}`, {
      agentKey: alpha,
      body: { status: 'in_progress', prompt: 'a knight' },
    });
    expect(ok.body).toEqual({ ok: true, id });
    expect(await t.db.get<any>('SELECT status, prompt FROM assets WHERE id = ?', [id])).toEqual({
      status: 'in_progress',
      prompt: 'a knight',
    });
    expect(
      await t.db.get<any>("SELECT summary FROM events WHERE type = 'asset_in_progress' ORDER BY id DESC LIMIT 1"),
    ).toEqual({ summary: 'asset-alpha set asset y to in_progress' });
    // An empty body is a no-op success.
    expect((await t.call('PUT', `/assets/${id}`, { agentKey: alpha, body: {} })).body).toEqual({ ok: true, id });
  });

  it('SEC-19: an agent writes assets only in its own project (create, update, link, upload)', async () => {
    const cross = await t.call('POST', '/assets', { agentKey: bravo, body: { name: 'intruder', project_id: 'alpha' } });
    expect(cross.status).toBe(403);
    expect(cross.body.error).toMatch(/project alpha/);
    expect(await t.db.get("SELECT id FROM assets WHERE name = 'intruder'")).toBeUndefined();
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'mine' } })).body.id;
    const put = await t.call('PUT', `/assets/${id}`, { agentKey: bravo, body: { status: 'ready' } });
    expect(put.status).toBe(403);
    expect((await t.db.get<any>('SELECT status FROM assets WHERE id = ?', [id])).status).toBe('requested');
    expect((await t.call('POST', `/assets/${id}/upload`, { agentKey: bravo, raw: form('x') })).status).toBe(403);
    expect((await t.db.get<any>('SELECT file_path FROM assets WHERE id = ?', [id])).file_path).toBe('');
    // `shared` is the cross-project registry: any agent may register and edit there.
    const shared = await t.call('POST', '/assets', { agentKey: bravo, body: { name: 'common', project_id: 'shared' } });
    expect(shared.status).toBe(200);
    expect(
      (await t.call('PUT', `/assets/${shared.body.id}`, { agentKey: alpha, body: { status: 'in_progress' } })).status,
    ).toBe(200);
    // Admins and operators pass.
    expect((await t.call('PUT', `/assets/${id}`, { admin: true, body: { status: 'ready' } })).status).toBe(200);
  });

  it('SEC-21: `..` and absolute paths are refused with 400 invalid asset path, on create and update', async () => {
    for (const path of ['../mycelium.db', '/etc/passwd', 'a/../../b', 'C:\\x', '\\\\host\\share']) {
      const c = await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'p', path } });
      expect(c.status).toBe(400);
      expect(c.body).toEqual({ error: 'invalid asset path' });
    }
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'q', path: 'sprites/q.png' } })).body
      .id;
    expect((await t.call('PUT', `/assets/${id}`, { agentKey: alpha, body: { path: '../x' } })).body).toEqual({
      error: 'invalid asset path',
    });
    expect((await t.db.get<any>('SELECT path FROM assets WHERE id = ?', [id])).path).toBe('sprites/q.png');
  });

  it('SEC-21: agents cannot set file_path or download_url; a seeded traversal row downloads nothing (403)', async () => {
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'fp', status: 'ready' } })).body.id;
    const r = await t.call('PUT', `/assets/${id}`, {
      agentKey: alpha,
      body: { file_path: `${t.dataDir}/mycelium.db` },
    });
    expect(r.status).toBe(403);
    expect(
      (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'fp2', file_path: '/etc/passwd' } })).status,
    ).toBe(403);
    expect((await t.call('PUT', `/assets/${id}`, { admin: true, body: { file_path: '/etc/passwd' } })).status).toBe(
      400,
    );
    // Rows written behind the API's back (old data, a bug elsewhere) still cannot reach the disk.
    await t.db.run("UPDATE assets SET path = '../mycelium.db' WHERE id = ?", [id]);
    const d1 = await t.call('GET', `/assets/${id}/download`, { agentKey: alpha });
    expect(d1.status).toBe(403);
    expect(d1.body).toEqual({ error: 'File path outside allowed directory' });
    expect(d1.text).not.toContain('SQLite format');
    await t.db.run('UPDATE assets SET path = ?, file_path = ? WHERE id = ?', ['x', `${t.dataDir}/mycelium.db`, id]);
    const d2 = await t.call('GET', `/assets/${id}/download`, { agentKey: alpha });
    expect(d2.status).toBe(403);
    expect(d2.text).not.toContain('SQLite format');
    const none = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'nofile' } })).body.id;
    expect((await t.call('GET', `/assets/${none}/download`, { agentKey: alpha })).body).toEqual({
      error: 'No file attached to this asset',
    });
  });

  it('upload → ready with download_url; download is an attachment with the same bytes; re-upload replaces the blob', async () => {
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'hero' } })).body.id;
    expect((await t.call('POST', `/assets/${id}/upload`, { agentKey: alpha })).body).toEqual({
      error: 'No file uploaded',
    });
    const up = await t.call('POST', `/assets/${id}/upload`, {
      agentKey: alpha,
      raw: form('PNGDATA-1', 'hero sprite.png'),
    });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({
      ok: true,
      asset_id: id,
      download_url: `/api/mycelium/assets/${id}/download`,
      size: 9,
    });
    const row = await t.db.get<any>('SELECT * FROM assets WHERE id = ?', [id]);
    expect(row.status).toBe('ready');
    expect(row.path).toMatch(/^hero_sprite_\d+_[0-9a-f]{8}\.png$/);
    expect(row.file_path).toMatch(new RegExp(`^assets/${id}/[0-9a-f-]{36}$`));
    expect(await t.db.get("SELECT summary FROM events WHERE type = 'asset_uploaded' ORDER BY id DESC LIMIT 1")).toEqual(
      { summary: `Asset #${id} (hero) uploaded` },
    );
    const d = await t.call('GET', `/assets/${id}/download`, { agentKey: bravo });
    expect(d.status).toBe(200);
    expect(d.text).toBe('PNGDATA-1');
    expect(d.headers.get('content-disposition')).toBe(`attachment; filename="${row.path}"`);
    expect(d.headers.get('content-type')).toBe('image/png');
    await t.call('POST', `/assets/${id}/upload`, { agentKey: alpha, raw: form('PNGDATA-2') });
    expect((await t.call('GET', `/assets/${id}/download`, { agentKey: alpha })).text).toBe('PNGDATA-2');
    const after = await t.db.get<any>('SELECT file_path FROM assets WHERE id = ?', [id]);
    expect(after.file_path).not.toBe(row.file_path);
  });

  it('uploads: 401 before the body is read (SEC-22), 404 for an unknown asset, 413 past the limit with nothing kept, 400 for a wrong field', async () => {
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'lim' } })).body.id;
    expect((await t.call('POST', `/assets/${id}/upload`, { raw: form('x') })).status).toBe(401);
    expect((await t.call('POST', '/assets/999999/upload', { agentKey: alpha, raw: form('x') })).body).toEqual({
      error: 'Asset not found',
    });
    const big = await t.call('POST', `/assets/${id}/upload`, { agentKey: alpha, raw: form(new Uint8Array(5000)) });
    expect(big.status).toBe(413);
    expect(big.body).toEqual({ error: 'File too large' });
    const wrong = await t.call('POST', `/assets/${id}/upload`, { agentKey: alpha, raw: form('x', 'a.png', 'upload') });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatch(/use field name "file"/);
    const row = await t.db.get<any>('SELECT status, file_path FROM assets WHERE id = ?', [id]);
    expect(row).toEqual({ status: 'requested', file_path: '' });
  });

  it('an asset whose path names a temp file downloads that file', async () => {
    const f = await t.call('POST', '/files', { agentKey: alpha, raw: form('TEMPBYTES', 'render.txt') });
    const id = (
      await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'r', path: f.body.filename, status: 'ready' } })
    ).body.id;
    const d = await t.call('GET', `/assets/${id}/download`, { agentKey: alpha });
    expect(d.status).toBe(200);
    expect(d.text).toBe('TEMPBYTES');
    await t.db.run("UPDATE assets SET path = 'gone_1.txt' WHERE id = ?", [id]);
    expect((await t.call('GET', `/assets/${id}/download`, { agentKey: alpha })).body).toEqual({
      error: 'File not found on disk',
    });
  });

  it('link-job validates before writing: missing fields 400, unknown job 404', async () => {
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'lj' } })).body.id;
    expect((await t.call('PUT', '/assets/link-job', { agentKey: alpha, body: { drone_job_id: 1 } })).body).toEqual({
      error: 'asset_ids array required',
    });
    expect((await t.call('PUT', '/assets/link-job', { agentKey: alpha, body: { asset_ids: [id] } })).body).toEqual({
      error: 'drone_job_id required',
    });
    expect(
      (await t.call('PUT', '/assets/link-job', { agentKey: alpha, body: { asset_ids: [id], drone_job_id: 424242 } }))
        .body,
    ).toEqual({ error: 'Drone job #424242 not found' });
    expect((await t.db.get<any>('SELECT drone_job_id FROM assets WHERE id = ?', [id])).drone_job_id).toBeNull();
  });

  it('DELETE is admin-only, removes the row and its blob, emits asset_deleted', async () => {
    const id = (await t.call('POST', '/assets', { agentKey: alpha, body: { name: 'del' } })).body.id;
    await t.call('POST', `/assets/${id}/upload`, { agentKey: alpha, raw: form('BYE') });
    expect((await t.call('DELETE', `/assets/${id}`, { agentKey: alpha })).status).toBe(401);
    expect((await t.call('DELETE', `/assets/${id}`, { admin: true })).body).toEqual({ ok: true, id });
    expect((await t.call('DELETE', `/assets/${id}`, { admin: true })).body).toEqual({ error: 'Asset not found' });
    expect(await t.db.get("SELECT id FROM events WHERE type = 'asset_deleted'")).toBeTruthy();
    expect((await t.call('GET', `/assets/${id}/download`, { agentKey: alpha })).status).toBe(404);
  });
});
