/**
 * The floor: the least a heartbeat can cost on this machine with our stack. The bare app of
 * bench/floor-app.ts (parse the heartbeat body, ONE SQLite upsert) on @hono/node-server.
 * `bench/coordination.ts` runs it beside the real server and reports ours / floor, a ratio that
 * survives a noisy machine where an absolute number does not (issue 11).
 *
 *   npx tsx bench/floor-server.ts <data-dir>      # prints "floor http://127.0.0.1:<port>"
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { serve } from '@hono/node-server';
import { floorApp } from './floor-app.js';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'mycelium-floor-'));
const floor = floorApp(dir);

const server = serve({ fetch: floor.app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
  console.log(`floor http://127.0.0.1:${info.port}`),
);
process.on('SIGTERM', () => {
  server.close();
  floor.close();
  process.exit(0);
});
