import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { createOperator, registerAgent } from '../support/fixtures.js';

let t: Target;
let agent: { id: string; key: string };
let op: { id: number; token: string };
beforeAll(async () => {
  t = await startTarget();
  agent = await registerAgent(t, 'tm-agent', 'home');
  op = await createOperator(t, 'tm-op', 'operator');
  await t.call('POST', '/operators', { admin: true, body: { id: 'dana', display_name: 'Dana' } });
});
afterAll(async () => t?.close());

describe('teams', () => {
  it('admin creates a team with its #team-<id> channel; duplicates 409; required fields 400', async () => {
    const r = await t.call('POST', '/teams', {
      admin: true,
      body: { id: 'core', org_id: 'org1', name: 'Core', description: 'core team' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: 'core', org_id: 'org1', name: 'Core', members: [] });
    const ch = await t.db.get<any>("SELECT * FROM channels WHERE slug = 'team-core'");
    expect(ch).toMatchObject({
      name: '#team-core',
      type: 'team',
      linked_type: 'team',
      linked_id: 'core',
      description: 'Team channel for Core',
    });
    expect(
      (await t.call('POST', '/teams', { admin: true, body: { id: 'core', org_id: 'org1', name: 'Again' } })).status,
    ).toBe(409);
    expect((await t.call('POST', '/teams', { admin: true, body: { id: 'x', name: 'X' } })).body.error).toBe(
      'id, org_id, and name required',
    );
    expect(
      (await t.call('POST', '/teams', { token: op.token, body: { id: 'y', org_id: 'o', name: 'Y' } })).status,
    ).toBe(403);
  });

  it('lists with member_count (filter by org) and gets members and projects; 404 for unknown', async () => {
    await t.call('POST', '/teams', { admin: true, body: { id: 'alpha', org_id: 'org2', name: 'Alpha' } });
    const list = await t.call('GET', '/teams', { agentKey: agent.key });
    expect(list.body.teams.map((x: any) => x.name)).toEqual(['Alpha', 'Core']);
    expect(list.body.teams[0].member_count).toBe(0);
    expect(
      (await t.call('GET', '/teams?org_id=org2', { agentKey: agent.key })).body.teams.map((x: any) => x.id),
    ).toEqual(['alpha']);
    expect((await t.call('GET', '/teams/nope', { agentKey: agent.key })).body).toEqual({ error: 'Team not found' });
    expect((await t.call('GET', '/teams/nope/projects', { agentKey: agent.key })).status).toBe(404);
  });

  it('membership: humans add members (must exist), primary flag mirrored, team channel joined, scope widened', async () => {
    expect(
      (
        await t.call('POST', '/teams/core/members', {
          agentKey: agent.key,
          body: { user_id: 'tm-agent', user_type: 'agent' },
        })
      ).status,
    ).toBe(403);
    expect((await t.call('POST', '/teams/core/members', { token: op.token, body: {} })).body.error).toBe(
      'user_id required',
    );
    expect(
      (await t.call('POST', '/teams/core/members', { token: op.token, body: { user_id: 'ghost', user_type: 'agent' } }))
        .status,
    ).toBe(404);
    expect(
      (
        await t.call('POST', '/teams/nope/members', {
          token: op.token,
          body: { user_id: 'tm-agent', user_type: 'agent' },
        })
      ).status,
    ).toBe(404);

    // Before joining, the agent cannot write events into the team's project.
    await t.db.run("INSERT INTO projects (id, name, team_id) VALUES ('team-proj', 'Team project', 'core')");
    expect(
      (await t.call('POST', '/events', { agentKey: agent.key, body: { type: 'custom', project_id: 'team-proj' } }))
        .status,
    ).toBe(403);

    const add = await t.call('POST', '/teams/core/members', {
      token: op.token,
      body: { user_id: 'tm-agent', user_type: 'agent', is_primary: true },
    });
    expect(add.status).toBe(200);
    expect(add.body).toMatchObject({
      team_id: 'core',
      user_id: 'tm-agent',
      user_type: 'agent',
      role: 'member',
      is_primary: 1,
    });
    expect((await t.db.get<any>("SELECT primary_team_id FROM agents WHERE id = 'tm-agent'")).primary_team_id).toBe(
      'core',
    );
    expect(
      await t.db.get(
        "SELECT 1 FROM channel_members m JOIN channels c ON c.id = m.channel_id WHERE c.slug = 'team-core' AND m.user_id = 'tm-agent'",
      ),
    ).toBeDefined();
    expect(
      (
        await t.call('POST', '/teams/core/members', {
          token: op.token,
          body: { user_id: 'tm-agent', user_type: 'agent' },
        })
      ).status,
    ).toBe(409);
    expect(
      (await t.call('POST', '/events', { agentKey: agent.key, body: { type: 'custom', project_id: 'team-proj' } }))
        .status,
    ).toBe(200);

    // Primary moves: joining alpha as primary clears core's flag.
    await t.call('POST', '/teams/alpha/members', {
      admin: true,
      body: { user_id: 'tm-agent', user_type: 'agent', is_primary: true },
    });
    const flags = await t.db.all<any>(
      "SELECT team_id, is_primary FROM team_members WHERE user_id = 'tm-agent' ORDER BY team_id",
    );
    expect(flags).toEqual([
      { team_id: 'alpha', is_primary: 1 },
      { team_id: 'core', is_primary: 0 },
    ]);
    // A refused duplicate add changes nothing (the primary flag stays on alpha).
    expect(
      (
        await t.call('POST', '/teams/core/members', {
          admin: true,
          body: { user_id: 'tm-agent', user_type: 'agent', is_primary: true },
        })
      ).status,
    ).toBe(409);
    expect((await t.db.get<any>("SELECT primary_team_id FROM agents WHERE id = 'tm-agent'")).primary_team_id).toBe(
      'alpha',
    );
    expect((await t.db.get<any>("SELECT primary_team_id FROM agents WHERE id = 'tm-agent'")).primary_team_id).toBe(
      'alpha',
    );

    const got = await t.call('GET', '/teams/core', { agentKey: agent.key });
    expect(got.body.members.map((m: any) => m.user_id)).toEqual(['tm-agent']);
    expect(got.body.projects.map((p: any) => p.id)).toEqual(['team-proj']);
    expect(
      (await t.call('GET', '/teams/core/projects', { agentKey: agent.key })).body.projects.map((p: any) => p.id),
    ).toEqual(['team-proj']);
  });

  it('updates and removes members; unknown member 404; removing the primary clears primary_team_id', async () => {
    await t.call('POST', '/teams/core/members', { token: op.token, body: { user_id: 'dana' } });
    expect(
      (await t.call('PUT', '/teams/core/members/dana', { token: op.token, body: { role: 'lead', is_primary: true } }))
        .body,
    ).toEqual({ ok: true });
    expect((await t.db.get<any>("SELECT primary_team_id FROM operators WHERE id = 'dana'")).primary_team_id).toBe(
      'core',
    );
    expect((await t.call('PUT', '/teams/core/members/dana', { token: op.token, body: { role: 'boss' } })).status).toBe(
      400,
    );
    expect(
      (await t.call('PUT', '/teams/core/members/nobody', { token: op.token, body: { role: 'lead' } })).status,
    ).toBe(404);
    expect((await t.call('DELETE', '/teams/core/members/dana', { token: op.token })).body).toEqual({ ok: true });
    expect((await t.db.get<any>("SELECT primary_team_id FROM operators WHERE id = 'dana'")).primary_team_id).toBeNull();
    expect((await t.call('DELETE', '/teams/core/members/dana', { token: op.token })).status).toBe(404);
  });

  it('weak spot 27: delete refuses teams with members or projects, 404 for unknown ids', async () => {
    expect((await t.call('DELETE', '/teams/core', { admin: true })).body).toEqual({
      error: 'Team has members — remove them first',
    });
    await t.call('DELETE', '/teams/core/members/tm-agent', { admin: true });
    expect((await t.call('DELETE', '/teams/core', { admin: true })).status).toBe(409);
    await t.db.run("UPDATE projects SET team_id = NULL WHERE id = 'team-proj'");
    expect((await t.call('DELETE', '/teams/core', { admin: true })).body).toEqual({ ok: true });
    expect((await t.db.get<any>("SELECT status FROM channels WHERE slug = 'team-core'")).status).toBe('archived');
    expect((await t.call('DELETE', '/teams/core', { admin: true })).status).toBe(404);
    const upd = await t.call('PUT', '/teams/alpha', { admin: true, body: { name: 'Alpha Two' } });
    expect(upd.body).toMatchObject({ id: 'alpha', name: 'Alpha Two' });
    expect(Array.isArray(upd.body.members)).toBe(true);
    expect((await t.call('PUT', '/teams/gone', { admin: true, body: { name: 'x' } })).status).toBe(404);
  });
});
