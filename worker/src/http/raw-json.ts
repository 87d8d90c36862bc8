/**
 * JSON text that SQLite already built (`json_group_array`, `json_object`), placed into an answer
 * as it is: not parsed into objects only to be serialized again. Issue 11: boot's list of other
 * agents (up to 200 entries) cost more in `JSON.parse` and `JSON.stringify` than SQLite took to
 * build it — 126 µs of JavaScript at 200 entries, 13 KB of text.
 *
 * A route's handler puts a `RawJson` as a top-level field of its answer. The contract layer
 * (contract.ts) checks the field against the answer's schema as an empty array of that name, then
 * serializes the answer with `stringifyAnswer`, which writes the text where the field stands.
 * Stringified any other way (a test, a log), a `RawJson` becomes the parsed value: always right,
 * only slower. The text must be one JSON value made by SQLite's JSON functions (valid by
 * construction), never text a client sent.
 */
export class RawJson {
  constructor(readonly text: string) {}

  /** Inside `stringifyAnswer`: a placeholder for the text; anywhere else: the parsed value. */
  toJSON(): unknown {
    if (!collecting) return JSON.parse(this.text);
    collecting.push(this.text);
    return `${placeholderPrefix()}${collecting.length - 1}`;
  }
}

/** The texts of the RawJson values met by the one `JSON.stringify` running now (it is synchronous). */
let collecting: string[] | null = null;
let prefix: string | undefined;

/**
 * A placeholder no answer holds by chance: a NUL character (JSON writes it `\u0000`) and 128 random
 * bits chosen once per process, never sent (every placeholder is replaced before the answer leaves).
 * Chosen on first use: Workers allow no random values at module scope.
 */
function placeholderPrefix(): string {
  if (prefix === undefined) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    prefix = `\u0000raw-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}-`;
  }
  return prefix;
}

/** `JSON.stringify(value)`, with each RawJson's text in its place. */
export function stringifyAnswer(value: unknown): string {
  collecting = [];
  let text: string;
  let found: string[];
  try {
    text = JSON.stringify(value);
  } finally {
    found = collecting;
    collecting = null;
  }
  // A function as the replacement: the text is inserted literally (no `$&` patterns).
  for (let i = 0; i < found.length; i++) text = text.replace(JSON.stringify(`${prefix}${i}`), () => found[i]);
  return text;
}

/** The answer's top-level RawJson fields, or null (the usual case: nothing to set aside). */
export function rawFieldsOf(value: unknown): Map<string, RawJson> | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  let raw: Map<string, RawJson> | null = null;
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (!(v instanceof RawJson)) continue;
    raw ??= new Map();
    raw.set(key, v);
  }
  return raw;
}
