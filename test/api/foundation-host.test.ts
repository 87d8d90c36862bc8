import { afterAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';

const targets: Target[] = [];
afterAll(async () => {
  for (const t of targets) await t.close();
});

describe('instance URL in generated configs (SEC-34, weak spot 13)', () => {
  it('PUBLIC_BASE_URL wins over the Host header', async () => {
    const t = await startTarget({ env: { PUBLIC_BASE_URL: 'https://mycelium.example.org/' } });
    targets.push(t);
    const r = await t.call('POST', '/admin/agents', {
      admin: true,
      headers: { Host: 'attacker.example' },
      body: { id: 'a1', name: 'A', project_id: 'p' },
    });
    expect(r.status).toBe(200);
    expect(r.body.mcp_config.mcpServers.mycelium.env.MYCELIUM_URL).toBe('https://mycelium.example.org/api/mycelium');
  });

  it('ALLOWED_HOSTS refuses an unlisted Host with 400 and creates nothing', async () => {
    const t = await startTarget({ env: { ALLOWED_HOSTS: 'mycelium.example.org' } });
    targets.push(t);
    const r = await t.call('POST', '/admin/agents', {
      admin: true,
      headers: { Host: 'attacker.example' },
      body: { id: 'a2', name: 'A', project_id: 'p' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^Invalid Host header: Host not allowed: /);
    expect(await t.db.get("SELECT COUNT(*) AS n FROM agents WHERE id = 'a2'")).toEqual({ n: 0 });
    const events = await t.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE type = 'agent_registered'");
    expect(events!.n).toBe(0);
  });
});
