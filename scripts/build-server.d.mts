export const SERVER_EXTERNALS: string[];
/** Builds into `outdir` (default dist/); answers the server file and the packages it imports at run time. */
export function buildServer(outdir?: string): Promise<{ outfile: string; runtimeImports: string[] }>;
