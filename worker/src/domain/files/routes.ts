import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { defineRoute } from '../../http/contract.js';
import { principalOf } from '../../auth/principal.js';
import { sweepOrphanBlobs } from './blob-sweep.js';
import { tempFilesRepo } from './repo.js';
import { FileNameParams, FileUploaded, TempFile } from './schema.js';
import { TempFileService } from './service.js';

const tags = ['Files'];

/** Temp files (spec 05 §10). */
export function fileRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const files = new TempFileService(app);
  app.jobs.push(
    { name: 'temp_file_expiry', everyMs: 10 * 60_000, run: (a) => new TempFileService(a).purgeExpired() },
    {
      name: 'temp_file_blob_sweep',
      everyMs: 10 * 60_000,
      run: (a) => sweepOrphanBlobs(a, 'files/', (keys) => tempFilesRepo.referencedKeys(a.db, keys)),
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/files',
      tags,
      summary: 'Upload a temp file (kept 24 h)',
      access: 'any',
      rawBody: { contentType: 'multipart/form-data', description: 'The file in form field `file`' },
      response: FileUploaded,
      errors: [400, 413],
    },
    (c) => files.upload(c, principalOf(c)),
  );
  defineRoute(
    r,
    { method: 'get', path: '/files', tags, summary: 'Live temp files', access: 'any', response: z.array(TempFile) },
    (c) => files.list(c),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/files/:filename',
      tags,
      summary: 'Download a temp file',
      access: 'any',
      params: FileNameParams,
      response: { contentType: 'application/octet-stream', description: 'The file, as an attachment' },
    },
    (_c, { params }) => files.download(params.filename),
  );

  return r;
}
