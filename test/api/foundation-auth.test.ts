import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';
import { signOperatorToken } from '../../worker/src/auth/jwt.js';

let t: Target;
let adminOp: { id: number; token: string };
let memberOp: { id: number; token: string };
let agent: { id: string; key: string };

beforeAll(async () => {
  t = await startTarget();
  adminOp = await createOperator(t, 'root-op', 'admin');
  memberOp = await createOperator(t, 'member-op', 'member');
  agent = await registerAgent(t, 'alice', 'apollo');
});
afterAll(async () => t?.close());

const randomKey = () => `dvk_${randomBytes(24).toString('hex')}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('admin key (SEC-01, P-03)', () => {
  it('correct key passes; a one-character change and a same-length non-ASCII value give 403, never 500', async () => {
    expect((await t.call('GET', '/studio/users', { admin: true })).status).toBe(200);
    const k = t.adminKey;
    const changed = k.slice(0, -1) + (k.endsWith('a') ? 'b' : 'a');
    const r1 = await t.call('GET', '/studio/users', { headers: { 'X-Admin-Key': changed } });
    expect(r1.status).toBe(403);
    expect(r1.body).toEqual({ error: 'Invalid admin key' });
    const accented = 'é'.repeat(k.length);
    const r2 = await t.call('GET', '/studio/users', { headers: { 'X-Admin-Key': accented } });
    expect(r2.status).toBe(403);
    expect(r2.body).toEqual({ error: 'Invalid admin key' });
    const empty = await t.call('GET', '/studio/users', { headers: { 'X-Admin-Key': '' } });
    expect(empty.status).toBe(403);
  });

  it('no credentials on an admin route → 401 Authentication required', async () => {
    const r = await t.call('GET', '/studio/users');
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'Authentication required' });
  });
});

describe('guard matrix (spec 01 §8)', () => {
  const expired = async () =>
    signOperatorToken(
      t.jwtSecret,
      { studioUser: true, userId: adminOp.id, username: 'root-op', displayName: 'root-op', role: 'admin', tv: 1 },
      new Date(Date.now() - 8 * 86400_000),
    );

  it('admin-only route: each credential gets the exact status and message', async () => {
    const cases: [string, Parameters<Target['call']>[2], number, string | null][] = [
      ['none', {}, 401, 'Authentication required'],
      ['bad agent key', { agentKey: randomKey() }, 401, 'Authentication required'],
      ['good agent key', { agentKey: agent.key }, 401, 'Authentication required'],
      ['admin key', { admin: true }, 200, null],
      ['admin JWT', { token: adminOp.token }, 200, null],
      ['operator JWT', { token: memberOp.token }, 403, 'Admin role required'],
      ['expired JWT', { token: await expired() }, 403, 'Invalid admin key'],
      ['operator JWT + admin key', { token: memberOp.token, admin: true }, 403, 'Admin role required'],
    ];
    for (const [name, opts, status, error] of cases) {
      const r = await t.call('GET', '/studio/users', opts);
      expect(r.status, name).toBe(status);
      if (error) expect(r.body, name).toEqual({ error });
    }
  });

  it('agent-or-admin route (GET /agents): humans and agents pass, nobody else', async () => {
    const cases: [string, Parameters<Target['call']>[2], number, string | null][] = [
      ['none', {}, 401, 'Missing X-Agent-Key header'],
      ['bad agent key', { agentKey: randomKey() }, 403, 'Invalid agent key'],
      ['good agent key', { agentKey: agent.key }, 200, null],
      ['admin key', { admin: true }, 200, null],
      ['admin JWT', { token: adminOp.token }, 200, null],
      ['operator JWT', { token: memberOp.token }, 200, null],
      ['expired JWT', { token: await expired() }, 401, 'Missing X-Agent-Key header'],
    ];
    for (const [name, opts, status, error] of cases) {
      const r = await t.call('GET', '/agents', opts);
      expect(r.status, name).toBe(status);
      if (error) expect(r.body, name).toEqual({ error });
    }
  });

  it('agent-only route (POST /agents/rekey) refuses humans', async () => {
    for (const opts of [{ admin: true }, { token: adminOp.token }, {}]) {
      const r = await t.call('POST', '/agents/rekey', opts);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: 'Missing X-Agent-Key header' });
    }
  });

  it('human-only route refuses agent keys', async () => {
    const r = await t.call('POST', '/studio/me/password', { agentKey: agent.key, body: {} });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: 'Operator or admin access required' });
  });
});

describe('agent keys (P-02, SEC-06)', () => {
  it('only the SHA-256 of the key is stored and no read returns key or hash', async () => {
    const reg = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'bob', name: 'Bob', project_id: 'apollo' },
    });
    expect(reg.body.api_key).toMatch(/^dvk_[0-9a-f]{48}$/);
    expect(reg.body.message).toBe('Store this key — it will not be shown again. MCP config included for agent setup.');
    const row = await t.db.get<{ api_key_hash: string }>("SELECT api_key_hash FROM agents WHERE id = 'bob'");
    expect(row!.api_key_hash).toBe(sha256(reg.body.api_key));
    for (const path of ['/agents', '/agents/bob', '/agents/bob/mcp-config']) {
      const r = await t.call('GET', path, { admin: true });
      expect(r.status).toBe(200);
      expect(r.text).not.toContain(reg.body.api_key);
      expect(r.text).not.toContain(row!.api_key_hash);
      expect(r.text).not.toContain('api_key_hash');
    }
    const mcp = await t.call('GET', '/agents/bob/mcp-config', { admin: true });
    expect(mcp.body.mcp_config.mcpServers.mycelium.env.MYCELIUM_API_KEY).toBe('<YOUR_AGENT_API_KEY>');
    expect(mcp.body.mcp_config.mcpServers.mycelium.env.MYCELIUM_ROLE).toBe('agent');
    expect(mcp.body.mcp_config.mcpServers.mycelium.env.MYCELIUM_API_URL).toMatch(/^http:\/\/[^/]+\/api\/mycelium$/);
  });

  it('admin rotation and self rotation invalidate the old key at once (cache included)', async () => {
    const a = await registerAgent(t, 'carol', 'apollo');
    expect((await t.call('GET', '/agents/carol', { agentKey: a.key })).status).toBe(200); // cached now
    const rot = await t.call('PUT', '/admin/agents/carol/key', { admin: true });
    expect(rot.status).toBe(200);
    expect(rot.body.message).toBe('Store this key — it will not be shown again');
    const old = await t.call('GET', '/agents/carol', { agentKey: a.key });
    expect(old.status).toBe(403);
    expect(old.body).toEqual({ error: 'Invalid agent key' });
    const self = await t.call('POST', '/agents/rekey', { agentKey: rot.body.api_key });
    expect(self.status).toBe(200);
    expect(self.body).toMatchObject({ id: 'carol', message: 'Key rotated — update your config with this new key' });
    expect((await t.call('GET', '/agents/carol', { agentKey: rot.body.api_key })).status).toBe(403);
    expect((await t.call('GET', '/agents/carol', { agentKey: self.body.api_key })).status).toBe(200);
    await t.settle();
    const evs = await t.db.all<{ type: string }>(
      "SELECT type FROM events WHERE type IN ('agent_key_regenerated','agent_key_rotated') ORDER BY id",
    );
    expect(evs.map((e) => e.type)).toEqual(['agent_key_regenerated', 'agent_key_rotated']);
    expect((await t.call('PUT', '/admin/agents/nobody/key', { admin: true })).body).toEqual({
      error: 'Agent not found',
    });
  });

  it('SEC-06: 31 forged keys from one IP get 403, the 32nd gets 429 with Retry-After; a valid key from that IP still works', async () => {
    const ip = '192.0.2.55';
    for (let i = 0; i < 31; i++) {
      const r = await t.call('GET', '/agents', { agentKey: randomKey(), ip });
      expect(r.status, `attempt ${i + 1}`).toBe(403);
    }
    const limited = await t.call('GET', '/agents', { agentKey: randomKey(), ip });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatch(/^Too many attempts\. Try again in \d+ seconds\.$/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const valid = await t.call('GET', '/agents', { agentKey: agent.key, ip });
    expect(valid.status).toBe(200);
    const otherIp = await t.call('GET', '/agents', { agentKey: randomKey(), ip: '192.0.2.56' });
    expect(otherIp.status).toBe(403);
  });
});

describe('registration', () => {
  it('validates before writing: missing fields, wrong types, reserved and duplicate ids', async () => {
    const missing = await t.call('POST', '/admin/agents', { admin: true, body: { id: 'x1', name: 'X' } });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: 'id, name, and project_id are required' });
    const wrongType = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'x2', name: 'X', project_id: 'p', capabilities: 'code' },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toBe('capabilities must be an array');
    const objectName = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'x3', name: { a: 1 }, project_id: 'p' },
    });
    expect(objectName.status).toBe(400);
    expect(objectName.body.error).toBe('name must be a string');
    const reserved = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'heartbeat', name: 'X', project_id: 'p' },
    });
    expect(reserved.status).toBe(400);
    const dup = await t.call('POST', '/admin/agents', {
      admin: true,
      body: { id: 'alice', name: 'X', project_id: 'p' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ error: 'Agent alice already exists' });
    const n = await t.db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM agents WHERE id IN ('x1','x2','x3','heartbeat')",
    );
    expect(n!.n).toBe(0);
  });

  it('project and game are accepted as project_id; POST /agents is the SDK alias; the agent joins #general', async () => {
    const r = await t.call('POST', '/agents', { admin: true, body: { id: 'dave', name: 'Dave', game: 'legacy-game' } });
    expect(r.status).toBe(200);
    const row = await t.call('GET', '/agents/dave', { admin: true });
    expect(row.body.project_id).toBe('legacy-game');
    expect(row.body.capabilities).toBe('["code","assets"]');
    expect(row.body.status).toBe('offline');
    const member = await t.db.get(
      "SELECT 1 AS ok FROM channel_members m JOIN channels c ON c.id = m.channel_id WHERE c.slug = 'general' AND m.user_id = 'dave'",
    );
    expect(member).toEqual({ ok: 1 });
    const agentTry = await t.call('POST', '/agents', {
      agentKey: agent.key,
      body: { id: 'eve', name: 'Eve', project_id: 'p' },
    });
    expect(agentTry.status).toBe(401);
  });
});

describe('operator sessions (SEC-03, SEC-04, SEC-05, SEC-08, SEC-10, P-01)', () => {
  it('login returns a 7-day HS256 token; wrong password and unknown user get the same 401', async () => {
    const ok = await t.call('POST', '/studio/login', {
      body: { username: ' Root-Op ', password: 'correct horse battery' },
      ip: '198.51.100.201',
    });
    expect(ok.status).toBe(200);
    expect(ok.body.user).toEqual({ id: adminOp.id, username: 'root-op', display_name: 'root-op', role: 'admin' });
    const claims = decodeJwt(ok.body.token);
    expect(claims.exp! - claims.iat!).toBe(604800);
    expect(claims.studioUser).toBe(true);
    const bad = await t.call('POST', '/studio/login', {
      body: { username: 'root-op', password: 'wrong password!' },
      ip: '198.51.100.202',
    });
    const unknown = await t.call('POST', '/studio/login', {
      body: { username: 'nobody-here', password: 'wrong password!' },
      ip: '198.51.100.202',
    });
    expect(bad.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(bad.body).toEqual({ error: 'Invalid username or password' });
    expect(unknown.body).toEqual(bad.body);
    const missing = await t.call('POST', '/studio/login', { body: { username: 'x' }, ip: '198.51.100.202' });
    expect(missing.body).toEqual({ error: 'username and password are required' });
  });

  it('SEC-08: after 10 failed logins from one IP within 15 minutes the next attempt → 429; successes do not count', async () => {
    const friendly = '198.51.100.249';
    for (let i = 0; i < 12; i++) {
      const ok = await t.call('POST', '/studio/login', {
        body: { username: 'member-op', password: 'correct horse battery' },
        ip: friendly,
      });
      expect(ok.status, `successful login ${i + 1}`).toBe(200);
    }
    const ip = '198.51.100.250';
    for (let i = 0; i < 10; i++) {
      const r = await t.call('POST', '/studio/login', { body: { username: 'root-op', password: 'nope-nope' }, ip });
      expect(r.status).toBe(401);
    }
    const r = await t.call('POST', '/studio/login', {
      body: { username: 'root-op', password: 'correct horse battery' },
      ip,
    });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('SEC-04: alg:none and foreign-secret tokens never authenticate', async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ studioUser: true, userId: adminOp.id, role: 'admin', tv: 1, exp: 9999999999 })}.`;
    const r1 = await t.call('GET', '/studio/users', { token: none });
    expect([401, 403]).toContain(r1.status);
    const foreign = await signOperatorToken(
      'another-secret-that-is-long-enough-1234',
      { studioUser: true, userId: adminOp.id, username: 'root-op', displayName: 'root-op', role: 'admin', tv: 1 },
      new Date(),
    );
    const r2 = await t.call('GET', '/studio/users', { token: foreign });
    expect(r2.status).toBe(403);
    expect(r2.body).toEqual({ error: 'Invalid admin key' });
  });

  it('SEC-10: roles are validated and default to operator, not admin', async () => {
    const bad = await t.call('POST', '/studio/users', {
      admin: true,
      body: { username: 'su', password: 'longenough', display_name: 'SU', role: 'superuser' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'invalid_enum', field: 'role', allowed: ['admin', 'operator', 'member'] });
    const dflt = await t.call('POST', '/studio/users', {
      admin: true,
      body: { username: 'plain', password: 'longenough', display_name: 'Plain' },
    });
    expect(dflt.status).toBe(200);
    expect(dflt.body.role).toBe('operator');
    const badPut = await t.call('PUT', `/studio/users/${dflt.body.id}`, { admin: true, body: { role: 'x' } });
    expect(badPut.status).toBe(400);
    const short = await t.call('POST', '/studio/users', {
      admin: true,
      body: { username: 'shorty', password: 'short', display_name: 'S' },
    });
    expect(short.body).toEqual({ error: 'Password must be at least 8 characters' });
    const dup = await t.call('POST', '/studio/users', {
      admin: true,
      body: { username: 'PLAIN', password: 'longenough', display_name: 'P2' },
    });
    expect(dup.status).toBe(409);
    expect(dup.body).toEqual({ error: 'Username already taken' });
    const list = await t.call('GET', '/studio/users', { admin: true });
    expect(list.text).not.toContain('password_hash');
    expect(list.text).not.toContain('argon2');
  });

  it('SEC-05: a demoted admin loses admin at once; a deleted user is logged out', async () => {
    const u = await createOperator(t, 'temp-admin', 'admin');
    expect((await t.call('GET', '/studio/users', { token: u.token })).status).toBe(200);
    const demote = await t.call('PUT', `/studio/users/${u.id}`, { admin: true, body: { role: 'member' } });
    expect(demote.status).toBe(200);
    expect(demote.body).toMatchObject({ ok: true, id: u.id, role: 'member' });
    const after = await t.call('GET', '/studio/users', { token: u.token });
    expect(after.status).toBe(403);
    const relog = await t.call('POST', '/studio/login', {
      body: { username: 'temp-admin', password: u.password },
      ip: '198.51.100.77',
    });
    const member = await t.call('GET', '/studio/users', { token: relog.body.token });
    expect(member.body).toEqual({ error: 'Admin role required' });
    const del = await t.call('DELETE', `/studio/users/${u.id}`, { admin: true });
    expect(del.body).toEqual({ ok: true, deleted: 'temp-admin' });
    const me = await t.call('GET', '/studio/me', { token: relog.body.token });
    expect(me.status).toBe(401);
    expect((await t.call('DELETE', '/studio/users/999999', { admin: true })).body).toEqual({ error: 'User not found' });
    expect((await t.call('DELETE', '/studio/users/1abc', { admin: true })).status).toBe(404);
  });

  it('a password change revokes older sessions; the new token works', async () => {
    const u = await createOperator(t, 'changer', 'operator');
    const wrong = await t.call('POST', '/studio/me/password', {
      token: u.token,
      body: { current_password: 'not it at all', new_password: 'brand new secret' },
    });
    expect(wrong.status).toBe(403);
    const ok = await t.call('POST', '/studio/me/password', {
      token: u.token,
      body: { current_password: u.password, new_password: 'brand new secret' },
    });
    expect(ok.status).toBe(200);
    expect((await t.call('GET', '/studio/me', { token: u.token })).status).toBe(401);
    const me = await t.call('GET', '/studio/me', { token: ok.body.token });
    expect(me.status).toBe(200);
    expect(me.body.username).toBe('changer');
    const adminSet = await t.call('PUT', `/studio/users/${u.id}/password`, {
      admin: true,
      body: { password: 'set by admin 1' },
    });
    expect(adminSet.body).toEqual({ ok: true, username: 'changer' });
    expect((await t.call('GET', '/studio/me', { token: ok.body.token })).status).toBe(401);
  });

  it('GET /studio/me for the admin key', async () => {
    const r = await t.call('GET', '/studio/me', { admin: true });
    expect(r.body).toEqual({ id: 0, username: 'admin', display_name: 'Admin', role: 'admin' });
    expect((await t.call('GET', '/studio/me')).body).toEqual({ error: 'Not authenticated' });
  });
});
