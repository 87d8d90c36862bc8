/**
 * At most this many database calls of one request in flight at once. On Workers each call is one
 * HTTP subrequest to libSQL and the platform allows 6 open connections per request (more are
 * queued by the runtime, in an order we do not control). On Node the calls are synchronous
 * underneath, so the bound costs nothing there.
 */
const MAX_PARALLEL_QUERIES = 6;

type Thunks = readonly (() => unknown)[];

/**
 * `Promise.all` for independent reads of ONE request, started at most `limit` at a time, results in
 * order. Takes functions rather than promises so that nothing starts before it has a slot. Used only
 * within a request: a queue shared across requests would let one request's completion resume
 * another's work, which workerd refuses (see LibsqlHttpDriver).
 */
export async function parallelQueries<T extends Thunks>(
  tasks: readonly [...T],
  limit = MAX_PARALLEL_QUERIES,
): Promise<{ -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const results = new Array<unknown>(tasks.length);
  let next = 0;
  const lane = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
  return results as { -readonly [K in keyof T]: Awaited<ReturnType<T[K]>> };
}

/** Awaits every promise of a record at once and answers the record of their values (names kept, types kept). */
export async function awaitAll<T extends Record<string, unknown>>(o: T): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const keys = Object.keys(o);
  const values = await Promise.all(keys.map((k) => o[k]));
  return Object.fromEntries(keys.map((k, i) => [k, values[i]])) as { [K in keyof T]: Awaited<T[K]> };
}
