// Types of the module scripts/gen-docs-assets.mjs generates (the .js is build output and not
// committed; this declaration is, so tsc needs no build).
export interface DocsAsset {
  type: string;
  etag: string;
  body: string;
}

/** Keyed by file name: `index.html`, `init.js`, `swagger-ui-bundle.js`, `swagger-ui.css`. */
export declare const DOCS_ASSETS: Record<string, DocsAsset>;
