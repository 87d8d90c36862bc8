/**
 * The exports of a CommonJS package loaded with `import()` (undici: loaded on first use to keep
 * start-up memory down, issue 11). Node's own loader answers a namespace with the exports as named
 * bindings beside `default`; in the server bundle, where each lazily loaded package is a chunk of
 * its own (scripts/build-server.mjs), a CommonJS package's namespace has `default` only. `name` is
 * an export the caller needs: where the namespace lacks it, `default` holds the exports object.
 */
export function cjsExports<T extends object>(namespace: T, name: keyof T): T {
  return name in namespace ? namespace : (namespace as { default: T }).default;
}
