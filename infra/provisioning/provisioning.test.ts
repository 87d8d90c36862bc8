import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cnameBody } from './cloudflare.js';
import { normalizeRepo, provisioningConfigFromEnv } from './config.js';
import { ProvisioningError, UpstreamError } from './errors.js';
import { RailwayClient } from './railway.js';
import { sha256Hex } from './secrets.js';
import { BOOTSTRAP_PASSWORD_VAR } from './service.js';
import { CLOUDFLARE_TOKEN, RAILWAY_TOKEN, ZONE_ID } from '../../test/provisioning/fakes.js';
import { runToEnd, startHarness, type Harness } from '../../test/provisioning/harness.js';

const DOMAIN = 'acme.tenants.example.test';

/** Every text value stored in both provisioning tables, to prove no clear secret is there. */
async function storedText(h: Harness): Promise<string> {
  const rows = [
    ...(await h.db.all('SELECT * FROM customer_instances')),
    ...(await h.db.all('SELECT * FROM customer_instance_steps')),
  ];
  return JSON.stringify(rows);
}

describe('provisioningConfigFromEnv (the token-gated switch)', () => {
  const full = {
    RAILWAY_TOKEN: 'r',
    CLOUDFLARE_TOKEN: 'c',
    CLOUDFLARE_ZONE_ID: 'z',
    PROVISIONING_BASE_DOMAIN: 'example.com',
  };

  it('is null unless all four required variables are set', () => {
    expect(provisioningConfigFromEnv({})).toBeNull();
    for (const k of Object.keys(full)) {
      expect(provisioningConfigFromEnv({ ...full, [k]: undefined })).toBeNull();
      expect(provisioningConfigFromEnv({ ...full, [k]: '  ' })).toBeNull();
    }
    const c = provisioningConfigFromEnv(full)!;
    expect(c.railwayApiUrl).toBe('https://backboard.railway.app/graphql/v2');
    expect(c.cloudflareApiUrl).toBe('https://api.cloudflare.com/client/v4');
    expect(c.baseDomain).toBe('example.com');
  });

  it('accepts API URL overrides and normalises a GitHub URL to owner/repo', () => {
    const c = provisioningConfigFromEnv({
      ...full,
      RAILWAY_API_URL: 'http://127.0.0.1:1/g',
      CLOUDFLARE_API_URL: 'http://127.0.0.1:2/c',
      PROVISIONING_SOURCE_REPO: 'https://github.com/o/r.git',
    })!;
    expect(c.railwayApiUrl).toBe('http://127.0.0.1:1/g');
    expect(c.cloudflareApiUrl).toBe('http://127.0.0.1:2/c');
    expect(c.sourceRepo).toBe('o/r');
    expect(normalizeRepo('git@github.com:o/r.git')).toBe('o/r');
    expect(normalizeRepo('not a repo')).toBeNull();
  });
});

