import { Hono, type Context } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { AppError, badRequest } from '../../http/errors.js';
import { requireHuman } from '../../auth/principal.js';
import type { FileDroneTunnel } from '../../runtime.js';
import { droneIdOf, droneResult, tunnelFailure, tunnelPath } from './service.js';

/**
 * `/file-server/*` (spec 05 §11.2): browse and download what a file drone serves. Only humans
 * (admin key, operators) may, since a drone often exposes an operator's whole disk (SEC-57).
 */
export function fileServerRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const tunnel = (): FileDroneTunnel => {
    const t = app.runtime.fileDrones;
    if (!t) throw new AppError(501 as AppError['status'], 'The file-drone tunnel is not available on this runtime');
    return t;
  };

  r.get('/file-server/status', requireHuman, async (c) =>
    c.json(await tunnel().status(droneIdOf(c.req.query('drone_id')))),
  );

  const op =
    (type: string, extra: (b: Record<string, unknown>) => Record<string, unknown>) => async (c: Context<AppEnv>) => {
      const b = bodyOf(c);
      const params = { path: tunnelPath(b.path), ...extra(b) };
      const t = tunnel();
      const data = await t.request(droneIdOf(b.drone_id), type, params).catch(tunnelFailure);
      return c.json(droneResult(data) as object);
    };
  r.post(
    '/file-server/browse',
    requireHuman,
    op('file_list', () => ({})),
  );
  r.post(
    '/file-server/info',
    requireHuman,
    op('file_info', () => ({})),
  );
  r.post(
    '/file-server/search',
    requireHuman,
    op('file_search', (b) => {
      const q = b.query === undefined || b.query === null || b.query === '' ? '*' : b.query;
      if (typeof q !== 'string' || q.length > 500) throw badRequest('query must be a string');
      return { query: q };
    }),
  );

  const download = (type: 'file_download' | 'folder_download') => async (c: Context<AppEnv>) => {
    const t = tunnel();
    const droneId = droneIdOf(c.req.query('drone_id'));
    // No drone is reported before a missing path (spec 05 §11.2 order).
    const st = await t.status(droneId);
    if (!st.online) throw new AppError(503, 'No file drone connected');
    if (!c.req.query('path')) throw badRequest('path query parameter required');
    return t.download(droneId, type, { path: tunnelPath(c.req.query('path')) }).catch(tunnelFailure);
  };
  r.get('/file-server/download', requireHuman, download('file_download'));
  r.get('/file-server/download-folder', requireHuman, download('folder_download'));

  return r;
}
