import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import { badRequest } from './errors.js';

/**
 * Handlers (route guards, the plugin dispatcher) that authenticate before the request body is
 * read: when one of them is on a request's route, the body pipeline leaves reading to it, so an
 * unauthenticated client never makes the server read or hold its body (spec 07 SEC-22).
 */
const authFirst = new WeakSet<object>();
export function readsBodyAfterAuth<T extends object>(handler: T): T {
  authFirst.add(handler);
  return handler;
}
export function isAuthFirst(handler: unknown): boolean {
  return typeof handler === 'function' && authFirst.has(handler);
}

/** Reads and parses the body now if the pipeline deferred it (a no-op when already read). */
export async function loadBody(c: Context<AppEnv>): Promise<void> {
  await c.get('loadBody')?.();
}

/**
 * The request body as an object, with project-field normalisation (spec 01 conventions):
 * when `project_id` is absent, `project` (or legacy `game`) fills it.
 */
export function bodyOf(c: Context<AppEnv>): Record<string, unknown> {
  const b = c.get('body');
  if (Array.isArray(b)) throw badRequest('Request body must be a JSON object');
  const body = { ...(b as Record<string, unknown>) };
  if (body.project_id === undefined) {
    if (body.project !== undefined && typeof body.project === 'string') body.project_id = body.project;
    else if (body.game !== undefined && typeof body.game === 'string') body.project_id = body.game;
  }
  return body;
}

/** Query parameters with the same normalisation. */
export function queryOf(c: Context<AppEnv>): Record<string, string> {
  const q = { ...c.req.query() };
  if (q.project_id === undefined) {
    if (q.project !== undefined) q.project_id = q.project;
    else if (q.game !== undefined) q.project_id = q.game;
  }
  return q;
}
