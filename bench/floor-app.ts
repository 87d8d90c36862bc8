/**
 * The floor's app (bench/floor-server.ts serves it; bench/in-process.ts calls it in process): a bare
 * Hono app that parses the heartbeat body and does ONE SQLite upsert through the synchronous `libsql`
 * driver (WAL, synchronous=NORMAL) — no auth, no rules, no events.
 */
import { join } from 'node:path';
import { Hono } from 'hono';
import Database from 'libsql';

export function floorApp(dir: string): { app: Hono; close(): void } {
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
  return { app, close: () => db.close() };
}
