import { describe, expect, it } from 'vitest';
import { multipartParts } from '../../worker/src/http/multipart.js';

/**
 * The multipart reader over a body that arrives in small pieces, as a slow client's or a proxy's
 * does: each part's bytes must reach whoever reads that part (its text or its body stream), whole
 * and once, and the request body must never be read twice at a time — workerd refuses a second
 * read while one is pending ("can't read more data after a previous read didn't complete").
 */
const enc = new TextEncoder();
const BOUNDARY = 'b0undary';

function body(parts: { name: string; filename?: string; data: string }[]): Uint8Array {
  let s = '';
  for (const p of parts) {
    s += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename) s += `; filename="${p.filename}"\r\nContent-Type: application/octet-stream`;
    s += `\r\n\r\n${p.data}\r\n`;
  }
  return enc.encode(`${s}--${BOUNDARY}--\r\n`);
}

/** The bytes in pieces of `size`, one per macrotask; counts reads that overlap. */
function trickle(bytes: Uint8Array, size: number) {
  let at = 0;
  let pending = 0;
  const seen = { overlaps: 0, reads: 0 };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        seen.reads++;
        if (++pending > 1) seen.overlaps++;
        await new Promise((r) => setImmediate(r));
        pending--;
        if (at >= bytes.length) return ctrl.close();
        ctrl.enqueue(bytes.slice(at, at + size));
        at += size;
      },
    },
    { highWaterMark: 0 },
  );
  // A reader that, like workerd's request body, notices a read started while another is pending.
  const reader = stream.getReader();
  let inFlight = false;
  const guarded = new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        if (inFlight) seen.overlaps++;
        inFlight = true;
        const { done, value } = await reader.read();
        inFlight = false;
        if (done) ctrl.close();
        else ctrl.enqueue(value);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream: guarded, seen };
}

/** Reads every part as the upload route does: fields by their text, the file by its body stream. */
async function readAll(stream: ReadableStream<Uint8Array>) {
  const fields: Record<string, string> = {};
  let file = '';
  for await (const part of multipartParts(stream, BOUNDARY)) {
    if (part.filename === null) {
      fields[part.name] = await part.text();
      continue;
    }
    const r = part.body.getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      file += dec.decode(value, { stream: true });
    }
  }
  return { fields, file };
}

describe('multipart parts over a body that arrives in pieces', () => {
  const note = 'a field longer than one piece of the body, '.repeat(8);
  const data = 'file bytes '.repeat(300);
  const parts = [
    { name: 'note', data: note },
    { name: 'file', filename: 'f.bin', data },
    { name: 'after', data: 'the last field' },
  ];

  for (const size of [1, 7, 64, 1000, 100_000])
    it(`pieces of ${size} bytes: every field and the file whole, one read of the body at a time`, async () => {
      const t = trickle(body(parts), size);
      const got = await readAll(t.stream);
      expect(got.fields).toEqual({ note, after: 'the last field' });
      expect(got.file).toBe(data);
      expect(t.seen.overlaps).toBe(0);
    });

  it('a part whose body is never read is skipped whole; the next field still arrives', async () => {
    const t = trickle(
      body([
        { name: 'file', filename: 'x', data },
        { name: 'tail', data: 'kept' },
      ]),
      13,
    );
    const fields: Record<string, string> = {};
    for await (const part of multipartParts(t.stream, BOUNDARY))
      if (part.filename === null) fields[part.name] = await part.text();
    expect(fields).toEqual({ tail: 'kept' });
    expect(t.seen.overlaps).toBe(0);
  });
});
