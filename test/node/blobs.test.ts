import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, statSync, utimesSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';
import { folderBlobs } from '../../node-adapter/runtime.js';
import { BlobTooLargeError } from '../../worker/src/runtime.js';

let t: Target;
let key = '';
beforeAll(async () => {
  t = await startTarget({ env: { UPLOAD_MAX_BYTES: '1024' } });
  key = (await registerAgent(t, 'blob-agent', 'p')).key;
});
afterAll(async () => t?.close());

const form = (content: string | Uint8Array, name: string) => {
  const f = new FormData();
  f.append('file', new Blob([content as BlobPart]), name);
  return f;
};
const walk = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? [join(dir, e.name), ...walk(join(dir, e.name))] : [join(dir, e.name)],
      )
    : [];
const stream = (bytes: Uint8Array) => new Blob([bytes as BlobPart]).stream() as ReadableStream<Uint8Array>;

describe('blob store on Node (files under DATA_DIR/blobs)', () => {
  it('uploaded blobs are files 0600 in directories 0700, named by the server, not by the client', async () => {
    const r = await t.call('POST', '/files', { agentKey: key, raw: form('abc', '../../etc/passwd') });
    expect(r.status).toBe(200);
    const a = (await t.call('POST', '/assets', { agentKey: key, body: { name: 'm' } })).body.id;
    expect((await t.call('POST', `/assets/${a}/upload`, { agentKey: key, raw: form('def', 'm.png') })).status).toBe(
      200,
    );
    const root = join(t.dataDir, 'blobs');
    expect(statSync(root).mode & 0o777).toBe(0o700);
    const entries = walk(root);
    const files = entries.filter((p) => statSync(p).isFile());
    expect(files).toHaveLength(2);
    for (const p of entries) expect(statSync(p).mode & 0o777).toBe(statSync(p).isFile() ? 0o600 : 0o700);
    for (const f of files) expect(f.slice(root.length)).toMatch(/^\/(files|assets\/\d+)\/[0-9a-f-]{36}$/);
  });

  it('a refused upload (413) leaves no file and no .part behind', async () => {
    const before = walk(join(t.dataDir, 'blobs')).length;
    expect((await t.call('POST', '/files', { agentKey: key, raw: form(new Uint8Array(4096), 'big.bin') })).status).toBe(
      413,
    );
    expect(walk(join(t.dataDir, 'blobs')).length).toBe(before);
  });

  it('putStream refuses past its limit with nothing written; traversal keys are refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blobs-'));
    try {
      const b = folderBlobs(dir);
      await expect(b.putStream('x/one', stream(new Uint8Array(10)), 5)).rejects.toBeInstanceOf(BlobTooLargeError);
      expect(walk(dir).filter((p) => statSync(p).isFile())).toEqual([]);
      expect(await b.putStream('x/two', stream(new Uint8Array([1, 2, 3])), 5)).toEqual({ size: 3 });
      expect(Array.from((await b.get('x/two'))!)).toEqual([1, 2, 3]);
      expect((await b.list('x/')).map((i) => i.key)).toEqual(['x/two']);
      await expect(b.put('../escape', new Uint8Array(1))).rejects.toThrow(/invalid blob key/);
      await expect(b.get('x/../../escape')).rejects.toThrow(/invalid blob key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the maintenance sweep removes old blobs no row names (a crash between blob and row), keeps young and owned ones', async () => {
    const b = folderBlobs(join(t.dataDir, 'blobs'));
    await b.put('files/00000000-0000-4000-8000-000000000001', new Uint8Array([1]));
    await b.put('assets/7/00000000-0000-4000-8000-000000000002', new Uint8Array([2]));
    await b.put('files/00000000-0000-4000-8000-000000000003', new Uint8Array([3]));
    const old = new Date(Date.now() - 2 * 3600_000);
    for (const k of ['files/00000000-0000-4000-8000-000000000001', 'assets/7/00000000-0000-4000-8000-000000000002']) {
      utimesSync(join(t.dataDir, 'blobs', k), old, old);
    }
    // Owned blobs, aged too: they must survive.
    for (const p of walk(join(t.dataDir, 'blobs')).filter((p) => statSync(p).isFile() && !p.includes('00000000-0000')))
      utimesSync(p, old, old);
    const owned = walk(join(t.dataDir, 'blobs')).filter(
      (p) => statSync(p).isFile() && !p.includes('00000000-0000'),
    ).length;
    await t.scheduled();
    expect(await b.get('files/00000000-0000-4000-8000-000000000001')).toBeNull();
    expect(await b.get('assets/7/00000000-0000-4000-8000-000000000002')).toBeNull();
    expect(await b.get('files/00000000-0000-4000-8000-000000000003')).not.toBeNull();
    expect(
      walk(join(t.dataDir, 'blobs')).filter((p) => statSync(p).isFile() && !p.includes('00000000-0000')).length,
    ).toBe(owned);
    expect(owned).toBeGreaterThan(0);
  });
});
