import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Db } from '../../worker/src/db/db.js';
import { SqliteFileDriver } from '../../node-adapter/sqlite-driver.js';
import { PLUGIN_NAMES } from '../../worker/src/plugins/registry.generated.js';
import { startTarget, type Target } from '../support/target.js';

/**
 * Issue 15 for plugin routes: a route that declares a `response` schema has its answer shaped
 * through it, as core routes do, so a column the schema does not name (a secret added to a table
 * later, an internal flag) never leaves; the document shows the schema. The list of plugin routes
 * still answering undocumented JSON can only shrink.
 */

let t: Target;
beforeAll(async () => {
  t = await startTarget();
  for (const p of PLUGIN_NAMES)
    expect((await t.call('PUT', `/plugins/${p}/enable`, { admin: true })).status, p).toBe(200);
});
afterAll(async () => t?.close());

const pluginDb = (name: string) => new Db(new SqliteFileDriver(join(t.dataDir, 'plugins', `${name}.db`)));

describe('plugin answers shaped by their declared response schema (issue 15)', () => {
  it('a column github-sync links do not declare (a secret) is dropped from GET /links', async () => {
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'Shaped', project_id: 'shaped' } });
    expect(task.status).toBe(200);
    const link = await t.call('POST', '/plugins/github-sync/links', {
      admin: true,
      body: {
        github_repo: 'acme/shaped',
        github_number: 7,
        github_type: 'issue',
        mycelium_type: 'task',
        mycelium_id: task.body.id,
      },
    });
    expect(link.status).toBe(200);
    expect(Object.keys(link.body).sort()).toEqual(['link_id', 'ok']);
    // A later migration adds a column the route's schema does not name, holding a secret.
    const db = pluginDb('github-sync');
    await db.run('ALTER TABLE github_links ADD COLUMN access_token TEXT');
    await db.run("UPDATE github_links SET access_token = 'ghp_secret_value'");
    const r = await t.call('GET', '/plugins/github-sync/links?repo=acme/shaped', { admin: true });
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(1);
    expect(r.body[0]).toMatchObject({ github_repo: 'acme/shaped', github_number: 7, mycelium_id: task.body.id });
    expect(r.body[0]).not.toHaveProperty('access_token');
    expect(r.text).not.toContain('ghp_secret_value');
  });

  it('the document shows the declared answer and the shared Error shape', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    const op = doc.paths['/api/mycelium/plugins/github-sync/links'].get;
    const items = op.responses['200'].content['application/json'].schema.items;
    expect(items.properties).toHaveProperty('github_repo');
    expect(items.additionalProperties).toBe(false);
    expect(op.responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
  });

  it('every parameterless plugin GET answers through its schema with all plugins enabled (no ContractViolation 500)', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    const failures: string[] = [];
    let called = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      if (!path.startsWith('/api/mycelium/plugins/') || path.includes('{') || !item.get) continue;
      if (!(item.get.tags ?? []).some((x: string) => x.startsWith('Plugin: '))) continue;
      if (/fault-injection\/(throw|reject)$/.test(path)) continue; // they fail on purpose
      const r = await t.call('GET', path.replace('/api/mycelium', ''), { admin: true });
      called++;
      if (r.status >= 500 && r.status !== 503) failures.push(`${path} → ${r.status} ${r.text.slice(0, 120)}`);
    }
    expect(called).toBeGreaterThan(20);
    expect(failures).toEqual([]);
  });

  /**
   * Plugin routes documented as "any JSON": only fault-injection's two, which fail on purpose and
   * never answer 2xx. A new route must declare its answer.
   */
  const WITHOUT_RESPONSE_SCHEMA: string[] = [
    'GET /api/mycelium/plugins/fault-injection/reject',
    'GET /api/mycelium/plugins/fault-injection/throw',
  ];

  it('every other plugin route declares its answer', async () => {
    const doc = (await t.call('GET', '/openapi.json')).body;
    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      if (!path.startsWith('/api/mycelium/plugins/') || path.split('/').length < 5) continue;
      for (const [method, op] of Object.entries(item)) {
        if (!(op.tags ?? []).some((x: string) => x.startsWith('Plugin: '))) continue;
        const ok = Object.entries(op.responses as Record<string, any>).find(([s]) => s.startsWith('2'));
        const schema = ok?.[1].content?.['application/json']?.schema;
        if (!schema || Object.keys(schema).length === 0) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(missing.sort()).toEqual([...WITHOUT_RESPONSE_SCHEMA].sort());
  });
});
