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

type Trie = Map<unknown, Trie | string>;
const LEAF = Symbol('text');

/**
 * SqlTexts keyed by a list of parts instead of one string: a key joined from long parts (the SQL
 * of the reads a statement embeds) is a new string on every call, and hashing it costs what
 * hashing the statement would (issue 11: a few µs per KB). Each part is looked up on its own, in
 * a tree of Maps: a part that is a constant (a repo's SQL literal, a module's array of column
 * names) is hashed once by V8 and then found by a lookup of its cached hash or its identity.
 * Bounded like SqlTexts: past `max` texts it starts over.
 */
export class SqlTextsByParts {
  private root: Trie = new Map();
  private size = 0;

  constructor(private readonly max = 200) {}

  get(parts: readonly unknown[], build: () => string): string {
    let node = this.root;
    for (const p of parts) {
      let next = node.get(p) as Trie | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(p, next);
      }
      node = next;
    }
    let sql = node.get(LEAF) as string | undefined;
    if (sql === undefined) {
      const built = build();
      if (this.size >= this.max) {
        this.root = new Map();
        this.size = 0;
        return this.get(parts, () => built);
      }
      sql = built;
      node.set(LEAF, sql);
      this.size++;
    }
    return sql;
  }
}
