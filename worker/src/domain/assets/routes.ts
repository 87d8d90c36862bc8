import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { invalidEnum } from '../../http/errors.js';
import { parseIntId, queryInt } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { sweepOrphanBlobs } from '../files/blob-sweep.js';
import { assetsRepo } from './repo.js';
import { ASSET_STATUSES, AssetService } from './service.js';

/** Assets (spec 05 §9): registry rows plus an uploaded file each, kept in the blob store. */
export function assetRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const assets = new AssetService(app);
  // Uploads write the blob before the row; a crash in between leaves a blob no row names.
  app.jobs.push({
    name: 'asset_blob_sweep',
    everyMs: 10 * 60_000,
    run: (a) => sweepOrphanBlobs(a, 'assets/', (keys) => assetsRepo.referencedKeys(a.db, keys)),
  });

  r.get('/assets', requireAny, async (c) => {
    const q = queryOf(c);
    if (q.status && !(ASSET_STATUSES as readonly string[]).includes(q.status))
      throw invalidEnum('status', q.status, ASSET_STATUSES);
    return c.json(
      await assetsRepo.list(app.db, {
        project_id: q.project_id || undefined,
        type: q.type || undefined,
        status: q.status || undefined,
        limit: queryInt(q.limit, 'limit', 50, 1, 500),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000_000),
      }),
    );
  });
  r.post('/assets', requireAny, async (c) => c.json(await assets.create(principalOf(c), bodyOf(c))));
  // Literal path before `/assets/:id` (REV shadowed it, spec 05 §9.2).
  r.put('/assets/link-job', requireAny, async (c) => c.json(await assets.linkJob(principalOf(c), bodyOf(c))));
  r.get('/assets/:id', requireAny, async (c) => {
    const id = parseIntId(c.req.param('id'));
    const a = id === null ? undefined : await assetsRepo.byId(app.db, id);
    return a ? c.json(a) : c.json({ error: 'Asset not found' }, 404);
  });
  r.put('/assets/:id', requireAny, async (c) =>
    c.json(await assets.update(principalOf(c), parseIntId(c.req.param('id')), bodyOf(c))),
  );
  r.post('/assets/:id/upload', requireAny, async (c) =>
    c.json(await assets.upload(c, principalOf(c), parseIntId(c.req.param('id')))),
  );
  r.get('/assets/:id/download', requireAny, async (c) => assets.download(parseIntId(c.req.param('id'))));
  r.delete('/assets/:id', requireAdmin, async (c) =>
    c.json(await assets.remove(principalOf(c), parseIntId(c.req.param('id')))),
  );

  return r;
}
