// Bundles the Workers entry with esbuild (what `wrangler deploy` would upload) into dist/worker.js.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { genDashboard } from './gen-dashboard.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The esbuild options of the Worker bundle (shared by the build and the dev loop's watcher). */
export function workerBuildOptions(outfile = join(root, 'dist/worker.js')) {
  return {
    entryPoints: [join(root, 'worker/src/index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser', 'import'],
    mainFields: ['browser', 'module', 'main'],
    logLevel: 'warning',
    legalComments: 'none',
  };
}

export async function buildWorker(outfile = join(root, 'dist/worker.js')) {
  genDashboard(); // the dashboard's files, embedded (the Worker cannot read folders)
  await build(workerBuildOptions(outfile));
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await buildWorker();
  console.log(`built ${out}`);
}
