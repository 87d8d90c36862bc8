// Bundles the Node entry (node-adapter/index.ts) with esbuild into dist/server.mjs, so production
// (`npm start`, the Docker image) runs plain JavaScript: no TypeScript loader in the process (under
// tsx the same server held about twice the memory after start, bench/README.md), one file. The
// dashboard's files (scripts/gen-dashboard.mjs) and the plugin registry
// (worker/src/plugins/registry.generated.ts) are imported modules, so they are inside the bundle.
// `libsql` stays external: it loads a native addon. The worker threads (argon2, WAL checkpoints)
// are entries of their own (dist/argon2-worker.mjs, dist/checkpoint-worker.mjs), found beside the
// bundle through `new URL('./<name>.mjs', import.meta.url)` exactly as beside their sources.
//
// One file, no code splitting: modules reached only through `import()` (undici, ws, the MCP SDK,
// plugins) are still evaluated only on first use, and a rebuild while a server runs cannot pull
// a lazily loaded chunk from under it.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { genDashboard } from './gen-dashboard.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages left to Node's resolver at run time (native code). */
export const SERVER_EXTERNALS = ['libsql'];

/** Bundled CommonJS dependencies call require() for Node built-ins; ESM output has no require. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __myceliumRequire } from 'node:module';\nconst require = __myceliumRequire(import.meta.url);";

/**
 * zod re-exports every message locale (`z.locales.*`, ~360 KB of code, half of zod) although only
 * English is ever used (zod registers it itself): the server's bundle gets a locales module that
 * exports English alone. Parsing and holding the rest cost memory at start (issue 11).
 */
const englishOnlyZodLocales = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), '../locales/index.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      resolveDir: dirname(args.path),
    }));
  },
};

/** Builds into `outdir`; answers the server file and the packages it imports at run time. */
export async function buildServer(outdir = join(root, 'dist')) {
  genDashboard();
  // Chunk names carry a content hash: the last build's chunks would pile up beside the new ones.
  rmSync(join(outdir, 'chunks'), { recursive: true, force: true });
  const result = await build({
    entryPoints: {
      server: join(root, 'node-adapter/index.ts'),
      'argon2-worker': join(root, 'node-adapter/argon2-worker.mjs'),
      'checkpoint-worker': join(root, 'node-adapter/checkpoint-worker.mjs'),
    },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    // What is imported with import() on first use (the docs page's 1.9 MB of assets, undici, the MCP
    // SDK, each plugin) goes to a chunk of its own, read only when first used: in one file V8 held
    // all of it as source from the start (issue 11: RSS after start).
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    target: 'node20',
    external: SERVER_EXTERNALS,
    banner: { js: ESM_REQUIRE_BANNER },
    plugins: [englishOnlyZodLocales],
    sourcemap: 'linked',
    legalComments: 'none',
    // Without comments and indentation the code V8 holds as source is ~35% smaller (a few MB of RSS);
    // names stay, so stack traces still name functions, and `node --enable-source-maps` maps them
    // back to the TypeScript through the linked .map files.
    minifyWhitespace: true,
    logLevel: 'warning',
    metafile: true,
  });
  const outfile = join(outdir, 'server.mjs');
  // Every output file's imports (the entry's and its chunks'): what node_modules must hold at run time.
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports);
  const runtimeImports = [...new Set(imports.filter((i) => i.external).map((i) => i.path))].sort();
  return { outfile, runtimeImports };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const { outfile } = await buildServer();
  console.log(`built ${outfile} in ${Date.now() - t0} ms`);
}
