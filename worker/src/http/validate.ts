import { z } from 'zod';
import { type AppError, badRequest, invalidEnum } from './errors.js';

/**
 * One validation style: zod schemas next to the route, parsed here. The first problem becomes a
 * 400 whose sentence names the field — never a coerced value stored, never a 500.
 */
export function parseWith<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw issueToError(r.error.issues[0], input);
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function issueToError(issue: z.core.$ZodIssue, input: unknown): AppError {
  const field = issue.path.map(String).join('.') || 'body';
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return badRequest(`${field} is required`);
      return badRequest(`${field} must be ${article(issue.expected)}`);
    case 'invalid_value':
      if (issue.values.every((v) => typeof v === 'string')) {
        return invalidEnum(field, value, issue.values as string[]);
      }
      return badRequest(`${field} must be one of: ${issue.values.map(String).join(', ')}`);
    case 'too_big':
      if (issue.origin === 'string') return badRequest(`${field} exceeds max length (${issue.maximum} chars)`);
      if (issue.origin === 'array') return badRequest(`${field} has more than ${issue.maximum} items`);
      return badRequest(`${field} must be at most ${issue.maximum}`);
    case 'too_small':
      if (issue.origin === 'string' && Number(issue.minimum) === 1) return badRequest(`${field} is required`);
      if (issue.origin === 'string') return badRequest(`${field} must be at least ${issue.minimum} characters`);
      return badRequest(`${field} must be at least ${issue.minimum}`);
    case 'unrecognized_keys':
      return badRequest(`Unknown field: ${issue.keys.join(', ')}`);
    case 'custom':
      // Schema pieces that word their own sentence after the field name (contract.ts queryInt).
      if ((issue.params as { sentence?: boolean } | undefined)?.sentence)
        return badRequest(`${field} ${issue.message}`);
      return badRequest(issue.message ? `${field}: ${issue.message}` : `${field} is invalid`);
    default:
      return badRequest(issue.message ? `${field}: ${issue.message}` : `${field} is invalid`);
  }
}

function article(expected: string): string {
  const map: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'a boolean',
    array: 'an array',
    object: 'an object',
  };
  return map[expected] ?? `of type ${expected}`;
}

/** Strict integer id from a path segment: `/plans/1abc` is not plan 1. */
export function parseIntId(raw: string | undefined): number | null {
  if (!raw || !/^[1-9]\d{0,15}$/.test(raw)) return null;
  return Number(raw);
}

/** Largest offset any list accepts: far past any real table, well inside SQLite's integer range. */
export const MAX_OFFSET = 1_000_000_000;

/**
 * Query-string integer with default and bounds (limit/offset style). Out-of-range values are
 * clamped before they reach SQL: a 19-digit number becomes an inexact float that SQLite refuses.
 */
export function queryInt(raw: string | undefined, field: string, dflt: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return dflt;
  if (!/^-?\d+$/.test(raw)) throw badRequest(`${field} must be an integer`);
  const n = Number(raw);
  return Math.min(max, Math.max(min, Number.isFinite(n) ? n : n > 0 ? max : min));
}

/** Common field shapes. */
export const idString = (max = 128) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'may contain only letters, digits, ".", "_", ":" and "-"');
