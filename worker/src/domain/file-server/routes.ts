import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { AppError, badRequest } from '../../http/errors.js';
import type { FileDroneTunnel } from '../../runtime.js';
import { Browse, DownloadQuery, DroneAnswer, DroneQuery, Search, TunnelStatus } from './schema.js';
import { droneIdOf, droneResult, tunnelFailure, tunnelPath } from './service.js';

const tags = ['File server'];

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

  defineRoute(
    r,
    {
      method: 'get',
      path: '/file-server/status',
      tags,
      summary: 'Is a file drone connected?',
      access: 'human',
      query: DroneQuery,
      response: TunnelStatus,
      errors: [501],
    },
    (_c, { query }) => tunnel().status(droneIdOf(query.drone_id)),
  );

  const ops = [
    ['browse', 'file_list', 'List a folder on the file drone', Browse],
    ['info', 'file_info', 'Details of one file on the file drone', Browse],
    ['search', 'file_search', 'Search files on the file drone', Search],
  ] as const;
  for (const [name, type, summary, body] of ops) {
    defineRoute(
      r,
      {
        method: 'post',
        path: `/file-server/${name}`,
        tags,
        summary,
        access: 'human',
        body,
        lazyBody: true,
        response: DroneAnswer,
        errors: [501, 503, 504],
      },
      async (c, input) => {
        const path = tunnelPath(bodyOf(c).path); // the path's sentence comes first, as before
        const b = input.body as { drone_id?: unknown; query?: unknown };
        const params: Record<string, unknown> = { path };
        if (type === 'file_search')
          params.query = b.query === undefined || b.query === null || b.query === '' ? '*' : b.query;
        const t = tunnel();
        const data = await t.request(droneIdOf(b.drone_id), type, params).catch(tunnelFailure);
        return droneResult(data);
      },
    );
  }

  for (const [path, type] of [
    ['/file-server/download', 'file_download'],
    ['/file-server/download-folder', 'folder_download'],
  ] as const) {
    defineRoute(
      r,
      {
        method: 'get',
        path,
        tags,
        summary:
          type === 'file_download'
            ? 'Download a file from the file drone'
            : 'Download a folder (zip) from the file drone',
        access: 'human',
        query: DownloadQuery,
        response: { contentType: 'application/octet-stream', description: 'The file or zip, streamed' },
        errors: [501, 503],
      },
      async (_c, { query }) => {
        const t = tunnel();
        const droneId = droneIdOf(query.drone_id);
        // No drone is reported before a missing path (spec 05 §11.2 order).
        const st = await t.status(droneId);
        if (!st.online) throw new AppError(503, 'No file drone connected');
        if (!query.path) throw badRequest('path query parameter required');
        return t.download(droneId, type, { path: tunnelPath(query.path) }).catch(tunnelFailure);
      },
    );
  }

  return r;
}
