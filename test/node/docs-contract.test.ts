import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

/**
 * docs/API.md states facts a client relies on; these tests hold a row of it against the running
 * server so the two cannot drift apart again (issue 9 item 6).
 */
const api = readFileSync('docs/API.md', 'utf8');
/** A route's note (`- \`METHOD /path\` [guard]: …`, under "Notes by area"). */
const row = (method: string, path: string) =>
  api.split('\n').find((l) => l.startsWith(`- \`${method} ${path}\` [`)) ?? '';

let t: Target;
beforeAll(async () => {
  t = await startTarget();
});
afterAll(async () => t?.close());

describe('docs/API.md agrees with the server', () => {
  it("spec 04 §2.3: POST /approvals without a project belongs to the caller's project, as the docs row says", async () => {
    const doc = row('POST', '/approvals');
    expect(doc).not.toBe('');
    expect(doc).not.toMatch(/belongs to `mycelium`/);
    expect(doc).toMatch(/caller's project/);

    const agent = await registerAgent(t, 'docs-agent', 'gamma');
    const a = await t.call('POST', '/approvals', {
      agentKey: agent.key,
      body: { action_type: 'deploy', title: 'docs', payload: {} },
    });
    const h = await t.call('POST', '/approvals', {
      admin: true,
      body: { action_type: 'deploy', title: 'docs-admin', payload: {} },
    });
    expect((await t.call('GET', `/approvals/${a.body.id}`, { admin: true })).body.project_id).toBe('gamma');
    expect((await t.call('GET', `/approvals/${h.body.id}`, { admin: true })).body.project_id).toBe('mycelium');
  });
});
