/**
 * Where a claim's SQL time and WAL pages go (issue 11, branch perf-claim2). Records the batches of
 * 720 real first claims through the app (bench/seed.ts data), then replays them on copies of the
 * file, one BEGIN IMMEDIATE … COMMIT per claim as the Node driver runs them: wall µs per statement
 * and for the COMMIT, CPU µs per claim, WAL pages per claim. Variants apply schema changes to their
 * copy first; rounds alternate between variants so all see the same machine.
 *
 *   npx tsx bench/claim-replay.ts
 *   R=7 VARIANTS='no_status=DROP INDEX idx_tasks_status|no_ev=DROP INDEX idx_events_type;DROP INDEX idx_events_agent' npx tsx bench/claim-replay.ts
 *   WALMAP=1 npx tsx bench/claim-replay.ts   # + pages per claim by b-tree (dbstat; a page freed and reused counts for its last owner)
 *   PLAN=1 / SHOW=1                              # + query plans / the recorded statements
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { CORE_DB_FILE, createNodeRuntime } from '../node-adapter/runtime.js';
import { createApp, prepareDatabase } from '../worker/src/app.js';
import { loadConfig } from '../worker/src/config.js';
import { consoleLogger } from '../worker/src/runtime.js';
import { type BenchAgent, seedDatabase } from './seed.js';

const ADMIN = `bench_admin_${randomBytes(24).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'claim-replay-'));
const runtime = createNodeRuntime({
  config: loadConfig({ ADMIN_KEY: ADMIN, JWT_SECRET: randomBytes(32).toString('hex'), DATA_DIR: dir }),
  log: consoleLogger('error', { log: () => undefined, error: () => undefined }),
});
await prepareDatabase(runtime);
const file = join(dir, CORE_DB_FILE);
const { agents, claimable } = seedDatabase(file, { agents: 50, tasks: 1000 });
const { app } = createApp(runtime);
const byProject = new Map<string, BenchAgent[]>();
for (const a of agents) byProject.set(a.project, [...(byProject.get(a.project) ?? []), a]);
const driver = (runtime.db as unknown as { driver: { batch(s: unknown[]): Promise<unknown>; commitNow(): void } })
  .driver;
const recorded: { sql: string; args: unknown[] }[][] = [];
const orig = driver.batch.bind(driver);
let rec = false;
driver.batch = (s: { sql: string; args?: unknown[] }[]) => {
  if (rec) recorded.push(s.map((x) => ({ sql: x.sql, args: (x.args ?? []) as unknown[] })));
  return orig(s);
};
rec = true;
for (let i = 0; i < claimable.length; i++) {
  const t = claimable[i];
  const owners = byProject.get(t.project)!;
  const res = await app.fetch(
    new Request(`http://x/api/mycelium/tasks/${t.id}/claim`, {
      method: 'POST',
      headers: { 'x-agent-key': owners[i % owners.length].key, 'content-type': 'application/json' },
      body: '{}',
    }),
  );
  if (res.status !== 200) throw new Error(`claim ${res.status} ${await res.text()}`);
  await runtime.settle();
}
rec = false;
driver.commitNow();
await runtime.close();
const claims = recorded.filter((b) => b.some((s) => s.sql.startsWith('UPDATE tasks SET assignee')));
console.log(`recorded ${claims.length} claim batches of ${claims[0].length} statements`);

// Variants: VARIANTS='name1=SQL;SQL|name2=SQL' (base always first). Each gets a copy of the file.
const specs: { name: string; pre: string }[] = [{ name: 'base', pre: '' }];
for (const v of (process.env.VARIANTS ?? '').split('|').filter(Boolean)) {
  const i = v.indexOf('=');
  specs.push({ name: v.slice(0, i), pre: v.slice(i + 1) });
}
{
  const d0 = new Database(file);
  d0.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
  d0.close();
}
const { copyFileSync } = await import('node:fs');
const ids = claimable.map((t) => t.id).join(',');
const R = Number(process.env.R ?? 5);
const runs = specs.map((sp, vi) => {
  const f = `${file}.v${vi}`;
  copyFileSync(file, f);
  const db = new Database(f);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA wal_autocheckpoint = 0');
  for (const s of sp.pre
    .split(';')
    .map((x) => x.trim())
    .filter(Boolean))
    db.exec(s);
  const batches = claims.map((b) => b.map((s) => ({ sql: rewrite(sp.name, s.sql), args: s.args })));
  const stmts = batches[0].map((s) => db.prepare(s.sql));
  return {
    sp,
    db,
    batches,
    stmts,
    per: batches[0].map(() => [] as number[]),
    commits: [] as number[],
    totals: [] as number[],
    pages: 0,
  };
});
/** Statement rewrites per variant (none yet). */
function rewrite(_variant: string, sql: string): string {
  return sql;
}
for (let r = 0; r < R; r++) {
  for (const v of runs) {
    const { db, batches, stmts } = v;
    db.exec(`UPDATE tasks SET status = 'open', assignee = NULL, lease_token = NULL WHERE id IN (${ids})`);
    db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
    const t = batches[0].map(() => 0n);
    let c = 0n;
    const C0 = process.cpuUsage();
    for (const b of batches) {
      db.exec('BEGIN IMMEDIATE');
      db.exec('SAVEPOINT batch');
      for (let k = 0; k < b.length; k++) {
        const t0 = process.hrtime.bigint();
        stmts[k].all(...b[k].args);
        t[k] += process.hrtime.bigint() - t0;
      }
      db.exec('RELEASE batch');
      const t0 = process.hrtime.bigint();
      db.exec('COMMIT');
      c += process.hrtime.bigint() - t0;
    }
    const cu = process.cpuUsage(C0);
    v.totals.push((cu.user + cu.system) / batches.length);
    const w = db.prepare('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number };
    v.pages = w.log / batches.length;
    for (const [k, x] of t.entries()) v.per[k].push(Number(x) / 1000 / batches.length);
    v.commits.push(Number(c) / 1000 / batches.length);
    const won = db.prepare(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'in_progress' AND id IN (${ids})`).get() as {
      n: number;
    };
    if (won.n !== claimable.length) throw new Error(`${v.sp.name}: ${won.n} claims won`);
  }
}
const min = (a: number[]) => Math.min(...a).toFixed(1);
console.log(
  `| variant | ${claims[0].map((s) => s.sql.split(/\s+/).slice(0, 3).join(' ')).join(' | ')} | COMMIT | CPU total | pages |`,
);
for (const v of runs)
  console.log(
    `| ${v.sp.name} | ${v.per.map(min).join(' | ')} | ${min(v.commits)} | ${min(v.totals)} | ${v.pages.toFixed(1)} |`,
  );
if (process.env.PLAN)
  for (const v of runs)
    for (const s of v.batches[0]) {
      const plan = v.db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).all(...s.args) as { detail: string }[];
      console.log(v.sp.name, plan.map((r) => r.detail).join(' | '));
    }
if (process.env.SHOW) for (const s of claims[0]) console.log(s.sql, JSON.stringify(s.args));
if (process.env.WALMAP) {
  const { readFileSync } = await import('node:fs');
  for (const [vi, v] of runs.entries()) {
    const wal = readFileSync(`${file}.v${vi}-wal`);
    const pageSize = wal.readUInt32BE(8);
    const owner = new Map<number, string>();
    for (const r of v.db.prepare('SELECT name, pageno FROM dbstat').all() as { name: string; pageno: number }[])
      owner.set(r.pageno, r.name);
    const counts = new Map<string, number>();
    let n = 0;
    for (let off = 32; off + 24 + pageSize <= wal.length; off += 24 + pageSize) {
      const pg = wal.readUInt32BE(off);
      const name = pg === 1 ? '(page 1: header)' : (owner.get(pg) ?? `(free ${pg})`);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      n++;
    }
    console.log(`${v.sp.name}: ${n} frames in the last round's WAL`);
    for (const [k, c] of [...counts].sort((a, b) => b[1] - a[1]))
      console.log(`  ${(c / claims.length).toFixed(2)} ${k}`);
  }
}
for (const v of runs) v.db.close();
rmSync(dir, { recursive: true, force: true });
