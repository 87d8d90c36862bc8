import { Hono } from 'hono';
import type { AppContext } from '../../context.js';
import type { AppEnv } from '../../http/env.js';
import { bodyOf, queryOf } from '../../http/body.js';
import { badRequest } from '../../http/errors.js';
import { parseIntId, queryInt } from '../../http/validate.js';
import { principalOf, requireAdmin, requireAny } from '../../auth/principal.js';
import { ContextService, parseKeyWrite } from './service.js';

const HOUR = 3_600_000;

/** Context store: legacy project documents and namespaced keys with history (spec 04 §3). */
export function contextRoutes(app: AppContext) {
  const r = new Hono<AppEnv>();
  const context = new ContextService(app);
  app.jobs.push({ name: 'context_purge', everyMs: HOUR, run: () => context.purge() });

  // Literal segments first: /context/keys…, /context/stats and /context/namespaces are never project ids.
  r.get('/context/keys', requireAny, async (c) => {
    const q = queryOf(c);
    return c.json(
      await context.list(principalOf(c), {
        namespace: q.namespace,
        category: q.category,
        updated_by: q.updated_by,
        search: q.search,
        limit: queryInt(q.limit, 'limit', 200, 1, 1000),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000),
      }),
    );
  });

  r.get('/context/namespaces', requireAny, async (c) => c.json(await context.namespaces(principalOf(c))));
  r.get('/context/stats', requireAdmin, async (c) => c.json(await context.stats()));

  r.post('/context/keys/bulk', requireAny, async (c) => {
    const keys = bodyOf(c).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw badRequest('keys array is required');
    if (keys.length > 50) throw badRequest('Maximum 50 keys per batch');
    return c.json(await context.bulk(principalOf(c), keys));
  });

  r.post('/context/keys/bulk-delete', requireAdmin, async (c) => {
    const ids = bodyOf(c).ids;
    if (!Array.isArray(ids) || ids.length === 0) throw badRequest('ids array is required');
    if (ids.length > 200) throw badRequest('Maximum 200 keys per bulk delete');
    if (!ids.every((i) => Number.isSafeInteger(i) && i > 0)) throw badRequest('ids must be positive integers');
    return c.json(await context.bulkDelete(ids as number[]));
  });

  r.post('/context/keys/rollback/:historyId', requireAny, async (c) => {
    const id = parseIntId(c.req.param('historyId'));
    if (id === null) throw badRequest('Invalid history ID');
    return c.json(await context.rollback(principalOf(c), id));
  });

  r.get('/context/keys/:namespace', requireAny, async (c) => {
    const q = queryOf(c);
    return c.json(
      await context.list(principalOf(c), {
        namespace: c.req.param('namespace'),
        limit: queryInt(q.limit, 'limit', 200, 1, 1000),
        offset: queryInt(q.offset, 'offset', 0, 0, 1_000_000),
      }),
    );
  });

  r.get('/context/keys/:namespace/:key/history', requireAny, async (c) => {
    const limit = queryInt(c.req.query('limit'), 'limit', 20, 1, 100);
    return c.json(await context.history(principalOf(c), c.req.param('namespace'), c.req.param('key'), limit));
  });

  r.get('/context/keys/:namespace/:key', requireAny, async (c) =>
    c.json(await context.get(principalOf(c), c.req.param('namespace'), c.req.param('key'))),
  );

  r.put('/context/keys/:namespace/:key', requireAny, async (c) => {
    const body = bodyOf(c);
    return c.json(await context.put(principalOf(c), parseKeyWrite(c.req.param('namespace'), c.req.param('key'), body)));
  });

  // Owners may delete their keys too (C9); the service applies the write rule.
  r.delete('/context/keys/:namespace/:key', requireAny, async (c) =>
    c.json(await context.remove(principalOf(c), c.req.param('namespace'), c.req.param('key'))),
  );

  r.get('/context', requireAny, async (c) => c.json(await context.listDocs()));
  r.get('/context/:projectId', requireAny, async (c) => c.json(await context.getDoc(c.req.param('projectId'))));
  r.put('/context/:projectId', requireAny, async (c) =>
    c.json(await context.putDoc(principalOf(c), c.req.param('projectId'), bodyOf(c).data)),
  );

  return r;
}
