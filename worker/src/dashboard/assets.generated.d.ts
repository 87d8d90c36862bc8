// Types of the module scripts/gen-dashboard.mjs generates from worker/src/dashboard/ui/ (the
// generated .js is build output and not committed; this declaration is, so tsc needs no build).
export interface DashboardAsset {
  /** Content-Type to serve it with. */
  type: string;
  /** A strong ETag derived from the content. */
  etag: string;
  body: string;
}

/** Keyed by the path under ui/, e.g. `app.js`, `pages/overview.js`. */
export declare const DASHBOARD_ASSETS: Record<string, DashboardAsset>;
