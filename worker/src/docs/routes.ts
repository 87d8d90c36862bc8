import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import type { AppEnv } from '../http/env.js';
import { defineRoute } from '../http/contract.js';

type Assets = Record<string, { type: string; etag: string; body: string }>;
let assets: Promise<Assets> | undefined;
/** Loaded on the first /docs request: two megabytes of Swagger UI need not sit in every process. */
function docsAssets(): Promise<Assets> {
  assets ??= import('./assets.generated.js').then((m) => m.DOCS_ASSETS as Assets);
  return assets;
}

async function serve(c: Context<AppEnv>, name: string) {
  const all = await docsAssets();
  const asset = Object.hasOwn(all, name) ? all[name] : undefined;
  if (!asset) return c.json({ error: 'Not found' }, 404);
  const headers = { 'Content-Type': asset.type, ETag: asset.etag, 'Cache-Control': 'no-cache' };
  if (c.req.header('if-none-match') === asset.etag) return c.body(null, 304, headers);
  return c.body(asset.body, 200, headers);
}

/**
 * The interactive API reference (spec 01 `/docs`, issue 15): Swagger UI served from the instance
 * itself on both runtimes, reading this instance's /api/mycelium/openapi.json. No CDN.
 */
export function docsRoutes(_app: AppContext) {
  const r = new Hono<AppEnv>();
  const tags = ['Meta'];
  defineRoute(
    r,
    {
      method: 'get',
      path: '/docs',
      tags,
      summary: 'Interactive API reference (HTML)',
      access: 'public',
      response: { contentType: 'text/html', description: 'The API reference page' },
    },
    (c) => serve(c, 'index.html'),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/docs/assets/:name',
      tags,
      summary: "The reference page's scripts and styles",
      access: 'public',
      params: z.object({ name: z.string() }),
      response: { contentType: 'text/javascript', description: 'A script or stylesheet' },
    },
    (c, { params }) => serve(c, params.name),
  );
  return r;
}
