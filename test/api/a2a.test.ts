import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent, whileEventFails } from '../support/fixtures.js';
import { startFakeServer, type FakeServer } from '../support/fake-servers.js';

/**
 * A2A (issue 12; spec 06 §5.6 done right): the Agent Card, inbound JSON-RPC (v1.0 and the original's
 * legacy methods) that becomes Mycelium tasks, and outbound discovery/sends to fake A2A agents on
 * 127.0.0.1, allow-listed for this test only.
 */

let t: Target; // outbound allow-listed for the fakes
let pub: Target; // PUBLIC_BASE_URL set, no allow-list
let v1Agent: FakeServer;
let legacyAgent: FakeServer;
let sneaky: FakeServer;
let client: { id: string; key: string };
let worker: { id: string; key: string };
let stranger: { id: string; key: string };

function rpcBodyOf(raw: string) {
  return JSON.parse(raw) as { id: string; method: string; params: { message: { parts: { text: string }[] } } };
}

beforeAll(async () => {
  v1Agent = await startFakeServer((req) => {
    if (req.method === 'GET' && req.url === '/.well-known/agent-card.json') {
      return {
        body: {
          name: 'Echo v1',
          description: 'echoes',
          supportedInterfaces: [{ url: `${v1Agent.url}/rpc`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' }],
          skills: [{ id: 'echo', name: 'Echo' }],
        },
      };
    }
    if (req.method === 'POST' && req.url === '/rpc') {
      const b = rpcBodyOf(req.body);
      if (b.params.message.parts[0].text === 'fail please')
        return { body: { jsonrpc: '2.0', id: b.id, error: { code: -32603, message: 'remote broke' } } };
      return {
        body: {
          jsonrpc: '2.0',
          id: b.id,
          result: {
            task: {
              id: 'remote-1',
              contextId: 'ctx-remote',
              status: { state: 'TASK_STATE_COMPLETED' },
              artifacts: [{ artifactId: 'a1', parts: [{ text: `echo: ${b.params.message.parts[0].text}` }] }],
            },
          },
        },
      };
    }
    return { status: 404, body: { error: 'no' } };
  });
  legacyAgent = await startFakeServer((req) => {
    if (req.method === 'GET' && req.url === '/.well-known/agent.json')
      return { body: { name: 'Old agent', url: `${legacyAgent.url}/a2a`, protocolVersion: '0.3.0' } };
    if (req.method === 'POST' && req.url === '/a2a') {
      const b = rpcBodyOf(req.body);
      return {
        body: {
          jsonrpc: '2.0',
          id: b.id,
          result: { kind: 'task', id: 'old-1', contextId: 'c-old', status: { state: 'working' } },
        },
      };
    }
    return { status: 404, body: {} };
  });
  // A public-looking card that sends the RPC inward: the send must refuse it (SEC-31).
  sneaky = await startFakeServer((req) =>
    req.url === '/.well-known/agent-card.json'
      ? {
          body: {
            name: 'Sneaky',
            supportedInterfaces: [
              { url: 'http://169.254.169.254/latest/meta-data', protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
            ],
          },
        }
      : { status: 404, body: {} },
  );
  const allow = [v1Agent, legacyAgent, sneaky].map((f) => `127.0.0.1:${f.port}`).join(',');
  [t, pub] = await Promise.all([
    startTarget({ env: { MYCELIUM_WEBHOOK_ALLOW_LOOPBACK: allow } }),
    startTarget({ env: { PUBLIC_BASE_URL: 'https://myc.example.org' } }),
  ]);
  client = await registerAgent(t, 'partner', 'proj');
  worker = await registerAgent(t, 'worker', 'proj', { capabilities: ['code', 'translate'] });
  stranger = await registerAgent(t, 'stranger', 'elsewhere');
  await t.call('POST', '/agents/heartbeat', { agentKey: worker.key, body: { status: 'online', working_on: '' } });
});
afterAll(async () => {
  await Promise.all([t?.close(), pub?.close(), v1Agent?.close(), legacyAgent?.close(), sneaky?.close()]);
});

const rpc = (target: Target, body: unknown, headers: Record<string, string> = {}, path = '/api/mycelium/a2a/rpc') =>
  target.fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'A2A-Version': '1.0', ...headers },
    body: JSON.stringify(body),
  });
