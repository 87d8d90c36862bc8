import type { BuildOptions } from 'esbuild';
export function workerBuildOptions(outfile?: string): BuildOptions;
export function buildWorker(outfile?: string): Promise<string>;
