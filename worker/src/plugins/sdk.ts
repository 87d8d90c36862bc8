/**
 * What plugin modules import: the host contract types and the core's error and parsing helpers,
 * so plugin routes answer with the same error shapes and strictness as core routes.
 */
export type {
  PluginApi,
  PluginModule,
  PluginRequest,
  RouteHandler,
  HookHandler,
  GuardInput,
  PluginJob,
  RouteAuth,
  ContextScorer,
  RouteOptions,
} from './types.js';
export type { Principal } from '../auth/principal.js';
export type { Db } from '../db/db.js';
export type { Statement } from '../db/types.js';
/** zod, for a route's declared `query`/`body` schemas (issue 15): the host validates and documents them. */
export { z } from 'zod';
/** Schema pieces shared with core routes: sentence-preserving checks and bounded integer query fields. */
export { sentence, documented } from '../http/contract-fields.js';
export { queryInt as intQuery, queryFlag } from '../http/contract.js';
export type { CoreApi } from './core-api.js';
export type { MyceliumEvent } from '../domain/events/bus.js';
export { reply, PluginReply } from './types.js';
export { AppError, badRequest, forbidden, notFound, conflict, invalidEnum, unauthorized } from '../http/errors.js';
export { parseIntId, queryInt, parseWith } from '../http/validate.js';
export { SsrfBlockedError } from '../http/ssrf.js';
export { boundedMatch, quotePattern, unsafePatternReason } from '../rules/safe-regex.js';
export { whereAll } from '../db/sql.js';

/** Filters shared by the rule lists of rule-based plugins (`?enabled=`, `?trigger_event=`, `?project_id=`). */
export function ruleListFilters(query: Record<string, string | undefined>): [string, ...(string | number)[]][] {
  const conditions: [string, ...(string | number)[]][] = [];
  if (query.enabled !== undefined)
    conditions.push(['enabled = ?', query.enabled === '1' || query.enabled === 'true' ? 1 : 0]);
  if (query.trigger_event) conditions.push(['trigger_event = ?', query.trigger_event]);
  if (query.project_id) conditions.push(['project_id = ?', query.project_id]);
  return conditions;
}

/** SQLite `datetime('now')` text for an instant (UTC, `YYYY-MM-DD HH:MM:SS`); plugins' name for the core's `toDbTime`. */
export { toDbTime as sqlTime } from '../db/time.js';

/** JSON text → value, or the fallback when it does not parse. */
export function parseJson<T>(text: unknown, fallback: T): T {
  if (typeof text !== 'string') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** Event data as an object whatever the emitter passed (W7: sometimes a JSON string). */
export function dataObject(data: unknown): Record<string, unknown> {
  const v = typeof data === 'string' ? parseJson<unknown>(data, {}) : data;
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
export { secretsEqual, hmacSha256Hex } from '../auth/crypto.js';
