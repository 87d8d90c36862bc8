/**
 * `npm run dev:libsql`: a local libSQL (Hrana over HTTP) server on a database file, for pointing a
 * Worker run by `wrangler dev` (or any libSQL client) at. Loopback only.
 *
 *   npm run dev:libsql -- --db .dev-worker/mycelium.db --port 8080 [--token secret]
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startHranaServer } from './hrana-server.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: '.dev-worker/mycelium.db' },
    port: { type: 'string', default: '8080' },
    token: { type: 'string' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a TCP port, got ${values.port}`);
  process.exit(2);
}
const dbPath = resolve(values.db!);
mkdirSync(dirname(dbPath), { recursive: true, mode: 0o700 });
const server = await startHranaServer({ dbPath, port, token: values.token });
console.log(`libSQL dev server on ${server.url} (database ${dbPath})`);
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
