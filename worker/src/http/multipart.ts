import { badRequest } from './errors.js';

/**
 * A streaming multipart/form-data reader (RFC 7578) over a Web `ReadableStream`, so uploads go to
 * blob storage chunk by chunk instead of being buffered whole (`Request.formData()` would hold a
 * 200 MiB upload in memory, and Workers have 128 MB). Parts are read in order; a part's body must
 * be consumed (or is skipped) before the next part is read.
 */

const CRLF = new Uint8Array([13, 10]);
const HEADER_LIMIT = 16 * 1024;
const enc = new TextEncoder();

export interface MultipartPart {
  /** The form field name from Content-Disposition. */
  name: string;
  /** The client's file name, when the part is a file. */
  filename: string | null;
  contentType: string | null;
  /** The part's bytes; read it before asking for the next part. */
  body: ReadableStream<Uint8Array>;
  /** Reads the (small) part as UTF-8 text; more than `max` bytes is a 400. */
  text(max?: number): Promise<string>;
}

/** The boundary of a multipart/form-data Content-Type, or null when the request is not one. */
export function multipartBoundary(contentType: string | undefined | null): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = contentType.match(/;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i);
  return m ? (m[1] ?? m[2]) : null;
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const malformed = () => badRequest('Malformed multipart body');

class Scanner {
  buf: Uint8Array = new Uint8Array(0);
  eof = false;
  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  /** Reads one more chunk into the buffer; false at the end of the stream. */
  async more(): Promise<boolean> {
    if (this.eof) return false;
    const { done, value } = await this.reader.read();
    if (done) {
      this.eof = true;
      return false;
    }
    this.buf = concat(this.buf, value);
    return true;
  }

  take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  cancel() {
    return this.reader.cancel().catch(() => undefined);
  }
}

function parseHeaders(raw: string): { name: string; filename: string | null; contentType: string | null } {
  let disposition = '';
  let contentType: string | null = null;
  for (const line of raw.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    if (k === 'content-disposition') disposition = v;
    else if (k === 'content-type') contentType = v;
  }
  if (!/^form-data\b/i.test(disposition)) throw malformed();
  const param = (key: string) => {
    const m =
      disposition.match(new RegExp(`;\\s*${key}="((?:[^"\\\\]|\\\\.)*)"`, 'i')) ??
      disposition.match(new RegExp(`;\\s*${key}=([^;\\s]+)`, 'i'));
    return m ? m[1].replace(/\\(.)/g, '$1') : null;
  };
  const name = param('name');
  if (name === null) throw malformed();
  return { name, filename: param('filename'), contentType };
}

/** Iterates the parts of a multipart body. Throws 400 `Malformed multipart body` on bad framing. */
export async function* multipartParts(
  stream: ReadableStream<Uint8Array>,
  boundary: string,
): AsyncGenerator<MultipartPart> {
  const s = new Scanner(stream.getReader());
  const dashBoundary = enc.encode(`--${boundary}`);
  const delimiter = enc.encode(`\r\n--${boundary}`);
  try {
    // Preamble: up to the first boundary line.
    for (;;) {
      const i = indexOf(s.buf, dashBoundary);
      if (i >= 0 && (i === 0 || (s.buf[i - 2] === 13 && s.buf[i - 1] === 10))) {
        s.take(i + dashBoundary.length);
        break;
      }
      if (s.buf.length > HEADER_LIMIT) throw malformed();
      if (!(await s.more())) throw malformed();
    }
    for (;;) {
      // After a boundary: `--` ends the body, CRLF starts a part.
      while (s.buf.length < 2) if (!(await s.more())) throw malformed();
      if (s.buf[0] === 45 && s.buf[1] === 45) return;
      while (s.buf[0] === 32 || s.buf[0] === 9) s.take(1); // transport padding
      while (s.buf.length < 2) if (!(await s.more())) throw malformed();
      if (s.buf[0] !== CRLF[0] || s.buf[1] !== CRLF[1]) throw malformed();
      s.take(2);

      let end: number;
      for (;;) {
        end = indexOf(s.buf, enc.encode('\r\n\r\n'));
        if (end >= 0) break;
        if (s.buf.length > HEADER_LIMIT) throw badRequest('Multipart part headers too large');
        if (!(await s.more())) throw malformed();
      }
      const head = parseHeaders(new TextDecoder().decode(s.take(end)));
      s.take(4);

      let finished = false;
      /** The next piece of this part's body, or null once its closing delimiter was reached. */
      const readChunk = async (): Promise<Uint8Array | null> => {
        for (;;) {
          if (finished) return null;
          const i = indexOf(s.buf, delimiter);
          if (i >= 0) {
            const out = s.take(i).slice();
            s.take(delimiter.length);
            finished = true;
            return out;
          }
          // Keep a tail that might be the start of the delimiter.
          const safe = s.buf.length - (delimiter.length - 1);
          if (safe > 0) return s.take(safe).slice();
          if (!(await s.more())) throw malformed();
        }
      };
      // One piece at a time, whoever asks (the body stream, text(), the skip below): two reads at
      // once would split the part's bytes between them, and workerd refuses a second read of the
      // request body while one is pending.
      let queue: Promise<unknown> = Promise.resolve();
      const nextChunk = (): Promise<Uint8Array | null> => {
        const next = queue.then(readChunk);
        queue = next.catch(() => undefined);
        return next;
      };
      const body = new ReadableStream<Uint8Array>(
        {
          // Each pull must enqueue or close, or the stream stalls: empty pieces are skipped here.
          async pull(ctrl) {
            for (;;) {
              const chunk = await nextChunk();
              if (chunk === null) return ctrl.close();
              if (chunk.length) return ctrl.enqueue(chunk);
            }
          },
        },
        // Pulled only when its reader reads. With the default high-water mark of 1 the stream
        // pulls a piece as soon as it is made, so a part read through text() lost its bytes to
        // this unread stream (a form field arrived empty).
        { highWaterMark: 0 },
      );
      const text = async (max = 64 * 1024) => {
        let out: Uint8Array = new Uint8Array(0);
        for (let c = await nextChunk(); c !== null; c = await nextChunk()) {
          out = concat(out, c);
          if (out.length > max) throw badRequest(`Form field ${head.name} is too long`);
        }
        return new TextDecoder().decode(out);
      };
      yield { ...head, body, text };
      // Skip whatever the consumer left unread.
      while ((await nextChunk()) !== null);
    }
  } finally {
    await s.cancel();
  }
}
