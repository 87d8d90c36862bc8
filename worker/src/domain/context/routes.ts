import { Hono } from 'hono';
import { z } from 'zod';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf } from '../../http/body.js';
import { defineRoute } from '../../http/contract.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId } from '../../http/validate.js';
import { principalOf } from '../../auth/principal.js';
import { ContextService, parseKeyWrite } from './service.js';
import {
  BulkBody,
  BulkDeleteBody,
  BulkDeleted,
  BulkResults,
  ContextDoc,
  ContextHistoryEntry,
  ContextKey,
  DocBody,
  DocWritten,
  HistoryIdParams,
  HistoryQuery,
  KeyDeleted,
  KeyListQuery,
  KeyParams,
  KeyWriteBody,
  KeyWritten,
  Namespace,
  NamespaceListQuery,
  NamespaceParams,
  ProjectParams,
  RolledBack,
  StatsRow,
} from './schema.js';

const HOUR = 3_600_000;
const tags = ['Context'];

/**
 * Context store: legacy project documents and namespaced keys with history (spec 04 §3).
 * Bodies are read with `bodyOf` as before (lazy, never through the documented schema), so the hot
 * PUT does exactly the work it did and the service keeps its sentences and its order of checks.
 */
export function contextRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const context = new ContextService(app);
  app.jobs.push({ name: 'context_purge', everyMs: HOUR, run: () => context.purge() });

  // Literal segments first: /context/keys…, /context/stats and /context/namespaces are never project ids.
  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/keys',
      tags,
      summary: 'List live context keys the caller may read',
      access: 'any',
      query: KeyListQuery,
      response: z.array(ContextKey),
    },
    async (c, { query }) => context.list(principalOf(c), query),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/namespaces',
      tags,
      summary: 'Namespaces with their live key counts',
      access: 'any',
      response: z.array(Namespace),
    },
    (c) => context.namespaces(principalOf(c)),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/stats',
      tags,
      summary: 'Key counts and bytes per namespace and category (admin)',
      access: 'admin',
      response: z.array(StatsRow),
    },
    () => context.stats(),
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/context/keys/bulk',
      tags,
      summary: 'Write up to 50 keys; each entry answers ok or its error',
      access: 'any',
      body: BulkBody,
      lazyBody: true,
      response: BulkResults,
    },
    async (c) => {
      const keys = bodyOf(c).keys;
      if (!Array.isArray(keys) || keys.length === 0) throw badRequest('keys array is required');
      if (keys.length > 50) throw badRequest('Maximum 50 keys per batch');
      return context.bulk(principalOf(c), keys);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/context/keys/bulk-delete',
      tags,
      summary: 'Delete up to 200 keys by id (admin)',
      access: 'admin',
      body: BulkDeleteBody,
      lazyBody: true,
      response: BulkDeleted,
    },
    async (c) => {
      const ids = bodyOf(c).ids;
      if (!Array.isArray(ids) || ids.length === 0) throw badRequest('ids array is required');
      if (ids.length > 200) throw badRequest('Maximum 200 keys per bulk delete');
      if (!ids.every((i) => Number.isSafeInteger(i) && i > 0)) throw badRequest('ids must be positive integers');
      return context.bulkDelete(ids as number[]);
    },
  );

  defineRoute(
    r,
    {
      method: 'post',
      path: '/context/keys/rollback/:historyId',
      tags,
      summary: 'Restore a history entry as a new version',
      access: 'any',
      params: HistoryIdParams,
      response: RolledBack,
      errors: [404, 409],
    },
    async (c, { params }) => {
      const id = parseIntId(params.historyId);
      if (id === null) throw badRequest('Invalid history ID');
      return context.rollback(principalOf(c), id);
    },
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/keys/:namespace',
      tags,
      summary: "A namespace's live keys",
      access: 'any',
      params: NamespaceParams,
      query: NamespaceListQuery,
      response: z.array(ContextKey),
    },
    (c, { params, query }) => context.list(principalOf(c), { namespace: params.namespace, ...query }),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/keys/:namespace/:key/history',
      tags,
      summary: "A key's history, newest first",
      access: 'any',
      params: KeyParams,
      query: HistoryQuery,
      response: z.array(ContextHistoryEntry),
    },
    (c, { params, query }) => context.history(principalOf(c), params.namespace, params.key, query.limit),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/keys/:namespace/:key',
      tags,
      summary: 'One live key',
      access: 'any',
      params: KeyParams,
      response: ContextKey,
      errors: [404],
    },
    (c, { params }) => context.get(principalOf(c), params.namespace, params.key),
  );

  // Hot path: the body goes straight to parseKeyWrite, as before (the schema documents it).
  defineRoute(
    r,
    {
      method: 'put',
      path: '/context/keys/:namespace/:key',
      tags,
      summary: 'Write a key (optimistic `expected_version`)',
      access: 'any',
      params: KeyParams,
      body: KeyWriteBody,
      lazyBody: true,
      response: KeyWritten,
      errors: [409, 413],
    },
    (c, { params }) => context.put(principalOf(c), parseKeyWrite(params.namespace, params.key, bodyOf(c))),
  );

  // Owners may delete their keys too (C9); the service applies the write rule.
  defineRoute(
    r,
    {
      method: 'delete',
      path: '/context/keys/:namespace/:key',
      tags,
      summary: 'Delete a key (admin or owner)',
      access: 'any',
      params: KeyParams,
      response: KeyDeleted,
      errors: [404],
    },
    (c, { params }) => context.remove(principalOf(c), params.namespace, params.key),
  );

  defineRoute(
    r,
    {
      method: 'get',
      path: '/context',
      tags,
      summary: 'Legacy project documents',
      access: 'any',
      response: z.array(ContextDoc),
    },
    () => context.listDocs(),
  );
  defineRoute(
    r,
    {
      method: 'get',
      path: '/context/:projectId',
      tags,
      summary: "A project's legacy document",
      access: 'any',
      params: ProjectParams,
      response: ContextDoc,
    },
    (_c, { params }) => context.getDoc(params.projectId),
  );
  defineRoute(
    r,
    {
      method: 'put',
      path: '/context/:projectId',
      tags,
      summary: "Replace a project's legacy document",
      access: 'any',
      params: ProjectParams,
      body: DocBody,
      lazyBody: true,
      response: DocWritten,
      errors: [413],
    },
    (c, { params }) => context.putDoc(principalOf(c), params.projectId, bodyOf(c).data),
  );

  return r;
}
