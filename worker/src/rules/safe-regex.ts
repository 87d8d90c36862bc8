/**
 * Regexes that come from rules (guardrails conditions, context enforcement rules) run in the
 * platform's backtracking engine (V8's irregexp on both runtimes; no linear-time engine is
 * available in workerd without a WASM dependency). So a pattern is admitted only in shapes whose
 * worst case stays polynomial, and evaluation is bounded by pattern and subject length
 * (spec 07 SEC-17, SEC-42; issue 17).
 */

const MAX_PATTERN = 200;
const MAX_SUBJECT = 2_000;
/** Unbounded quantifiers allowed in one pattern: with MAX_SUBJECT, two keep the worst case quadratic. */
const MAX_UNBOUNDED = 2;

/**
 * Why a pattern is refused, or null when it is safe: bounded length, no backreferences or
 * lookarounds, and no quantified group that itself contains a quantifier (`*`, `+`, `?`, `{…}`)
 * or an alternation — the `(a+)+`, `(a|aa)*`, `(a?){30}` shapes that backtrack exponentially.
 */
export function unsafePatternReason(pattern: string): string | null {
  if (pattern.length > MAX_PATTERN) return `pattern longer than ${MAX_PATTERN} characters`;
  if (/\\[1-9]|\\k</.test(pattern)) return 'backreferences are not allowed';
  if (/\(\?<?[=!]/.test(pattern)) return 'lookarounds are not allowed';
  const stack: { risky: boolean }[] = [];
  let unbounded = 0;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      i++;
      continue;
    }
    if (ch === '[') {
      // a character class is one atom
      for (i++; i < pattern.length && pattern[i] !== ']'; i++) if (pattern[i] === '\\') i++;
      continue;
    }
    if (ch === '*' || ch === '+') unbounded++;
    if (ch === '{' && /^\{\d*,\}/.test(pattern.slice(i))) unbounded++;
    if (ch === '(') {
      stack.push({ risky: false });
      // `(?:`, `(?<name>`: the `?` is group syntax, not a quantifier
      if (pattern[i + 1] === '?') i++;
      continue;
    }
    if (ch === ')') {
      const g = stack.pop();
      if (!g) return 'unbalanced parentheses';
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || next === '{' || next === '?';
      // `(a+)?` is fine (taken once or not); any repeat of a group with inner choice is not.
      if (quantified && g.risky && next !== '?') return 'nested quantifiers are not allowed';
      if (stack.length && (g.risky || quantified)) stack[stack.length - 1].risky = true;
      continue;
    }
    if ((ch === '*' || ch === '+' || ch === '{' || ch === '?' || ch === '|') && stack.length)
      stack[stack.length - 1].risky = true;
  }
  if (stack.length) return 'unbalanced parentheses';
  // Adjacent unbounded quantifiers (`.*.*.*x`) backtrack polynomially even without nesting.
  if (unbounded > MAX_UNBOUNDED) return `more than ${MAX_UNBOUNDED} unbounded quantifiers`;
  try {
    new RegExp(pattern);
  } catch (err) {
    return `invalid regular expression (${(err as Error).message})`;
  }
  return null;
}

/**
 * Bounded evaluation of a stored pattern. A pattern that fails the check (a row written before
 * it existed, or straight into the database) never runs: it counts as not matching, and
 * `onRefused` is told so the caller can log it — a rule that could not be evaluated is not a
 * rule that passed silently.
 */
export function boundedMatch(
  pattern: unknown,
  subject: unknown,
  opts: { flags?: string; onRefused?: (pattern: string, reason: string) => void } = {},
): boolean {
  if (typeof pattern !== 'string') return false;
  const why = unsafePatternReason(pattern);
  if (why) {
    opts.onRefused?.(pattern, why);
    return false;
  }
  return new RegExp(pattern, opts.flags).test(String(subject ?? '').slice(0, MAX_SUBJECT));
}

/** A short, safe excerpt of a pattern for an error sentence. */
export function quotePattern(pattern: string): string {
  return JSON.stringify(pattern.length > 60 ? `${pattern.slice(0, 60)}…` : pattern);
}
