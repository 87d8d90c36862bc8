import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTarget, type Target } from '../support/target.js';
import { registerAgent } from '../support/fixtures.js';

let t: Target;
let agentKey = '';
beforeAll(async () => {
  t = await startTarget();
  agentKey = (await registerAgent(t, 'ts-agent', 'p')).key;
});
afterAll(async () => t?.close());

describe('team settings', () => {
  it('admin only', async () => {
    expect((await t.call('GET', '/team-settings', { agentKey })).status).toBe(401);
  });

  it('PUT stores objects as JSON and scalars as text; GET parses; sections validated', async () => {
    const r = await t.call('PUT', '/team-settings/coding_standards/languages', {
      admin: true,
      body: { value: ['TypeScript', 'Go'] },
    });
    expect(r.status).toBe(200);
    expect(r.body.ok).toBe(true);
    expect(r.body.setting).toMatchObject({
      section: 'coding_standards',
      key: 'languages',
      value: '["TypeScript","Go"]',
      updated_by: '__system__',
    });
    expect(r.body.setting.updated_at).toMatch(/T.*Z$/);
    await t.call('PUT', '/team-settings/coding_standards/linter', { admin: true, body: { value: 'eslint' } });
    await t.call('PUT', '/team-settings/guardrails/tool_whitelist', { admin: true, body: { value: ['git', 'npm'] } });
    await t.call('PUT', '/team-settings/guardrails/custom_rules', {
      admin: true,
      body: { value: [{ key: 'no_force_push', description: 'Never force-push' }] },
    });
    const bad = await t.call('PUT', '/team-settings/marketing/x', { admin: true, body: { value: 1 } });
    expect(bad.body).toEqual({
      error: 'Invalid section. Must be one of: coding_standards, deploy_workflow, brand, guardrails, team_rules',
    });
    expect((await t.call('PUT', '/team-settings/brand/x', { admin: true, body: {} })).body).toEqual({
      error: 'value is required',
    });
    const all = await t.call('GET', '/team-settings', { admin: true });
    expect(all.body.coding_standards).toEqual({ languages: ['TypeScript', 'Go'], linter: 'eslint' });
    expect((await t.call('GET', '/team-settings/guardrails', { admin: true })).body.tool_whitelist).toEqual([
      'git',
      'npm',
    ]);
    expect((await t.call('GET', '/team-settings/brand', { admin: true })).body).toEqual({});
  });

  it('every change re-syncs the customer-agent profile', async () => {
    const prof = await t.db.get<any>("SELECT * FROM node_profiles WHERE id = 'customer-agent'");
    expect(prof).toMatchObject({ node_type: 'agent', layer: 'customer' });
    expect(JSON.parse(prof.tool_whitelist)).toEqual(['git', 'npm']);
    expect(JSON.parse(prof.md_checkpoints)).toEqual(['TypeScript', 'Go']);
    const rules = JSON.parse(prof.rules);
    expect(rules.coding_standards.severity).toBe('high');
    expect(rules.coding_standards.description).toMatch(/^Languages: TypeScript, Go\. Linter: eslint\./);
    expect(rules.no_force_push).toEqual({ description: 'Never force-push', severity: 'medium' });
    expect((await t.call('DELETE', '/team-settings/guardrails/tool_whitelist', { admin: true })).body).toEqual({
      ok: true,
    });
    const after = await t.db.get<any>("SELECT tool_whitelist FROM node_profiles WHERE id = 'customer-agent'");
    expect(JSON.parse(after.tool_whitelist)).toEqual([]);
    expect((await t.call('POST', '/team-settings/sync', { admin: true })).body).toEqual({
      ok: true,
      message: 'Profile sync complete',
    });
  });
});
