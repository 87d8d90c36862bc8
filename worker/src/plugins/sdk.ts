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
  PluginEventInput,
} from './types.js';
export type { Principal } from '../auth/principal.js';
export type { Db, Queryable } from '../db/db.js';
export type { Statement } from '../db/types.js';
/** zod, for a route's declared `query`/`body` schemas (issue 15): the host validates and documents them. */
export { z } from 'zod';
/** Schema pieces shared with core routes: sentence-preserving checks and bounded integer query fields. */
export { sentence, documented } from '../http/contract-fields.js';
import { z as zod } from 'zod';
import type { JsonDoc } from '../http/contract-fields.js';

/**
 * A required field whose presence the handler checks itself, because its sentence names several
 * fields at once (`Required: a, b, c`): documented and listed as required in /openapi.json and in
 * generated MCP tool schemas, accepted as sent by the host (the handler's check answers).
 */
export function documentedRequired(doc: JsonDoc) {
  return zod.unknown().catch(undefined).meta(doc);
}

/** The declared input of a route that takes none (its query or body): unknown keys are ignored, as always. */
export const NoInput = zod.object({});

/** `:id` path placeholders: a positive integer id (the plugin answers its own 404 for anything else). */
export const IdParams = zod.object({
  id: zod.string().meta({ type: 'integer', minimum: 1, description: 'Numeric id' }),
});
export { queryFlag } from '../http/contract.js';
import { queryInt as coreQueryInt } from '../http/contract.js';

/**
 * A bounded integer query field (`?limit=`), as core routes parse it, documented as an integer:
 * the generated MCP tool schemas then ask for a number, as the hand-written ones did.
 */
export const intQuery = (dflt: number, min: number, max: number) =>
  coreQueryInt(dflt, min, max).meta({ type: 'integer', minimum: min, maximum: max });
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
