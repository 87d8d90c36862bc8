import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let key = '';
beforeAll(async () => {
  t = await startTarget({ env: { UPLOAD_MAX_BYTES: '2048', PUBLIC_BASE_URL: 'https://myc.example.test' } });
  key = (await registerAgent(t, 'file-agent', 'p')).key;
});
afterAll(async () => t?.close());

const form = (content: string | Uint8Array, name: string, field = 'file') => {
  const f = new FormData();
  f.append(field, new Blob([content as BlobPart]), name);
  return f;
};
const count = async () => Number((await t.db.get<any>('SELECT COUNT(*) AS n FROM temp_files')).n);

describe('temp files (spec 05 §10)', () => {
  it('upload answers name, absolute URL from PUBLIC_BASE_URL, size and expiry; the list shows it; download is an attachment', async () => {
    const r = await t.call('POST', '/files', {
      agentKey: key,
      raw: form('hello notes', 'my notes (v2).txt'),
      headers: { Host: 'evil.example' },
    });
    expect(r.status).toBe(200);
    expect(r.body.filename).toMatch(/^my_notes__v2__\d+_[0-9a-f]{8}\.txt$/);
    expect(r.body).toMatchObject({
      ok: true,
      size: 11,
      url: `https://myc.example.test/api/mycelium/files/${r.body.filename}`,
    });
    const exp = Date.parse(r.body.expires_at) - Date.now();
    expect(exp).toBeGreaterThan(23.9 * 3600_000);
    expect(exp).toBeLessThanOrEqual(24 * 3600_000);
    const ev = await t.db.get<any>("SELECT * FROM events WHERE type = 'file_uploaded' ORDER BY id DESC LIMIT 1");
    expect(ev.summary).toBe('file-agent uploaded my notes (v2).txt (0KB)');
    expect(JSON.parse(ev.data)).toEqual({ filename: r.body.filename });
    const list = await t.call('GET', '/files', { agentKey: key });
    const entry = list.body.find((f: any) => f.filename === r.body.filename);
    expect(entry).toMatchObject({ size: 11, url: r.body.url });
    expect(entry.expires_in_seconds).toBeGreaterThan(86000);
    const d = await t.call('GET', `/files/${r.body.filename}`, { agentKey: key });
    expect(d.status).toBe(200);
    expect(d.text).toBe('hello notes');
    expect(d.headers.get('content-disposition')).toBe(`attachment; filename="${r.body.filename}"`);
    expect(d.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('SEC-22: no credentials → 401 and nothing stored', async () => {
    const before = await count();
    const r = await t.call('POST', '/files', { raw: form('x'.repeat(100), 'sneaky.txt') });
    expect(r.status).toBe(401);
    expect(await count()).toBe(before);
    const bad = await t.call('POST', '/files', { agentKey: `dvk_${'0'.repeat(48)}`, raw: form('x', 'sneaky.txt') });
    expect(bad.status).toBe(403);
    expect(await count()).toBe(before);
  });

  it('SEC-23: downloads need auth; `.` and `..` are a 400, traversal is a 404, never a 500', async () => {
    const up = await t.call('POST', '/files', { agentKey: key, raw: form('secret', 'a.txt') });
    expect((await t.call('GET', `/files/${up.body.filename}`)).status).toBe(401);
    expect((await t.call('GET', '/files', {})).status).toBe(401);
    // A literal `..` or `.` segment is resolved by URL parsing before routing: some 4xx, never 500.
    for (const name of ['..', '.', '%2E%2E', '%2E'])
      expect([400, 404]).toContain((await t.call('GET', `/files/${name}`, { agentKey: key })).status);
    for (const name of ['...', '%2F..%2F', '..%2F']) {
      const r = await t.call('GET', `/files/${name}`, { agentKey: key });
      expect(r.status).toBe(400);
      expect(r.body).toEqual({ error: 'invalid file name' });
    }
    const trav = await t.call('GET', '/files/..%2F..%2Fmycelium.db', { agentKey: key });
    expect(trav.status).toBe(404);
    expect(trav.body).toEqual({ error: 'File not found or expired' });
  });

  it('SEC-23: scriptable uploads are stored inert as .blocked and served as opaque bytes', async () => {
    for (const name of ['evil.html', 'evil.sh', 'x.SVG', 'run.js']) {
      const r = await t.call('POST', '/files', { agentKey: key, raw: form('<script>alert(1)</script>', name) });
      expect(r.body.filename).toMatch(/\.blocked$/);
      const d = await t.call('GET', `/files/${r.body.filename}`, { agentKey: key });
      expect(d.headers.get('content-type')).toBe('application/octet-stream');
      expect(d.headers.get('content-disposition')).toMatch(/^attachment;/);
    }
  });

  it('413 past the size limit with nothing kept; no file part → 400 naming the field', async () => {
    const before = await count();
    const r = await t.call('POST', '/files', { agentKey: key, raw: form(new Uint8Array(3000), 'big.bin') });
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ error: 'File too large' });
    expect(await count()).toBe(before);
    const none = await t.call('POST', '/files', { agentKey: key, body: { file: 'x' } });
    expect(none.body).toEqual({ error: 'No file uploaded. Use multipart form with field name "file"' });
    const broken = await t.call('POST', '/files', {
      agentKey: key,
      raw: '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nunterminated',
      headers: { 'Content-Type': 'multipart/form-data; boundary=b' },
    });
    expect(broken.status).toBe(400);
    expect(broken.body).toEqual({ error: 'Malformed multipart body' });
    expect(await count()).toBe(before);
  });

  it('form fields around the file, the body arriving in pieces: each part is read once, in order', async () => {
    // A slow client: the body reaches the server a piece at a time. The reader of a form field and
    // the file part's stream once read the request body at the same time; workerd refuses that
    // ("can't read more data after a previous read didn't complete") and the upload failed.
    const boundary = 'pieces-boundary';
    const part = (name: string, data: string, filename?: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ''}\r\n\r\n${data}\r\n`;
    for (const size of [7, 100, 1000]) {
      const bytes = new TextEncoder().encode(
        `${part('note', 'a field before the file; '.repeat(20))}${part('file', `sent in pieces of ${size}`, 'p.txt')}${part('after', 'the last field')}--${boundary}--\r\n`,
      );
      let at = 0;
      const body = new ReadableStream<Uint8Array>(
        {
          async pull(ctrl) {
            await new Promise((r) => setTimeout(r, 1));
            if (at >= bytes.length) return ctrl.close();
            ctrl.enqueue(bytes.slice(at, at + size));
            at += size;
          },
        },
        { highWaterMark: 0 },
      );
      const res = await t.fetch('/api/mycelium/files', {
        method: 'POST',
        headers: { 'X-Agent-Key': key, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
        body,
        duplex: 'half',
      } as RequestInit);
      const text = await res.text();
      expect(res.status, text).toBe(200);
      const { filename } = JSON.parse(text);
      const got = await t.call('GET', `/files/${filename}`, { agentKey: key });
      expect(got.text).toBe(`sent in pieces of ${size}`);
    }
  });

  it('expired files are gone from list and download, and the maintenance sweep removes row and blob', async () => {
    const r = await t.call('POST', '/files', { agentKey: key, raw: form('old', 'old.txt') });
    await t.db.run("UPDATE temp_files SET expires_at = datetime('now', '-1 minute') WHERE filename = ?", [
      r.body.filename,
    ]);
    expect((await t.call('GET', `/files/${r.body.filename}`, { agentKey: key })).status).toBe(404);
    expect(
      (await t.call('GET', '/files', { agentKey: key })).body.some((f: any) => f.filename === r.body.filename),
    ).toBe(false);
    await t.scheduled();
    expect(await t.db.get('SELECT filename FROM temp_files WHERE filename = ?', [r.body.filename])).toBeUndefined();
  });
});
