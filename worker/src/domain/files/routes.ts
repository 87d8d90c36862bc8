import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { principalOf, requireAny } from '../../auth/principal.js';
import { sweepOrphanBlobs } from './blob-sweep.js';
import { tempFilesRepo } from './repo.js';
import { TempFileService } from './service.js';

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

  r.post('/files', requireAny, async (c) => c.json(await files.upload(c, principalOf(c))));
  r.get('/files', requireAny, async (c) => c.json(await files.list(c)));
  r.get('/files/:filename', requireAny, async (c) => files.download(c.req.param('filename')));

  return r;
}
