import { z } from 'zod';
import { idParam, queryInt } from '../../http/contract.js';
import { I, S, serviceBody } from '../../http/contract-fields.js';
import { MAX_OFFSET } from '../../http/validate.js';
import { ASSET_STATUSES } from './service.js';

/**
 * Assets (spec 05 §9). The write bodies are validated by the service (scope and server-only fields
 * depend on the caller), so they are documented here; the list query and the answers are checked.
 */

export const AssetIdParams = z.object({ id: idParam });

export const Asset = z
  .object({
    id: z.number().int(),
    name: z.string(),
    type: z.string(),
    project_id: z.string(),
    status: z.string(),
    path: z.string(),
    metadata: z.string().meta({ description: 'JSON text' }),
    requester: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    file_path: z.string(),
    download_url: z.string(),
    requested_by: z.string(),
    assigned_to: z.string(),
    drone_job_id: z.number().int().nullable(),
    prompt: z.string(),
    file_size: z.number().int().nullable(),
  })
  .meta({ id: 'Asset' });

export const AssetListQuery = z.object({
  project_id: z.string().optional(),
  type: z.string().optional(),
  status: z.preprocess((v) => (v === '' ? undefined : v), z.enum(ASSET_STATUSES).optional()),
  limit: queryInt(50, 1, 500),
  offset: queryInt(0, 0, MAX_OFFSET),
});

const status = { type: 'string', enum: [...ASSET_STATUSES] };
const writable = {
  type: { ...S, maxLength: 100 },
  status,
  path: { ...S, description: 'A stored file name' },
  metadata: { type: ['object', 'string'] },
  prompt: S,
  assigned_to: { ...S, maxLength: 128 },
  drone_job_id: { type: ['integer', 'null'], minimum: 1 },
};

export const CreateAsset = serviceBody({
  name: { ...S, maxLength: 500, description: 'Required' },
  project_id: { ...S, maxLength: 128 },
  ...writable,
});

export const UpdateAsset = serviceBody({
  name: { ...S, maxLength: 500 },
  ...writable,
  file_path: { ...S, description: 'Admins only: the key of an uploaded asset file' },
  download_url: { ...S, description: 'Admins only: an asset download path' },
});

export const LinkJob = serviceBody({
  asset_ids: { type: 'array', items: { ...I, minimum: 1 }, maxItems: 500, description: 'Required' },
  drone_job_id: { ...I, minimum: 1, description: 'Required' },
  status,
});

export const AssetCreated = z.object({ id: z.number().int(), name: z.string() });
export const AssetOk = z.object({ ok: z.literal(true), id: z.number().int() });
export const AssetsLinked = z.object({ ok: z.literal(true), updated: z.number().int() });
export const AssetUploaded = z.object({
  ok: z.literal(true),
  asset_id: z.number().int(),
  download_url: z.string(),
  path: z.string(),
  size: z.number().int(),
});
