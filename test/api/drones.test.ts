import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

/** Drones as participants: registry, detail, status, compatibility, pause/resume (spec 05 §1, §3). */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

const gpuInfo = {
  os: 'linux',
  cuda_available: true,
  gpu_name: 'RTX 4090',
  gpu_vram_gb: 24,
  disk_free_gb: 120,
  home: '/home/ops',
};

describe('drone registry (spec 05 §1.1, §3)', () => {
  it('a drone registers with project drone, becomes agent_type drone with no default capabilities, and is listed in /drones, not /agents', async () => {
    const d = await registerAgent(t, 'reg-drone', 'drone');
    const typed = await registerAgent(t, 'typed-drone', 'lab', { agent_type: 'drone', capabilities: ['cpu'] });
    const plain = await registerAgent(t, 'reg-agent', 'lab');
    const row = await t.db.get<{ agent_type: string; capabilities: string }>(
      'SELECT agent_type, capabilities FROM agents WHERE id = ?',
      [d.id],
    );
    expect(row).toEqual({ agent_type: 'drone', capabilities: '[]' });

    const list = await t.call('GET', '/drones', { agentKey: plain.key });
    expect(list.status).toBe(200);
    const ids = list.body.map((x: { id: string }) => x.id);
    expect(ids).toEqual(expect.arrayContaining([d.id, typed.id]));
    expect(ids).not.toContain(plain.id);
    expect(list.text).not.toContain('api_key_hash');

    const agents = await t.call('GET', '/agents', { admin: true });
    const agentIds = agents.body.map((x: { id: string }) => x.id);
    expect(agentIds).toContain(plain.id);
    expect(agentIds).not.toContain(d.id);
    expect(agentIds).not.toContain(typed.id);
  });

  it('the list carries system_info, warnings and worker_version from the latest heartbeat snapshot', async () => {
    const d = await registerAgent(t, 'snap-drone', 'drone', { capabilities: ['gpu', 'cpu'] });
    await t.call('POST', '/agents/heartbeat', {
      agentKey: d.key,
      body: { state_snapshot: { system_info: gpuInfo, warnings: ['low disk'], worker_version: '4.2' } },
    });
    const list = await t.call('GET', '/drones', { admin: true });
    const me = list.body.find((x: { id: string }) => x.id === d.id);
    expect(me).toMatchObject({
      system_info: gpuInfo,
      warnings: ['low disk'],
      worker_version: '4.2',
      capabilities: '["gpu","cpu"]',
      status: 'online',
    });
  });

  it('detail: full row without the key hash, recent jobs and error summary; unknown or non-drone → 404 Drone not found', async () => {
    const d = await registerAgent(t, 'detail-drone', 'drone', { capabilities: ['cpu'] });
    const q = await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.1',
      body: { title: 'will fail', command: 'false', requires: ['cpu'], input_data: { _no_retry: true } },
    });
    const claim = await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['cpu'] } });
    expect(claim.body.job.id).toBe(q.body.id);
    await t.call('PUT', `/drones/jobs/${q.body.id}`, {
      agentKey: d.key,
      body: {
        status: 'failed',
        error: 'exit 1',
        result_data: { error_type: 'exit_code', message: 'process exited 1', suggestion: 'check logs' },
      },
    });

    const r = await t.call('GET', `/drones/${d.id}`, { admin: true });
    expect(r.status).toBe(200);
    expect(r.body.api_key_hash).toBeUndefined();
    expect(r.body.recent_jobs.map((j: { id: number }) => j.id)).toEqual([q.body.id]);
    expect(r.body.error_summary).toEqual([
      {
        job_id: q.body.id,
        title: 'will fail',
        error_type: 'exit_code',
        message: 'process exited 1',
        suggestion: 'check logs',
        failed_at: expect.any(String),
      },
    ]);
    expect(r.body.profiles).toEqual([]);

    const plain = await registerAgent(t, 'detail-agent', 'lab');
    for (const id of ['nobody-here', plain.id]) {
      const nf = await t.call('GET', `/drones/${id}`, { admin: true });
      expect(nf.status).toBe(404);
      expect(nf.body).toEqual({ error: 'Drone not found' });
    }
  });

  it('status reports parsed capabilities and the pending jobs this drone could take (spec 05 §17.2 L1)', async () => {
    const d = await registerAgent(t, 'status-drone', 'drone', { capabilities: ['printer'] });
    const before = (await t.call('GET', `/drones/${d.id}/status`, { agentKey: d.key })).body;
    await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.2',
      body: { title: 'print', requires: ['printer'] },
    });
    await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.2',
      body: { title: 'gpu only', requires: ['gpu'] },
    });
    const s = await t.call('GET', `/drones/${d.id}/status`, { agentKey: d.key });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ id: d.id, capabilities: ['printer'], paused: false });
    expect(s.body.queued_jobs).toBe(before.queued_jobs + 1);
    expect((await t.call('GET', '/drones/nope/status', { admin: true })).status).toBe(404);
  });

  it('compatibility: no diagnostics → 200 with an error; GPU, VRAM, disk and capability checks otherwise', async () => {
    const d = await registerAgent(t, 'compat-drone', 'drone', { capabilities: ['gpu', 'cpu'] });
    const none = await t.call('GET', `/drones/${d.id}/compatibility`, { admin: true });
    expect(none.body).toEqual({ drone_id: d.id, error: 'No diagnostics available', compatible: [], incompatible: [] });

    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'compat-big', requires: ['gpu'], min_vram_gb: 48, command_template: 'run' },
    });
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'compat-ok', requires: ['gpu'], min_vram_gb: 8, min_disk_gb: 10, command_template: 'run' },
    });
    await t.call('POST', '/agents/heartbeat', { agentKey: d.key, body: { state_snapshot: { system_info: gpuInfo } } });
    const r = await t.call('GET', `/drones/${d.id}/compatibility`, { admin: true });
    expect(r.status).toBe(200);
    expect(r.body.compatible).toContainEqual({
      template: 'compat-ok',
      name: 'compat-ok',
      status: 'ready',
      notes: 'RTX 4090 24 GB VRAM, 120 GB free disk',
    });
    expect(r.body.incompatible).toContainEqual({
      template: 'compat-big',
      name: 'compat-big',
      status: 'incompatible',
      reasons: ['Requires 48 GB VRAM, has 24 GB'],
    });
    // The seeded printer template needs a capability this drone does not have.
    expect(r.body.incompatible).toContainEqual({
      template: '3d_print',
      name: '3D Print Job',
      status: 'incompatible',
      reasons: ['Requires capability "3d_printer"'],
    });
  });
});

