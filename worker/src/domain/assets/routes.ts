import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { notFound } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { sweepOrphanBlobs } from '../files/blob-sweep.js';
import { assetsRepo } from './repo.js';
import {
  Asset,
  AssetCreated,
  AssetIdParams,
  AssetListQuery,
  AssetOk,
  AssetsLinked,
  AssetUploaded,
  CreateAsset,
  LinkJob,
  UpdateAsset,
} from './schema.js';
import { AssetService } from './service.js';

const tags = ['Assets'];

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

  defineRoute(
    r,
    {
      method: 'get',
      path: '/assets',
      tags,
      summary: 'List assets, latest change first',
      access: 'any',
      query: AssetListQuery,
      response: z.array(Asset),
    },
    (_c, { query: q }) =>
      assetsRepo.list(app.db, {
        project_id: q.project_id || undefined,
        type: q.type || undefined,
        status: q.status || undefined,
        limit: q.limit,
        offset: q.offset,
      }),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/assets',
      tags,
      summary: 'Register an asset',
      access: 'any',
      body: CreateAsset,
      lazyBody: true,
      response: AssetCreated,
    },
    (c) => assets.create(principalOf(c), bodyOf(c)),
  );
  // Literal path before `/assets/:id` (REV shadowed it, spec 05 §9.2).
  defineRoute(
    r,
    {
      method: 'put',
      path: '/assets/link-job',
      tags,
      summary: 'Link assets to the drone job producing them',
      access: 'any',
      body: LinkJob,
      lazyBody: true,
      response: AssetsLinked,
      errors: [404],
    },
    (c) => assets.linkJob(principalOf(c), bodyOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/assets/:id',
      tags,
      summary: 'One asset',
      access: 'any',
      params: AssetIdParams,
      response: Asset,
    },
    async (_c, { params }) => {
      const id = parseIntId(params.id);
      const a = id === null ? undefined : await assetsRepo.byId(app.db, id);
      if (!a) throw notFound('Asset not found');
      return a;
    },
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/assets/:id',
      tags,
      summary: 'Update an asset',
      access: 'any',
      params: AssetIdParams,
      body: UpdateAsset,
      lazyBody: true,
      response: AssetOk,
    },
    (c, { params }) => assets.update(principalOf(c), parseIntId(params.id), bodyOf(c)),
  );
  defineRoute(
    r,
    {
      method: 'post',
      path: '/assets/:id/upload',
      tags,
      summary: "Upload an asset's file",
      access: 'any',
      params: AssetIdParams,
      rawBody: { contentType: 'multipart/form-data', description: 'The file in form field `file`' },
      response: AssetUploaded,
      errors: [409, 413],
    },
    (c, { params }) => assets.upload(c, principalOf(c), parseIntId(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/assets/:id/download',
      tags,
      summary: "Download an asset's file",
      access: 'any',
      params: AssetIdParams,
      response: { contentType: 'application/octet-stream', description: 'The file, as an attachment' },
    },
    (_c, { params }) => assets.download(parseIntId(params.id)),
  );
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/assets/:id',
      tags,
      summary: 'Delete an asset and its file',
      access: 'admin',
      params: AssetIdParams,
      response: AssetOk,
    },
    (c, { params }) => assets.remove(principalOf(c), parseIntId(params.id)),
  );

  return r;
}
