import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * Hostile input never reaches a 500 (spec 07 SEC-51, SEC-53, SEC-54, REL-12): each case here was
 * a 500 (or a 200 with an empty, non-JSON body) found by fuzzing every route.
 */
let t: Target;
let agentKey: string;

const deep = (depth: number, leaf: unknown = 1): string => '['.repeat(depth) + JSON.stringify(leaf) + ']'.repeat(depth);
const deepObj = (depth: number): string => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

beforeAll(async () => {
  t = await startTarget();
  agentKey = (await registerAgent(t, 'hostile-agent', 'hostile')).key;
});
afterAll(async () => t?.close());

async function raw(method: string, path: string, body: string, opts: { admin?: boolean; agentKey?: string } = {}) {
  return t.call(method, path, { ...opts, raw: body, headers: { 'Content-Type': 'application/json' } });
}

describe('JSON nesting depth is bounded where the body is parsed (SEC-51)', () => {
  it('POST /events with data nested 5000 deep → 400 naming the limit, nothing stored', async () => {
    const before = (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))!.n;
    const r = await raw('POST', '/events', `{"type":"custom","data":${deep(5000)}}`, { agentKey });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/nested deeper than 64/);
    const after = (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events'))!.n;
    expect(after).toBe(before);
  });

  it('objects nested deep, and depth inside strings does not count', async () => {
    const r = await raw('POST', '/events', `{"type":"custom","data":${deepObj(3000)}}`, { admin: true });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/64/);
    const ok = await raw('POST', '/events', JSON.stringify({ type: 'custom', data: { s: `${'['.repeat(5000)}"\\` } }), {
      admin: true,
    });
    expect(ok.status).toBe(200);
  });

  it('64 levels are accepted (the limit is not off by one the wrong way)', async () => {
    // the body object itself is level 1, so data may nest 63 more
    const r = await raw('POST', '/events', `{"type":"custom","data":${deep(62)}}`, { admin: true });
    expect(r.status).toBe(200);
    const over = await raw('POST', '/events', `{"type":"custom","data":${deep(64)}}`, { admin: true });
    expect(over.status).toBe(400);
  });

  it('DELETE /plans/:id with a deeply nested approval_id → 400, plan kept', async () => {
    const plan = await t.call('POST', '/plans', { admin: true, body: { title: 'keep me', project_id: 'hostile' } });
    expect(plan.status).toBe(200);
    const id = plan.body.plan?.id ?? plan.body.id;
    const r = await raw('DELETE', `/plans/${id}`, `{"approval_id":${deep(5000)}}`, { agentKey });
    expect(r.status).toBe(400);
    const shallow = await raw('DELETE', `/plans/${id}`, `{"approval_id":${deep(3)}}`, { agentKey });
    expect(shallow.status).toBe(400);
    expect(shallow.body.error).toMatch(/approval_id/);
    expect(await t.db.get('SELECT id FROM plans WHERE id = ?', [id])).toBeTruthy();
  });
});

describe('query integers are bounded before SQL (SEC-51)', () => {
  for (const path of ['/tasks', '/bugs', '/plans']) {
    it(`GET ${path}?offset=9223372036854775807 and huge limits → not 500`, async () => {
      for (const q of [
        'offset=9223372036854775807',
        'limit=9223372036854775807',
        `offset=${'9'.repeat(400)}`,
        'offset=-9223372036854775809',
      ]) {
        const r = await t.call('GET', `${path}?${q}`, { admin: true });
        expect(r.status, `${path}?${q}`).toBe(200);
      }
    });
  }
});

describe('lookups by user-supplied keys never touch prototype properties (SEC-53)', () => {
  for (const name of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
    it(`GET /team-settings/${name} answers JSON`, async () => {
      const r = await t.call('GET', `/team-settings/${name}`, { admin: true });
      expect(r.status).toBeLessThan(500);
      expect(r.body, r.text).toBeTypeOf('object');
      expect(r.body).toEqual({});
    });
  }
});

describe('error answers quote at most a short excerpt of a rejected value (SEC-54)', () => {
  it('an invalid enum value of 200 kB is not echoed back', async () => {
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'enum echo', project_id: 'hostile' } });
    const huge = 'x'.repeat(200_000);
    const r = await t.call('PUT', `/tasks/${task.body.id ?? task.body.task?.id}`, {
      admin: true,
      body: { status: huge },
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('invalid_enum');
    expect(r.text.length).toBeLessThan(2_000);
    expect(String(r.body.value).startsWith('xxxx')).toBe(true);
  });

  it('a rejected object value is quoted as a short excerpt too', async () => {
    const task = await t.call('POST', '/tasks', { admin: true, body: { title: 'enum echo 2', project_id: 'hostile' } });
    const r = await t.call('PUT', `/tasks/${task.body.id ?? task.body.task?.id}`, {
      admin: true,
      body: { status: { a: 'y'.repeat(100_000) } },
    });
    expect(r.status).toBe(400);
    expect(r.text.length).toBeLessThan(2_000);
  });
});

describe('backups get collision-free names (REL-23)', () => {
  it('concurrent POST /admin/backups all succeed with distinct files', async () => {
    const rs = await Promise.all([1, 2, 3, 4].map(() => t.call('POST', '/admin/backups', { admin: true })));
    if (t.runtime === 'worker') {
      for (const r of rs) expect(r.status).toBe(503);
      return;
    }
    for (const r of rs) expect(r.status, r.text).toBe(200);
    const list = await t.call('GET', '/admin/backups', { admin: true });
    const names = list.body.backups.map((b: { name: string }) => b.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(4);
  });
});
