import {
  badRequest,
  forbidden,
  notFound,
  parseIntId,
  IdParams,
  NoInput,
  intQuery,
  documented,
  sentence,
  z,
  parseJson,
  dataObject,
  whereAll,
  ruleListFilters,
  type GuardInput,
  type PluginApi,
  type PluginRequest,
} from '../../worker/src/plugins/sdk.js';
import { conditionsProblem, ENFORCEMENTS, evaluate, ruleMatches, type EvalInput, type RuleLike } from './evaluate.js';

/**
 * guardrails (spec 06 §5.1, W5; spec 07 SEC-36, SEC-37, SEC-42). Rules are checked before the
 * core writes they guard (through the host's pre-mutation guard: `block` answers 403 and nothing
 * is written) and after every other event (violations recorded, operators notified). Each
 * mutation is evaluated once, on one input shape.
 */

interface RuleRow {
  id: number;
  name: string;
  description: string;
  trigger_event: string;
  conditions: string;
  enforcement: string;
  project_id: string | null;
  enabled: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  version: number;
  severity: string;
  cooldown_seconds: number;
}

const toRule = (r: RuleRow) => ({ ...r, conditions: parseJson<Record<string, unknown>>(r.conditions, {}) });
type Rule = ReturnType<typeof toRule>;

