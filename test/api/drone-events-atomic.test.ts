import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent, whileEventFails } from '../support/fixtures.js';
import { startWebhookReceiver } from '../support/fake-servers.js';

/**
 * Events are atomic with their writes in the drone, asset and file areas (issue 17). Proven the way a
 * crash between a write and its event would show: the event's INSERT is made to fail (a trigger on
 * `events` scoped to one type), the request answers an error, and the row is exactly as before. Then,
 * with the event working again, the same request writes the change with exactly one event. A lost
 * compare-and-set is simulated by a trigger that silently skips the UPDATE (`RAISE(IGNORE)`): the
 * guard then refuses the whole batch, so no event reports a move that did not happen.
 */
let t: Target;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  t = await startTarget({ env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: `127.0.0.1:${receiver.port}` } });
  // A global subscriber to the webhooks drone jobs route themselves: their outbox rows are in the batch too.
  const hook = await t.call('POST', '/webhooks', {
    admin: true,
    body: {
      agent_id: '__global__',
      url: `http://127.0.0.1:${receiver.port}/hook`,
      events: ['drone_job_created', 'drone_job_completed', 'drone_job_failed'],
    },
  });
  if (hook.status !== 200) throw new Error(`webhook create failed: ${hook.text}`);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

const failing = (type: string, fn: () => Promise<void>) => whileEventFails(t, type, fn);
/** The error a request answers when its batch failed for a reason that is not the client's. */
const BROKEN = { status: 500, body: { error: 'Internal server error' } };
const outcome = (r: { status: number; body: unknown }) => ({ status: r.status, body: r.body });
const count = async (sql: string, args: unknown[] = []) =>
  Number((await t.db.get<{ n: number }>(sql, args as never[]))!.n);
/** Events of one type whose data has `key` = `value`. */
const eventsAbout = (type: string, key: string, value: unknown) =>
  t.db.all<{ summary: string; data: string; agent: string }>(
    `SELECT summary, data, agent FROM events WHERE type = ? AND json_extract(data, '$.${key}') = ? ORDER BY id`,
    [type, value as never],
  );
const jobRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM drone_jobs WHERE id = ?', [id]);

let seq = 0;
async function queue(title: string, cap: string, input: Record<string, unknown> = {}) {
  const r = await t.call('POST', '/drones/jobs', {
    admin: true,
    body: { title, command: 'echo hi', requires: [cap], input_data: input },
  });
  expect(r.status).toBe(200);
  return r.body.id as number;
}
async function drone() {
  return registerAgent(t, `ea-drone-${++seq}`, 'drone');
}
const claim = (key: string, cap: string) =>
  t.call('POST', '/drones/claim', { agentKey: key, body: { capabilities: [cap] } });
/** Outbox rows of one drone webhook about one job (sent or not: the row is what a batch writes). */
const deliveries = (event: string, jobId: number) =>
  count("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event = ? AND json_extract(payload, '$.data.job_id') = ?", [
    event,
    jobId,
  ]);
/** Backdates a claim past its lease and lets the next maintenance pass run the drone sweep. */
async function lapse(...ids: number[]) {
  for (const id of ids)
    await t.db.run(
      "UPDATE drone_jobs SET started_at = datetime('now', '-2 hours'), progress_at = datetime('now', '-2 hours') WHERE id = ?",
      [id],
    );
  await t.db.run("DELETE FROM maintenance_runs WHERE job = 'drone_sweep'");
}

