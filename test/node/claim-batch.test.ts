import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeRuntime } from '../../node-adapter/runtime.js';
import { createApp, prepareDatabase } from '../../worker/src/app.js';
import { loadConfig } from '../../worker/src/config.js';
import { consoleLogger } from '../../worker/src/runtime.js';
import type { MyceliumEvent } from '../../worker/src/domain/events/bus.js';
import type { ResultSet, Statement } from '../../worker/src/db/types.js';
import { appCaller } from '../support/app-caller.js';

/**
 * Issue 11: POST /tasks/:id/claim is one batch — the task_claimed event row (written only if the
 * compare-and-set wins and is not a renewal), the compare-and-set, then the facts a refusal names,
 * read only when the compare-and-set matched nothing. The event is published with the summary and
 * data the service wrote, not read back from the row. In process, so the batch and the published
 * events can be watched directly; test/api/hot-paths.test.ts holds the answers on both runtimes.
 */
const ADMIN = 'c'.repeat(40);
let dir: string;
let runtime: ReturnType<typeof createNodeRuntime>;
let app: ReturnType<typeof createApp>['app'];
const published: MyceliumEvent[] = [];
const keys: Record<string, string> = {};

const call = appCaller(() => app);

/** The claim's batch (statements and their results) while calling it. */
async function claimAndWatch(taskId: number, agent: string) {
  const driver = (runtime.db as unknown as { exec: { batch(s: Statement[]): Promise<ResultSet[]> } }).exec;
  const original = driver.batch;
  const batches: { stmts: Statement[]; results: ResultSet[] }[] = [];
  driver.batch = async (stmts: Statement[]) => {
    const results = await original.call(driver, stmts);
    batches.push({ stmts, results });
    return results;
  };
  published.length = 0;
  try {
    const r = await call('POST', `/tasks/${taskId}/claim`, { 'X-Agent-Key': keys[agent] }, {});
    await runtime.settle();
    const claim = batches.find((b) => b.stmts.some((s) => /^UPDATE tasks SET assignee/.test(s.sql)));
    if (!claim) throw new Error('no claim batch');
    return { ...r, claim, events: published.filter((e) => e.type === 'task_claimed') };
  } finally {
    delete (driver as unknown as Record<string, unknown>).batch;
  }
}

async function newTask(title: string, extra: Record<string, unknown> = {}): Promise<number> {
  const r = await call('POST', '/tasks', { 'X-Admin-Key': ADMIN }, { title, project_id: 'cb', ...extra });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return Number(r.body.id);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mycelium-claim-batch-'));
  runtime = createNodeRuntime({
    config: loadConfig({ ADMIN_KEY: ADMIN, JWT_SECRET: 'j'.repeat(40), DATA_DIR: dir }),
    log: consoleLogger('error', { log: () => undefined, error: () => undefined }),
  });
  await prepareDatabase(runtime);
  const built = createApp(runtime);
  app = built.app;
  built.ctx.events.subscribe((e) => {
    published.push(e);
  });
  for (const id of ['cb-ada', 'cb-bob']) {
    const reg = await call('POST', '/admin/agents', { 'X-Admin-Key': ADMIN }, { id, name: id, project_id: 'cb' });
    keys[id] = String(reg.body.api_key);
  }
});
afterAll(async () => {
  await runtime?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('task claim batch (issue 11)', () => {
  it('a won claim publishes exactly the event row it wrote (id, project, summary, data) and reads no facts', async () => {
    const id = await newTask('won');
    const r = await claimAndWatch(id, 'cb-ada');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    // Event, compare-and-set, facts: in that order, one batch.
    expect(r.claim.stmts.map((s) => s.sql.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'INSERT INTO',
      'UPDATE tasks',
      'SELECT t.status,',
    ]);
    expect(r.claim.results[2].rows).toEqual([]);
    const row = await runtime.db.get<{ id: number; agent: string; project_id: string; summary: string; data: string }>(
      "SELECT id, agent, project_id, summary, data FROM events WHERE type = 'task_claimed' AND json_extract(data, '$.task_id') = ?",
      [id],
    );
    expect(row).toBeDefined();
    expect(r.events).toHaveLength(1);
    const ev = r.events[0];
    expect({ id: ev.id, agent: ev.agent, project_id: ev.project_id, summary: ev.summary, data: ev.data }).toEqual({
      id: Number(row!.id),
      agent: row!.agent,
      project_id: row!.project_id,
      summary: row!.summary,
      data: JSON.parse(row!.data),
    });
    expect(ev.data).toEqual({ task_id: id, agent: 'cb-ada' });
    expect(ev.project_id).toBe('cb');
  });

  it('a renewal publishes nothing; a lost claim publishes nothing and is explained from the facts read in its batch', async () => {
    const id = await newTask('held');
    expect((await claimAndWatch(id, 'cb-ada')).status).toBe(200);
    const renewal = await claimAndWatch(id, 'cb-ada');
    expect(renewal.status).toBe(200);
    expect(renewal.events).toEqual([]);
    expect(renewal.claim.results[2].rows).toEqual([]);
    const lost = await claimAndWatch(id, 'cb-bob');
    expect(lost.status).toBe(409);
    expect(lost.body).toEqual({ error: 'Task already claimed', assignee: 'cb-ada' });
    expect(lost.events).toEqual([]);
    expect(lost.claim.results[2].rows).toHaveLength(1);
    expect(lost.claim.results[2].rows[0]).toMatchObject({ status: 'in_progress', assignee: 'cb-ada' });
    // Only the read of the batch: a refusal explained from its facts reads nothing after it.
    const count = await runtime.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE type = 'task_claimed' AND json_extract(data, '$.task_id') = ?",
      [id],
    );
    expect(count?.n).toBe(1);
  });

  it('a lost claim of a blocked task names its open blockers from the same batch', async () => {
    const blocker = await newTask('blocker');
    const id = await newTask('blocked', { blocked_by: [blocker] });
    const r = await claimAndWatch(id, 'cb-bob');
    expect(r.status).toBe(409);
    expect(r.body).toEqual({ error: 'Task is blocked by unfinished tasks', assignee: null, blocked_by: [blocker] });
    expect(r.claim.results[2].rows[0]).toMatchObject({ status: 'open', claim_blockers: `[${blocker}]` });
    expect(r.events).toEqual([]);
  });
});
