import fc from 'fast-check';

/**
 * fast-check arbitraries from the JSON Schemas of our OpenAPI document: values a schema accepts,
 * and near misses (one field of the wrong type, out of range, an unknown enum value, a huge or
 * odd string). Written here because zod-fast-check supports neither zod 4 nor fast-check 4; the
 * document's JSON Schema is the contract anyway, so generating from it tests what clients read.
 */

type Schema = Record<string, unknown>;
export type Resolve = (ref: string) => Schema;

const ODD_STRINGS = [
  '',
  ' ',
  '1abc',
  '-1',
  '9223372036854775807',
  'constructor',
  '__proto__',
  'toString',
  '\u0000',
  '\u202e',
  '\ud800',
  '𝕏'.repeat(40),
  'é',
  'a'.repeat(5000),
];

function deref(s: Schema, resolve: Resolve): Schema {
  let x = s;
  for (let i = 0; i < 10 && typeof x.$ref === 'string'; i++) x = resolve(x.$ref as string);
  return x;
}

function types(s: Schema): string[] {
  if (Array.isArray(s.type)) return s.type as string[];
  if (typeof s.type === 'string') return [s.type];
  return [];
}

/** Values the schema accepts (best effort: patterns are not generated, only lengths). */
export function valid(s0: Schema, resolve: Resolve, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(s0, resolve);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alts = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (alts?.length) return fc.oneof(...alts.map((a) => valid(a, resolve, depth + 1)));
  if (Array.isArray(s.allOf) && s.allOf.length) return valid(s.allOf[0] as Schema, resolve, depth + 1);
  const t = types(s);
  if (t.length === 0) return fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean());
  return fc.oneof(
    ...t.map((type): fc.Arbitrary<unknown> => {
      switch (type) {
        case 'null':
          return fc.constant(null);
        case 'boolean':
          return fc.boolean();
        case 'integer':
          return fc.integer({
            min: typeof s.minimum === 'number' ? Math.max(s.minimum, -1e9) : -1000,
            max: typeof s.maximum === 'number' ? Math.min(s.maximum, 1e9) : 1000,
          });
        case 'number':
          return fc.double({
            min: typeof s.minimum === 'number' ? Math.max(s.minimum, -1e9) : -1000,
            max: typeof s.maximum === 'number' ? Math.min(s.maximum, 1e9) : 1000,
            noNaN: true,
            noDefaultInfinity: true,
          });
        case 'string': {
          const min = typeof s.minLength === 'number' ? s.minLength : 0;
          const max = Math.max(min, Math.min(typeof s.maxLength === 'number' ? s.maxLength : 30, 30));
          return fc.string({ minLength: Math.max(min, 1), maxLength: Math.max(max, 1) }).map((v) => v.trim() || 'x');
        }
        case 'array': {
          const items = (s.items as Schema | undefined) ?? {};
          if (depth > 4) return fc.constant([]);
          return fc.array(valid(items, resolve, depth + 1), { maxLength: Math.min(Number(s.maxItems ?? 3), 3) });
        }
        case 'object': {
          const props = (s.properties ?? {}) as Record<string, Schema>;
          if (depth > 4) return fc.constant({});
          const required = new Set((s.required ?? []) as string[]);
          const rec: Record<string, fc.Arbitrary<unknown>> = {};
          for (const [k, v] of Object.entries(props)) rec[k] = valid(v, resolve, depth + 1);
          // Optional keys come and go, so defaults are exercised too.
          return fc.record(rec, { requiredKeys: [...required].filter((k) => k in props) as never[] });
        }
        default:
          return fc.constant(null);
      }
    }),
  );
}

/** A value that breaks this schema in one typical way (what a confused or hostile client sends). */
export function invalid(s0: Schema, resolve: Resolve): fc.Arbitrary<unknown> {
  const s = deref(s0, resolve);
  const out: fc.Arbitrary<unknown>[] = [
    fc.constantFrom<unknown>(...ODD_STRINGS, 2 ** 63, -1, 1.5, true, null, [], {}, { __proto__: { x: 1 } }),
  ];
  if (Array.isArray(s.enum)) out.push(fc.constant('not-a-listed-value'));
  const t = types(s);
  if (t.includes('integer') || t.includes('number'))
    out.push(fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -1e308, 1e308, '12'));
  if (t.includes('string') && typeof s.maxLength === 'number') out.push(fc.constant('y'.repeat(s.maxLength + 1)));
  if (t.includes('array')) out.push(fc.constant(Array.from({ length: 1000 }, () => 1)));
  return fc.oneof(...out);
}

/** An object schema's value with one field (or the whole body) replaced by a near miss. */
export function nearMiss(s0: Schema, resolve: Resolve): fc.Arbitrary<unknown> {
  const s = deref(s0, resolve);
  const props = (s.properties ?? {}) as Record<string, Schema>;
  const keys = Object.keys(props);
  if (!keys.length) return invalid(s, resolve);
  return fc
    .tuple(valid(s, resolve), fc.constantFrom(...keys))
    .chain(([base, key]) =>
      invalid(props[key], resolve).map((bad) => ({ ...(base as Record<string, unknown>), [key]: bad })),
    );
}
