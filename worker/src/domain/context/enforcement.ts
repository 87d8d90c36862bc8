import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { AppError, badRequest } from '../../http/errors.js';
import { boundedMatch, quotePattern, unsafePatternReason } from '../../rules/safe-regex.js';
import { contextRepo } from './repo.js';

/**
 * Context enforcement rules (spec 03 §7.2, spec 04 §3.2, spec 07 SEC-17): the admin-only key
 * `mycelium/enforcement_rules` holds `[{id, tool?, match: {content_pattern}, severity, message}]`
 * (or `{rules: [...]}`). `POST /messages` checks its content against the `send_message` rules.
 * Patterns are checked when the key is written and bounded when evaluated
 * (worker/src/rules/safe-regex.ts).
 */
export const ENFORCEMENT_NAMESPACE = 'mycelium';
export const ENFORCEMENT_KEY = 'enforcement_rules';

interface EnforcementRule {
  id: string;
  tool: string | null;
  pattern: string | null;
  severity: string;
  message: string;
}

function rulesOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value && typeof value === 'object' && Array.isArray((value as { rules?: unknown }).rules))
    return (value as { rules: unknown[] }).rules;
  return [];
}

function parse(text: string): unknown {
  try {
    const v = JSON.parse(text) as unknown;
    // A value stored as a JSON string of JSON (clients that stringify first).
    return typeof v === 'string' ? JSON.parse(v) : v;
  } catch {
    return null;
  }
}

/** Write-time check of the stored value: a 400 naming the first refused pattern, or null. */
export function enforcementRulesProblem(storedData: string): string | null {
  const rules = rulesOf(parse(storedData));
  for (const [i, r] of rules.entries()) {
    if (!r || typeof r !== 'object') continue;
    const pattern = (r as { match?: { content_pattern?: unknown } }).match?.content_pattern;
    if (pattern === undefined || pattern === null) continue;
    if (typeof pattern !== 'string') return `rules.${i}.match.content_pattern must be a string`;
    const why = unsafePatternReason(pattern);
    if (why) return `rules.${i}.match.content_pattern: pattern ${quotePattern(pattern)} refused: ${why}`;
  }
  return null;
}

export function assertEnforcementRules(namespace: string, key: string, storedData: string): void {
  if (namespace !== ENFORCEMENT_NAMESPACE || key !== ENFORCEMENT_KEY) return;
  const problem = enforcementRulesProblem(storedData);
  if (problem) throw badRequest(problem);
}

function normalise(r: unknown, i: number): EnforcementRule | null {
  if (!r || typeof r !== 'object') return null;
  const o = r as Record<string, unknown>;
  const match = (o.match && typeof o.match === 'object' ? o.match : {}) as Record<string, unknown>;
  return {
    id: typeof o.id === 'string' || typeof o.id === 'number' ? String(o.id) : `rule_${i}`,
    tool: typeof o.tool === 'string' ? o.tool : null,
    pattern: typeof match.content_pattern === 'string' ? match.content_pattern : null,
    severity: typeof o.severity === 'string' ? o.severity : 'warn',
    message: typeof o.message === 'string' && o.message ? o.message : 'Blocked by enforcement rule',
  };
}

/**
 * Checks one outgoing message. Matching rules emit `enforcement_violation`; a `block` rule
 * refuses with 403 `{error, enforcement_rule}`. A stored pattern that fails the safety check is
 * treated as not matching and logged (it was written before the check, or around it). Admins
 * are not subject to the rules (decided by the admin flag, spec 07 SEC-14).
 */
export async function enforceOnMessage(app: AppContext, p: Principal, content: string): Promise<void> {
  if (p.isAdmin) return;
  const row = await contextRepo.get(app.db, ENFORCEMENT_NAMESPACE, ENFORCEMENT_KEY);
  if (!row) return;
  const rules = rulesOf(parse(row.data))
    .map(normalise)
    .filter((r): r is EnforcementRule => !!r && !!r.pattern && (r.tool === null || r.tool === 'send_message'));
  for (const rule of rules) {
    const hit = boundedMatch(rule.pattern, content, {
      flags: 'i',
      onRefused: (pattern, reason) =>
        app.log.warn('enforcement rule pattern refused at evaluation; treated as not matching', {
          rule_id: rule.id,
          pattern: pattern.slice(0, 80),
          reason,
        }),
    });
    if (!hit) continue;
    await app.events.emit({
      type: 'enforcement_violation',
      agent: p.who,
      summary: `Enforcement rule ${rule.id} matched a message`,
      data: { rule_id: rule.id, tool: 'send_message', severity: rule.severity },
    });
    if (rule.severity === 'block') throw new AppError(403, rule.message, { enforcement_rule: rule.id });
  }
}
