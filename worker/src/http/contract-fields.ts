import { z } from 'zod';

/**
 * Schema pieces for fields whose check must keep today's sentence or stays where it lives (issue 15).
 *
 * `documented(json)`: the field is described in the document (its JSON Schema given literally) but
 * accepted as sent, because the service that owns the rule checks it, with its own sentence and in
 * the order the spec requires (guardrails, 404, token checks first). Such fields never reach the
 * service unvalidated: they reach the one place that validates them.
 *
 * `sentence(json, test)`: the field is checked here; `test` returns what follows the field name in
 * the 400 (`task_id must be a positive integer`), matching the sentence the route answered before.
 */
export type JsonDoc = Record<string, unknown>;

export function documented(doc: JsonDoc) {
  return z.unknown().optional().meta(doc);
}

export function sentence(
  doc: JsonDoc,
  test: (v: unknown) => string | null,
  opts: { required?: boolean; always?: boolean } = {},
) {
  // A missing required key answers `<field> is required` (issueToError); a missing optional key is not checked.
  // With `always`, a missing key is handed to `test` too (sentences such as `vote must be approve or deny`).
  const base = opts.required || opts.always ? z.unknown() : z.unknown().optional();
  return base
    .superRefine((v, ctx) => {
      const problem = v === undefined && opts.required ? 'is required' : test(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { sentence: true } });
    })
    .meta(doc);
}

/** A body the service validates field by field: named fields documented, others accepted as today. */
export function serviceBody(fields: Record<string, JsonDoc>) {
  return z.looseObject(Object.fromEntries(Object.entries(fields).map(([k, d]) => [k, documented(d)])));
}

export const S = { type: 'string' } as const;
export const I = { type: 'integer' } as const;
export const B = { type: 'boolean' } as const;

/** `{ ok: true }`, the plain acknowledgement most writes answer. */
export const OkTrue = z.object({ ok: z.literal(true) }).meta({ id: 'OkTrue' });
