import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { startTarget, type Target } from '../support/target.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget({ env: { UPLOAD_MAX_BYTES: String(12 * 1024 * 1024) } });
});
afterAll(async () => t?.close());

describe('large uploads stream through the blob store (R2 multipart on Workers, .part file on Node)', () => {
  it('a 9 MiB file (more than one 8 MiB R2 part) round-trips byte for byte', async () => {
    const bytes = new Uint8Array(9 * 1024 * 1024 + 123);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = (i / 4096) % 251;
    const f = new FormData();
    f.append('file', new Blob([bytes]), 'big.bin');
    const up = await t.call('POST', '/files', { admin: true, raw: f });
    expect(up.status).toBe(200);
    expect(up.body.size).toBe(bytes.length);
    const res = await t.fetch(`/api/mycelium/files/${up.body.filename}`, { headers: { 'X-Admin-Key': t.adminKey } });
    expect(res.status).toBe(200);
    const got = new Uint8Array(await res.arrayBuffer());
    expect(got.length).toBe(bytes.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });
});
