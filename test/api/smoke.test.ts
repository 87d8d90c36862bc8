import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('smoke', () => {
  it('health answers', async () => {
    const r = await t.call('GET', '/health');
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
  });
  it('admin registers an agent whose key then authenticates', async () => {
    const reg = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'ada', name: 'Ada', project_id: 'p1' },
    });
    expect(reg.status).toBe(200);
    expect(reg.body.api_key).toMatch(/^dvk_[0-9a-f]{48}$/);
    const me = await t.call('GET', '/agents/ada', { agentKey: reg.body.api_key });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe('ada');
    expect(me.body.api_key_hash).toBeUndefined();
  });
});