const send = (text: string, extra: Record<string, unknown> = {}) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'SendMessage',
  params: { message: { messageId: 'm1', role: 'ROLE_USER', parts: [{ text }] }, ...extra },
});

describe('A2A agent card (issue 12)', () => {
  it('is public at /.well-known/agent-card.json (v1.0) and the original paths, with URLs from PUBLIC_BASE_URL', async () => {
    const r = await pub.fetch('/.well-known/agent-card.json');
    expect(r.status).toBe(200);
    const card = await r.json();
    expect(card.supportedInterfaces).toEqual([
      { url: 'https://myc.example.org/api/mycelium/a2a/rpc', protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
    ]);
    expect(card.capabilities.streaming).toBe(false);
    expect(JSON.stringify(card)).not.toContain('mycelium.fyi');
    // SEC-35 recommendation: agent ids are not listed.
    expect(card.skills.map((s: { id: string }) => s.id)).toEqual(['task-management', 'agent-coordination']);
    for (const path of ['/.well-known/agent.json', '/api/mycelium/a2a/agent-card']) {
      const legacy = await (await pub.fetch(path)).json();
      expect(legacy.url).toBe('https://myc.example.org/api/mycelium/a2a/rpc');
      expect(legacy.name).toBe(card.name);
    }
  });
});

describe('A2A JSON-RPC: authentication first (SEC-35)', () => {
  it('anonymous → 401 before any JSON-RPC processing, and no task is created', async () => {
    const before = (await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))!.n;
    for (const path of ['/api/mycelium/a2a/rpc', '/a2a', '/api/mycelium/a2a']) {
      const r = await rpc(
        t,
        { jsonrpc: '2.0', id: 1, method: 'tasks/send', params: { message: { parts: [{ type: 'text', text: 'x' }] } } },
        {},
        path,
      );
      expect(r.status).toBe(401);
      expect((await r.json()).error).toBe('Authentication required');
    }
    const garbage = await rpc(t, { hello: 'not json-rpc' });
    expect(garbage.status).toBe(401);
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks'))!.n).toBe(before);
    expect((await t.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM a2a_inbound_tasks'))!.n).toBe(0);
  });

  it('a bad key → 403; a non-admin operator → 403; agent key (header or bearer) and admin key → 200 JSON-RPC', async () => {
    expect((await rpc(t, send('x'), { 'X-Agent-Key': `dvk_${'1'.repeat(48)}` })).status).toBe(403);
    const op = await createOperator(t, 'opal', 'operator');
    expect((await rpc(t, send('x'), { Authorization: `Bearer ${op.token}` })).status).toBe(403);
    const malformed = await rpc(t, { id: 7, method: 'SendMessage' }, { 'X-Agent-Key': client.key });
    expect(malformed.status).toBe(200);
    expect(await malformed.json()).toEqual({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32600, message: 'Invalid Request' },
    });
    const unknown = await (
      await rpc(t, { jsonrpc: '2.0', id: 2, method: 'Nope' }, { Authorization: `Bearer ${client.key}` })
    ).json();
    expect(unknown.error).toEqual({ code: -32601, message: 'Method not found: Nope' });
    const admin = await (
      await rpc(t, { jsonrpc: '2.0', id: 3, method: 'ListTasks', params: {} }, { 'X-Admin-Key': t.adminKey })
    ).json();
    expect(admin.result.tasks).toEqual([]);
  });

  it('answers A2A-Version 1.0 and refuses versions it does not speak (-32009)', async () => {
    const ok = await rpc(t, { jsonrpc: '2.0', id: 1, method: 'ListTasks', params: {} }, { 'X-Agent-Key': client.key });
    expect(ok.headers.get('a2a-version')).toBe('1.0');
    const bad = await (
      await rpc(
        t,
        { jsonrpc: '2.0', id: 1, method: 'ListTasks', params: {} },
        { 'X-Agent-Key': client.key, 'A2A-Version': '2.0' },
      )
    ).json();
    expect(bad.error.code).toBe(-32009);
  });
});

describe('A2A JSON-RPC: inbound messages become Mycelium tasks (issue 12)', () => {
  it('SendMessage → a task assigned to a capable online agent in the caller’s scope; completing it completes the A2A task', async () => {
    const r = await (
      await rpc(t, send('Translate the README to French', { metadata: { capability: 'translate' } }), {
        'X-Agent-Key': client.key,
      })
    ).json();
    const task = r.result.task;
    expect(task.status.state).toBe('TASK_STATE_SUBMITTED');
    expect(task.history[0].parts[0].text).toBe('Translate the README to French');
    const mt = await t.db.get<{ id: number; assignee: string; project_id: string; requester: string; title: string }>(
      'SELECT id, assignee, project_id, requester, title FROM tasks WHERE id = ?',
      [task.metadata.mycelium_task_id],
    );
    expect(mt).toMatchObject({
      assignee: 'worker',
      project_id: 'proj',
      requester: 'partner',
      title: 'A2A: Translate the README to French',
    });
    const note = await t.db.get<{ from_agent: string; msg_type: string }>(
      "SELECT from_agent, msg_type FROM messages WHERE to_agent = 'worker' AND content LIKE 'A2A TASK #%'",
    );
    expect(note).toEqual({ from_agent: 'partner', msg_type: 'message' }); // an agent caller cannot cause a directive

    // The worker takes it: WORKING.
    expect((await t.call('POST', `/tasks/${mt!.id}/claim`, { agentKey: worker.key, body: {} })).status).toBe(200);
    const working = await (
      await rpc(t, { jsonrpc: '2.0', id: 2, method: 'GetTask', params: { id: task.id } }, { 'X-Agent-Key': client.key })
    ).json();
    expect(working.result.status.state).toBe('TASK_STATE_WORKING');

    // The worker finishes with a deliverable: COMPLETED, with the deliverable as the artifact.
    expect(
      (
        await t.call('POST', `/tasks/${mt!.id}/deliverable`, {
          agentKey: worker.key,
          body: { content: 'Voici le README.' },
        })
      ).status,
    ).toBe(200);
    expect((await t.call('PUT', `/tasks/${mt!.id}`, { agentKey: worker.key, body: { status: 'done' } })).status).toBe(
      200,
    );
    await t.settle();
    const row = await t.db.get<{ status: string; result: string }>(
      'SELECT status, result FROM a2a_inbound_tasks WHERE id = ?',
      [task.id],
    );
    expect(row).toEqual({ status: 'completed', result: 'Voici le README.' });
    const done = await (
      await rpc(t, { jsonrpc: '2.0', id: 3, method: 'GetTask', params: { id: task.id } }, { 'X-Agent-Key': client.key })
    ).json();
    expect(done.result.status.state).toBe('TASK_STATE_COMPLETED');
    expect(done.result.artifacts[0].parts[0].text).toBe('Voici le README.');

    // Terminal tasks are not cancelable (-32002); ListTasks shows it to its caller only.
    const cancel = await (
      await rpc(
        t,
        { jsonrpc: '2.0', id: 4, method: 'CancelTask', params: { id: task.id } },
        { 'X-Agent-Key': client.key },
      )
    ).json();
    expect(cancel.error.code).toBe(-32002);
    const list = await (
      await rpc(
        t,
        { jsonrpc: '2.0', id: 5, method: 'ListTasks', params: { pageSize: 10 } },
        { 'X-Agent-Key': client.key },
      )
    ).json();
    expect(list.result.tasks.map((x: { id: string }) => x.id)).toContain(task.id);
    const other = await (
      await rpc(
        t,
        { jsonrpc: '2.0', id: 6, method: 'GetTask', params: { id: task.id } },
        { 'X-Agent-Key': stranger.key },
      )
    ).json();
    expect(other.error.code).toBe(-32001);
    const otherList = await (
      await rpc(t, { jsonrpc: '2.0', id: 7, method: 'ListTasks', params: {} }, { 'X-Agent-Key': stranger.key })
    ).json();
    expect(otherList.result.tasks).toEqual([]);
  });

  it('CancelTask cancels the A2A task and its Mycelium task; an agent outside the project is not routed there', async () => {
    const r = await (await rpc(t, send('Something to cancel'), { 'X-Agent-Key': client.key })).json();
    const id = r.result.task.id;
    const c = await (
      await rpc(t, { jsonrpc: '2.0', id: 2, method: 'CancelTask', params: { id } }, { 'X-Agent-Key': client.key })
    ).json();
    expect(c.result.status.state).toBe('TASK_STATE_CANCELED');
    expect(
      (
        await t.db.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', [
          r.result.task.metadata.mycelium_task_id,
        ])
      )?.status,
    ).toBe('cancelled');
    // stranger (project "elsewhere") asks for worker by id: not reachable for it.
    const cross = await (
      await rpc(t, send('hello', { metadata: { agent_id: 'worker' } }), { 'X-Agent-Key': stranger.key })
    ).json();
    expect(cross.error.code).toBe(-32602);
    expect(cross.error.message).toContain('worker');
  });

  it('legacy tasks/send (root POST /a2a) answers in the legacy shape; empty input is -32602', async () => {
    const r = await (
      await rpc(
        t,
        {
          jsonrpc: '2.0',
          id: 'x',
          method: 'tasks/send',
          params: { message: { parts: [{ type: 'text', text: 'old style' }] } },
        },
        { 'X-Admin-Key': t.adminKey },
        '/a2a',
      )
    ).json();
    expect(r.result.kind).toBe('task');
    expect(r.result.status.state).toBe('submitted');
    // An admin caller's notification is a directive, as over REST.
    expect(
      (
        await t.db.get<{ msg_type: string }>('SELECT msg_type FROM messages WHERE content = ?', [
          `A2A TASK #${r.result.metadata.mycelium_task_id}: old style`,
        ])
      )?.msg_type,
    ).toBe('directive');
    const g = await (
      await rpc(
        t,
        { jsonrpc: '2.0', id: 'y', method: 'tasks/get', params: { id: r.result.id } },
        { 'X-Admin-Key': t.adminKey },
      )
    ).json();
    expect(g.result.status.state).toBe('submitted');
    const empty = await (
      await rpc(
        t,
        { jsonrpc: '2.0', id: 'z', method: 'message/send', params: { message: { parts: [] } } },
        { 'X-Agent-Key': client.key },
      )
    ).json();
    expect(empty.error).toEqual({ code: -32602, message: 'No input text in message' });
  });
});

