import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import { AppError, badRequest } from './errors.js';
import { multipartBoundary, multipartParts } from './multipart.js';
import { BlobTooLargeError, type BlobStore } from '../runtime.js';

export interface ReceivedUpload {
  /** The client's file name (unsanitised: callers derive stored names from it). */
  filename: string;
  contentType: string | null;
  size: number;
  /** Plain form fields seen before and after the file part. */
  fields: Record<string, string>;
}

const MAX_FIELDS = 20;
const fileTooLarge = () => new AppError(413, 'File too large');

/**
 * Streams the file part named `field` of a multipart request into blob `key` (server-chosen).
 * Call it only after the route's auth guard: the pipeline leaves multipart bodies unread, so an
 * unauthenticated upload never reaches storage (spec 07 SEC-22). Past `maxBytes` → 413 and no
 * blob; a file under another field name → 400; no file part (or not multipart) → null.
 */
export async function receiveUpload(
  c: Context<AppEnv>,
  blobs: BlobStore,
  key: string,
  opts: { maxBytes: number; field?: string },
): Promise<ReceivedUpload | null> {
  const field = opts.field ?? 'file';
  const boundary = multipartBoundary(c.req.header('content-type'));
  const stream = c.req.raw.body;
  if (!boundary || !stream) return null;
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > opts.maxBytes + 64 * 1024) throw fileTooLarge();

  const fields: Record<string, string> = {};
  let file: ReceivedUpload | null = null;
  let count = 0;
  try {
    for await (const part of multipartParts(stream, boundary)) {
      if (++count > MAX_FIELDS) throw badRequest('Too many form fields');
      if (part.filename === null) {
        fields[part.name] = await part.text();
        continue;
      }
      if (part.name !== field) throw badRequest(`Unexpected file field "${part.name}": use field name "${field}"`);
      if (file) throw badRequest('Only one file per upload');
      let size: number;
      try {
        ({ size } = await blobs.putStream(key, part.body, opts.maxBytes));
      } catch (err) {
        if (err instanceof BlobTooLargeError) throw fileTooLarge();
        throw err;
      }
      file = { filename: part.filename, contentType: part.contentType, size, fields };
    }
  } catch (err) {
    // A stored file followed by a broken body is not an upload: leave nothing behind.
    if (file) await blobs.delete(key).catch(() => undefined);
    throw err;
  }
  return file;
}