describe('drone jobs: each move commits with its event or not at all (issue 17)', () => {
  it('create: no job nor webhook row without its drone_job_created event; then exactly one of each, naming the new id', async () => {
    const jobsBefore = await count('SELECT COUNT(*) AS n FROM drone_jobs');
    await failing('drone_job_created', async () => {
      expect(
        outcome(await t.call('POST', '/drones/jobs', { admin: true, body: { title: 'orphan', command: 'x' } })),
      ).toEqual(BROKEN);
    });
    expect(await count('SELECT COUNT(*) AS n FROM drone_jobs')).toBe(jobsBefore);
    expect(await count("SELECT COUNT(*) AS n FROM drone_jobs WHERE title = 'orphan'")).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event = 'drone_job_created'")).toBe(0);

    const id = await queue('kept', 'eacap0');
    const evs = await eventsAbout('drone_job_created', 'job_id', id);
    expect(evs).toHaveLength(1);
    expect(evs[0].summary).toMatch(/submitted drone job: kept$/);
    expect(JSON.parse(evs[0].data)).toEqual({ job_id: id, job_type: null });
    // Its webhook row was written by the same batch, naming the new id.
    expect(await deliveries('drone_job_created', id)).toBe(1);
  });

  it('complete: the job stays claimed (lease still valid) when drone_job_done cannot be written; then one event, a repeat adds none', async () => {
    const d = await drone();
    const id = await queue('to finish', 'eacap1');
    const token = (await claim(d.key, 'eacap1')).body.lease_token as string;
    await failing('drone_job_done', async () => {
      const r = await t.call('PUT', `/drones/jobs/${id}`, {
        agentKey: d.key,
        body: { status: 'done', result_url: 'http://x/lost', lease_token: token },
      });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(await jobRow(id)).toMatchObject({ status: 'claimed', result_url: null, completed_at: null });
    expect(await deliveries('drone_job_completed', id)).toBe(0);
    // The lease did not end with the refused write: the same token still completes the job.
    const ok = await t.call('PUT', `/drones/jobs/${id}`, {
      agentKey: d.key,
      body: { status: 'done', result_url: 'http://x/ok', lease_token: token },
    });
    expect(ok.status).toBe(200);
    expect(await jobRow(id)).toMatchObject({ status: 'done', result_url: 'http://x/ok' });
    const again = await t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { status: 'done' } });
    expect(again.body).toEqual({ ok: true, id, unchanged: true });
    const evs = await eventsAbout('drone_job_done', 'job_id', id);
    expect(evs).toHaveLength(1);
    expect(JSON.parse(evs[0].data)).toEqual({ job_id: id, drone_id: d.id });
    expect(await deliveries('drone_job_completed', id)).toBe(1);
  });

  it('fail: the failure, its event and the retry it queues commit together; one broken piece leaves none of them', async () => {
    const d = await drone();
    const id = await queue('will fail', 'eacap2');
    const token = (await claim(d.key, 'eacap2')).body.lease_token as string;
    const retries = () => count("SELECT COUNT(*) AS n FROM drone_jobs WHERE title LIKE 'will fail [retry%'");
    await failing('drone_job_retry', async () => {
      const r = await t.call('PUT', `/drones/jobs/${id}`, {
        agentKey: d.key,
        body: { status: 'failed', error: 'boom', lease_token: token },
      });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(await jobRow(id)).toMatchObject({ status: 'claimed', error: null });
    expect(await retries()).toBe(0);
    expect(await eventsAbout('drone_job_failed', 'job_id', id)).toEqual([]);
    expect(await deliveries('drone_job_failed', id)).toBe(0);

    const r = await t.call('PUT', `/drones/jobs/${id}`, {
      agentKey: d.key,
      body: { status: 'failed', error: 'boom', lease_token: token },
    });
    expect(r.status).toBe(200);
    expect(await jobRow(id)).toMatchObject({ status: 'failed', error: 'boom' });
    expect(await eventsAbout('drone_job_failed', 'job_id', id)).toHaveLength(1);
    expect(await deliveries('drone_job_failed', id)).toBe(1);
    const failedHook = await t.db.get<{ payload: string }>(
      "SELECT payload FROM webhook_deliveries WHERE event = 'drone_job_failed' AND json_extract(payload, '$.data.job_id') = ?",
      [id],
    );
    expect(JSON.parse(failedHook!.payload).data).toEqual({
      job_id: id,
      title: 'will fail',
      drone_id: d.id,
      error: 'boom',
    });
    const retry = await t.db.get<{ id: number }>("SELECT id FROM drone_jobs WHERE title = 'will fail [retry 1/2]'");
    expect(retry).toBeDefined();
    expect(await retries()).toBe(1);
    const ev = await eventsAbout('drone_job_retry', 'original_job_id', id);
    expect(ev).toHaveLength(1);
    expect(JSON.parse(ev[0].data)).toEqual({ original_job_id: id, retry_job_id: retry!.id, retry_count: 1 });
    expect(ev[0].summary).toBe(`Job #${id} failed; retry 1/2 queued as #${retry!.id}`);
  });

  it('a lost compare-and-set writes no event: the move that did not happen is a 409 with no drone_job_done row', async () => {
    const d = await drone();
    const id = await queue('raced', 'eacap3');
    await claim(d.key, 'eacap3');
    // Another writer "wins": the UPDATE finds nothing to change, as when the job moved meanwhile.
    await t.db.run(
      `CREATE TRIGGER lose_race BEFORE UPDATE OF status ON drone_jobs WHEN OLD.id = ${id} BEGIN SELECT RAISE(IGNORE); END`,
    );
    try {
      const r = await t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { status: 'done' } });
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ error: 'Drone job is claimed', status: 'claimed' });
    } finally {
      await t.db.run('DROP TRIGGER lose_race');
    }
    expect(await eventsAbout('drone_job_done', 'job_id', id)).toEqual([]);
    expect((await jobRow(id))!.status).toBe('claimed');
  });

  it('admin cancel (DELETE): no cancellation without drone_job_cancelled; then exactly one', async () => {
    const id = await queue('to cancel', 'eacap4');
    await failing('drone_job_cancelled', async () => {
      expect(outcome(await t.call('DELETE', `/drones/jobs/${id}`, { admin: true }))).toEqual(BROKEN);
    });
    expect((await jobRow(id))!.status).toBe('pending');
    expect((await t.call('DELETE', `/drones/jobs/${id}`, { admin: true })).body).toEqual({
      ok: true,
      id,
      cancelled: true,
    });
    expect((await jobRow(id))!.status).toBe('cancelled');
    expect(await eventsAbout('drone_job_cancelled', 'job_id', id)).toHaveLength(1);
  });

  it('cleanup: the dismissal and its drone_jobs_cleanup event (counting the rows dismissed) commit together', async () => {
    const id = await queue('finished', 'eacap5');
    await t.call('DELETE', `/drones/jobs/${id}`, { admin: true });
    await t.db.run("UPDATE drone_jobs SET status = 'failed' WHERE id = ?", [id]);
    const failedBefore = await count("SELECT COUNT(*) AS n FROM drone_jobs WHERE status = 'failed'");
    expect(failedBefore).toBeGreaterThan(0);
    await failing('drone_jobs_cleanup', async () => {
      expect(outcome(await t.call('DELETE', '/drones/jobs?status=failed', { admin: true }))).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM drone_jobs WHERE status = 'failed'")).toBe(failedBefore);
    const r = await t.call('DELETE', '/drones/jobs?status=failed', { admin: true });
    expect(r.status).toBe(200);
    expect(r.body.dismissed).toBe(failedBefore);
    const ev = await t.db.all<{ summary: string; data: string }>(
      "SELECT summary, data FROM events WHERE type = 'drone_jobs_cleanup'",
    );
    expect(ev).toHaveLength(1);
    expect(ev[0]).toEqual({
      summary: `Cleaned up ${failedBefore} drone jobs`,
      data: JSON.stringify({ count: failedBefore }),
    });
  });

  it('REL-04: the lease sweep fails stale claims, queues their retries and writes drone_stale_cleanup in one batch', async () => {
    const d = await drone();
    const a = await queue('stale a', 'eacap6');
    const b = await queue('stale b', 'eacap6');
    await claim(d.key, 'eacap6');
    await claim(d.key, 'eacap6');
    const retries = () => count("SELECT COUNT(*) AS n FROM drone_jobs WHERE title LIKE 'stale _ [retry%'");
    await lapse(a, b);
    await failing('drone_stale_cleanup', async () => {
      await t.scheduled();
    });
    expect((await jobRow(a))!.status).toBe('claimed');
    expect((await jobRow(b))!.status).toBe('claimed');
    expect(await retries()).toBe(0);
    expect(await eventsAbout('drone_job_retry', 'original_job_id', a)).toEqual([]);
    expect(await eventsAbout('drone_job_retry', 'original_job_id', b)).toEqual([]);

    // One of the two moved meanwhile (its UPDATE changes nothing): the guard refuses the whole set.
    await t.db.run(
      `CREATE TRIGGER lose_sweep BEFORE UPDATE OF status ON drone_jobs WHEN OLD.id = ${b} BEGIN SELECT RAISE(IGNORE); END`,
    );
    try {
      await lapse(a, b);
      await t.scheduled();
    } finally {
      await t.db.run('DROP TRIGGER lose_sweep');
    }
    expect((await jobRow(a))!.status).toBe('claimed');
    expect(await retries()).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE type = 'drone_stale_cleanup'")).toBe(0);

    await lapse(a, b);
    await t.scheduled();
    expect(await jobRow(a)).toMatchObject({ status: 'failed', error: expect.stringContaining('stale_timeout') });
    expect((await jobRow(b))!.status).toBe('failed');
    expect(await retries()).toBe(2);
    expect(await eventsAbout('drone_job_retry', 'original_job_id', a)).toHaveLength(1);
    expect(await eventsAbout('drone_job_retry', 'original_job_id', b)).toHaveLength(1);
    const cleanup = await t.db.all<{ data: string }>("SELECT data FROM events WHERE type = 'drone_stale_cleanup'");
    expect(cleanup.map((e) => JSON.parse(e.data))).toEqual([{ job_ids: [a, b] }]);
  });
});

