import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

/**
 * Crash-proof drone job claims (issue 17; spec 05 §5.5, spec 07 REL-04/REL-05): a claim answers a
 * fencing token; a late report quoting a token whose lease ended (failed as stale, requeued,
 * claimed again) is refused with 409; reports without a token keep the identity rule (the original
 * drone SDK works unchanged); the kill switch pauses lease expiry; the claim commits with its event.
 */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

let seq = 0;
const ip = () => `10.77.${Math.floor(seq / 250)}.${(seq++ % 250) + 1}`;
async function register(id: string) {
  const r = await t.call('POST', '/admin/agents', {
    admin: true,
    ip: ip(),
    body: { id, name: id, project_id: 'drone' },
  });
  if (r.status !== 200) throw new Error(`register ${id} failed: ${r.status} ${r.text}`);
  return { id, key: r.body.api_key as string };
}
async function queue(title: string, cap: string) {
  const r = await t.call('POST', '/drones/jobs', {
    admin: true,
    ip: ip(),
    body: { title, command: 'echo hi', requires: [cap], input_data: { _no_retry: true } },
  });
  if (r.status !== 200) throw new Error(`queue failed: ${r.status} ${r.text}`);
  return r.body.id as number;
}
const claim = (key: string, cap: string) =>
  t.call('POST', '/drones/claim', { agentKey: key, body: { capabilities: [cap] } });
const report = (key: string, id: number, body: Record<string, unknown>) =>
  t.call('PUT', `/drones/jobs/${id}`, { agentKey: key, body });
const jobRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM drone_jobs WHERE id = ?', [id]);
const leaseRow = (id: number) =>
  t.db.get<Record<string, any>>('SELECT lease_token FROM drone_job_leases WHERE job_id = ?', [id]);
const LOST =
  'Lease on this drone job is no longer held (it was released or claimed again); claim it again before writing';
/** Backdates a claim past its one-hour progress-renewed lease and lets the next maintenance pass run the sweep. */
async function lapse(id: number) {
  await t.db.run(
    "UPDATE drone_jobs SET started_at = datetime('now', '-2 hours'), progress_at = datetime('now', '-2 hours') WHERE id = ?",
    [id],
  );
  await t.db.run("DELETE FROM maintenance_runs WHERE job = 'drone_sweep'");
}