describe('provisioning job against fake Railway and Cloudflare', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('happy path: every step, the exact upstream calls, secrets once and only hashed', async () => {
    const created = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme', customerEmail: 'a@acme.test' });
    expect(created.created).toBe(true);
    const secrets = created.secrets!;
    expect(secrets.adminKey).toMatch(/^mya_[0-9a-f]{48}$/);
    expect(secrets.adminKey.startsWith('dvk_')).toBe(false);
    expect(secrets.jwtSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets.adminPassword.length).toBeGreaterThanOrEqual(20);
    expect(created.instance).not.toHaveProperty('admin_key_hash');
    expect(created.instance.domain).toBe(DOMAIN);
    expect(h.railway.calls).toHaveLength(0); // create itself calls nothing upstream

    const r = await runToEnd(h.svc, created.instance.id, secrets);
    expect(r.outcome).toBe('active');
    expect(r.instance.status).toBe('active');
    expect(r.instance.health_status).toBe('healthy');
    expect(r.instance.last_health_check).toBeTruthy();

    // Railway: operation sequence, bearer token on every call, variables as documented.
    const ops = h.railway.ops().filter((o) => o !== 'Deployment');
    expect(ops).toEqual([
      'ProjectCreate',
      'ServiceCreate',
      'VariableCollectionUpsert',
      'VolumeCreate',
      'CustomDomainCreate',
      'ServiceInstanceDeploy',
      'Variables',
      'VariableDelete',
    ]);
    expect(h.railway.calls.every((c) => c.auth === `Bearer ${RAILWAY_TOKEN}`)).toBe(true);
    const call = (op: string) => h.railway.calls.find((c) => c.operation === op)!;
    expect(call('ProjectCreate').variables).toEqual({ input: { name: 'mycelium-acme' } });
    expect(call('ProjectCreate').query).toMatch(/mutation ProjectCreate\(\$input: ProjectCreateInput!\)/);
    const project = h.railway.liveProjects()[0];
    const envId = project.environments[0].id;
    const svcId = project.services[0].id;
    expect(call('ServiceCreate').variables).toEqual({
      input: { projectId: project.id, name: 'mycelium', source: { repo: 'example-org/mycelium' } },
    });
    const upsert = call('VariableCollectionUpsert').variables.input;
    expect(upsert).toMatchObject({ projectId: project.id, environmentId: envId, serviceId: svcId, skipDeploys: true });
    expect(upsert.variables).toMatchObject({
      ADMIN_KEY: secrets.adminKey,
      JWT_SECRET: secrets.jwtSecret,
      NODE_ENV: 'production',
      DATA_DIR: '/data',
      PUBLIC_BASE_URL: `https://${DOMAIN}`,
      [BOOTSTRAP_PASSWORD_VAR]: secrets.adminPassword,
    });
    expect(call('VolumeCreate').variables).toEqual({
      input: { projectId: project.id, serviceId: svcId, environmentId: envId, mountPath: '/data' },
    });
    expect(call('CustomDomainCreate').variables).toEqual({
      input: { projectId: project.id, environmentId: envId, serviceId: svcId, domain: DOMAIN },
    });
    expect(call('ServiceInstanceDeploy').variables).toEqual({ serviceId: svcId, environmentId: envId });

    // Cloudflare: proxied CNAME to the Railway-provided target, never to itself.
    const post = h.cloudflare.requests.find((q) => q.method === 'POST')!;
    expect(post.path).toBe(`/client/v4/zones/${ZONE_ID}/dns_records`);
    expect(post.headers.authorization).toBe(`Bearer ${CLOUDFLARE_TOKEN}`);
    const railwayTarget = project.customDomains[0].status.dnsRecords[0].requiredValue;
    expect(post.body).toEqual({ type: 'CNAME', name: DOMAIN, content: railwayTarget, proxied: true, ttl: 1 });
    expect(post.body.content).not.toBe(post.body.name);
    expect(r.instance.dns_target).toBe(railwayTarget);
    expect(r.instance.cloudflare_record_id).toBe([...h.cloudflare.records.keys()][0]);

    // First admin operator created on the tenant with the issued admin key and password.
    expect(h.tenant.users).toEqual([
      {
        adminKey: secrets.adminKey,
        body: { username: 'admin', password: secrets.adminPassword, display_name: 'admin', role: 'admin' },
      },
    ]);
    // ...and the staging variable is gone afterwards.
    expect(h.railway.variables.get(`${envId}/${svcId}`)).not.toHaveProperty(BOOTSTRAP_PASSWORD_VAR);

    // Only SHA-256 hashes are stored.
    const stored = await storedText(h);
    for (const s of Object.values(secrets)) expect(stored).not.toContain(s);
    const row = await h.db.get<Record<string, string>>('SELECT * FROM customer_instances WHERE id = ?', [
      r.instance.id,
    ]);
    expect(row!.admin_key_hash).toBe(await sha256Hex(secrets.adminKey));
    expect(row!.jwt_secret_hash).toBe(await sha256Hex(secrets.jwtSecret));
    expect(row!.admin_password_hash).toBe(await sha256Hex(secrets.adminPassword));

    // Steps recorded with their upstream ids.
    const full = await h.svc.get(r.instance.id);
    expect(full.steps.map((s) => [s.step, s.status])).toEqual([
      ['project', 'done'],
      ['service', 'done'],
      ['variables', 'done'],
      ['volume', 'done'],
      ['domain', 'done'],
      ['dns', 'done'],
      ['deploy', 'done'],
      ['health', 'done'],
      ['admin', 'done'],
    ]);
    expect(full.steps.find((s) => s.step === 'project')!.upstream_id).toBe(project.id);
    expect(h.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['instance_provisioning_started', 'instance_provisioned']),
    );
    expect(h.inbox.some((i) => i.type === 'instance_provisioned')).toBe(true);

    // A replay with the same key returns the job without secrets and starts nothing.
    const again = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    expect(again.created).toBe(false);
    expect(again.secrets).toBeUndefined();
    expect(again.instance.id).toBe(r.instance.id);
  });

  it('a Railway error mid-way fails the job at that step; resume continues there without a second project', async () => {
    h.railway.failures.push({ operation: 'CustomDomainCreate', status: 502, message: 'upstream exploded' });
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    const first = await runToEnd(h.svc, instance.id, secrets);
    expect(first.outcome).toBe('failed');
    expect(first.instance.status).toBe('failed');
    expect(first.instance.last_error).toContain('domain');
    expect(first.instance.last_error).toContain('502');
    expect(first.instance.last_error).toContain('upstream exploded');
    expect(first.completed).toEqual(['project', 'service', 'variables', 'volume']);
    const failedStep = (await h.svc.get(instance.id)).steps.find((s) => s.step === 'domain')!;
    expect(failedStep.status).toBe('failed');
    expect(h.inbox.some((i) => i.type === 'instance_provision_failed' && i.urgent)).toBe(true);

    h.railway.calls = [];
    const resumed = await h.svc.resume(instance.id);
    expect(resumed.secrets).toBeUndefined(); // the secrets already reached Railway
    let r = resumed;
    for (let i = 0; i < 20 && r.outcome === 'in_progress'; i++) r = await h.svc.advance(instance.id);
    expect(r.outcome).toBe('active');
    expect(h.railway.ops()).not.toContain('ProjectCreate');
    expect(h.railway.ops()).not.toContain('ServiceCreate');
    expect(h.railway.ops()).not.toContain('VolumeCreate');
    expect(h.railway.liveProjects()).toHaveLength(1);
    expect(h.tenant.users[0].adminKey).toBe(secrets!.adminKey);
  });

  it('a lost projectCreate answer is adopted on resume, never duplicated; secrets are reissued once', async () => {
    h.railway.failures.push({
      operation: 'ProjectCreate',
      status: 200,
      message: 'Problem processing request',
      afterEffect: true,
    });
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    const first = await runToEnd(h.svc, instance.id, secrets);
    expect(first.outcome).toBe('failed');
    expect(first.instance.last_error).toContain('Problem processing request');
    expect(h.railway.liveProjects()).toHaveLength(1); // Railway did create it

    const resumed = await h.svc.resume(instance.id);
    // Secrets from create never reached Railway, so new ones are issued — once, here.
    expect(resumed.secrets).toBeDefined();
    expect(resumed.secrets!.adminKey).not.toBe(secrets!.adminKey);
    let r = resumed;
    for (let i = 0; i < 20 && r.outcome === 'in_progress'; i++) r = await h.svc.advance(instance.id);
    expect(r.outcome).toBe('active');
    expect(h.railway.ops().filter((o) => o === 'ProjectCreate')).toHaveLength(1);
    expect(h.railway.ops()).toContain('Projects');
    expect(h.railway.liveProjects()).toHaveLength(1);
    expect(h.tenant.users[0].adminKey).toBe(resumed.secrets!.adminKey);
    const stored = await storedText(h);
    for (const s of [...Object.values(secrets!), ...Object.values(resumed.secrets!)]) expect(stored).not.toContain(s);
  });

  it('concurrent double requests create exactly one tenant and one Railway project', async () => {
    const [a, b] = await Promise.all([
      h.svc.createInstance({ orgId: 'org_1', slug: 'acme', idempotencyKey: 'checkout-42' }),
      h.svc.createInstance({ orgId: 'org_1', slug: 'acme', idempotencyKey: 'checkout-42' }),
    ]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.instance.id).toBe(b.instance.id);
    const winner = a.created ? a : b;
    expect(await h.db.all('SELECT id FROM customer_instances')).toHaveLength(1);

    // Two runners at once (e.g. waitUntil and cron): one gets the lease, the other is told it is busy.
    const svc2 = h.makeService();
    const [r1, r2] = await Promise.all([
      h.svc.advance(winner.instance.id, { secrets: winner.secrets }),
      svc2.advance(winner.instance.id),
    ]);
    expect([r1.outcome, r2.outcome]).toContain('busy');
    let r = r1.outcome === 'busy' ? r2 : r1;
    for (let i = 0; i < 20 && r.outcome === 'in_progress'; i++) r = await h.svc.advance(winner.instance.id);
    expect(r.outcome).toBe('active');
    expect(h.railway.ops().filter((o) => o === 'ProjectCreate')).toHaveLength(1);

    // Same slug under another key is a conflict, not a second tenant.
    await expect(h.svc.createInstance({ orgId: 'org_2', slug: 'acme', idempotencyKey: 'other' })).rejects.toMatchObject(
      { code: 'conflict' },
    );
    // Same key for another slug is a conflict too.
    await expect(
      h.svc.createInstance({ orgId: 'org_1', slug: 'other', idempotencyKey: 'checkout-42' }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(h.railway.liveProjects()).toHaveLength(1);
  });

  it('teardown deletes the Cloudflare record before the Railway project, and resumes after a failure', async () => {
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    expect((await runToEnd(h.svc, instance.id, secrets)).outcome).toBe('active');
    const recordId = [...h.cloudflare.records.keys()][0];

    h.cloudflare.failNext = { method: 'DELETE', status: 500, message: 'dns backend down' };
    await expect(h.svc.teardown(instance.id)).rejects.toBeInstanceOf(UpstreamError);
    let cur = await h.svc.get(instance.id);
    expect(cur.status).toBe('tearing_down');
    expect(cur.last_error).toContain('dns backend down');
    expect(h.railway.ops()).not.toContain('ProjectDelete'); // never deleted out of order
    expect(h.railway.liveProjects()).toHaveLength(1);

    h.order.length = 0;
    const done = await h.svc.teardown(instance.id);
    expect(done.status).toBe('deleted');
    const dnsDelete = h.order.indexOf('cloudflare DELETE');
    const projectDelete = h.order.indexOf('railway ProjectDelete');
    expect(dnsDelete).toBeGreaterThanOrEqual(0);
    expect(projectDelete).toBeGreaterThan(dnsDelete);
    expect(h.cloudflare.requests.filter((q) => q.method === 'DELETE').at(-1)!.path).toBe(
      `/client/v4/zones/${ZONE_ID}/dns_records/${recordId}`,
    );
    expect(h.cloudflare.records.size).toBe(0);
    expect(h.railway.liveProjects()).toHaveLength(0);
    expect(h.events.some((e) => e.type === 'instance_deleted')).toBe(true);
    // Idempotent, and the slug can be used again.
    expect((await h.svc.teardown(instance.id)).status).toBe('deleted');
    const again = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    expect(again.created).toBe(true);
    cur = await h.svc.get(instance.id);
    expect(cur.railway_project_id).toBeNull();
  });

  it('health check marks healthy, then unhealthy (HTTP error and wrong body), with a real budget', async () => {
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    await runToEnd(h.svc, instance.id, secrets);

    const ok = await h.svc.checkHealth(instance.id);
    expect(ok.ok).toBe(true);
    expect(ok.instance.health_status).toBe('healthy');

    h.tenant.health = { status: 503, body: { status: 'down' } };
    h.tenant.healthHits = 0;
    const bad = await h.svc.checkHealth(instance.id);
    expect(bad.ok).toBe(false);
    expect(bad.attempts).toBeGreaterThan(1); // polled within the budget, not a single shot
    expect(h.tenant.healthHits).toBe(bad.attempts);
    expect(bad.error).toContain('503');
    expect(bad.instance.health_status).toBe('unhealthy');
    expect(bad.instance.last_health_check).toBeTruthy();
    expect(h.events.some((e) => e.type === 'instance_health_changed')).toBe(true);

    h.tenant.health = { status: 200, body: { status: 'degraded' } };
    expect((await h.svc.checkHealth(instance.id)).ok).toBe(false);

    h.tenant.health = { status: 200, body: { status: 'ok' } };
    const all = await h.svc.healthCheckAll();
    expect(all).toEqual({ ok: true, results: [{ id: instance.id, domain: DOMAIN, ok: true }] });
    expect((await h.svc.get(instance.id)).health_status).toBe('healthy');

    await expect(h.svc.checkHealth(9999)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('an unhealthy new tenant fails the job at the health step and records it', async () => {
    h.tenant.health = { status: 500, body: { error: 'boom' } };
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    const r = await runToEnd(h.svc, instance.id, secrets);
    expect(r.outcome).toBe('failed');
    expect(r.instance.last_error).toMatch(/^health: /);
    expect(r.instance.health_status).toBe('unhealthy');
    expect(h.tenant.users).toHaveLength(0); // no operator on an unhealthy tenant
    h.tenant.health = { status: 200, body: { status: 'ok' } };
    let again = await h.svc.resume(instance.id);
    for (let i = 0; i < 20 && again.outcome === 'in_progress'; i++) again = await h.svc.advance(instance.id);
    expect(again.outcome).toBe('active');
  });

  it('never points the CNAME at itself: no Railway target → no DNS call; a self-referencing record is corrected', async () => {
    expect(() => cnameBody('a.example.com', 'a.example.com.')).toThrow(/own name/);
    expect(cnameBody('A.example.com', 'x.up.railway.app')).toEqual({
      type: 'CNAME',
      name: 'a.example.com',
      content: 'x.up.railway.app',
      proxied: true,
      ttl: 1,
    });

    // A leftover self-referencing record (the original's bug) is rewritten to the Railway target.
    h.cloudflare.records.set('old1', {
      id: 'old1',
      type: 'CNAME',
      name: DOMAIN,
      content: DOMAIN,
      proxied: true,
      ttl: 1,
    });
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    const r = await runToEnd(h.svc, instance.id, secrets);
    expect(r.outcome).toBe('active');
    const put = h.cloudflare.requests.find((q) => q.method === 'PUT')!;
    expect(put.path).toBe(`/client/v4/zones/${ZONE_ID}/dns_records/old1`);
    expect(put.body.content).toBe(r.instance.dns_target);
    expect(put.body.content).not.toBe(DOMAIN);
    expect(h.cloudflare.requests.some((q) => q.method === 'POST')).toBe(false);
  });

  it('a custom domain whose only record points at itself is rejected before Cloudflare is called', async () => {
    const client = new RailwayClient({ token: RAILWAY_TOKEN, apiUrl: h.railway.url });
    const proj = await client.createProject('x');
    const svc = await client.createService({ projectId: proj.id, name: 's', source: { image: 'nginx' } });
    const d = await client.createCustomDomain({
      projectId: proj.id,
      environmentId: proj.environments[0].id,
      serviceId: svc.id,
      domain: 'x.example.com',
    });
    expect(d.cnameTarget).toBe(`${svc.id}.up.railway.app`);
    // Now make Railway answer a self-referencing record.
    h.railway.projects.get(proj.id)!.customDomains[0].status.dnsRecords[0].requiredValue = 'x.example.com';
    const again = await client.findCustomDomain({
      projectId: proj.id,
      environmentId: proj.environments[0].id,
      serviceId: svc.id,
      domain: 'x.example.com',
    });
    expect(again!.cnameTarget).toBeNull();
  });

  it('Railway and Cloudflare errors carry the upstream status and message', async () => {
    const bad = new RailwayClient({ token: 'wrong', apiUrl: h.railway.url });
    const e1 = await bad.createProject('x').catch((e) => e);
    expect(e1).toBeInstanceOf(UpstreamError);
    expect(e1.status).toBe(401);
    expect(e1.message).toContain('Not Authorized');
    const good = new RailwayClient({ token: RAILWAY_TOKEN, apiUrl: h.railway.url });
    const e2 = await good.deleteProject('nope').catch((e) => e);
    expect(e2.upstreamMessage).toBe('Project not found');
    expect(e2.isNotFound).toBe(true);
    const e3 = await h.svc.cloudflare.deleteRecord('missing').catch((e) => e);
    expect(e3.status).toBe(404);
    expect(e3.upstreamMessage).toContain('Record does not exist');
    // A server that never answers is cut off by the per-call timeout (status 0).
    const hanging: typeof fetch = (_url, init) =>
      new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(init!.signal!.reason)));
    const slow = new RailwayClient({ token: RAILWAY_TOKEN, apiUrl: h.railway.url, timeoutMs: 50, fetch: hanging });
    const e4 = await slow.createProject('x').catch((e) => e);
    expect(e4).toBeInstanceOf(UpstreamError);
    expect(e4.status).toBe(0);
    expect(e4.upstreamMessage).toBe('no answer within 50 ms');
  }, 10_000);

  it('Workers mode: small budgets advance step by step; cron continues; a secret-less job waits for resume', async () => {
    const { instance } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    // The creating isolate died before its advance: a later runner (without the secrets) starts the job.
    const first = await h.svc.advance(instance.id, { budgetMs: 1 });
    expect(first.outcome).toBe('in_progress');
    expect(first.completed).toEqual(['project']);
    // The job lacks its secrets: the variables step blocks instead of inventing them.
    const m1 = await h.svc.maintenance();
    expect(m1.advanced).toEqual([instance.id]);
    let cur = await h.svc.get(instance.id);
    expect(cur.steps.find((s) => s.step === 'variables')?.status).toBe('blocked');
    expect(cur.status).toBe('provisioning');
    const m2 = await h.svc.maintenance();
    expect(m2.advanced).toEqual([]); // blocked jobs are left for an operator
    const resumed = await h.svc.resume(instance.id, { budgetMs: 1 });
    expect(resumed.secrets).toBeDefined();
    for (let i = 0; i < 20; i++) {
      await h.svc.maintenance({ budgetMs: 1 });
      cur = await h.svc.get(instance.id);
      if (cur.status !== 'provisioning') break;
    }
    expect(cur.status).toBe('active');
    expect(h.tenant.users[0].adminKey).toBe(resumed.secrets!.adminKey);
    expect(h.railway.ops().filter((o) => o === 'ProjectCreate')).toHaveLength(1);

    // The creating call holds the only clear copy of the secrets: however small its budget, it
    // does not stop before the variables step has installed them (so nothing blocks).
    const beta = await h.svc.createInstance({ orgId: 'org_1', slug: 'beta' });
    const b1 = await h.svc.advance(beta.instance.id, { secrets: beta.secrets, budgetMs: 1 });
    expect([b1.outcome, b1.completed]).toEqual(['in_progress', ['project', 'service', 'variables']]);
  });

  it('churn check: suspended → archived (deployment stopped) → deleted (real teardown), no 100-row cap', async () => {
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    await runToEnd(h.svc, instance.id, secrets);
    await h.svc.update(instance.id, { status: 'suspended' });
    // 150 more suspended rows (no infrastructure) to prove every row is examined.
    const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
    for (let i = 0; i < 150; i++) {
      await h.db.run(
        `INSERT INTO customer_instances (org_id, slug, idempotency_key, status, suspended_at) VALUES ('o', ?, ?, 'suspended', ?)`,
        [`t${i}`, `k${i}`, old],
      );
    }
    const r0 = await h.svc.churnCheck();
    expect(r0.results.archived).toHaveLength(150); // acme was suspended just now
    expect(r0.results.archived).not.toContain(instance.id);

    h.advanceClock(31 * 86_400_000);
    const r1 = await h.svc.churnCheck();
    expect(r1.results.archived).toEqual([instance.id]);
    expect(h.railway.ops()).toContain('DeploymentRemove');
    expect(h.railway.liveProjects()).toHaveLength(1); // archive keeps the data

    h.advanceClock(91 * 86_400_000);
    const r2 = await h.svc.churnCheck();
    expect(r2.results.deleted).toContain(instance.id);
    expect(r2.results.deleted).toHaveLength(151);
    expect(r2.results.errors).toEqual([]);
    expect(h.railway.liveProjects()).toHaveLength(0);
    expect(h.cloudflare.records.size).toBe(0);
    expect(h.order.indexOf('cloudflare DELETE')).toBeLessThan(h.order.indexOf('railway ProjectDelete'));
  });

  it('update, deploy status and deploy record', async () => {
    const { instance, secrets } = await h.svc.createInstance({ orgId: 'org_1', slug: 'acme' });
    await runToEnd(h.svc, instance.id, secrets);
    expect((await h.svc.deployStatus()).instances).toEqual([
      expect.objectContaining({ id: instance.id, domain: DOMAIN, health_status: 'healthy' }),
    ]);
    const rec = await h.svc.recordDeploy('1.2.3', [instance.id, 777]);
    expect(rec).toEqual({ ok: true, version: '1.2.3', updated: [instance.id], skipped: [777] });
    await expect(h.svc.recordDeploy(' ')).rejects.toBeInstanceOf(ProvisioningError);
    const u = await h.svc.update(instance.id, { customer_email: 'new@acme.test', status: 'suspended' });
    expect(u.status).toBe('suspended');
    expect(u.suspended_at).toBeTruthy();
    await expect(h.svc.update(instance.id, { status: 'suspended' })).resolves.toMatchObject({ status: 'suspended' });
    const list = await h.svc.list({ status: 'suspended' });
    expect(list.map((i) => i.id)).toEqual([instance.id]);
    expect(list[0]).not.toHaveProperty('admin_key_hash');
    expect(list[0]).not.toHaveProperty('lease_owner');
  });
});
