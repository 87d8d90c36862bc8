import { afterEach, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../../test/support/target.js';
import {
  CLOUDFLARE_TOKEN,
  FakeCloudflare,
  FakeRailway,
  RAILWAY_TOKEN,
  ZONE_ID,
} from '../../test/provisioning/fakes.js';

/** The admin routes of spec 01 §4.4 mounted in the real app. */
describe('/instances and /admin/deploy routes', () => {
  let t: Target | undefined;
  let railway: FakeRailway | undefined;
  let cloudflare: FakeCloudflare | undefined;
  afterEach(async () => {
    await t?.settle();
    await t?.close();
    await railway?.stop();
    await cloudflare?.stop();
    t = railway = cloudflare = undefined;
  });

  it('answers 503 "Provisioning not configured" without all tokens, and calls nothing', async () => {
    railway = await new FakeRailway().start();
    // Railway alone is not enough: Cloudflare token, zone and base domain are missing.
    t = await startTarget({ env: { RAILWAY_TOKEN, RAILWAY_API_URL: railway.url } });
    const paths: [string, string][] = [
      ['GET', '/instances'],
      ['POST', '/instances'],
      ['GET', '/instances/1'],
      ['PUT', '/instances/1'],
      ['DELETE', '/instances/1'],
      ['POST', '/instances/1/health-check'],
      ['POST', '/instances/1/resume'],
      ['GET', '/admin/deploy/status'],
      ['POST', '/admin/deploy/record'],
      ['POST', '/admin/deploy/health-check-all'],
      ['POST', '/admin/churn-check'],
    ];
    for (const [method, path] of paths) {
      const r = await t.call(method, path, {
        admin: true,
        body: method === 'GET' ? undefined : { org_id: 'o', slug: 'acme', version: '1' },
      });
      expect([method, path, r.status, r.body]).toEqual([method, path, 503, { error: 'Provisioning not configured' }]);
    }
    expect(railway.calls).toHaveLength(0);
    // Admin only, before anything else.
    expect((await t.call('GET', '/instances')).status).toBe(401);
  });

  it('create answers 202 with the job and once-shown secrets; replays answer 200 without them', async () => {
    railway = await new FakeRailway().start();
    cloudflare = await new FakeCloudflare().start();
    railway.failures.push({ operation: 'ProjectCreate', status: 503, message: 'maintenance' });
    t = await startTarget({
      env: {
        RAILWAY_TOKEN,
        RAILWAY_API_URL: railway.url,
        CLOUDFLARE_TOKEN,
        CLOUDFLARE_ZONE_ID: ZONE_ID,
        CLOUDFLARE_API_URL: cloudflare.url,
        PROVISIONING_BASE_DOMAIN: 'tenants.example.test',
      },
    });
    const bad = await t.call('POST', '/instances', {
      admin: true,
      body: { org_id: 'o', slug: 'Not A Slug', source_repo: 'o/r' },
    });
    expect(bad.status).toBe(400);

    const body = { org_id: 'org_1', slug: 'acme', source_repo: 'https://github.com/o/r' };
    const r = await t.call('POST', '/instances', { admin: true, body, headers: { 'Idempotency-Key': 'chk_1' } });
    expect(r.status).toBe(202);
    expect(r.body.created).toBe(true);
    expect(r.body.instance).toMatchObject({
      org_id: 'org_1',
      slug: 'acme',
      domain: 'acme.tenants.example.test',
      status: 'provisioning',
      source_repo: 'o/r',
    });
    expect(r.body.instance.admin_key_hash).toBeUndefined();
    expect(r.body.secrets.admin_key).toMatch(/^mya_[0-9a-f]{48}$/);
    expect(r.body.secrets.admin_password).toBeTruthy();

    const again = await t.call('POST', '/instances', { admin: true, body, headers: { 'Idempotency-Key': 'chk_1' } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ created: false, instance: expect.objectContaining({ id: r.body.instance.id }) });
    const taken = await t.call('POST', '/instances', { admin: true, body, headers: { 'Idempotency-Key': 'chk_2' } });
    expect(taken.status).toBe(409);

    await t.settle();
    const got = await t.call('GET', `/instances/${r.body.instance.id}`, { admin: true });
    expect(got.status).toBe(200);
    expect(got.body.status).toBe('failed');
    expect(got.body.last_error).toContain('maintenance');
    expect(got.body.steps[0]).toMatchObject({ step: 'project', status: 'failed' });
    expect(JSON.stringify(got.body)).not.toContain(r.body.secrets.admin_key);
    expect(railway.ops()).toEqual(['ProjectCreate']);

    const list = await t.call('GET', '/instances?status=failed', { admin: true });
    expect(list.body.instances.map((i: { id: number }) => i.id)).toEqual([r.body.instance.id]);
    expect((await t.call('GET', '/instances/1abc', { admin: true })).status).toBe(404);
    expect((await t.call('GET', '/instances/999', { admin: true })).status).toBe(404);
    expect((await t.call('POST', '/admin/deploy/record', { admin: true, body: {} })).body).toEqual({
      error: 'version required',
    });
    expect((await t.call('GET', '/admin/deploy/status', { admin: true })).body).toEqual({ instances: [] });

    // Teardown of the failed job: nothing was created upstream, so it completes at once.
    const del = await t.call('DELETE', `/instances/${r.body.instance.id}`, { admin: true });
    expect(del.status).toBe(200);
    expect(del.body.instance.status).toBe('deleted');
  }, 30_000);
});