describe('A2A outbound: discovery and sends through the SSRF guard (SEC-31)', () => {
  it('discovers a v1.0 agent and sends it a message; the reply is stored', async () => {
    const d = await t.call('POST', '/a2a/discover', { agentKey: client.key, body: { url: `${v1Agent.url}/` } });
    expect(d.status).toBe(200);
    expect(d.body.agent).toMatchObject({
      name: 'Echo v1',
      rpc_url: `${v1Agent.url}/rpc`,
      protocol_version: '1.0',
      capabilities: ['echo'],
    });
    const list = await t.call('GET', '/a2a/agents', { agentKey: client.key });
    expect(list.body.map((a: { id: number }) => a.id)).toContain(d.body.id);

    const s = await t.call('POST', '/a2a/send', {
      agentKey: client.key,
      body: { agent_id: d.body.id, message: 'hello there' },
    });
    expect(s.status).toBe(200);
    expect(s.body.status).toBe('completed');
    const seen = v1Agent.requests.find((x) => x.method === 'POST')!;
    expect(seen.headers['a2a-version']).toBe('1.0');
    expect(rpcBodyOf(seen.body)).toMatchObject({
      method: 'SendMessage',
      params: { message: { role: 'ROLE_USER', parts: [{ text: 'hello there' }] } },
    });
    const row = await t.call('GET', `/a2a/tasks/${s.body.task_id}`, { agentKey: client.key });
    expect(row.body).toMatchObject({
      status: 'completed',
      remote_task_id: 'remote-1',
      context_id: 'ctx-remote',
      mycelium_agent_id: 'partner',
    });
    expect(row.body.result.task.artifacts[0].parts[0].text).toBe('echo: hello there');
    // Another agent does not see partner's outbound task.
    expect((await t.call('GET', `/a2a/tasks/${s.body.task_id}`, { agentKey: worker.key })).status).toBe(404);

    const failed = await t.call('POST', '/a2a/send', {
      agentKey: client.key,
      body: { agent_id: d.body.id, message: 'fail please' },
    });
    expect(failed.status).toBe(502);
    expect(failed.body.error).toBe('A2A error: remote broke');
    expect((await t.call('GET', '/a2a/tasks?status=failed', { agentKey: client.key })).body).toHaveLength(1);
  });

  it('speaks v0.3 (message/send) to an agent whose card is only at the original path', async () => {
    const d = await t.call('POST', '/a2a/discover', { admin: true, body: { url: legacyAgent.url } });
    expect(d.body.agent).toMatchObject({
      name: 'Old agent',
      rpc_url: `${legacyAgent.url}/a2a`,
      protocol_version: '0.3.0',
    });
    const s = await t.call('POST', '/a2a/send', {
      admin: true,
      body: { agent_id: d.body.id, message: 'hi old friend' },
    });
    expect(s.body.status).toBe('working');
    const seen = rpcBodyOf(legacyAgent.requests.find((x) => x.method === 'POST')!.body);
    expect(seen.method).toBe('message/send');
  });

  it('refuses loopback, internal names and cards that point inward, without contacting them', async () => {
    const n = v1Agent.requests.length;
    for (const url of [
      v1Agent.url,
      'http://localhost:9/',
      'http://10.0.0.1/',
      'http://[::1]:9/',
      'file:///etc/passwd',
    ]) {
      const r = await pub.call('POST', '/a2a/discover', { admin: true, body: { url } });
      expect(r.status, url).toBe(400);
      expect(r.body.error).toMatch(/^Invalid or blocked URL — must be public http\(s\)/);
    }
    expect(v1Agent.requests.length).toBe(n);
    const d = await t.call('POST', '/a2a/discover', { agentKey: client.key, body: { url: sneaky.url } });
    const s = await t.call('POST', '/a2a/send', { agentKey: client.key, body: { agent_id: d.body.id, message: 'x' } });
    expect(s.status).toBe(400);
    expect(s.body.error).toBe('Agent URL is blocked — private/internal addresses not allowed');
    expect(sneaky.requests.every((x) => x.method === 'GET')).toBe(true);
  });

  it('validates input and guards the management routes', async () => {
    expect((await t.call('POST', '/a2a/discover', { agentKey: client.key, body: {} })).body.error).toBe(
      'url is required',
    );
    expect(
      (await t.call('POST', '/a2a/send', { agentKey: client.key, body: { agent_id: 999, message: 'x' } })).status,
    ).toBe(404);
    expect(
      (await t.call('POST', '/a2a/send', { agentKey: client.key, body: { agent_id: '1', message: 'x' } })).status,
    ).toBe(400);
    expect((await t.call('POST', '/a2a/send', { agentKey: client.key, body: { agent_id: 1 } })).body.error).toBe(
      'agent_id and message are required',
    );
    expect((await t.call('GET', '/a2a/agents')).status).toBe(401);
    expect((await t.call('DELETE', '/a2a/agents/1', { agentKey: client.key })).status).toBeGreaterThanOrEqual(401);
    const before = (await t.call('GET', '/a2a/agents', { admin: true })).body.length;
    expect((await t.call('DELETE', '/a2a/agents/1', { admin: true })).body).toEqual({ ok: true });
    expect((await t.call('GET', '/a2a/agents', { admin: true })).body.length).toBe(before - 1);
  });
});

