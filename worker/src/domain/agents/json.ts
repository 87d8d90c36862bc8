import { badRequest } from '../../http/errors.js';

/** JSON-in-TEXT helpers shared by the agent-area services. Invalid stored JSON never throws. */
export function parseArray(text: string | null | undefined): unknown[] {
  if (!text) return [];
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

export function parseObject(text: string | null | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

export function parseStringArray(text: string | null | undefined): string[] {
  return parseArray(text).filter((x): x is string => typeof x === 'string');
}

/**
 * A client value that must be an array: an array, or a JSON string of one (the MCP client sends
 * JSON strings — spec 02 W36). Anything else is a 400 naming the field.
 */
export function arrayInput(field: string, v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    try {
      const p = JSON.parse(v);
      if (Array.isArray(p)) return p;
    } catch {
      /* fall through */
    }
  }
  throw badRequest(`${field} must be an array`);
}

/** An object given as itself or as JSON text, else null. */
export function asObject(v: unknown): Record<string, unknown> | null {
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  if (typeof v === 'string') {
    try {
      const p = JSON.parse(v);
      if (p && typeof p === 'object' && !Array.isArray(p)) return p;
    } catch {
      /* not JSON */
    }
  }
  return null;
}

/** Same for objects. */
export function objectInput(field: string, v: unknown): Record<string, unknown> {
  const o = asObject(v);
  if (!o) throw badRequest(`${field} must be an object`);
  return o;
}
