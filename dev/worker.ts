/**
 * `npm run dev:worker`: the Worker bundle served locally, offline, in one command.
 *
 * What it does, in order:
 *  1. reads `.dev.vars` (the file `wrangler dev` reads too); on the first run it generates ADMIN_KEY
 *     and JWT_SECRET there (0600, git-ignored) and prints the admin key once, like `npm start`;
 *  2. starts local libSQL servers (dev/hrana-server.ts) on files under `.dev-worker/`: one for the
 *     core database and one per bundled plugin, as production has one libSQL database each;
 *  3. builds dist/worker.js and runs it in workerd through Miniflare (no wrangler, no network),
 *     with a local R2 bucket for blobs persisted under `.dev-worker/r2`;
 *  4. fires the cron handler every minute (production's schedule) and rebuilds on source changes.
 *
 * Options (env): DEV_WORKER_PORT (default 8787; 0 picks a free port), DEV_WORKER_DIR (default .dev-worker),
 * DEV_WORKER_VARS (default .dev.vars), DEV_WORKER_BUNDLE (default dist/worker.js), DEV_WORKER_WATCH=0 to turn rebuilding off.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { context } from 'esbuild';
import { Miniflare } from 'miniflare';
import { startHranaServer, type HranaServer } from './hrana-server.js';
import { PLUGIN_NAMES } from '../worker/src/plugins/registry.generated.js';
import { pluginDbVar } from '../worker/src/worker-runtime.js';
import { workerBuildOptions } from '../scripts/build-worker.mjs';
import { genDashboard } from '../scripts/gen-dashboard.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.DEV_WORKER_PORT ?? 8787);
const dataDir = resolve(root, process.env.DEV_WORKER_DIR ?? '.dev-worker');
const varsFile = resolve(root, process.env.DEV_WORKER_VARS ?? '.dev.vars');
const bundle = resolve(root, process.env.DEV_WORKER_BUNDLE ?? 'dist/worker.js');
const watch = process.env.DEV_WORKER_WATCH !== '0';
/** Production's cron runs every minute (wrangler.toml), like Node's maintenance timer. */
const CRON_EVERY_MS = 60_000;

/** `.dev.vars` is dotenv syntax: KEY=value lines, `#` comments, optional quotes. */
export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

/** Reads `.dev.vars`, adding generated secrets on first use. Returns the vars and whether the key is new. */
function loadDevVars(): { vars: Record<string, string>; generatedAdminKey: boolean } {
  const text = existsSync(varsFile) ? readFileSync(varsFile, 'utf8') : '';
  const vars = parseDevVars(text);
  const added: string[] = [];
  if (!vars.ADMIN_KEY) {
    vars.ADMIN_KEY = `myc_admin_${randomBytes(24).toString('hex')}`;
    added.push(`ADMIN_KEY=${vars.ADMIN_KEY}`);
  }
  if (!vars.JWT_SECRET) {
    vars.JWT_SECRET = randomBytes(48).toString('base64url');
    added.push(`JWT_SECRET=${vars.JWT_SECRET}`);
  }
  if (added.length) {
    const header = text
      ? ''
      : '# Local secrets for `npm run dev:worker` and `wrangler dev`. Git-ignored; never commit.\n';
    const sep = text && !text.endsWith('\n') ? '\n' : '';
    writeFileSync(varsFile, `${text}${sep}${header}${added.join('\n')}\n`, { mode: 0o600 });
    chmodSync(varsFile, 0o600);
  }
  return { vars, generatedAdminKey: added.some((l) => l.startsWith('ADMIN_KEY=')) };
}

async function main() {
  mkdirSync(join(dataDir, 'plugins'), { recursive: true, mode: 0o700 });
  const { vars, generatedAdminKey } = loadDevVars();
  genDashboard(); // the dashboard's files, embedded into the bundle (the Worker cannot read folders)

  const servers: HranaServer[] = [];
  const core = await startHranaServer({ dbPath: join(dataDir, 'mycelium.db') });
  servers.push(core);
  const pluginBindings: Record<string, string> = {};
  for (const name of PLUGIN_NAMES) {
    const s = await startHranaServer({ dbPath: join(dataDir, 'plugins', `${name}.db`) });
    servers.push(s);
    pluginBindings[pluginDbVar(name)] = s.url;
  }

  // One esbuild context: the first build, then (unless DEV_WORKER_WATCH=0) a rebuild on every source
  // change; a rebuild that succeeds reloads the Worker with the same databases and secrets.
  let mf: Miniflare | undefined;
  /** esbuild's watch() starts with a build of its own; that one needs no reload. */
  let skipReload = false;
  const builder = await context({
    ...workerBuildOptions(bundle),
    plugins: [
      {
        name: 'reload-miniflare',
        setup(b) {
          b.onEnd(async (result) => {
            if (!mf || result.errors.length) return;
            if (skipReload) {
              skipReload = false;
              return;
            }
            await mf.setOptions(options);
            console.log(`${new Date().toISOString()} rebuilt and reloaded`);
          });
        },
      },
    ],
  });
  await builder.rebuild();

  const options = {
    modules: true,
    scriptPath: bundle,
    modulesRoot: dirname(bundle),
    compatibilityDate: '2025-07-01',
    host: '127.0.0.1',
    port,
    r2Buckets: ['BLOBS'],
    durableObjects: { EVENT_HUB: 'EventHub', FILE_DRONES: 'FileDroneHubObject', VOICE_HUB: 'VoiceHubObject' },
    r2Persist: join(dataDir, 'r2'),
    bindings: { TRUST_PROXY: 'false', ...pluginBindings, ...vars, LIBSQL_URL: vars.LIBSQL_URL || core.url },
  };
  mf = new Miniflare(options);
  const url = await mf.ready;

  console.log(`Mycelium Worker (workerd) listening on ${url.origin}  — API under ${url.origin}/api/mycelium`);
  console.log(`  libSQL: ${options.bindings.LIBSQL_URL}  data: ${dataDir}`);
  if (generatedAdminKey) {
    console.log('');
    console.log(`  Admin key (shown once; kept in .dev.vars): ${vars.ADMIN_KEY}`);
    console.log('');
  } else {
    console.log('  Admin key: the ADMIN_KEY in .dev.vars');
  }

  const cron = setInterval(async () => {
    try {
      const worker = (await mf!.getWorker()) as unknown as { scheduled(o: { cron: string }): Promise<unknown> };
      await worker.scheduled({ cron: '* * * * *' });
    } catch (err) {
      console.error(`cron failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }, CRON_EVERY_MS);

  if (watch) {
    skipReload = true;
    await builder.watch();
  }

  const stop = async () => {
    clearInterval(cron);
    await mf?.dispose();
    await builder.dispose();
    for (const s of servers) await s.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`FATAL: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
