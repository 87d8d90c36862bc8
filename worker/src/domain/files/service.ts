import { parseDbTime, toDbTime } from '../../db/time.js';
import type { Context } from 'hono';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { AppEnv } from '../../http/env.js';
import { badRequest, notFound } from '../../http/errors.js';
import { instanceUrl } from '../../http/instance-url.js';
import { receiveUpload } from '../../http/upload.js';
import { attachment, storedFileName, urlFileName } from './names.js';
import { atomicWrite } from '../events/write.js';
import { tempFilesRepo, type TempFileRow } from './repo.js';

const TEMP_FILE_TTL_MS = 24 * 3_600_000;

const utc = (sqlite: string) => new Date(parseDbTime(sqlite));

/** Temp files (spec 05 §10): uploads kept 24 h, downloadable by any authenticated caller. */
export class TempFileService {
  constructor(private readonly app: AppContext) {}

  private url(base: string, filename: string) {
    return `${base}/api/mycelium/files/${filename}`;
  }

  /** POST /files: guard first (SEC-22), then the body streams into a fresh blob, then the row. */
  async upload(c: Context<AppEnv>, p: Principal) {
    const base = instanceUrl(this.app.config, c.req.raw);
    const key = `files/${crypto.randomUUID()}`;
    const blobs = this.app.runtime.blobs;
    const file = await receiveUpload(c, blobs, key, { maxBytes: this.app.config.uploadMaxBytes });
    if (!file) throw badRequest('No file uploaded. Use multipart form with field name "file"');
    const now = this.app.clock.now();
    const who = p.who;
    const expires = new Date(now.getTime() + TEMP_FILE_TTL_MS);
    const original = file.filename.slice(0, 255);
    const filename = storedFileName(file.filename, now.getTime());
    // The row and its event commit together (issue 17); if either fails, the blob goes too.
    let row: TempFileRow;
    try {
      const written = await atomicWrite(this.app)
        .add(
          'file',
          tempFilesRepo.insert({
            filename,
            original_name: original,
            blob_key: key,
            size: file.size,
            uploaded_by: who,
            expires_at: toDbTime(expires),
          }),
        )
        .event({
          type: 'file_uploaded',
          agent: who,
          summary: `${who} uploaded ${original} (${Math.round(file.size / 1024)}KB)`,
          data: { filename },
        })
        .commit();
      row = written.row<TempFileRow>('file')!;
    } catch (err) {
      await blobs.delete(key).catch(() => undefined);
      throw err;
    }
    return {
      ok: true,
      filename: row.filename,
      url: this.url(base, row.filename),
      size: file.size,
      expires_at: expires.toISOString(),
    };
  }

  async list(c: Context<AppEnv>) {
    const base = instanceUrl(this.app.config, c.req.raw);
    const now = this.app.clock.now();
    const rows = await tempFilesRepo.listLive(this.app.db, toDbTime(now));
    return rows.map((f) => ({
      filename: f.filename,
      size: f.size,
      uploaded: utc(f.created_at).toISOString(),
      expires_in_seconds: Math.max(0, Math.floor((utc(f.expires_at).getTime() - now.getTime()) / 1000)),
      url: this.url(base, f.filename),
    }));
  }

  /** GET /files/:filename: the name is reduced to [A-Za-z0-9_.-]; `.`/`..` are a 400, never a 500. */
  async download(raw: string): Promise<Response> {
    const name = urlFileName(raw);
    if (!name) throw badRequest('invalid file name');
    const row = await tempFilesRepo.live(this.app.db, name, toDbTime(this.app.clock.now()));
    const blob = row ? await this.app.runtime.blobs.getStream(row.blob_key) : null;
    if (!row || !blob) throw notFound('File not found or expired');
    return attachment(blob.body, blob.size, row.filename);
  }

  /** The 24 h expiry: rows first (so nothing serves a half-deleted file), then their blobs. */
  async purgeExpired(): Promise<number> {
    const keys = await tempFilesRepo.purgeExpired(this.app.db, toDbTime(this.app.clock.now()));
    for (const k of keys) await this.app.runtime.blobs.delete(k).catch(() => undefined);
    return keys.length;
  }
}
