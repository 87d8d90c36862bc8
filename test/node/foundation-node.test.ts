import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'libsql';
import { startTarget } from '../support/target.js';
import { createOperator } from '../support/fixtures.js';
import { startFakeResend } from '../support/fake-servers.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { backupDatabase, verifyBackup } from '../../node-adapter/runtime.js';
import { Db } from '../../worker/src/db/db.js';
import { migrate, splitStatements } from '../../worker/src/db/migrator.js';
import { coreMigrations } from '../../worker/src/db/migrations.generated.js';
import { maintenance } from '../../worker/src/maintenance.js';
import { createApp } from '../../worker/src/app.js';

/** Tests that need the Node runtime's controls: a movable clock, files on disk. */
class TestClock {
  t = Date.parse('2026-06-10T23:40:00Z');
  now = () => new Date(this.t);
  advance(ms: number) {
    this.t += ms;
  }
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function tmp() {
  const d = mkdtempSync(join(tmpdir(), 'mycelium-node-'));
  cleanup.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

describe('password reset expiry (SEC-09)', () => {
  it('a token expires after exactly 30 minutes, also across midnight UTC', async () => {
    const clock = new TestClock();
    const resend = await startFakeResend();
    cleanup.push(() => resend.close());
    const t = await startTarget({ clock, env: { RESEND_KEY: 'k', RESEND_API_URL: resend.url } });
    cleanup.push(() => t.close());
    const u = await createOperator(t, 'sleepy');
    await t.db.run(
      "INSERT INTO operators (id, display_name, email, studio_user_id) VALUES ('sleepy', 'S', 's@example.org', ?)",
      [u.id],
    );
    const issue = async () => {
      await t.call('POST', '/studio/forgot-password', {
        body: { email: 's@example.org' },
        ip: `10.0.0.${resend.requests.length + 1}`,
      });
      await t.settle();
      return JSON.parse(resend.requests.at(-1)!.body).text.match(/token=([0-9a-f]{64})/)[1] as string;
    };
    const late = await issue();
    clock.advance(31 * 60_000); // now past midnight: a text comparison would still accept it
    const r = await t.call('POST', '/studio/reset-password', { body: { token: late, password: 'new password 1' } });
    expect(r.body).toEqual({ error: 'Invalid or expired reset token' });
    const inTime = await issue();
    clock.advance(29 * 60_000);
    expect(
      (await t.call('POST', '/studio/reset-password', { body: { token: inTime, password: 'new password 2' } })).status,
    ).toBe(200);
  });

  it('P-01: rotating JWT_SECRET invalidates every session', async () => {
    const dataDir = tmp();
    const first = await startTarget({ env: { DATA_DIR: dataDir } });
    const u = await createOperator(first, 'rotated', 'admin');
    expect((await first.call('GET', '/studio/me', { token: u.token })).status).toBe(200);
    // Same database, new secret: what a restart with a rotated JWT_SECRET does.
    const { createNodeRuntime } = await import('../../node-adapter/runtime.js');
    const { loadConfig } = await import('../../worker/src/config.js');
    const runtime = createNodeRuntime({
      config: loadConfig({ ADMIN_KEY: first.adminKey, JWT_SECRET: 'z'.repeat(48), DATA_DIR: first.dataDir }),
    });
    const { app } = createApp(runtime);
    const res = await app.fetch(
      new Request('http://localhost/api/mycelium/studio/me', { headers: { Authorization: `Bearer ${u.token}` } }),
    );
    expect(res.status).toBe(401);
    await runtime.close();
    await first.close();
  });
});

describe('database layer', () => {
  it('REL-23: an online backup passes an integrity check; a corrupted copy is reported', async () => {
    const dir = tmp();
    const driver = new SqliteFileDriver(join(dir, 'mycelium.db'));
    const db = new Db(driver);
    cleanup.push(() => db.close());
    await migrate(db, coreMigrations);
    await db.run("INSERT INTO projects (id, name) VALUES ('p', 'P')");
    const clock = { now: () => new Date('2026-06-10T12:00:00Z') };
    const b = await backupDatabase(driver, dir, 3, clock);
    expect(b.file).toMatch(/mycelium_20260610_120000\.db$/);
    expect(statSync(b.file).mode & 0o777).toBe(0o600);
    expect(verifyBackup(b.file)).toBeNull();
    const copy = new Database(b.file, { readonly: true });
    expect((copy.prepare("SELECT name FROM projects WHERE id = 'p'").get() as { name: string }).name).toBe('P');
    copy.close();
    const bytes = readFileSync(b.file);
    bytes.fill(0x42, 100, bytes.length); // overwrite everything after the header
    writeFileSync(b.file, bytes);
    expect(verifyBackup(b.file)).not.toBeNull();
    // retention: only the newest 3 are kept
    for (let i = 0; i < 4; i++)
      await backupDatabase(driver, dir, 3, { now: () => new Date(Date.parse('2026-06-11T00:00:00Z') + i * 1000) });
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(dir, 'backups')).length).toBe(3);
  });

  it('REL-11: migrations apply once, are recorded, and re-running changes nothing', async () => {
    const db = new Db(new SqliteFileDriver(join(tmp(), 'm.db')));
    cleanup.push(() => db.close());
    const first = await migrate(db, coreMigrations);
    expect(first).toEqual(coreMigrations.map((m) => m.name));
    expect(await migrate(db, coreMigrations)).toEqual([]);
    const cols = await db.all<{ name: string }>("SELECT name FROM pragma_table_info('studio_users')");
    expect(cols.map((c) => c.name)).toContain('token_version');
  });

  it('a failed migration leaves nothing behind', async () => {
    const db = new Db(new SqliteFileDriver(join(tmp(), 'f.db')));
    cleanup.push(() => db.close());
    await expect(
      migrate(db, [{ name: '0001_bad', sql: 'CREATE TABLE ok_table (id INTEGER);\nCREATE TABLE broken (;\n' }]),
    ).rejects.toThrow(/0001_bad/);
    expect(await db.get("SELECT name FROM sqlite_master WHERE name = 'ok_table'")).toBeUndefined();
    expect(await db.get("SELECT name FROM schema_migrations WHERE name = '0001_bad'")).toBeUndefined();
  });

  it('the statement splitter keeps trigger bodies whole and drops comments', () => {
    const parts = splitStatements(
      `-- c\nCREATE TABLE a (x INTEGER); -- trailing\nCREATE TRIGGER tr AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  UPDATE a SET x = 2;\nEND;\nINSERT INTO a VALUES (1);\n`,
    );
    expect(parts).toHaveLength(3);
    expect(parts[1]).toMatch(/^CREATE TRIGGER[\s\S]*END$/);
  });

  it('an interactive transaction is not interleaved with other requests on the same connection', async () => {
    const db = new Db(new SqliteFileDriver(join(tmp(), 't.db')));
    cleanup.push(() => db.close());
    await db.run('CREATE TABLE c (id INTEGER PRIMARY KEY, n INTEGER)');
    await db.run('INSERT INTO c VALUES (1, 0)');
    const tx = db.transaction(async (q) => {
      const row = await q.get<{ n: number }>('SELECT n FROM c WHERE id = 1');
      await new Promise((r) => setTimeout(r, 30));
      await q.run('UPDATE c SET n = ? WHERE id = 1', [row!.n + 10]);
      throw new Error('abort');
    });
    const outside = db.run('UPDATE c SET n = n + 1 WHERE id = 1');
    await expect(tx).rejects.toThrow('abort');
    await outside;
    expect(await db.get('SELECT n FROM c WHERE id = 1')).toEqual({ n: 1 });
  });
});

describe('maintenance', () => {
  it('runs a daily job once per day by wall clock, persisted across app instances', async () => {
    const clock = new TestClock();
    const t = await startTarget({ clock });
    cleanup.push(() => t.close());
    let runs = 0;
    const job = { name: 'probe', everyMs: 86_400_000, run: async () => void runs++ };
    const { ctx } = createApp({
      ...(await import('../../node-adapter/runtime.js')).createNodeRuntime({
        config: (await import('../../worker/src/config.js')).loadConfig({
          ADMIN_KEY: t.adminKey,
          JWT_SECRET: t.jwtSecret,
          DATA_DIR: t.dataDir,
        }),
        clock,
      }),
    });
    cleanup.push(() => ctx.db.close());
    expect((await maintenance(ctx, [job])).ran).toEqual(['probe']);
    clock.advance(3600_000);
    expect((await maintenance(ctx, [job])).ran).toEqual([]);
    clock.advance(86_400_000);
    expect((await maintenance(ctx, [job])).ran).toEqual(['probe']);
    expect(runs).toBe(2);
  });
});