describe('pause and resume (spec 05 §3, §17.1, REL-17)', () => {
  it('unknown drone → 404 Drone not found', async () => {
    for (const action of ['pause', 'resume']) {
      const r = await t.call('PUT', `/drones/ghost-drone/${action}`, { admin: true });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ error: 'Drone not found' });
    }
  });

  it('SEC-29: another agent may not pause a drone; an admin, any operator and the drone itself may', async () => {
    const d = await registerAgent(t, 'pause-drone', 'drone', { capabilities: ['cpu'] });
    const other = await registerAgent(t, 'pause-stranger', 'lab');
    const denied = await t.call('PUT', `/drones/${d.id}/pause`, { agentKey: other.key });
    expect(denied.status).toBe(403);
    expect((await t.db.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [d.id]))!.status).not.toBe(
      'paused',
    );

    const op = await createOperator(t, 'pause-operator', 'member');
    const byOp = await t.call('PUT', `/drones/${d.id}/pause`, { token: op.token });
    expect(byOp.status).toBe(200);
    expect(byOp.body).toEqual({ ok: true, status: 'paused' });
    const msg = await t.db.get<{ content: string; to_agent: string }>(
      'SELECT content, to_agent FROM messages WHERE to_agent = ? ORDER BY id DESC LIMIT 1',
      [d.id],
    );
    expect(JSON.parse(msg!.content)).toEqual({ action: 'pause' });

    const self = await t.call('PUT', `/drones/${d.id}/resume`, { agentKey: d.key });
    expect(self.body).toEqual({ ok: true, status: 'online' });
    const admin = await t.call('PUT', `/drones/${d.id}/pause`, { admin: true });
    expect(admin.body.status).toBe('paused');
  });

  it('REL-17: a paused drone stays paused after its heartbeat and claims nothing; resume lets it claim again', async () => {
    const d = await registerAgent(t, 'rel17-paused', 'drone', { capabilities: ['rel17cap'] });
    const job = await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.3',
      body: { title: 'rel17 job', requires: ['rel17cap'] },
    });
    expect((await t.call('PUT', `/drones/${d.id}/pause`, { admin: true })).status).toBe(200);
    await t.call('POST', '/agents/heartbeat', { agentKey: d.key, body: { status: 'online' } });

    const claim = await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['rel17cap'] } });
    expect(claim.status).toBe(200);
    expect(claim.body).toMatchObject({ job: null, paused: true });
    expect((await t.call('GET', `/drones/${d.id}/status`, { admin: true })).body).toMatchObject({
      status: 'paused',
      paused: true,
    });
    expect(
      (await t.db.get<{ status: string }>('SELECT status FROM drone_jobs WHERE id = ?', [job.body.id]))!.status,
    ).toBe('pending');

    await t.call('PUT', `/drones/${d.id}/resume`, { admin: true });
    const again = await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['rel17cap'] } });
    expect(again.body.job.id).toBe(job.body.id);
  });
});

