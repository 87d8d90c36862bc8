import type { Context } from 'hono';
import type { AppEnv } from './env.js';
import { badRequest } from './errors.js';

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
