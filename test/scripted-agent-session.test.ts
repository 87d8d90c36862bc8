/**
 * A scripted agent drives the real Node server over HTTP on a live port, the way an SDK/MCP agent
 * does: register, boot, heartbeat, pull work, claim, comment, complete, see the dependent task
 * become ready, receive a request and resolve it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../node-adapter/server.js';
import { startLocalServer } from './support/server-process.js';

let server: RunningServer;
let stopServer: () => Promise<void>;
let ADMIN_KEY: string;

beforeAll(async () => {
  ({ server, adminKey: ADMIN_KEY, stop: stopServer } = await startLocalServer('session'));
});
afterAll(async () => {
  await stopServer?.();
});

type Json = Record<string, any>;
async function http(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/mycelium${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** What an agent process holds: its id and key, and a tiny client. */
class ScriptedAgent {
  constructor(
    readonly id: string,
    private readonly key: string,
  ) {}
  call(method: string, path: string, body?: unknown) {
    return http(method, path, { 'X-Agent-Key': this.key }, body);
  }
}
const admin = (method: string, path: string, body?: unknown) => http(method, path, { 'X-Admin-Key': ADMIN_KEY }, body);

describe('scripted agent session over HTTP', () => {
  it('register → boot → heartbeat → work → claim → comment → complete → dependent ready → request resolved', async () => {
    // Register two agents the way the SDK's init does.
    const regA = await admin('POST', '/agents', {
      id: 'ada',
      name: 'Ada',
      project_id: 'shop',
      capabilities: ['code'],
      runtime: 'sdk',
    });
    expect(regA.status).toBe(200);
    expect(regA.body.mcp_config.mcpServers.mycelium.env).toMatchObject({
      MYCELIUM_ROLE: 'agent',
      MYCELIUM_AGENT_ID: 'ada',
    });
    const ada = new ScriptedAgent('ada', regA.body.api_key);
    const regB = await admin('POST', '/admin/agents', { id: 'bob', name: 'Bob', project_id: 'shop' });
    const bob = new ScriptedAgent('bob', regB.body.api_key);

    // Two tasks: "ship" waits for "build".
    const build = await admin('POST', '/tasks', {
      title: 'Build the cart',
      project_id: 'shop',
      assignee: 'ada',
      priority: 'high',
    });
    const ship = await admin('POST', '/tasks', { title: 'Ship the cart', project_id: 'shop', assignee: 'ada' });
    expect(build.status).toBe(200);
    const dep = await admin('POST', `/tasks/${ship.body.id}/dependency`, { blocked_by: build.body.id });
    expect(dep.status).toBe(200);

    // Boot.
    const boot = await ada.call('GET', '/boot/ada');
    expect(boot.status).toBe(200);
    expect(boot.body.agent).toMatchObject({ id: 'ada', project: 'shop' });
    expect(boot.body.work_queue).toEqual([{ type: 'task', id: build.body.id, title: 'Build the cart' }]);
    expect(boot.body.counts.tasks_mine).toBe(2);
    expect(typeof boot.body.changes_since_last).toBe('string');

    // Heartbeat with the MCP's JSON-string snapshot.
    const hb = await ada.call('POST', '/agents/heartbeat', {
      status: 'online',
      working_on: '',
      session_id: 'sess-1',
      state_snapshot: JSON.stringify({ progress: ['booted'] }),
    });
    expect(hb.status).toBe(200);
    expect(hb.body).toMatchObject({ ok: true, pending: 0, wake: false });

    // Pull work with auto-claim: the ready high-priority task, not the blocked one.
    const work = await ada.call('GET', '/work/ada?auto_claim=true');
    expect(work.body.claimed).toMatchObject({ type: 'task', id: build.body.id, claimed: true });
    expect(work.body.queue.map((i: Json) => i.id)).not.toContain(ship.body.id);
    // Claiming again is idempotent; bob cannot steal it.
    expect((await ada.call('POST', `/tasks/${build.body.id}/claim`, {})).status).toBe(200);
    const steal = await bob.call('POST', `/tasks/${build.body.id}/claim`, {});
    expect(steal.status).toBe(409);
    expect(steal.body.assignee).toBe('ada');

    // Working: heartbeat says so, then a comment.
    await ada.call('POST', '/agents/heartbeat', { status: 'busy', working_on: `task #${build.body.id}` });
    const comment = await ada.call('POST', `/tasks/${build.body.id}/comments`, {
      content: 'Cart model done, wiring the API',
    });
    expect(comment.status).toBe(200);
    const comments = await ada.call('GET', `/tasks/${build.body.id}/comments`);
    expect(comments.body.map((c: Json) => c.author)).toEqual(['ada']);

    // Complete: the dependent task becomes ready.
    const done = await ada.call('PUT', `/tasks/${build.body.id}`, { status: 'done' });
    expect(done.status).toBe(200);
    expect(done.body.unblocked).toEqual([ship.body.id]);
    const next = await ada.call('GET', '/work/ada');
    expect(next.body.queue[0]).toMatchObject({ type: 'task', id: ship.body.id });

    // Bob asks Ada for something; Ada is woken and resolves it with an answer.
    const req = await bob.call('POST', '/requests', { to_agent: 'ada', content: 'Which payment provider?' });
    expect(req.status).toBe(200);
    const wake = await ada.call('POST', '/agents/heartbeat', { status: 'online', working_on: `task #${ship.body.id}` });
    expect(wake.body.wake).toBe(true);
    expect(wake.body.inbox.requests[0]).toMatchObject({
      id: req.body.id,
      from_agent: 'bob',
      content: 'Which payment provider?',
    });
    const top = await ada.call('GET', '/work/ada');
    expect(top.body.queue[0]).toMatchObject({ type: 'request', id: req.body.id, priority: 1 });
    const resolved = await ada.call('PUT', `/messages/${req.body.id}/resolve`, { response: 'Stripe' });
    expect(resolved.body).toMatchObject({ ok: true, status: 'resolved' });
    const calm = await ada.call('POST', '/agents/heartbeat', { status: 'online', working_on: `task #${ship.body.id}` });
    expect(calm.body.wake).toBe(false);
    // Bob receives the answer in his inbox.
    const bobHb = await bob.call('POST', '/agents/heartbeat', { status: 'online', working_on: 'waiting' });
    expect(bobHb.body.inbox.messages.map((m: Json) => m.content)).toContain('Stripe');

    // Finish and say goodbye; the next boot sees the session's savepoint.
    expect((await ada.call('PUT', `/tasks/${ship.body.id}`, { status: 'done' })).status).toBe(200);
    await ada.call('POST', '/agents/heartbeat', {
      status: 'offline',
      working_on: '',
      state_snapshot: JSON.stringify({ session_end: true }),
    });
    const reboot = await ada.call('GET', '/boot/ada');
    expect(reboot.body.savepoint).toMatchObject({ has_savepoint: true, previous_state: { session_end: true } });
    expect(reboot.body.crash_recovery).toBeNull();
  });
});
