import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let a: { id: string; key: string };
let b: { id: string; key: string };
beforeAll(async () => {
  t = await startTarget();
  a = await registerAgent(t, 'sse-a', 'pa');
  b = await registerAgent(t, 'sse-b', 'pb');
});
afterAll(async () => t?.close());

interface Stream {
  status: number;
  headers: Headers;
  /** Resolves with the frames read until `pred` holds for one of them; rejects after `ms`. */
  until(pred: (f: Frame) => boolean, ms?: number): Promise<Frame[]>;
  close(): Promise<void>;
}
interface Frame {
  id?: string;
  data?: any;
  comment?: string;
}

async function openStream(query: string, headers: Record<string, string> = {}, ip = '203.0.113.50'): Promise<Stream> {
  const res = await t.fetch(`/api/mycelium/events/stream${query}`, { headers: { 'X-Forwarded-For': ip, ...headers } });
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const frames: Frame[] = [];
  let seen = 0;
  const parse = () => {
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: Frame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith('data: ')) f.data = JSON.parse(line.slice(6));
        else if (line.startsWith('id: ')) f.id = line.slice(4);
        else if (line.startsWith(':')) f.comment = line.slice(1).trim();
      }
      frames.push(f);
    }
  };
  return {
    status: res.status,
    headers: res.headers,
    async until(pred, ms = 3000) {
      const deadline = Date.now() + ms;
      for (;;) {
        parse();
        for (; seen < frames.length; seen++) if (pred(frames[seen])) return frames.slice(0, ++seen);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching frame within ${ms} ms; got ${JSON.stringify(frames)}`);
        const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
        if (chunk === null) continue;
        if (chunk.done) throw new Error('stream ended');
        buf += dec.decode(chunk.value, { stream: true });
      }
    },
    async close() {
      await reader.cancel().catch(() => undefined);
    },
  };
}

describe('GET /events/stream', () => {
  it('SEC-44: authenticates before any SSE header (plain JSON errors)', async () => {
    const none = await t.fetch('/api/mycelium/events/stream', { headers: { 'X-Forwarded-For': '203.0.113.60' } });
    expect(none.status).toBe(401);
    expect(none.headers.get('content-type')).toMatch(/application\/json/);
    expect((await none.json()).error).toBe('Missing X-Agent-Key header');
    const bad = await t.fetch('/api/mycelium/events/stream', {
      headers: { 'X-Agent-Key': 'dvk_nope', 'X-Forwarded-For': '203.0.113.60' },
    });
    expect(bad.status).toBe(403);
    const badTicket = await t.fetch('/api/mycelium/events/stream?ticket=abc.def', {
      headers: { 'X-Forwarded-For': '203.0.113.60' },
    });
    expect(badTicket.status).toBe(401);
  });

  it('REL-21: replays the latest 20 matching events oldest first, data as a JSON string, with spec headers', async () => {
    for (let i = 0; i < 25; i++)
      await t.call('POST', '/events', { admin: true, body: { type: 'replay.test', summary: `r${i}`, data: { i } } });
    const s = await openStream('?type=replay.test', { 'X-Agent-Key': a.key }, '203.0.113.61');
    expect(s.status).toBe(200);
    expect(s.headers.get('content-type')).toBe('text/event-stream');
    expect(s.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(s.headers.get('x-accel-buffering')).toBe('no');
    const frames = await s.until((f) => f.data?.summary === 'r24');
    await s.close();
    expect(frames.map((f) => f.data.summary)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i + 5}`));
    const last = frames[frames.length - 1];
    expect(Object.keys(last.data)).toEqual(['id', 'type', 'agent', 'project_id', 'summary', 'data', 'created_at']);
    expect(typeof last.data.data).toBe('string');
    expect(JSON.parse(last.data.data)).toEqual({ i: 24 });
    expect(last.id).toBe(String(last.data.id));
  });

  it('SEC-43/REL-21: an event emitted by another request arrives on an open stream within one second, data a string', async () => {
    const s = await openStream('?type=custom', { 'X-Agent-Key': a.key }, '203.0.113.62');
    // Nothing is replayed yet for this filter; give the stream its first read, then emit.
    const posted = await t.call('POST', '/events', {
      agentKey: b.key,
      body: { type: 'custom', summary: 'live-one', data: { a: 1 } },
    });
    expect(posted.status).toBe(200);
    const frames = await s.until((f) => f.data?.summary === 'live-one', 1000);
    await s.close();
    const f = frames[frames.length - 1];
    expect(f.data.id).toBe(posted.body.id);
    expect(f.data.agent).toBe('sse-b');
    expect(typeof f.data.data).toBe('string');
    expect(JSON.parse(f.data.data)).toEqual({ a: 1 });
    expect(f.data.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });

  it("issue 16: replayed and live frames carry created_at in one format, the events table's (as GET /events)", async () => {
    await t.call('POST', '/events', { admin: true, body: { type: 'fmt.test', summary: 'before' } });
    const s = await openStream('?type=fmt.test', { 'X-Agent-Key': a.key }, '203.0.113.66');
    await s.until((f) => f.data?.summary === 'before', 2000);
    await t.call('POST', '/events', { admin: true, body: { type: 'fmt.test', summary: 'after' } });
    const frames = await s.until((f) => f.data?.summary === 'after', 2000);
    await s.close();
    const replayed = frames.find((f) => f.data?.summary === 'before')!;
    const live = frames.find((f) => f.data?.summary === 'after')!;
    const sqliteFormat = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
    expect(replayed.data.created_at).toMatch(sqliteFormat);
    expect(live.data.created_at).toMatch(sqliteFormat);
    const listed = await t.call('GET', '/events?type=fmt.test', { admin: true });
    expect(listed.body.map((e: { created_at: string }) => e.created_at)).toContain(live.data.created_at);
  });

  it('an event written straight into the table (another process) reaches the stream by cursor', async () => {
    const s = await openStream('?type=foreign.test', { 'X-Agent-Key': a.key }, '203.0.113.63');
    await t.db.run(
      "INSERT INTO events (type, agent, summary, data) VALUES ('foreign.test', 'elsewhere', 'from-db', '{\"x\":2}')",
    );
    const frames = await s.until((f) => f.data?.summary === 'from-db', 2000);
    await s.close();
    expect(frames[frames.length - 1].data.data).toBe('{"x":2}');
  });

  it('filters by agent and project; E2: an agent stream never carries another project', async () => {
    const s = await openStream('?type=scoped.test', { 'X-Agent-Key': a.key }, '203.0.113.64');
    await t.call('POST', '/events', {
      agentKey: b.key,
      body: { type: 'scoped.test', project_id: 'pb', summary: 'secret-b' },
    });
    await t.call('POST', '/events', {
      agentKey: a.key,
      body: { type: 'scoped.test', project_id: 'pa', summary: 'mine' },
    });
    const frames = await s.until((f) => f.data?.summary === 'mine');
    await s.close();
    expect(frames.map((f) => f.data?.summary)).not.toContain('secret-b');

    const byAgent = await openStream('?agent=sse-b&type=scoped.test', { 'X-Admin-Key': t.adminKey }, '203.0.113.65');
    const got = await byAgent.until((f) => f.data?.summary === 'secret-b');
    await byAgent.close();
    expect(got.every((f) => f.data.agent === 'sse-b')).toBe(true);
  });

  it('accepts ?token=<JWT> and short-lived stream tickets (E3)', async () => {
    const op = await createOperator(t, 'sse-op', 'operator');
    const viaToken = await openStream(`?token=${op.token}&type=replay.test`, {}, '203.0.113.66');
    expect(viaToken.status).toBe(200);
    await viaToken.until((f) => f.data?.type === 'replay.test');
    await viaToken.close();

    const ticket = await t.call('POST', '/events/stream-ticket', { agentKey: a.key });
    expect(ticket.status).toBe(200);
    expect(typeof ticket.body.ticket).toBe('string');
    expect(Date.parse(ticket.body.expires_at) - Date.now()).toBeLessThanOrEqual(5 * 60_000 + 1000);
    const viaTicket = await openStream(
      `?ticket=${encodeURIComponent(ticket.body.ticket)}&type=replay.test`,
      {},
      '203.0.113.67',
    );
    expect(viaTicket.status).toBe(200);
    await viaTicket.until((f) => f.data?.type === 'replay.test');
    await viaTicket.close();
    const tampered = await t.fetch(
      `/api/mycelium/events/stream?ticket=${encodeURIComponent(ticket.body.ticket.replace(/.$/, (c: string) => (c === '0' ? '1' : '0')))}`,
      {
        headers: { 'X-Forwarded-For': '203.0.113.67' },
      },
    );
    expect(tampered.status).toBe(401);
  });

  it('resumes after Last-Event-ID', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (await t.call('POST', '/events', { admin: true, body: { type: 'resume.test', summary: `m${i}` } })).body.id,
      );
    const s = await openStream(
      '?type=resume.test',
      { 'X-Admin-Key': t.adminKey, 'Last-Event-ID': String(ids[0]) },
      '203.0.113.68',
    );
    const frames = await s.until((f) => f.data?.summary === 'm2');
    await s.close();
    expect(frames.map((f) => f.data.summary)).toEqual(['m1', 'm2']);
  });

  it('SEC-44: a sixth concurrent stream from one IP gets 429', async () => {
    const ip = '203.0.113.99';
    const open: Stream[] = [];
    for (let i = 0; i < 5; i++) {
      const s = await openStream('', { 'X-Agent-Key': a.key }, ip);
      expect(s.status).toBe(200);
      open.push(s);
    }
    const sixth = await t.fetch('/api/mycelium/events/stream', {
      headers: { 'X-Agent-Key': a.key, 'X-Forwarded-For': ip },
    });
    expect(sixth.status).toBe(429);
    expect((await sixth.json()).error).toBe('Too many SSE connections from this IP');
    const other = await openStream('', { 'X-Agent-Key': a.key }, '203.0.113.98');
    expect(other.status).toBe(200);
    await other.close();
    for (const s of open) await s.close();
  });

  it('heartbeats are not persisted but are streamed live with id null (same process)', async () => {
    const s = await openStream('?type=agent_heartbeat&agent=sse-a', { 'X-Admin-Key': t.adminKey }, '203.0.113.70');
    // The stream subscribed to the bus when it was created, before its response was returned.
    const hb = await t.call('POST', '/agents/heartbeat', { agentKey: a.key, body: { status: 'online' } });
    expect(hb.status).toBe(200);
    const frames = await s.until((f) => f.data?.type === 'agent_heartbeat');
    await s.close();
    const f = frames[frames.length - 1];
    expect(f.data.id).toBeNull();
    expect(f.id).toBeUndefined();
    expect(f.data.agent).toBe('sse-a');
    expect(typeof f.data.data).toBe('string');
    expect(await t.db.get("SELECT 1 FROM events WHERE type = 'agent_heartbeat'")).toBeUndefined();
  });
});
