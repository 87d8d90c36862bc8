import { z } from 'zod';
import { nameParam, queryInt } from '../../http/contract.js';
import { documented } from '../../http/contract-fields.js';

/**
 * Context store (spec 04 §3): namespaced keys with history, and the legacy per-project documents.
 * `data` is answered as the stored text (JSON the writer sent), as before.
 */

export const ContextKey = z
  .object({
    id: z.number().int(),
    namespace: z.string(),
    key: z.string(),
    data: z.string(),
    category: z.string(),
    expires_at: z.string().nullable(),
    updated_at: z.string(),
    updated_by: z.string(),
    access_count: z.number().int(),
    last_accessed_at: z.string().nullable(),
    project_id: z.string().nullable(),
    version: z.number().int(),
  })
  .meta({ id: 'ContextKey' });

export const ContextHistoryEntry = z
  .object({
    id: z.number().int(),
    namespace: z.string(),
    key: z.string(),
    data: z.string(),
    changed_by: z.string(),
    changed_at: z.string(),
    project_id: z.string().nullable(),
    version: z.number().int(),
  })
  .meta({ id: 'ContextHistoryEntry' });

export const ContextDoc = z
  .object({ project_id: z.string(), data: z.string(), updated_at: z.string().nullable(), updated_by: z.string() })
  .meta({ id: 'ContextDoc' });

export const NamespaceParams = z.object({ namespace: nameParam });
export const KeyParams = z.object({ namespace: nameParam, key: nameParam });
export const HistoryIdParams = z.object({
  historyId: z.string().meta({ description: 'History entry id', example: '1' }),
});
export const ProjectParams = z.object({ projectId: nameParam });

const page = { limit: queryInt(200, 1, 1000), offset: queryInt(0, 0, 1_000_000) };

export const KeyListQuery = z.object({
  namespace: z.string().optional(),
  category: z.string().optional(),
  updated_by: z.string().optional(),
  search: z.string().optional(),
  ...page,
});
export const NamespaceListQuery = z.object(page);
export const HistoryQuery = z.object({ limit: queryInt(20, 1, 100) });

/** Checked by the service's `parseKeyWrite` (its sentences, its size limits); documented here. */
export const KeyWriteBody = z.looseObject({
  data: documented({ description: 'The value (any JSON; stored as text)' }),
  category: documented({ type: 'string', enum: ['durable', 'ephemeral', 'session'] }),
  ttl_seconds: documented({ type: 'integer', minimum: 1 }),
  expected_version: documented({ type: 'integer', minimum: 1 }),
});

export const DocBody = z.looseObject({ data: documented({ description: 'The project document (any JSON)' }) });

/** Checked in the route with the sentences it always had (`keys array is required`, `Maximum 50 keys per batch`). */
export const BulkBody = z.looseObject({
  keys: documented({ type: 'array', items: { type: 'object' }, minItems: 1, maxItems: 50 }),
});

/** Checked in the route (`ids array is required`, `Maximum 200 keys per bulk delete`, `ids must be positive integers`). */
export const BulkDeleteBody = z.looseObject({
  ids: documented({ type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 200 }),
});

export const Namespace = z.object({ namespace: z.string(), keys: z.number().int() });
export const StatsRow = z.object({
  namespace: z.string(),
  category: z.string(),
  count: z.number().int(),
  total_bytes: z.number().int(),
});

const BulkResult = z
  .object({
    namespace: z.unknown(),
    key: z.unknown(),
    ok: z.literal(true).optional(),
    version: z.number().int().optional(),
    error: z.string().optional(),
  })
  .meta({ description: 'Per entry: `ok` and `version`, or `error`' });
export const BulkResults = z.object({ ok: z.literal(true), results: z.array(BulkResult) });
export const BulkDeleted = z.object({ ok: z.literal(true), deleted: z.number().int() });
export const KeyWritten = z.object({
  ok: z.literal(true),
  namespace: z.string(),
  key: z.string(),
  version: z.number().int(),
});
export const RolledBack = z.object({
  ok: z.literal(true),
  namespace: z.string(),
  key: z.string(),
  restored_from: z.number().int(),
  version: z.number().int(),
});
export const KeyDeleted = z.object({ ok: z.literal(true), deleted: z.string() });
export const DocWritten = z.object({ ok: z.literal(true), project_id: z.string() });
