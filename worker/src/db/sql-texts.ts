/**
 * SQL texts (and what is worked out from one) built once per shape. A hot call whose SQL depends
 * only on its shape (a mode, the names of its extra columns, a scope fragment) gets the same string
 * on every call, so the Node driver finds its prepared statement by that text without building and
 * hashing a new one (issue 11).
 * Bounded: the keys are a handful of shapes; should a caller ever vary them freely, the cache
 * starts over instead of growing.
 */
export class SqlTexts {
  private readonly texts = new Map<string, string>();

  constructor(private readonly max = 200) {}

  /** The text for `key`, built by `build` the first time. */
  get(key: string, build: () => string): string {
    let sql = this.texts.get(key);
    if (sql === undefined) {
      sql = build();
      if (this.texts.size >= this.max) this.texts.clear();
      this.texts.set(key, sql);
    }
    return sql;
  }
}
