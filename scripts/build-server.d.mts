export const SERVER_EXTERNALS: string[];
/** The banner that gives an ESM bundle a `require` for bundled CommonJS code. */
export const ESM_REQUIRE_BANNER: string;
/** Builds into `outdir` (default dist/); answers the server file and the packages it imports at run time. */
export function buildServer(outdir?: string): Promise<{ outfile: string; runtimeImports: string[] }>;