describe('drone job leases (issue 17, REL-04)', () => {
  it('a claim answers a fencing token and the 1 h TTL; the job row carries it; the claim event committed with it', async () => {
    const d = await register('lease-d1');
    const id = await queue('tokened', 'lcap1');
    const c = await claim(d.key, 'lcap1');
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ job: { id, status: 'claimed', drone_id: d.id }, lease_ttl_seconds: 3600 });
    expect(c.body.lease_token).toMatch(/^[0-9a-f]{32}$/);
    expect(await leaseRow(id)).toEqual({ lease_token: c.body.lease_token });
    const ev = await t.db.all<{ data: string }>("SELECT data FROM events WHERE type = 'drone_job_claimed'");
    expect(ev.filter((e) => JSON.parse(e.data).job_id === id)).toHaveLength(1);
    // Nothing to claim: the answer keeps its original shape.
    expect((await claim(d.key, 'lcap1')).body).toEqual({ job: null, stale_released: 0 });
  });

  it('the holder reports progress and completes with its token; a wrong token is 409 and changes nothing', async () => {
    const d = await register('lease-d2');
    const id = await queue('fenced', 'lcap2');
    const token = (await claim(d.key, 'lcap2')).body.lease_token as string;
    const bad = await report(d.key, id, { status: 'done', result_url: 'http://x/bad', lease_token: 'f'.repeat(32) });
    expect(bad.status).toBe(409);
    expect(bad.body).toEqual({ error: LOST, assignee: d.id, status: 'claimed' });
    expect(await jobRow(id)).toMatchObject({ status: 'claimed', result_url: null });
    expect((await report(d.key, id, { result_data: { pct: 50 }, lease_token: token })).status).toBe(200);
    const done = await report(d.key, id, { status: 'done', result_url: 'http://x/ok', lease_token: token });
    expect(done.status).toBe(200);
    expect(await jobRow(id)).toMatchObject({ status: 'done', result_url: 'http://x/ok' });
  });

  it('REL-04: a late completion from a holder whose lease was released (failed as stale by the sweep) is refused with 409', async () => {
    const d = await register('lease-d3');
    const id = await queue('stale one', 'lcap3');
    const token = (await claim(d.key, 'lcap3')).body.lease_token as string;
    await lapse(id);
    await t.scheduled();
    expect(await jobRow(id)).toMatchObject({ status: 'failed' });
    const late = await report(d.key, id, { status: 'done', result_url: 'http://x/late', lease_token: token });
    expect(late.status).toBe(409);
    expect(late.body.error).toBe(LOST);
    const lateProgress = await report(d.key, id, { result_data: { pct: 99 }, lease_token: token });
    expect(lateProgress.status).toBe(409);
    const lateFail = await report(d.key, id, { status: 'failed', error: 'late', lease_token: token });
    expect(lateFail.status).toBe(409);
    expect(await jobRow(id)).toMatchObject({ status: 'failed', result_url: null, result_data: '{}' });
  });

  it('a requeued job claimed again by the same drone gets a new token: the old run is fenced out, the new one completes', async () => {
    const d = await register('lease-d4');
    const id = await queue('requeued', 'lcap4');
    const first = (await claim(d.key, 'lcap4')).body.lease_token as string;
    const back = await t.call('PUT', `/drones/jobs/${id}`, { admin: true, body: { status: 'pending' } });
    expect(back.status).toBe(200);
    expect(await jobRow(id)).toMatchObject({ status: 'pending', drone_id: null });
    const second = (await claim(d.key, 'lcap4')).body.lease_token as string;
    expect(second).toMatch(/^[0-9a-f]{32}$/);
    expect(second).not.toBe(first);
    const late = await report(d.key, id, { status: 'done', result_url: 'http://x/old-run', lease_token: first });
    expect(late.status).toBe(409);
    expect(await jobRow(id)).toMatchObject({ status: 'claimed', result_url: null });
    expect((await report(d.key, id, { status: 'done', lease_token: second })).status).toBe(200);
  });

  it('clients that send no token keep the identity rule: the holder reports as before, another drone is refused (SEC-28)', async () => {
    const d = await register('lease-d5');
    const other = await register('lease-d5-other');
    const id = await queue('sdk job', 'lcap5');
    await claim(d.key, 'lcap5');
    const stranger = await report(other.key, id, { status: 'done', result_url: 'http://x/stolen' });
    expect(stranger.status).toBe(403);
    expect((await report(d.key, id, { result_data: { pct: 10 } })).status).toBe(200);
    const done = await report(d.key, id, { status: 'done', result_url: 'http://x/sdk' });
    expect(done.status).toBe(200);
    expect(await jobRow(id)).toMatchObject({ status: 'done', result_url: 'http://x/sdk' });
  });

  it('the kill switch pauses lease expiry: a frozen network fails no claim; after unfreezing the lapsed claim is released', async () => {
    const d = await register('lease-d6');
    const id = await queue('frozen one', 'lcap6');
    const token = (await claim(d.key, 'lcap6')).body.lease_token as string;
    await lapse(id);
    expect((await t.call('PUT', '/admin/override', { admin: true, body: { action: 'freeze' } })).status).toBe(200);
    try {
      await t.scheduled();
      expect(await jobRow(id)).toMatchObject({ status: 'claimed', drone_id: d.id });
      expect(await leaseRow(id)).toEqual({ lease_token: token });
      // Reports keep working while frozen (spec README "The kill switch"): the holder may finish.
      expect((await report(d.key, id, { result_data: { pct: 70 }, lease_token: token })).status).toBe(200);
    } finally {
      expect((await t.call('PUT', '/admin/override', { admin: true, body: { action: 'unfreeze' } })).status).toBe(200);
    }
    // The progress above renewed the lease: still claimed after a sweep; lapsed again, it is released.
    await t.db.run("DELETE FROM maintenance_runs WHERE job = 'drone_sweep'");
    await t.scheduled();
    expect((await jobRow(id))!.status).toBe('claimed');
    await lapse(id);
    await t.scheduled();
    expect(await jobRow(id)).toMatchObject({ status: 'failed' });
    expect((await report(d.key, id, { status: 'done', lease_token: token })).status).toBe(409);
  });
});
