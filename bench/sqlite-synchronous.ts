/**
 * The cost of the durability level (SQLITE_SYNCHRONOUS): single-row commits — the shape of a
 * heartbeat upsert or a claim — through the Node driver, NORMAL vs FULL, alternating rounds so
 * both see the same machine load. Bounded: BENCH_COMMITS per round (default 3000), 3 rounds each.
 *
 *   npx tsx bench/sqlite-synchronous.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteFileDriver } from '../node-adapter/sqlite-driver.js';

const COMMITS = Number(process.env.BENCH_COMMITS ?? 3000);
const ROUNDS = 3;

async function round(level: 'NORMAL' | 'FULL') {
  const dir = mkdtempSync(join(tmpdir(), 'mycelium-bench-sync-'));
  const d = new SqliteFileDriver(join(dir, 'b.db'), level);
  await d.execute({ sql: 'CREATE TABLE beats (agent TEXT PRIMARY KEY, at TEXT, n INTEGER)' });
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < COMMITS; i++) {
    const s = performance.now();
    await d.execute({
      sql: "INSERT INTO beats (agent, at, n) VALUES (?, datetime('now'), 1) ON CONFLICT(agent) DO UPDATE SET at = excluded.at, n = n + 1",
      args: [`agent-${i % 50}`],
    });
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  await d.close();
  rmSync(dir, { recursive: true, force: true });
  lat.sort((a, b) => a - b);
  return { perSec: COMMITS / secs, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] };
}

const results: Record<string, { perSec: number; p50: number; p99: number }[]> = { NORMAL: [], FULL: [] };
for (let r = 0; r < ROUNDS; r++)
  for (const level of ['NORMAL', 'FULL'] as const) results[level].push(await round(level));
console.log(`| level | commits/s (median of ${ROUNDS}) | p50 ms | p99 ms |`);
console.log('|---|---|---|---|');
for (const [level, rs] of Object.entries(results)) {
  const med = (k: 'perSec' | 'p50' | 'p99') => rs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(rs.length / 2)];
  console.log(`| ${level} | ${Math.round(med('perSec'))} | ${med('p50').toFixed(3)} | ${med('p99').toFixed(3)} |`);
}