function str(body: Record<string, unknown>, field: string, max: number, required = false): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (required) throw badRequest(`${field} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(`${field} must be a string`);
  if (v.length > max) throw badRequest(`${field} exceeds max length (${max} chars)`);
  return v;
}

function enforcementOf(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(ENFORCEMENTS as readonly string[]).includes(v))
    throw badRequest('enforcement must be "warn", "block" or "log"');
  return v;
}

function triggerOf(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^(\*|[a-z0-9_.:-]{1,64})$/.test(v))
    throw badRequest('trigger_event must be an event type or "*"');
  return v;
}

function conditionsOf(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  const problem = conditionsProblem(v);
  if (problem) throw badRequest(problem);
  return v as Record<string, unknown>;
}

function cooldownOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 86_400)
    throw badRequest('cooldown_seconds must be an integer between 0 and 86400');
  return v;
}

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
const RuleListQuery = z.object({
  enabled: z.string().optional().meta({ description: '`1`/`true` for enabled rules, anything else disabled' }),
  trigger_event: z.string().optional(),
  project_id: z.string().optional(),
});
/** Rule fields are checked by the rule helpers below (their sentences); documented here. */
const ruleFields = {
  name: documented({ type: 'string', maxLength: 200 }),
  description: documented({ type: 'string', maxLength: 2000 }),
  trigger_event: documented({ type: 'string', description: 'Event type the rule watches (`*` for all)' }),
  conditions: documented({ type: 'object', description: 'Conditions evaluated against the event data' }),
  enforcement: documented({ type: 'string', enum: [...ENFORCEMENTS] }),
  project_id: documented({ type: ['string', 'null'], maxLength: 200 }),
  cooldown_seconds: documented({ type: 'integer', minimum: 0 }),
};
const CreateRule = z.object(ruleFields);
const UpdateRule = z.object({ ...ruleFields, enabled: documented({ type: 'boolean' }) });
const ViolationsQuery = z.object({
  rule_id: sentence({ type: 'integer', description: 'Rule id' }, (v) =>
    v === undefined || v === '' || parseIntId(v as string) !== null ? null : 'must be an integer',
  ),
  agent_id: z.string().optional(),
  project_id: z.string().optional(),
  limit: intQuery(50, 1, 200),
  offset: intQuery(0, 0, 1_000_000),
});
const CheckBody = z.object({
  event_type: sentence({ type: 'string' }, (v) => (typeof v !== 'string' || !v ? 'is required' : null), {
    always: true,
  }),
  data: sentence({ type: 'object' }, (v) =>
    v === undefined || (v !== null && typeof v === 'object' && !Array.isArray(v)) ? null : 'must be an object',
  ),
  project_id: documented({ type: 'string' }),
  agent: documented({ type: 'string', description: 'Admins only: evaluate as this agent' }),
});

export async function setup(api: PluginApi) {
  const db = api.db;
  /** Kinds this process has pre-checked: their events are not evaluated again post-hoc. */
  const prechecked = new Set<string>();

  const rules = async () =>
    (await db.all<RuleRow>('SELECT * FROM guardrail_rules WHERE enabled = 1 ORDER BY id')).map(toRule);
  const getRule = async (id: number | null) => {
    const r = id === null ? undefined : await db.get<RuleRow>('SELECT * FROM guardrail_rules WHERE id = ?', [id]);
    if (!r) throw notFound('Rule not found');
    return toRule(r);
  };

  /** Records one violation (cooldown, escalation, events, inbox), as both paths do. */
  async function record(rule: Rule, input: EvalInput, detail: string, blockedBefore: boolean) {
    if (rule.cooldown_seconds > 0 && input.agent) {
      const recent = await db.get(
        `SELECT 1 FROM guardrail_violations WHERE rule_id = ? AND agent_id = ? AND created_at > datetime('now', ?) LIMIT 1`,
        [rule.id, input.agent, `-${rule.cooldown_seconds} seconds`],
      );
      if (recent) return;
    }
    // The violation row and the events reporting it: all or nothing.
    await api.atomic(async (tx, emit) => {
      await tx.run(
        `INSERT INTO guardrail_violations (rule_id, rule_name, trigger_event, agent_id, project_id, enforcement, event_data, violation_detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          rule.id,
          rule.name,
          input.type,
          input.agent,
          input.project_id ?? '',
          rule.enforcement,
          JSON.stringify({ ...input, blocked: blockedBefore }),
          detail,
        ],
      );
      emit({
        type: 'guardrail_violation',
        agent: '__system__',
        projectId: input.project_id,
        summary: `${rule.enforcement.toUpperCase()}: ${rule.name} — ${detail}`,
        data: {
          rule_id: rule.id,
          rule_name: rule.name,
          enforcement: rule.enforcement,
          agent: input.agent,
          detail,
          blocked: blockedBefore,
        },
      });
      if (rule.enforcement === 'block')
        emit({
          type: 'guardrail_blocked',
          agent: '__system__',
          projectId: input.project_id,
          summary: blockedBefore
            ? `BLOCKED by rule "${rule.name}": ${detail}`
            : `Rule "${rule.name}" (block) violated after the fact: ${detail}`,
          data: { rule_id: rule.id, agent: input.agent, blocked: blockedBefore },
        });
    });
    if (rule.enforcement === 'log') return;
    const threshold = Math.max(1, Number((await api.config.get('escalation_threshold')) ?? 5) || 5);
    if (input.agent) {
      const n = Number(
        (
          await db.get<{ n: number }>(
            `SELECT COUNT(*) AS n FROM guardrail_violations WHERE agent_id = ? AND created_at > datetime('now', '-1 hour')`,
            [input.agent],
          )
        )?.n ?? 0,
      );
      if (n >= threshold && n % threshold === 0) {
        await api.core.inbox.notifyOperators({
          type: 'guardrail_escalation',
          entity_type: 'guardrail_rule',
          entity_id: rule.id,
          title: `ESCALATION: ${input.agent} has ${n} violations in the last hour`,
          summary: `Latest: ${rule.name} — ${detail}`,
          priority: 'urgent',
        });
      }
    }
    if ((await api.config.get('notify_on_violation')) !== 'false') {
      await api.core.inbox.notifyOperators({
        type: 'guardrail_violation',
        entity_type: 'guardrail_rule',
        entity_id: rule.id,
        title: `${rule.enforcement === 'block' ? 'BLOCKED' : 'WARNING'}: ${rule.name}`,
        summary: `${input.agent || 'unknown'}: ${detail}`,
        data: { rule_id: rule.id, agent: input.agent, event_type: input.type },
        priority: rule.enforcement === 'block' ? 'urgent' : 'normal',
      });
    }
  }

  // A stored pattern that fails the safety check (written before it existed, or straight into the
  // database) is evaluated as not matching and logged, so a failed evaluation is never silent.
  const refusedLogger = (rule: RuleLike) => (pattern: string, reason: string) =>
    api.log.warn('guardrail pattern refused at evaluation; treated as not matching', {
      rule_id: rule.id,
      rule_name: rule.name,
      pattern: pattern.slice(0, 80),
      reason,
    });

  // (a) Before the write: block rules refuse it with 403 and nothing is written; warn/log rules
  // are recorded and the write goes on.
  api.guard(async (g: GuardInput) => {
    prechecked.add(g.type);
    const input: EvalInput = { type: g.type, agent: g.agent, project_id: g.project_id, data: g.data };
    const hits: { rule: Rule; detail: string }[] = [];
    for (const rule of await rules()) {
      if (!ruleMatches(rule, input)) continue;
      const r = evaluate(rule, input, refusedLogger(rule));
      if (r.violated) hits.push({ rule, detail: r.detail! });
    }
    const blocking = hits.filter((h) => h.rule.enforcement === 'block');
    for (const h of hits) await record(h.rule, input, h.detail, h.rule.enforcement === 'block');
    if (blocking.length) {
      throw forbidden(`Blocked by guardrail: ${blocking.map((b) => b.rule.name).join(', ')}`, {
        violations: blocking.map((b) => ({ rule_id: b.rule.id, rule_name: b.rule.name, detail: b.detail })),
      });
    }
  });

  // (b) After the fact, for events no pre-check covered.
  api.on('*', async (ev) => {
    if (ev.type.startsWith('guardrail_') || prechecked.has(ev.type)) return;
    const input: EvalInput = {
      type: ev.type,
      agent: ev.agent,
      project_id: ev.project_id,
      data: dataObject(ev.data),
      summary: ev.summary,
    };
    for (const rule of await rules()) {
      if (!ruleMatches(rule, input)) continue;
      const r = evaluate(rule, input, refusedLogger(rule));
      if (r.violated) await record(rule, input, r.detail!, false);
    }
  });

  // Declared answers (issue 15): the host shapes each answer through its schema, so a column
  // added to these tables later never leaves unless it is named here.
  const RuleOut = z.object({
    id: z.number(),
    name: z.string(),
    description: z.string(),
    trigger_event: z.string(),
    /** The rule's conditions as its author wrote them: free-form JSON. */
    conditions: z.record(z.string(), z.unknown()),
    enforcement: z.string(),
    project_id: z.string().nullable(),
    enabled: z.number(),
    created_by: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.number(),
    severity: z.string(),
    cooldown_seconds: z.number(),
  });
  const ViolationOut = z.object({
    id: z.number(),
    rule_id: z.number(),
    rule_name: z.string(),
    trigger_event: z.string(),
    agent_id: z.string(),
    project_id: z.string(),
    enforcement: z.string(),
    /** The event's data as it was evaluated: free-form JSON. */
    event_data: z.unknown(),
    violation_detail: z.string(),
    overridden: z.number(),
    overridden_by: z.string(),
    created_at: z.string(),
  });
  const RuleWritten = z.object({ ok: z.boolean(), rule: RuleOut });
  const StatsOut = z.object({
    by_enforcement: z.array(z.object({ enforcement: z.string(), count: z.number() })),
    by_rule: z.array(
      z.object({ rule_id: z.number(), rule_name: z.string(), enforcement: z.string(), count: z.number() }),
    ),
    last_24h: z.number(),
    top_violators: z.array(z.object({ agent_id: z.string(), violation_count: z.number() })),
  });
  const CheckOut = z.object({
    event_type: z.string(),
    results: z.array(
      z.object({
        rule_id: z.number(),
        rule_name: z.string(),
        enforcement: z.string(),
        violated: z.boolean(),
        detail: z.string().nullable(),
      }),
    ),
  });
  const WidgetOut = z.object({
    type: z.string(),
    value: z.string(),
    label: z.string(),
    trend: z.string(),
    color: z.string(),
  });

  api.get(
    '/rules',
    async (req) => {
      const where = whereAll(ruleListFilters(req.query));
      const rows = await db.all<RuleRow>(
        `SELECT * FROM guardrail_rules ${where.sql} ORDER BY id DESC LIMIT 500`,
        where.args,
      );
      return rows.map(toRule);
    },
    { summary: 'List rules', query: RuleListQuery, response: z.array(RuleOut) },
  );

  api.post(
    '/rules',
    async (req) => {
      const b = req.body;
      if (typeof b.name !== 'string' || !b.name.trim() || typeof b.trigger_event !== 'string' || !b.trigger_event)
        throw badRequest('name and trigger_event are required');
      const name = str(b, 'name', 200, true)!.trim();
      const trigger = triggerOf(b.trigger_event)!;
      const conditions = conditionsOf(b.conditions) ?? {};
      const enforcement = enforcementOf(b.enforcement) ?? 'warn';
      const description = str(b, 'description', 2000) ?? '';
      const projectId = str(b, 'project_id', 200) ?? null;
      const cooldown = cooldownOf(b.cooldown_seconds) ?? 0;
      const row = await db.get<RuleRow>(
        `INSERT INTO guardrail_rules (name, description, trigger_event, conditions, enforcement, project_id, created_by, cooldown_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        [name, description, trigger, JSON.stringify(conditions), enforcement, projectId || null, req.who, cooldown],
      );
      return { ok: true, rule: toRule(row!) };
    },
    { auth: 'admin', summary: 'Create a rule', body: CreateRule, response: RuleWritten },
  );

  api.get('/rules/:id', async (req) => getRule(parseIntId(req.params.id)), {
    summary: 'One rule',
    params: IdParams,
    query: NoInput,
    response: RuleOut,
  });

  api.put(
    '/rules/:id',
    async (req) => {
      const rule = await getRule(parseIntId(req.params.id));
      const b = req.body;
      const next = {
        name: b.name === undefined ? rule.name : str(b, 'name', 200, true)!.trim() || rule.name,
        description: str(b, 'description', 2000) ?? rule.description,
        conditions: conditionsOf(b.conditions) ?? rule.conditions,
        enforcement: enforcementOf(b.enforcement) ?? rule.enforcement,
        enabled: b.enabled === undefined ? rule.enabled : b.enabled ? 1 : 0,
        trigger_event: triggerOf(b.trigger_event) ?? rule.trigger_event,
        project_id:
          b.project_id === undefined
            ? rule.project_id
            : b.project_id === null
              ? null
              : str(b, 'project_id', 200) || null,
        cooldown_seconds: cooldownOf(b.cooldown_seconds) ?? rule.cooldown_seconds,
      };
      // History snapshot of the prior version and the update, atomically; the version guard
      // makes a concurrent edit lose instead of overwriting silently.
      const [, upd] = await db.batch([
        {
          sql: 'INSERT INTO guardrail_rule_history (rule_id, version, conditions, enforcement, changed_by) VALUES (?, ?, ?, ?, ?)',
          args: [rule.id, rule.version, JSON.stringify(rule.conditions), rule.enforcement, req.who],
        },
        {
          sql: `UPDATE guardrail_rules SET name = ?, description = ?, conditions = ?, enforcement = ?, enabled = ?, trigger_event = ?, project_id = ?, cooldown_seconds = ?, version = version + 1, updated_at = datetime('now') WHERE id = ? RETURNING *`,
          args: [
            next.name,
            next.description,
            JSON.stringify(next.conditions),
            next.enforcement,
            next.enabled,
            next.trigger_event,
            next.project_id,
            next.cooldown_seconds,
            rule.id,
          ],
        },
      ]);
      return { ok: true, rule: toRule(upd.rows[0] as unknown as RuleRow) };
    },
    {
      auth: 'admin',
      summary: 'Update a rule (a history row keeps the prior version)',
      response: RuleWritten,
      params: IdParams,
      body: UpdateRule,
      lazyBody: true,
    },
  );

  api.delete(
    '/rules/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const r = id === null ? { changes: 0 } : await db.run('DELETE FROM guardrail_rules WHERE id = ?', [id]);
      if (!r.changes) throw notFound('Rule not found');
      return { ok: true, deleted: id };
    },
    {
      auth: 'admin',
      summary: 'Delete a rule',
      params: IdParams,
      query: NoInput,
      response: z.object({ ok: z.boolean(), deleted: z.number() }),
    },
  );

  const violationRow = (v: Record<string, unknown>) => ({ ...v, event_data: parseJson(v.event_data, {}) });

  api.get(
    '/violations',
    async (req) => {
      const q = req.input.query as z.output<typeof ViolationsQuery>;
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.rule_id) {
        where.push('rule_id = ?');
        args.push(parseIntId(q.rule_id as string)!);
      }
      if (q.agent_id) {
        where.push('agent_id = ?');
        args.push(q.agent_id);
      }
      if (q.project_id) {
        where.push('project_id = ?');
        args.push(q.project_id);
      }
      const { limit, offset } = q;
      const rows = await db.all(
        `SELECT * FROM guardrail_violations ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ? OFFSET ?`,
        [...args, limit, offset],
      );
      return rows.map(violationRow);
    },
    { summary: 'Recorded violations, newest first', query: ViolationsQuery, response: z.array(ViolationOut) },
  );

  api.get(
    '/violations/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const v = id === null ? undefined : await db.get('SELECT * FROM guardrail_violations WHERE id = ?', [id]);
      if (!v) throw notFound('Violation not found');
      return violationRow(v);
    },
    { summary: 'One violation', params: IdParams, query: NoInput, response: ViolationOut },
  );

  api.post(
    '/violations/:id/override',
    async (req) => {
      const id = parseIntId(req.params.id);
      const exists = id === null ? undefined : await db.get('SELECT id FROM guardrail_violations WHERE id = ?', [id]);
      if (!exists) throw notFound('Violation not found');
      const v = await db.get(
        'UPDATE guardrail_violations SET overridden = 1, overridden_by = ? WHERE id = ? AND overridden = 0 RETURNING *',
        [req.who, id],
      );
      if (!v) throw badRequest('Violation already overridden');
      return { ok: true, violation: violationRow(v) };
    },
    {
      auth: 'admin',
      summary: 'Override a violation',
      params: IdParams,
      body: NoInput,
      response: z.object({ ok: z.boolean(), violation: ViolationOut }),
    },
  );

  api.get(
    '/stats',
    async () => {
      const [byEnf, byRule, last, top] = await Promise.all([
        db.all('SELECT enforcement, COUNT(*) AS count FROM guardrail_violations GROUP BY enforcement'),
        db.all(
          'SELECT rule_id, rule_name, enforcement, COUNT(*) AS count FROM guardrail_violations GROUP BY rule_id ORDER BY count DESC',
        ),
        db.get<{ n: number }>(
          "SELECT COUNT(*) AS n FROM guardrail_violations WHERE created_at > datetime('now', '-1 day')",
        ),
        db.all(
          "SELECT agent_id, COUNT(*) AS violation_count FROM guardrail_violations WHERE agent_id <> '' GROUP BY agent_id ORDER BY violation_count DESC LIMIT 10",
        ),
      ]);
      return { by_enforcement: byEnf, by_rule: byRule, last_24h: Number(last?.n ?? 0), top_violators: top };
    },
    { summary: 'Violation counts', query: NoInput, response: StatsOut },
  );

  api.post(
    '/check',
    async (req: PluginRequest) => {
      const b = req.input.body as { event_type: string; data?: unknown; project_id?: unknown; agent?: unknown };
      // Only admins may evaluate as someone else (identity comes from authentication).
      const agent = req.principal?.isAdmin && typeof b.agent === 'string' ? b.agent : req.who;
      const input: EvalInput = {
        type: b.event_type,
        agent,
        project_id: typeof b.project_id === 'string' ? b.project_id : '',
        data: (b.data as Record<string, unknown>) ?? {},
      };
      const results = (await rules())
        .filter(
          (r: RuleLike) => ruleMatches(r, { ...input, project_id: input.project_id || null }) || ruleMatches(r, input),
        )
        .map((r) => {
          const e = evaluate(r, input, refusedLogger(r));
          return {
            rule_id: r.id,
            rule_name: r.name,
            enforcement: r.enforcement,
            violated: e.violated,
            detail: e.detail,
          };
        });
      return { event_type: input.type, results };
    },
    { summary: 'Dry-run: which rules would this event violate?', body: CheckBody, response: CheckOut },
  );

  api.get(
    '/widgets/violations',
    async () => {
      const last = Number(
        (
          await db.get<{ n: number }>(
            "SELECT COUNT(*) AS n FROM guardrail_violations WHERE created_at > datetime('now', '-1 day')",
          )
        )?.n ?? 0,
      );
      const rows = await db.all<{ enforcement: string; n: number }>(
        'SELECT enforcement, COUNT(*) AS n FROM guardrail_violations GROUP BY enforcement',
      );
      const count = (e: string) => Number(rows.find((r) => r.enforcement === e)?.n ?? 0);
      const blocked = count('block');
      const warned = count('warn');
      return {
        type: 'stat',
        value: String(last),
        label: 'Violations (24h)',
        trend: `${blocked} blocked, ${warned} warnings (all time)`,
        color: blocked > 0 ? 'red' : last > 0 ? 'yellow' : 'green',
      };
    },
    { summary: 'Dashboard widget: violations', query: NoInput, response: WidgetOut },
  );
}
