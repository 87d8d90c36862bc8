import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { SECURITY_HEADERS } from '../../worker/src/http/pipeline.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget({ env: { CORS_ORIGINS: 'https://studio.example.com' } });
});
afterAll(async () => t?.close());

function expectSecurityHeaders(h: Headers) {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) expect(h.get(k), k).toBe(v);
  expect(h.get('x-powered-by')).toBeNull();
}

describe('HTTP pipeline', () => {
  it('SEC-50: the seven security headers with exact values on JSON, 404, error and OPTIONS responses', async () => {
    expect(SECURITY_HEADERS['Content-Security-Policy']).not.toMatch(/unsafe-eval|\*/);
    expect(SECURITY_HEADERS['Strict-Transport-Security']).toBe('max-age=63072000; includeSubDomains');
    const health = await t.fetch('/health');
    expectSecurityHeaders(health.headers);
    const missing = await t.fetch('/api/mycelium/no-such-thing');
    expectSecurityHeaders(missing.headers);
    const denied = await t.fetch('/api/mycelium/studio/users');
    expect(denied.status).toBe(401);
    expectSecurityHeaders(denied.headers);
    const options = await t.fetch('/', { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expectSecurityHeaders(options.headers);
  });

  it('JSON responses carry charset=utf-8 and a request id', async () => {
    const r = await t.fetch('/health', { headers: { 'X-Request-Id': 'abc-123' } });
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(r.headers.get('x-request-id')).toBe('abc-123');
    const r2 = await t.fetch('/health');
    expect(r2.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /health reports the documented shape and nothing more (REL-16); on Workers only what it can measure (issue 16)', async () => {
    const r = await t.call('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'ok', db_ok: true, agents_online: 0, version: '0.1.0' });
    if (t.runtime === 'node') {
      expect(Object.keys(r.body).sort()).toEqual([
        'agents_online',
        'db_ok',
        'memory_usage_mb',
        'status',
        'uptime_seconds',
        'version',
      ]);
      expect(Number.isInteger(r.body.uptime_seconds)).toBe(true);
      expect(r.body.memory_usage_mb).toBeGreaterThan(0);
    } else {
      // No process and no readable memory in an isolate: no fake uptime, no fake 0 MB.
      expect(Object.keys(r.body).sort()).toEqual([
        'agents_online',
        'db_latency_ms',
        'db_ok',
        'isolate_age_seconds',
        'status',
        'version',
      ]);
      expect(Number.isInteger(r.body.isolate_age_seconds)).toBe(true);
      expect(Number.isInteger(r.body.db_latency_ms)).toBe(true);
    }
  });

  it('malformed JSON → 400 with the exact sentence, before any auth or write', async () => {
    const r = await t.call('POST', '/admin/agents', {
      admin: true,
      raw: '{"id": "x",',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: 'Invalid JSON in request body' });
    const scalar = await t.call('POST', '/admin/agents', {
      admin: true,
      raw: '"just a string"',
      headers: { 'Content-Type': 'application/json' },
    });
    expect(scalar.status).toBe(400);
    expect(scalar.body).toEqual({ error: 'Invalid JSON in request body' });
    // Bytes that are not UTF-8 (a lone continuation byte inside a string, a sequence cut short at
    // the end): the same 400. Every body shares one strict decoder: the next body decodes afresh.
    for (const bad of [
      [0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x22, 0x80, 0x22, 0x7d],
      [0x7b, 0x22, 0xe2, 0x82],
    ]) {
      const r2 = await t.call('POST', '/admin/agents', {
        admin: true,
        raw: new Uint8Array(bad),
        headers: { 'Content-Type': 'application/json' },
      });
      expect(r2.status).toBe(400);
      expect(r2.body).toEqual({ error: 'Invalid JSON in request body' });
    }
    expect(await t.db.get('SELECT COUNT(*) AS n FROM agents')).toEqual({ n: 0 });
    const ok = await t.call('POST', '/admin/agents', {
      admin: true,
      raw: new TextEncoder().encode('{"id":"utf8-ok","name":"Zoë","project_id":"p","capabilities":["x"]}'),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(ok.status).toBe(200);
    expect(await t.db.get('SELECT name FROM agents WHERE id = ?', ['utf8-ok'])).toEqual({ name: 'Zoë' });
  });

  it('a body just under 1 MB is accepted', async () => {
    const r = await t.call('POST', '/admin/agents', {
      admin: true,
      body: {
        id: 'near-limit',
        name: 'n',
        project_id: 'p',
        capabilities: ['x'.repeat(90)],
        pad: 'y'.repeat(1000 * 1000),
      },
    });
    expect(r.status).toBe(200);
  });

  it('unknown API paths → JSON 404', async () => {
    const r = await t.call('GET', '/definitely/not/here', { admin: true });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'Not found' });
  });

  it('CORS answers only listed origins, never reflecting an arbitrary one', async () => {
    const ok = await t.fetch('/health', { headers: { Origin: 'https://studio.example.com' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://studio.example.com');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const evil = await t.fetch('/health', { headers: { Origin: 'https://evil.example.net' } });
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await t.fetch('/api/mycelium/agents', {
      method: 'OPTIONS',
      headers: { Origin: 'https://studio.example.com', 'Access-Control-Request-Method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toContain('X-Acting-As');
    const preEvil = await t.fetch('/api/mycelium/agents', {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example.net' },
    });
    expect(preEvil.headers.get('access-control-allow-methods')).toBeNull();
  });
  // Last: the server answers 413 before reading the whole upload, which resets that connection.
  it('SEC-51: a 2 MB body → 413 JSON, never 500, and nothing is written', async () => {
    const big = JSON.stringify({ id: 'big', name: 'x'.repeat(2 * 1024 * 1024), project_id: 'p' });
    const r = await t.call('POST', '/admin/agents', {
      admin: true,
      raw: big,
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(413);
    expect(r.body).toEqual({ error: 'Request body too large' });
    expect(await t.db.get("SELECT COUNT(*) AS n FROM agents WHERE id = 'big'")).toEqual({ n: 0 });
  });
});
