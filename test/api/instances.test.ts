import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { CLOUDFLARE_TOKEN, FakeCloudflare, FakeRailway, RAILWAY_TOKEN, ZONE_ID } from '../provisioning/fakes.js';

/**
 * Tenant provisioning (spec 01 §4, issue 5) through the real admin routes, on both runtimes:
 * the bundled Worker in workerd reaches the fake Railway and Cloudflare servers on 127.0.0.1
 * exactly like the Node app does. The job must advance in short steps — the create's
 * waitUntil, then one cron pass at a time — never in one long call.
 */
const BASE_DOMAIN = 'tenants.example.test';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Bounded wait for background work whose end the test cannot await directly (the create's waitUntil). */
async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('provisioning switch (no tokens)', () => {
  let t: Target;
  let railway: FakeRailway;
  let cloudflare: FakeCloudflare;
  beforeAll(async () => {
    railway = await new FakeRailway().start();
    cloudflare = await new FakeCloudflare().start();
    // Everything but the two tokens: the switch stays off.
    t = await startTarget({
      env: {
        RAILWAY_API_URL: railway.url,
        CLOUDFLARE_API_URL: cloudflare.url,
        CLOUDFLARE_ZONE_ID: ZONE_ID,
        PROVISIONING_BASE_DOMAIN: BASE_DOMAIN,
        PROVISIONING_SOURCE_REPO: 'example-org/mycelium',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await railway?.stop();
    await cloudflare?.stop();
  });

  it('every provisioning route answers 503 "Provisioning not configured", and neither the routes nor the cron call Railway or Cloudflare', async () => {
    const calls: [string, string][] = [
      ['GET', '/instances'],
      ['POST', '/instances'],
      ['GET', '/instances/1'],
      ['DELETE', '/instances/1'],
      ['POST', '/instances/1/resume'],
      ['POST', '/instances/1/health-check'],
      ['GET', '/admin/deploy/status'],
      ['POST', '/admin/churn-check'],
    ];
    for (const [method, path] of calls) {
      const r = await t.call(method, path, {
        admin: true,
        body: method === 'GET' ? undefined : { org_id: 'org_1', slug: 'acme' },
      });
      expect([method, path, r.status, r.body]).toEqual([method, path, 503, { error: 'Provisioning not configured' }]);
    }
    await t.scheduled();
    await t.settle();
    expect(railway.calls).toHaveLength(0);
    expect(cloudflare.requests).toHaveLength(0);
    expect(await t.db.get('SELECT COUNT(*) AS n FROM customer_instances')).toEqual({ n: 0 });
  });
});

describe('provisioning job through the routes, waitUntil and the cron', () => {
  let t: Target;
  let railway: FakeRailway;
  let cloudflare: FakeCloudflare;
  const order: string[] = [];
  let id: number;
  let secrets: { admin_key: string; jwt_secret: string; admin_username: string; admin_password: string };

  beforeAll(async () => {
    railway = await new FakeRailway().start();
    cloudflare = await new FakeCloudflare().start();
    railway.log = order;
    cloudflare.log = order;
    t = await startTarget({
      env: {
        RAILWAY_TOKEN,
        RAILWAY_API_URL: railway.url,
        CLOUDFLARE_TOKEN,
        CLOUDFLARE_ZONE_ID: ZONE_ID,
        CLOUDFLARE_API_URL: cloudflare.url,
        PROVISIONING_BASE_DOMAIN: BASE_DOMAIN,
        PROVISIONING_SOURCE_REPO: 'https://github.com/example-org/mycelium.git',
        // 1 ms: every advance runs exactly one step (the minimum), so each cron pass is observable.
        PROVISIONING_ADVANCE_BUDGET_MS: '1',
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await railway?.stop();
    await cloudflare?.stop();
  });

  const job = () => t.call('GET', `/instances/${id}`, { admin: true });
  const stepsOf = async () =>
    (await job()).body.steps as { step: string; status: string; detail: string | null; error: string | null }[];
  /** One cron pass; the maintenance slot is reopened first, as if a minute had passed. */
  const cronPass = async () => {
    await t.db.run("DELETE FROM maintenance_runs WHERE job = 'provisioning_jobs'");
    await t.scheduled();
  };

  it('POST /instances answers 202 with the job and its once-shown secrets; the database holds only their hashes', async () => {
    const r = await t.call('POST', '/instances', {
      admin: true,
      headers: { 'Idempotency-Key': 'order-7781' },
      body: { org_id: 'org_acme', slug: 'acme', customer_email: 'ops@acme.example', admin_username: 'root' },
    });
    expect(r.status).toBe(202);
    expect(r.body.created).toBe(true);
    expect(r.body.instance).toMatchObject({
      org_id: 'org_acme',
      slug: 'acme',
      domain: `acme.${BASE_DOMAIN}`,
      status: 'provisioning',
      source_repo: 'example-org/mycelium',
    });
    expect(r.body.instance.admin_key_hash).toBeUndefined();
    secrets = r.body.secrets;
    expect(secrets.admin_key).toMatch(/^mya_[0-9a-f]{48}$/);
    expect(secrets.jwt_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets.admin_username).toBe('root');
    expect(secrets.admin_password.length).toBeGreaterThanOrEqual(20);
    id = r.body.instance.id;

    const row = await t.db.get<Record<string, unknown>>('SELECT * FROM customer_instances WHERE id = ?', [id]);
    expect(row).toMatchObject({
      admin_key_hash: sha256(secrets.admin_key),
      jwt_secret_hash: sha256(secrets.jwt_secret),
      admin_password_hash: sha256(secrets.admin_password),
      idempotency_key: 'order-7781',
    });
    const stored =
      JSON.stringify(await t.db.all('SELECT * FROM customer_instances')) +
      JSON.stringify(await t.db.all('SELECT * FROM customer_instance_steps'));
    for (const s of [secrets.admin_key, secrets.jwt_secret, secrets.admin_password]) expect(stored).not.toContain(s);
  });

  it("the create's waitUntil runs the first steps and installs the secrets before stopping (they exist only in that call)", async () => {
    await until('the waitUntil advance to finish', async () => {
      const r = await t.db.get<{ lease_owner: string | null; n: number }>(
        "SELECT lease_owner, (SELECT COUNT(*) FROM customer_instance_steps WHERE instance_id = ? AND status = 'done') AS n FROM customer_instances WHERE id = ?",
        [id, id],
      );
      return r?.lease_owner === null && r.n > 0;
    });
    // The budget is spent after the first step, but the call holding the clear secrets goes on until they are installed.
    expect((await stepsOf()).map((s) => [s.step, s.status])).toEqual([
      ['project', 'done'],
      ['service', 'done'],
      ['variables', 'done'],
    ]);
    expect(railway.ops()).toEqual(['ProjectCreate', 'ServiceCreate', 'VariableCollectionUpsert']);
    const p = railway.liveProjects();
    expect(p.map((x) => x.name)).toEqual(['mycelium-acme']);
    expect(p[0].services.map((s) => s.source)).toEqual([{ repo: 'example-org/mycelium' }]);
    const vars = railway.variables.get(`${p[0].environments[0].id}/${p[0].services[0].id}`);
    expect(vars).toMatchObject({
      ADMIN_KEY: secrets.admin_key,
      JWT_SECRET: secrets.jwt_secret,
      MYCELIUM_BOOTSTRAP_ADMIN_PASSWORD: secrets.admin_password,
      PUBLIC_BASE_URL: `https://acme.${BASE_DOMAIN}`,
    });
    expect(cloudflare.requests).toHaveLength(0);
  });

  it('a replay with the same idempotency key answers 200 with the same job, no secrets, and still one Railway project', async () => {
    const again = await t.call('POST', '/instances', {
      admin: true,
      headers: { 'Idempotency-Key': 'order-7781' },
      body: { org_id: 'org_acme', slug: 'acme' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ created: false, instance: expect.objectContaining({ id, slug: 'acme' }) });
    expect(again.body.secrets).toBeUndefined();
    // Same key in the body instead of the header: the same job again.
    const viaBody = await t.call('POST', '/instances', {
      admin: true,
      body: { org_id: 'org_acme', slug: 'acme', idempotency_key: 'order-7781' },
    });
    expect([viaBody.status, viaBody.body.instance.id, viaBody.body.secrets]).toEqual([200, id, undefined]);
    await t.settle();
    expect(await t.db.get('SELECT COUNT(*) AS n FROM customer_instances')).toEqual({ n: 1 });
    expect(railway.ops().filter((o) => o === 'ProjectCreate')).toHaveLength(1);
    expect(railway.liveProjects()).toHaveLength(1);
  });

  it('the maintenance cron advances the job one step per pass, waiting on the deployment across passes', async () => {
    const passes: { ops: string[]; cf: string[]; steps: string[] }[] = [];
    for (let i = 0; i < 6; i++) {
      const ops0 = railway.calls.length;
      const cf0 = cloudflare.requests.length;
      await cronPass();
      passes.push({
        ops: railway.ops().slice(ops0),
        cf: cloudflare.requests.slice(cf0).map((q) => q.method),
        steps: (await stepsOf()).slice(3).map((s) => `${s.step}:${s.status}`),
      });
    }
    expect(passes).toEqual([
      { ops: ['VolumeCreate'], cf: [], steps: ['volume:done'] },
      { ops: ['CustomDomainCreate'], cf: [], steps: ['volume:done', 'domain:done'] },
      { ops: [], cf: ['GET', 'POST'], steps: ['volume:done', 'domain:done', 'dns:done'] },
      {
        ops: ['ServiceInstanceDeploy', 'Deployment'],
        cf: [],
        steps: ['volume:done', 'domain:done', 'dns:done', 'deploy:waiting'],
      },
      { ops: ['Deployment'], cf: [], steps: ['volume:done', 'domain:done', 'dns:done', 'deploy:waiting'] },
      { ops: ['Deployment'], cf: [], steps: ['volume:done', 'domain:done', 'dns:done', 'deploy:done'] },
    ]);
    // The DNS record is a proxied CNAME to the Railway-provided target, never to itself.
    const post = cloudflare.requests.find((q) => q.method === 'POST')!;
    expect(post.path).toBe(`/client/v4/zones/${ZONE_ID}/dns_records`);
    expect(post.body).toEqual({
      type: 'CNAME',
      name: `acme.${BASE_DOMAIN}`,
      content: `${railway.liveProjects()[0].services[0].id}.up.railway.app`,
      proxied: true,
      ttl: 1,
    });
    expect(railway.liveProjects()[0].volumes.map((v) => v.mountPath)).toEqual(['/data']);
    const row = await t.db.get<{ status: string; current_step: string; lease_owner: string | null }>(
      'SELECT status, current_step, lease_owner FROM customer_instances WHERE id = ?',
      [id],
    );
    expect(row).toEqual({ status: 'provisioning', current_step: 'deploy', lease_owner: null });
  });

  it('the health step polls https://<domain>/health, which does not answer here: it records the failed attempt as pending and never claims success', async () => {
    const calls0 = railway.calls.length + cloudflare.requests.length;
    await cronPass();
    let health = (await stepsOf()).find((s) => s.step === 'health')!;
    expect(health.status).toBe('waiting');
    const detail = JSON.parse(health.detail!);
    expect(detail.attempts).toBe(1);
    expect(typeof detail.error).toBe('string');
    expect(detail.error.length).toBeGreaterThan(0);
    // A second pass polls again (still within the 5-minute health budget): still pending.
    await cronPass();
    health = (await stepsOf()).find((s) => s.step === 'health')!;
    expect(health.status).toBe('waiting');
    expect(railway.calls.length + cloudflare.requests.length).toBe(calls0);

    const j = (await job()).body;
    expect(j).toMatchObject({ status: 'provisioning', current_step: 'health', health_status: 'unknown' });
    expect(j.steps.map((s: { step: string }) => s.step)).not.toContain('admin');
    const attempts = await t.db.get<{ attempts: number }>(
      "SELECT attempts FROM customer_instance_steps WHERE instance_id = ? AND step = 'health'",
      [id],
    );
    expect(attempts?.attempts).toBe(2);
    const events = (
      await t.db.all<{ type: string }>("SELECT type FROM events WHERE type LIKE 'instance_%' ORDER BY id")
    ).map((e) => e.type);
    expect(events).toContain('instance_provisioning_started');
    expect(events).not.toContain('instance_provisioned');
    expect((await t.call('GET', '/instances?status=active', { admin: true })).body.instances).toEqual([]);
  });

  it('DELETE /instances/:id tears down in reverse order: the Cloudflare record, then the Railway project', async () => {
    const mark = order.length;
    const del = await t.call('DELETE', `/instances/${id}`, { admin: true });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ ok: true, instance: { id, status: 'deleted' } });
    expect(order.slice(mark)).toEqual(['cloudflare DELETE', 'railway ProjectDelete']);
    const recId = (await t.db.get<{ upstream_id: string }>(
      "SELECT upstream_id FROM customer_instance_steps WHERE instance_id = ? AND step = 'dns'",
      [id],
    ))!.upstream_id;
    expect(cloudflare.requests.at(-1)).toMatchObject({
      method: 'DELETE',
      path: `/client/v4/zones/${ZONE_ID}/dns_records/${recId}`,
    });
    expect(cloudflare.records.size).toBe(0);
    expect(railway.liveProjects()).toHaveLength(0);
    const steps = await stepsOf();
    expect(steps.filter((s) => s.step.startsWith('teardown_')).map((s) => [s.step, s.status])).toEqual([
      ['teardown_dns', 'done'],
      ['teardown_project', 'done'],
    ]);

    // A deleted job is not runnable: the next cron pass calls nothing upstream.
    const calls0 = order.length;
    await cronPass();
    expect(order.length).toBe(calls0);
    expect((await job()).body.status).toBe('deleted');
  });
});
