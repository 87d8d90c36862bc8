/**
 * The floor: the least a heartbeat can cost on this machine with our stack. A bare Hono app on
 * @hono/node-server that parses the heartbeat body and does ONE SQLite upsert through the
 * synchronous `libsql` driver (WAL, synchronous=NORMAL) — no auth, no rules, no events.
 * `bench/coordination.ts` runs it beside the real server and reports ours / floor, a ratio that
 * survives a noisy machine where an absolute number does not (issue 11).
 *
 *   npx tsx bench/floor-server.ts <data-dir>      # prints "floor http://127.0.0.1:<port>"
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import Database from 'libsql';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'mycelium-floor-'));
const db = new Database(join(dir, 'floor.db'));
db.exec('PRAGMA journal_mode = WAL');
db.exec('PRAGMA synchronous = NORMAL');
db.exec('CREATE TABLE IF NOT EXISTS heartbeats (agent_id TEXT PRIMARY KEY, status TEXT, working_on TEXT, at TEXT)');
const upsert = db.prepare(
  "INSERT INTO heartbeats (agent_id, status, working_on, at) VALUES (?, ?, ?, datetime('now')) ON CONFLICT(agent_id) DO UPDATE SET status = excluded.status, working_on = excluded.working_on, at = excluded.at",
);

const app = new Hono();
app.post('/api/mycelium/agents/heartbeat', async (c) => {
  const body = (await c.req.json()) as { status?: string; working_on?: string };
  upsert.run(c.req.header('x-agent-key') ?? 'anonymous', body.status ?? 'online', body.working_on ?? '');
  return c.json({ ok: true, pending: 0 });
});

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
  console.log(`floor http://127.0.0.1:${info.port}`),
);
process.on('SIGTERM', () => {
  server.close();
  db.close();
  process.exit(0);
});
