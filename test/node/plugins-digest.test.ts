import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../worker/src/config.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { maintenance } from '../../worker/src/maintenance.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { localParts } from '../../plugins/daily-digest/index.js';

let now = new Date('2026-03-02T07:30:00Z'); // a Monday
const clock = { now: () => now };
const dir = mkdtempSync(join(tmpdir(), 'mycelium-digest-'));
const config = loadConfig({
  ADMIN_KEY: `k_${randomBytes(16).toString('hex')}`,
  JWT_SECRET: randomBytes(32).toString('hex'),
  DATA_DIR: dir,
});
const rt = createNodeRuntime({
  config,
  clock,
  log: consoleLogger('error', { log: () => undefined, error: () => undefined }),
});
let app: ReturnType<typeof createApp>;

const call = async (method: string, path: string, body?: unknown): Promise<Response> =>
  app.app.fetch(
    new Request(`http://localhost/api/mycelium${path}`, {
      method,
      headers: { 'X-Admin-Key': config.adminKey, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
const sql = (d: Date) => d.toISOString().slice(0, 19).replace('T', ' ');

beforeAll(async () => {
  await prepareDatabase(rt);
  app = createApp(rt);
  expect((await call('PUT', '/plugins/daily-digest/enable')).status).toBe(200);
  await rt.db.run("INSERT INTO projects (id, name) VALUES ('proj', 'Proj'), ('quiet', 'Quiet')");
});
afterAll(async () => {
  await rt.close();
  rmSync(dir, { recursive: true, force: true });
});

type Report = { project_id: string; digest_type: string; content: { tasks_completed: number } };
const reports = async (): Promise<Report[]> => (await call('GET', '/digest/reports')).json();

describe('daily-digest scheduler (W21)', () => {
  it('localParts honours the time zone', () => {
    expect(localParts(new Date('2026-03-02T13:30:00Z'), 'America/New_York')).toEqual({
      date: '2026-03-02',
      hour: 8,
      weekday: 'Mon',
    });
    expect(() => localParts(new Date(), 'Mars/Olympus')).toThrow();
  });

  it('generates in maintenance after the configured local hour, once per project and day, skipping projects without activity', async () => {
    await rt.db.run(
      "INSERT INTO tasks (title, requester, status, project_id, assignee, updated_at) VALUES ('done thing', 'a', 'done', 'proj', 'a', ?)",
      [sql(new Date('2026-03-02T07:00:00Z'))],
    );
    await maintenance(app.ctx);
    expect(await reports()).toEqual([]); // 07:30 UTC is before 08:00

    now = new Date('2026-03-02T09:00:00Z');
    const r1 = await maintenance(app.ctx);
    expect(r1.ran).toContain('plugin:daily-digest:scheduled-digest');
    const list = await reports();
    expect(list.map((r) => [r.project_id, r.digest_type, r.content.tasks_completed])).toEqual([['proj', 'daily', 1]]);

    now = new Date('2026-03-02T09:20:00Z');
    const r2 = await maintenance(app.ctx);
    expect(r2.ran).toContain('plugin:daily-digest:scheduled-digest');
    expect(await reports()).toHaveLength(1);
  });

  it('uses the configured zone: 07:00 in New York is too early, 08:30 there generates', async () => {
    expect(
      (await call('PUT', '/plugins/daily-digest/config', { timezone: 'America/New_York', digest_hour: 8 })).status,
    ).toBe(200);
    await rt.db.run(
      "INSERT INTO tasks (title, requester, status, project_id, updated_at) VALUES ('next day', 'a', 'done', 'proj', ?)",
      [sql(new Date('2026-03-03T11:00:00Z'))],
    );
    now = new Date('2026-03-03T12:00:00Z');
    await maintenance(app.ctx);
    expect(await reports()).toHaveLength(1);
    now = new Date('2026-03-03T13:30:00Z');
    await maintenance(app.ctx);
    const list = await reports();
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ project_id: 'proj', content: { tasks_completed: 1 } });
  });
});
