import { z } from 'zod';

/**
 * A request field its service validates with its own sentences (which a schema cannot reproduce):
 * the document shows its JSON Schema, the route passes the value through as sent.
 */
export function serviceChecked(json: Record<string, unknown>) {
  return z.unknown().optional().meta(json);
}

/** `{ ok: true }`, the plain acknowledgement most writes answer. */
export const OkTrue = z.object({ ok: z.literal(true) }).meta({ id: 'OkTrue' });
