import { describe, expect, it } from 'vitest';
import { conditionsProblem, evaluate, ruleMatches, unsafePatternReason, type RuleLike } from './evaluate.js';

const rule = (conditions: Record<string, unknown>, over: Partial<RuleLike> = {}): RuleLike => ({
  id: 1,
  name: 'r',
  trigger_event: 'task_created',
  conditions,
  enforcement: 'block',
  project_id: null,
  enabled: 1,
  ...over,
});
const input = (data: Record<string, unknown> = {}, agent = 'a1') => ({
  type: 'task_created',
  agent,
  project_id: 'p1',
  data,
});

describe('guardrails evaluation model', () => {
  it('refuses patterns that can backtrack catastrophically and accepts ordinary ones', () => {
    for (const p of [
      '(a+)+$',
      '(a*)*b',
      '(a|aa)*c',
      '((ab)*)+',
      '(\\d+\\s?)+x',
      '(.*a){12}',
      '(a+){2,}',
      '\\1',
      '(?=a)',
      'x'.repeat(201),
      '(a',
      'a)',
      '.*.*.*x',
      'a+b+c+',
      'a{3,}b*c*',
      '(a?){30}a{30}',
      '(?:a?){25}',
    ]) {
      expect(unsafePatternReason(p), p).not.toBeNull();
    }
    for (const p of [
      '^DROP\\s',
      'secret[_-]?key',
      '^[A-Z]{3}-\\d+$',
      '(foo|bar)',
      '(abc)?d',
      '[(+*]+',
      'a{2,5}b',
      '^.*secret.*$',
      'a\\+b\\*c\\+d',
      '(?:foo|bar)x',
      '(?<word>ab)c',
      '(a+)?b',
    ]) {
      expect(unsafePatternReason(p), p).toBeNull();
    }
  });

  it('condition types mean the same thing on every path', () => {
    expect(evaluate(rule({ type: 'require_field', field: 'title' }), input({ title: '' }))).toEqual({
      violated: true,
      detail: 'Missing required field: title',
    });
    expect(evaluate(rule({ type: 'require_field', field: 'title' }), input({ title: 'x' })).violated).toBe(false);
    expect(evaluate(rule({ type: 'max_value', field: 'cost', max: 5 }), input({ cost: '7' }))).toEqual({
      violated: true,
      detail: 'cost exceeds max (7 > 5)',
    });
    expect(evaluate(rule({ type: 'require_approval', action_type: 'deploy' }), input({}))).toEqual({
      violated: true,
      detail: 'Approval required for deploy',
    });
    expect(evaluate(rule({ type: 'block_agent', agent_id: 'a1', message: 'nope' }), input())).toEqual({
      violated: true,
      detail: 'nope',
    });
    const custom = rule({
      type: 'custom',
      logic: 'or',
      checks: [
        { field: 'priority', op: 'eq', value: 'urgent' },
        { field: 'title', op: 'matches', value: '^DROP\\s' },
      ],
    });
    expect(evaluate(custom, input({ title: 'DROP table' })).violated).toBe(true);
    expect(evaluate(custom, input({ title: 'hello', priority: 'normal' })).violated).toBe(false);
    // An unsafe pattern smuggled into stored conditions never matches (and never runs).
    expect(
      evaluate(
        rule({ type: 'custom', checks: [{ field: 'title', op: 'matches', value: '(a+)+$' }] }),
        input({ title: `${'a'.repeat(50)}!` }),
      ).violated,
    ).toBe(false);
    expect(evaluate(rule({ type: 'unknown_kind' }), input()).violated).toBe(false);
  });

  it('rule matching: enabled, trigger (or *), project', () => {
    expect(ruleMatches(rule({}), input())).toBe(true);
    expect(ruleMatches(rule({}, { trigger_event: '*' }), input())).toBe(true);
    expect(ruleMatches(rule({}, { trigger_event: 'bug_created' }), input())).toBe(false);
    expect(ruleMatches(rule({}, { project_id: 'p2' }), input())).toBe(false);
    expect(ruleMatches(rule({}, { enabled: 0 }), input())).toBe(false);
  });

  it('SEC-42: conditions with code are refused at write time', () => {
    expect(conditionsProblem({ type: 'custom', expression: 'x' })).toBe(
      'conditions: code expressions are not supported (use custom checks)',
    );
    expect(conditionsProblem({ type: 'custom', checks: [{ field: 'a', op: 'eval' }] })).toMatch(
      /^conditions\.checks\.0\.op must be one of/,
    );
    expect(conditionsProblem({})).toBeNull();
  });
});