describe('templates, profiles and artifacts commit with their events (issue 17)', () => {
  it('template create, update and delete: nothing changes without the event; each success writes one', async () => {
    const tpl = { id: 'ea-tpl', name: 'EA', command_template: 'echo {{x}}' };
    await failing('job_template_created', async () => {
      expect(outcome(await t.call('POST', '/drones/templates', { admin: true, body: tpl }))).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM job_templates WHERE id = 'ea-tpl'")).toBe(0);
    expect((await t.call('POST', '/drones/templates', { admin: true, body: tpl })).status).toBe(200);
    expect((await t.call('POST', '/drones/templates', { admin: true, body: tpl })).status).toBe(409);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE type = 'job_template_created'")).toBe(1);

    await failing('job_template_updated', async () => {
      const r = await t.call('PUT', '/drones/templates/ea-tpl', { admin: true, body: { name: 'Renamed' } });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect((await t.db.get<{ name: string }>("SELECT name FROM job_templates WHERE id = 'ea-tpl'"))!.name).toBe('EA');

    await failing('job_template_deleted', async () => {
      expect(outcome(await t.call('DELETE', '/drones/templates/ea-tpl', { admin: true }))).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM job_templates WHERE id = 'ea-tpl'")).toBe(1);
    expect((await t.call('DELETE', '/drones/templates/ea-tpl', { admin: true })).status).toBe(200);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE type = 'job_template_deleted'")).toBe(1);
  });

  it('profile update keeps the assignments set up, and delete keeps the profile, when their events fail', async () => {
    const d = await drone();
    expect((await t.call('POST', '/drones/profiles', { admin: true, body: { id: 'ea-prof', name: 'P' } })).status).toBe(
      200,
    );
    await t.call('POST', '/drones/profiles/ea-prof/assign', { admin: true, body: { drone_id: d.id } });
    await t.call('POST', '/drones/profiles/ea-prof/setup-complete', { agentKey: d.key, body: { checksum: 'c1' } });
    const assignment = () =>
      t.db.get<{ setup_done: number }>(
        "SELECT setup_done FROM drone_profile_assignments WHERE profile_id = 'ea-prof' AND drone_id = ?",
        [d.id],
      );
    expect(await assignment()).toEqual({ setup_done: 1 });

    await failing('drone_profile_updated', async () => {
      const r = await t.call('PUT', '/drones/profiles/ea-prof', { admin: true, body: { description: 'changed' } });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(
      (await t.db.get<{ description: string }>("SELECT description FROM drone_profiles WHERE id = 'ea-prof'"))!,
    ).toEqual({ description: '' });
    expect(await assignment()).toEqual({ setup_done: 1 });

    await failing('drone_profile_deleted', async () => {
      expect(outcome(await t.call('DELETE', '/drones/profiles/ea-prof', { admin: true }))).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM drone_profiles WHERE id = 'ea-prof'")).toBe(1);
    expect(await assignment()).toEqual({ setup_done: 1 });
    expect((await t.call('DELETE', '/drones/profiles/ea-prof', { admin: true })).status).toBe(200);
    expect(await count("SELECT COUNT(*) AS n FROM drone_profiles WHERE id = 'ea-prof'")).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE type = 'drone_profile_deleted'")).toBe(1);
  });

  it('artifact upload: no artifact row without artifact_uploaded; then exactly one', async () => {
    const form = () => {
      const f = new FormData();
      f.append('file', new Blob(['print(1)']), 'ea_tool.py');
      return f;
    };
    await failing('artifact_uploaded', async () => {
      expect(outcome(await t.call('POST', '/drones/artifacts', { admin: true, raw: form() }))).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM drone_artifacts WHERE name = 'ea_tool.py'")).toBe(0);
    expect((await t.call('POST', '/drones/artifacts', { admin: true, raw: form() })).status).toBe(200);
    expect(await eventsAbout('artifact_uploaded', 'name', 'ea_tool.py')).toHaveLength(1);
  });
});

describe('assets and temp files commit with their events (issue 17)', () => {
  let agent: { id: string; key: string };
  beforeAll(async () => {
    agent = await registerAgent(t, 'ea-asset-agent', 'ea-assets');
  });
  const assetRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM assets WHERE id = ?', [id]);
  const form = (content: string, name: string) => {
    const f = new FormData();
    f.append('file', new Blob([content]), name);
    return f;
  };

  it('register, status change, job link, upload and delete: the row is untouched when the event fails', async () => {
    await failing('asset_registered', async () => {
      const r = await t.call('POST', '/assets', { agentKey: agent.key, body: { name: 'ea-orphan' } });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM assets WHERE name = 'ea-orphan'")).toBe(0);
    const created = await t.call('POST', '/assets', { agentKey: agent.key, body: { name: 'ea-asset' } });
    expect(created.status).toBe(200);
    const id = created.body.id as number;
    expect(await eventsAbout('asset_registered', 'asset_id', id)).toHaveLength(1);

    await failing('asset_in_progress', async () => {
      const r = await t.call('PUT', `/assets/${id}`, {
        agentKey: agent.key,
        body: { status: 'in_progress', prompt: 'p' },
      });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(await assetRow(id)).toMatchObject({ status: 'requested', prompt: '' });
    expect(
      (await t.call('PUT', `/assets/${id}`, { agentKey: agent.key, body: { status: 'in_progress' } })).status,
    ).toBe(200);
    expect(await eventsAbout('asset_in_progress', 'asset_id', id)).toHaveLength(1);

    const job = await queue('asset job', 'eacap-asset');
    await failing('assets_linked_to_job', async () => {
      const r = await t.call('PUT', '/assets/link-job', { admin: true, body: { asset_ids: [id], drone_job_id: job } });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect((await assetRow(id))!.drone_job_id).toBeNull();
    const linked = await t.call('PUT', '/assets/link-job', {
      admin: true,
      body: { asset_ids: [id], drone_job_id: job },
    });
    expect(linked.body).toEqual({ ok: true, updated: 1 });
    expect(await eventsAbout('assets_linked_to_job', 'drone_job_id', job)).toHaveLength(1);

    await failing('asset_uploaded', async () => {
      const r = await t.call('POST', `/assets/${id}/upload`, { agentKey: agent.key, raw: form('PNG', 'a.png') });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(await assetRow(id)).toMatchObject({ file_path: '', status: 'in_progress' });
    expect(
      (await t.call('POST', `/assets/${id}/upload`, { agentKey: agent.key, raw: form('PNG', 'a.png') })).status,
    ).toBe(200);
    expect((await assetRow(id))!.status).toBe('ready');
    expect(
      await count("SELECT COUNT(*) AS n FROM events WHERE type = 'asset_uploaded' AND summary LIKE ?", [
        `Asset #${id} %`,
      ]),
    ).toBe(1);

    await failing('asset_deleted', async () => {
      expect(outcome(await t.call('DELETE', `/assets/${id}`, { admin: true }))).toEqual(BROKEN);
    });
    expect(await assetRow(id)).toBeDefined();
    expect((await t.call('DELETE', `/assets/${id}`, { admin: true })).status).toBe(200);
    expect(await assetRow(id)).toBeUndefined();
    expect(await eventsAbout('asset_deleted', 'asset_id', id)).toHaveLength(1);
  });

  it('temp file upload: no file row without file_uploaded; then exactly one naming the stored file', async () => {
    await failing('file_uploaded', async () => {
      const r = await t.call('POST', '/files', { agentKey: agent.key, raw: form('hello', 'ea-note.txt') });
      expect(outcome(r)).toEqual(BROKEN);
    });
    expect(await count("SELECT COUNT(*) AS n FROM temp_files WHERE original_name = 'ea-note.txt'")).toBe(0);
    const ok = await t.call('POST', '/files', { agentKey: agent.key, raw: form('hello', 'ea-note.txt') });
    expect(ok.status).toBe(200);
    expect(await eventsAbout('file_uploaded', 'filename', ok.body.filename)).toHaveLength(1);
  });
});
