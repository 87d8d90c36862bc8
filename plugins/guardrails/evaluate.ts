/**
 * The one evaluation model (spec 06 W5): pre-mutation checks and post-hoc event hooks both
 * evaluate rules against `{type, agent, project_id, data}`. No code evaluation (SEC-42); regexes
 * are bounded against catastrophic backtracking (worker/src/rules/safe-regex.ts).
 */
import { boundedMatch, quotePattern, unsafePatternReason } from '../../worker/src/plugins/sdk.js';

export interface EvalInput {
  type: string;
  agent: string;
  project_id: string | null;
  data: Record<string, unknown>;
  summary?: string;
}

export interface RuleLike {
  id: number;
  name: string;
  trigger_event: string;
  conditions: Record<string, unknown>;
  enforcement: string;
  project_id: string | null;
  enabled: number;
}

const CONDITION_TYPES = ['require_field', 'max_value', 'require_approval', 'block_agent', 'custom'] as const;
const OPS = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'contains',
  'not_contains',
  'exists',
  'not_exists',
  'in',
  'not_in',
  'matches',
] as const;
export const ENFORCEMENTS = ['warn', 'block', 'log'] as const;

export { unsafePatternReason };

/** Called when a stored pattern is refused at evaluation (logged by the plugin). */
export type OnRefused = (pattern: string, reason: string) => void;

function resolve(ctx: Record<string, unknown>, path: string): unknown {
  let v: unknown = ctx;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function looseEq(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || a === null || b === undefined || b === null)
    return (a === undefined || a === null) && (b === undefined || b === null);
  return String(a) === String(b);
}

function compare(op: string, actual: unknown, expected: unknown, onRefused?: OnRefused): boolean {
  switch (op) {
    case 'eq':
      return looseEq(actual, expected);
    case 'neq':
      return !looseEq(actual, expected);
    case 'gt':
      return Number(actual) > Number(expected);
    case 'gte':
      return Number(actual) >= Number(expected);
    case 'lt':
      return Number(actual) < Number(expected);
    case 'lte':
      return Number(actual) <= Number(expected);
    case 'contains':
      return String(actual ?? '').includes(String(expected));
    case 'not_contains':
      return !String(actual ?? '').includes(String(expected));
    case 'exists':
      return actual !== undefined && actual !== null;
    case 'not_exists':
      return actual === undefined || actual === null;
    case 'in':
      return Array.isArray(expected) && expected.some((e) => looseEq(actual, e));
    case 'not_in':
      return Array.isArray(expected) && !expected.some((e) => looseEq(actual, e));
    case 'matches':
      return boundedMatch(expected, actual, { onRefused });
    default:
      return false;
  }
}

export function ruleMatches(rule: RuleLike, input: EvalInput): boolean {
  if (!rule.enabled) return false;
  if (rule.trigger_event !== '*' && rule.trigger_event !== input.type) return false;
  if (rule.project_id && rule.project_id !== input.project_id) return false;
  return true;
}

/** `{violated, detail}` for one rule against one input. Unknown condition types never violate. */
export function evaluate(
  rule: RuleLike,
  input: EvalInput,
  onRefused?: OnRefused,
): { violated: boolean; detail: string | null } {
  const c = rule.conditions ?? {};
  const msg = typeof c.message === 'string' && c.message ? c.message : null;
  const data = input.data ?? {};
  const no = { violated: false, detail: null };
  switch (c.type) {
    case 'require_field': {
      const f = String(c.field ?? '');
      return !data[f] ? { violated: true, detail: msg ?? `Missing required field: ${f}` } : no;
    }
    case 'max_value': {
      const f = String(c.field ?? '');
      const v = Number.parseInt(String(data[f] ?? 0), 10);
      const n = Number.isFinite(v) ? v : 0;
      const max = Number(c.max);
      return n > max ? { violated: true, detail: msg ?? `${f} exceeds max (${n} > ${max})` } : no;
    }
    case 'require_approval':
      return !data.approval_id
        ? { violated: true, detail: msg ?? `Approval required for ${String(c.action_type ?? '')}` }
        : no;
    case 'block_agent':
      return input.agent === c.agent_id
        ? { violated: true, detail: msg ?? `Agent ${String(c.agent_id)} is restricted` }
        : no;
    case 'custom': {
      const checks = Array.isArray(c.checks) ? c.checks : Array.isArray(c.comparisons) ? c.comparisons : [];
      if (!checks.length) return no;
      const ctx: Record<string, unknown> = {
        ...data,
        agent: input.agent,
        type: input.type,
        project_id: input.project_id,
        data,
        event: { ...input },
      };
      const results = checks.map((k: { field?: unknown; op?: unknown; value?: unknown }) =>
        compare(typeof k.op === 'string' ? k.op : 'eq', resolve(ctx, String(k.field ?? '')), k.value, onRefused),
      );
      const hit = c.logic === 'or' ? results.some(Boolean) : results.every(Boolean);
      return hit ? { violated: true, detail: msg ?? 'Custom rule violated' } : no;
    }
    default:
      return no;
  }
}

/** Validates rule conditions at write time; returns the 400 message or null. */
export function conditionsProblem(c: unknown): string | null {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return 'conditions must be an object';
  const o = c as Record<string, unknown>;
  if (Object.keys(o).length === 0) return null;
  if ('expression' in o || 'code' in o || 'script' in o)
    return 'conditions: code expressions are not supported (use custom checks)';
  if (!(CONDITION_TYPES as readonly string[]).includes(String(o.type)))
    return `conditions.type must be one of: ${CONDITION_TYPES.join(', ')}`;
  if ((o.type === 'require_field' || o.type === 'max_value') && (typeof o.field !== 'string' || !o.field))
    return 'conditions.field is required';
  if (o.type === 'max_value' && !Number.isFinite(Number(o.max))) return 'conditions.max must be a number';
  if (o.type === 'block_agent' && (typeof o.agent_id !== 'string' || !o.agent_id))
    return 'conditions.agent_id is required';
  if (o.type === 'custom') {
    const checks = o.checks ?? o.comparisons;
    if (!Array.isArray(checks) || !checks.length) return 'conditions.checks must be a non-empty array';
    if (checks.length > 20) return 'conditions.checks has more than 20 items';
    if (o.logic !== undefined && o.logic !== 'and' && o.logic !== 'or')
      return 'conditions.logic must be one of: and, or';
    for (const [i, k] of checks.entries()) {
      if (!k || typeof k !== 'object') return `conditions.checks.${i} must be an object`;
      if (typeof k.field !== 'string' || !k.field) return `conditions.checks.${i}.field is required`;
      if (k.op !== undefined && !(OPS as readonly string[]).includes(k.op))
        return `conditions.checks.${i}.op must be one of: ${OPS.join(', ')}`;
      if ((k.op === 'in' || k.op === 'not_in') && !Array.isArray(k.value))
        return `conditions.checks.${i}.value must be an array`;
      if (k.op === 'matches') {
        if (typeof k.value !== 'string') return `conditions.checks.${i}.value must be a string`;
        const why = unsafePatternReason(k.value);
        if (why) return `conditions.checks.${i}.value: pattern ${quotePattern(k.value)} refused: ${why}`;
      }
    }
  }
  return null;
}