describe('A2A writes commit with their events (issue 17)', () => {
  const count = async (sql: string, args: unknown[] = []) =>
    Number((await t.db.get<{ n: number }>(sql, args as never[]))!.n);
  const eventsOf = (type: string) => t.db.all<{ data: string }>('SELECT data FROM events WHERE type = ?', [type]);

  it('no inbound A2A task, discovered agent or finished send without its event; each success writes exactly one', async () => {
    const inbound = () => count("SELECT COUNT(*) AS n FROM a2a_inbound_tasks WHERE input_text = 'atomic inbound'");
    await whileEventFails(t, 'a2a_task_received', async () => {
      const r = await rpc(t, send('atomic inbound'), { 'X-Agent-Key': client.key });
      expect((await r.json()).error).toBeDefined();
    });
    expect(await inbound()).toBe(0);
    const ok = await (await rpc(t, send('atomic inbound'), { 'X-Agent-Key': client.key })).json();
    expect(await inbound()).toBe(1);
    expect(
      (await eventsOf('a2a_task_received')).filter((e) => JSON.parse(e.data).a2a_task_id === ok.result.task.id),
    ).toHaveLength(1);

    // The v1 fake (allow-listed) is forgotten first, so its discovery is a fresh insert.
    const prior = await t.db.get<{ id: number }>('SELECT id FROM a2a_external_agents WHERE agent_url = ?', [
      v1Agent.url,
    ]);
    if (prior) expect((await t.call('DELETE', `/a2a/agents/${prior.id}`, { admin: true })).status).toBe(200);
    const known = () => count('SELECT COUNT(*) AS n FROM a2a_external_agents WHERE agent_url = ?', [v1Agent.url]);
    await whileEventFails(t, 'a2a_agent_discovered', async () => {
      expect((await t.call('POST', '/a2a/discover', { admin: true, body: { url: v1Agent.url } })).status).toBe(500);
    });
    expect(await known()).toBe(0);
    const d = await t.call('POST', '/a2a/discover', { admin: true, body: { url: v1Agent.url } });
    expect(d.status).toBe(200);
    expect((await eventsOf('a2a_agent_discovered')).map((e) => JSON.parse(e.data))).toContainEqual({
      agent_url: v1Agent.url,
      agent_id: d.body.id,
    });

    await whileEventFails(t, 'a2a_task_sent', async () => {
      const s = await t.call('POST', '/a2a/send', {
        admin: true,
        body: { agent_id: d.body.id, message: 'atomic out' },
      });
      expect(s.status).toBe(500);
    });
    // The send went out and its row stays as it was before the answer ('submitted'): not completed without the event.
    const row = await t.db.get<{ status: string }>("SELECT status FROM a2a_tasks WHERE input_text = 'atomic out'");
    expect(row?.status).toBe('submitted');
    const s = await t.call('POST', '/a2a/send', {
      admin: true,
      body: { agent_id: d.body.id, message: 'atomic out 2' },
    });
    expect(s.status).toBe(200);
    expect((await eventsOf('a2a_task_sent')).filter((e) => JSON.parse(e.data).task_id === s.body.task_id)).toHaveLength(
      1,
    );
  });

  it('an inbound A2A task commits with its Mycelium task: when a2a_task_received fails, neither the task nor the inbound row remains', async () => {
    const tasks = () => count("SELECT COUNT(*) AS n FROM tasks WHERE title = 'A2A: atomic with its task'");
    const inbound = () =>
      count("SELECT COUNT(*) AS n FROM a2a_inbound_tasks WHERE input_text = 'atomic with its task'");
    const created = () => count("SELECT COUNT(*) AS n FROM events WHERE type = 'task_created'");
    const before = await created();
    await whileEventFails(t, 'a2a_task_received', async () => {
      const r = await rpc(t, send('atomic with its task'), { 'X-Agent-Key': client.key });
      expect((await r.json()).error).toBeDefined();
    });
    expect(await tasks()).toBe(0);
    expect(await inbound()).toBe(0);
    expect(await created()).toBe(before);

    // On success the inbound row and both events name the task the same batch created.
    const ok = await (await rpc(t, send('atomic with its task'), { 'X-Agent-Key': client.key })).json();
    const row = await t.db.get<{ mycelium_task_id: number }>(
      'SELECT mycelium_task_id FROM a2a_inbound_tasks WHERE id = ?',
      [ok.result.task.id],
    );
    const task = await t.db.get<{ id: number }>("SELECT id FROM tasks WHERE title = 'A2A: atomic with its task'");
    expect(task).toBeDefined();
    expect(row?.mycelium_task_id).toBe(task!.id);
    const received = (await eventsOf('a2a_task_received')).map((e) => JSON.parse(e.data));
    expect(received.filter((d) => d.a2a_task_id === ok.result.task.id)).toEqual([
      expect.objectContaining({ a2a_task_id: ok.result.task.id, task_id: task!.id }),
    ]);
    const taskEvents = (await eventsOf('task_created')).map((e) => JSON.parse(e.data));
    expect(taskEvents.filter((d) => d.task_id === task!.id)).toHaveLength(1);
  });
});