describe('removing a drone (spec README: deleting an agent)', () => {
  it('its running claims go back to the queue; finished history stays', async () => {
    const d = await registerAgent(t, 'doomed-drone', 'drone', { capabilities: ['doomedcap'] });
    const running = await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.4',
      body: { title: 'running', requires: ['doomedcap'] },
    });
    const finished = await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.4',
      body: { title: 'finished', requires: ['doomedcap'], priority: 9 },
    });
    expect(
      (await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['doomedcap'] } })).body.job.id,
    ).toBe(finished.body.id);
    await t.call('PUT', `/drones/jobs/${finished.body.id}`, { agentKey: d.key, body: { status: 'done' } });
    expect(
      (await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['doomedcap'] } })).body.job.id,
    ).toBe(running.body.id);
    expect((await t.call('DELETE', `/admin/agents/${d.id}`, { admin: true })).status).toBe(200);
    const rows = await t.db.all<{ id: number; status: string; drone_id: string | null }>(
      'SELECT id, status, drone_id FROM drone_jobs WHERE id IN (?, ?) ORDER BY id',
      [running.body.id, finished.body.id],
    );
    expect(rows).toEqual([
      { id: running.body.id, status: 'pending', drone_id: null },
      { id: finished.body.id, status: 'done', drone_id: d.id },
    ]);
  });
});

describe('savepoint diff (spec 02 §3.7)', () => {
  it("counts the drone jobs a drone ran since its savepoint, and not other drones' jobs", async () => {
    const d = await registerAgent(t, 'diff-drone', 'drone', { capabilities: ['diffcap'] });
    const other = await registerAgent(t, 'diff-other', 'drone', { capabilities: ['diffcap2'] });
    await t.call('POST', '/agents/heartbeat', { agentKey: d.key, body: { working_on: 'waiting' } });
    await t.db.run("UPDATE agent_savepoints SET heartbeat_at = datetime('now', '-1 minute') WHERE agent_id = ?", [
      d.id,
    ]);
    const mine = await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.5',
      body: { title: 'mine', requires: ['diffcap'] },
    });
    await t.call('POST', '/drones/jobs', {
      admin: true,
      ip: '10.9.0.5',
      body: { title: 'theirs', requires: ['diffcap2'] },
    });
    await t.call('POST', '/drones/claim', { agentKey: d.key, body: { capabilities: ['diffcap'] } });
    await t.call('POST', '/drones/claim', { agentKey: other.key, body: { capabilities: ['diffcap2'] } });
    const diff = await t.call('GET', `/agents/${d.id}/savepoint/diff`, { agentKey: d.key });
    expect(diff.status).toBe(200);
    expect(diff.body.summary.drone_jobs).toBe(1);
    expect(diff.body.changes.drone_jobs_changed.map((j: { id: number }) => j.id)).toEqual([mine.body.id]);
  });
});
