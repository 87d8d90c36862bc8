/** DAG validation of `spec.invocations` (spec 06 §5.2): first failure wins, as a 400 message. */

export interface Invocation {
  id: string;
  agent: string;
  model?: string;
  brief?: string;
  deps: string[];
}

export function validateInvocations(
  raw: unknown,
): { ok: true; invocations: Invocation[] } | { ok: false; error: string } {
  if (!Array.isArray(raw) || raw.length === 0)
    return { ok: false, error: 'spec.invocations must be a non-empty array' };
  if (raw.length > 500) return { ok: false, error: 'spec.invocations has more than 500 items' };
  const seen = new Set<string>();
  const out: Invocation[] = [];
  for (const item of raw) {
    const inv = (item ?? {}) as Record<string, unknown>;
    if (typeof inv.id !== 'string' || !inv.id || inv.id.length > 200)
      return { ok: false, error: 'every invocation needs a string id' };
    if (seen.has(inv.id)) return { ok: false, error: `duplicate invocation id: ${inv.id}` };
    seen.add(inv.id);
    if (typeof inv.agent !== 'string' || !inv.agent)
      return { ok: false, error: `invocation ${inv.id} needs a string agent` };
    if (inv.deps !== undefined && !Array.isArray(inv.deps))
      return { ok: false, error: `invocation ${inv.id} deps must be an array` };
    if (inv.model !== undefined && typeof inv.model !== 'string')
      return { ok: false, error: `invocation ${inv.id} model must be a string` };
    if (inv.brief !== undefined && typeof inv.brief !== 'string')
      return { ok: false, error: `invocation ${inv.id} brief must be a string` };
    out.push({
      id: inv.id,
      agent: inv.agent,
      model: inv.model as string | undefined,
      brief: inv.brief as string | undefined,
      deps: ((inv.deps as unknown[]) ?? []).map(String),
    });
  }
  for (const inv of out) {
    for (const d of inv.deps)
      if (!seen.has(d)) return { ok: false, error: `invocation ${inv.id} depends on unknown ${d}` };
  }
  // Kahn layering: whatever cannot be layered sits on a cycle.
  const indeg = new Map(out.map((i) => [i.id, new Set(i.deps).size]));
  const dependents = new Map<string, string[]>();
  for (const i of out) for (const d of new Set(i.deps)) dependents.set(d, [...(dependents.get(d) ?? []), i.id]);
  let frontier = out.filter((i) => indeg.get(i.id) === 0).map((i) => i.id);
  let done = 0;
  while (frontier.length) {
    const next: string[] = [];
    for (const id of frontier) {
      done++;
      for (const dep of dependents.get(id) ?? []) {
        const n = indeg.get(dep)! - 1;
        indeg.set(dep, n);
        if (n === 0) next.push(dep);
      }
    }
    frontier = next;
  }
  if (done < out.length) {
    const stuck = out.filter((i) => indeg.get(i.id)! > 0).map((i) => i.id);
    return { ok: false, error: `cyclic deps among: ${stuck.join(', ')}` };
  }
  return { ok: true, invocations: out };
}
