import {
  badRequest,
  documented,
  documentedRequired,
  IdParams,
  intQuery,
  NoInput,
  notFound,
  parseIntId,
  parseJson,
  sentence,
  z,
  dataObject,
  SsrfBlockedError,
  whereAll,
  ruleListFilters,
  type MyceliumEvent,
  type PluginApi,
} from '../../worker/src/plugins/sdk.js';

/**
 * workflow-automations (spec 06 §5.3, W4, W7, W14): "when event X (with conditions) then
 * actions Y". Actions go through the core services (tasks, messages, bugs, inbox) and the SSRF
 * guard (webhooks). Loop protection: events caused by an automation (actor `__automation__`)
 * and the plugin's own events never trigger rules, each rule runs at most once per event, and
 * executions are rate limited across processes.
 */

export const ACTOR = '__automation__';
const ACTION_TYPES = [
  'create_task',
  'send_message',
  'file_bug',
  'assign_agent',
  'send_webhook',
  'inbox_notify',
] as const;
const CONDITION_KEYS = ['project_id', 'agent_id', 'field_equals', 'field_contains', 'field_exists'];

interface RuleRow {
  id: number;
  name: string;
  description: string;
  trigger_event: string;
  conditions: string;
  actions: string;
  project_id: string | null;
  enabled: number;
  run_count: number;
  last_run: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
}
type Action = Record<string, unknown> & { type: string };
// Declared answers (issue 15): the host shapes each answer through its schema, so a column added
// to these tables later never leaves unless it is named here.
const RuleOut = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  trigger_event: z.string(),
  /** Conditions and actions as the rule's author wrote them: free-form JSON. */
  conditions: z.record(z.string(), z.unknown()),
  actions: z.array(z.unknown()),
  project_id: z.string().nullable(),
  enabled: z.number(),
  run_count: z.number(),
  last_run: z.string().nullable(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
const LogOut = z.object({
  id: z.number(),
  rule_id: z.number(),
  rule_name: z.string(),
  trigger_event: z.string(),
  event_id: z.number().nullable(),
  matched: z.number(),
  actions_taken: z.array(z.unknown()),
  event_data: z.unknown(),
  status: z.string(),
  error: z.string(),
  dry_run: z.number(),
  created_at: z.string(),
});
const StatusCount = z.object({ status: z.string(), count: z.number() });
const RuleCount = z.object({ rule_id: z.number(), rule_name: z.string(), count: z.number() });
const TemplateOut = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  trigger_event: z.string(),
  conditions: z.unknown(),
  actions: z.unknown(),
  category: z.string(),
  created_at: z.string(),
});

const toRule = (r: RuleRow) => ({
  ...r,
  conditions: parseJson<Record<string, unknown>>(r.conditions, {}),
  actions: parseJson<Action[]>(r.actions, []),
});
type Rule = ReturnType<typeof toRule>;

interface Ctx {
  type: string;
  agent: string;
  project_id: string | null;
  summary: string;
  data: Record<string, unknown>;
}

function conditionsOf(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('conditions must be an object');
  const c = v as Record<string, unknown>;
  for (const k of Object.keys(c))
    if (!CONDITION_KEYS.includes(k))
      throw badRequest(`conditions.${k} is not supported (use ${CONDITION_KEYS.join(', ')})`);
  for (const k of ['project_id', 'agent_id'])
    if (c[k] !== undefined && typeof c[k] !== 'string') throw badRequest(`conditions.${k} must be a string`);
  for (const k of ['field_equals', 'field_contains']) {
    if (c[k] === undefined) continue;
    const m = c[k];
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw badRequest(`conditions.${k} must be an object`);
    for (const [f, val] of Object.entries(m as object))
      if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean')
        throw badRequest(`conditions.${k}.${f} must be a string`);
  }
  if (
    c.field_exists !== undefined &&
    (!Array.isArray(c.field_exists) || c.field_exists.some((f) => typeof f !== 'string'))
  )
    throw badRequest('conditions.field_exists must be an array of strings');
  return c;
}

function actionsOf(v: unknown): Action[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) throw badRequest('actions must be an array');
  if (v.length > 10) throw badRequest('actions has more than 10 items');
  return v.map((a, i) => {
    if (!a || typeof a !== 'object' || Array.isArray(a)) throw badRequest(`actions.${i} must be an object`);
    const t = (a as Record<string, unknown>).type;
    if (typeof t !== 'string' || !(ACTION_TYPES as readonly string[]).includes(t))
      throw badRequest(`actions.${i}.type must be one of: ${ACTION_TYPES.join(', ')}`);
    for (const [k, val] of Object.entries(a))
      if (k !== 'type' && val !== null && typeof val !== 'string')
        throw badRequest(`actions.${i}.${k} must be a string`);
    if (t === 'send_webhook') {
      const url = (a as Record<string, unknown>).url;
      if (typeof url !== 'string') throw badRequest(`actions.${i}.url is required`);
      if (url !== '__configure_me__' && !/^https?:\/\//i.test(url))
        throw badRequest(`actions.${i}.url must be an http(s) URL`);
    }
    return a as Action;
  });
}

function str(b: Record<string, unknown>, f: string, max: number): string | undefined {
  const v = b[f];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest(`${f} must be a string`);
  if (v.length > max) throw badRequest(`${f} exceeds max length (${max} chars)`);
  return v;
}

export function conditionsHold(c: Record<string, unknown>, ev: Ctx): boolean {
  const d = ev.data;
  if (typeof c.project_id === 'string' && c.project_id !== ev.project_id) return false;
  if (typeof c.agent_id === 'string' && c.agent_id !== ev.agent) return false;
  for (const [f, v] of Object.entries((c.field_equals as Record<string, unknown>) ?? {}))
    if (String(d[f] ?? '') !== String(v)) return false;
  for (const [f, v] of Object.entries((c.field_contains as Record<string, unknown>) ?? {}))
    if (!String(d[f] ?? '').includes(String(v))) return false;
  for (const f of (c.field_exists as string[]) ?? []) if (d[f] === undefined || d[f] === null) return false;
  return true;
}

function interpolate(s: unknown, ev: Ctx): string {
  if (typeof s !== 'string') return '';
  return s.replace(/\{\{(\w+)\}\}/g, (all, key: string) => {
    if (key === 'agent') return ev.agent;
    if (key === 'event_type') return ev.type;
    if (key === 'project') return ev.project_id ?? '';
    if (key === 'summary') return ev.summary;
    const v = ev.data[key];
    return v === undefined || v === null ? all : typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
const RuleListQuery = z.object({
  enabled: z.string().optional().meta({ type: 'boolean', description: '`1`/`true` for enabled rules, else disabled' }),
  trigger_event: z.string().optional(),
  project_id: z.string().optional(),
});
/** Rule fields are checked by the helpers above (their sentences name nested fields); documented here. */
const ruleFields = {
  description: documented({ type: 'string', maxLength: 2000 }),
  conditions: documented({
    type: 'object',
    description: `Keys: ${CONDITION_KEYS.join(', ')}`,
  }),
  actions: documented({
    type: 'array',
    maxItems: 10,
    items: { type: 'object', properties: { type: { type: 'string', enum: [...ACTION_TYPES] } } },
  }),
  project_id: documented({ type: ['string', 'null'], maxLength: 200 }),
};
const trigger = { type: 'string', description: 'Event type the rule runs on (`*` for all)' };
const CreateRule = z.object({
  // "name and trigger_event are required" names both: checked by the handler.
  name: documentedRequired({ type: 'string', maxLength: 200 }),
  trigger_event: documentedRequired(trigger),
  ...ruleFields,
});
const UpdateRule = z.object({
  name: documented({ type: 'string', maxLength: 200 }),
  trigger_event: documented(trigger),
  enabled: documented({ type: 'boolean' }),
  ...ruleFields,
});
const FromTemplate = z.object({
  name: documented({ type: 'string', maxLength: 200, description: "Default: the template's" }),
  trigger_event: documented({ ...trigger, description: "Default: the template's" }),
  ...ruleFields,
});
const EventDataBody = z.object({
  event_data: sentence({ type: 'object', description: 'The event data the rule sees' }, (v) =>
    v === undefined || v === null || (typeof v === 'object' && !Array.isArray(v)) ? null : 'must be an object',
  ),
});
const LogQuery = z.object({
  rule_id: sentence({ type: 'integer', description: 'Rule id' }, (v) =>
    v === undefined || v === '' || parseIntId(v as string) !== null ? null : 'must be an integer',
  ),
  status: z.string().optional(),
  limit: intQuery(50, 1, 500),
});
const TemplateParams = z.object({ templateId: IdParams.shape.id });

export function setup(api: PluginApi) {
  const db = api.db;
  const getRule = async (raw: string) => {
    const id = parseIntId(raw);
    const r = id === null ? undefined : await db.get<RuleRow>('SELECT * FROM automation_rules WHERE id = ?', [id]);
    if (!r) throw notFound('Rule not found');
    return toRule(r);
  };

  async function runAction(a: Action, ev: Ctx): Promise<Record<string, unknown>> {
    const project = interpolate(a.project_id, ev) || ev.project_id || '';
    switch (a.type) {
      case 'create_task': {
        const task = await api.core.tasks.create(
          {
            title: interpolate(a.title, ev) || `Automation: ${ev.type}`,
            description: interpolate(a.description, ev),
            project_id: project,
            assignee: a.assignee ? interpolate(a.assignee, ev) : undefined,
          },
          ACTOR,
        );
        return { type: 'create_task', task_id: task.id };
      }
      case 'send_message': {
        const to = interpolate(a.to, ev);
        await api.core.messages.send(
          {
            to_agent: to || null,
            content: interpolate(a.content, ev) || ev.summary || ev.type,
            project_id: project || null,
          },
          ACTOR,
        );
        return { type: 'send_message', to };
      }
      case 'file_bug': {
        const bug = await api.core.bugs.file(
          {
            title: interpolate(a.title, ev) || `Automation: ${ev.type}`,
            description: interpolate(a.description, ev) || ev.summary,
            project_id: project,
            severity: typeof a.severity === 'string' ? a.severity : undefined,
          },
          ACTOR,
        );
        return { type: 'file_bug', bug_id: bug.id };
      }
      case 'assign_agent': {
        const agent = interpolate(a.agent_id, ev);
        const taskId = Number(ev.data.task_id ?? ev.data.id);
        if (!agent || agent === '__configure_me__' || !Number.isInteger(taskId) || taskId < 1)
          return { type: 'assign_agent', agent, skipped: true };
        const r = await api.core.tasks.assign(taskId, agent);
        return r.ok
          ? { type: 'assign_agent', agent, task_id: taskId }
          : { type: 'assign_agent', agent, task_id: taskId, skipped: true, reason: r.reason };
      }
      case 'send_webhook': {
        const url = interpolate(a.url, ev);
        try {
          const res = await api.fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ event: ev.type, agent: ev.agent, data: ev.data, summary: ev.summary }),
          });
          await res.body?.cancel().catch(() => undefined);
          return { type: 'send_webhook', url, status: res.status };
        } catch (err) {
          // A block is recorded, never retried (SEC-31).
          if (err instanceof SsrfBlockedError) return { type: 'send_webhook', url, blocked: true, reason: err.message };
          throw err;
        }
      }
      case 'inbox_notify': {
        await api.core.inbox.notifyOperators(
          {
            type: 'automation',
            entity_type: 'automation',
            entity_id: ev.type,
            title: interpolate(a.title, ev) || `Automation: ${ev.type}`,
            summary: interpolate(a.summary, ev) || ev.summary,
            priority: a.priority === 'urgent' || a.priority === 'low' ? a.priority : 'normal',
          },
          ACTOR,
        );
        return { type: 'inbox_notify' };
      }
      default:
        return { type: a.type, skipped: true, reason: 'unknown action type' };
    }
  }

  /** Runs every action in order; one failing action is recorded and the rest still run. */
  async function execute(rule: Rule, ev: Ctx) {
    const taken: Record<string, unknown>[] = [];
    const errors: string[] = [];
    for (const a of rule.actions) {
      try {
        taken.push(await runAction(a, ev));
      } catch (err) {
        const msg = (err as Error).message ?? String(err);
        errors.push(msg);
        taken.push({ type: a.type, error: msg });
      }
    }
    return { taken, status: errors.length ? 'error' : 'success', error: errors.join('; ') };
  }

  async function overLimit(): Promise<boolean> {
    const max = Number((await api.config.get('max_actions_per_minute')) ?? 30);
    if (!Number.isFinite(max) || max <= 0) return false;
    const n = await db.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM automation_log WHERE status <> 'rate_limited' AND dry_run = 0 AND created_at > datetime('now', '-60 seconds')",
    );
    return Number(n?.n ?? 0) >= max;
  }

  api.on('*', async (e: MyceliumEvent) => {
    // Loop protection: never react to our own events or to what an automation caused.
    if (e.type.startsWith('automation_') || e.agent === ACTOR) return;
    const ev: Ctx = {
      type: e.type,
      agent: e.agent,
      project_id: e.project_id,
      summary: e.summary,
      data: dataObject(e.data),
    };
    const rules = (
      await db.all<RuleRow>(
        "SELECT * FROM automation_rules WHERE enabled = 1 AND (trigger_event = ? OR trigger_event = '*') ORDER BY id",
        [e.type],
      )
    ).map(toRule);
    const dry = (await api.config.get('dry_run')) === 'true';
    for (const rule of rules) {
      if (rule.project_id && rule.project_id !== e.project_id) continue;
      if (!conditionsHold(rule.conditions, ev)) continue;
      const limited = !dry && (await overLimit());
      // Claim (rule, event) first: a second delivery of the same event inserts nothing and stops here.
      const claim = await db.get<{ id: number }>(
        `INSERT INTO automation_log (rule_id, rule_name, trigger_event, event_id, event_data, status, error, dry_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING RETURNING id`,
        [
          rule.id,
          rule.name,
          e.type,
          e.id,
          JSON.stringify(ev.data),
          limited ? 'rate_limited' : 'running',
          limited ? 'Exceeded max actions per minute' : '',
          dry ? 1 : 0,
        ],
      );
      if (!claim || limited) continue;
      const out = dry ? { taken: [], status: 'success', error: '' } : await execute(rule, ev);
      await api.atomic(async (tx, emit) => {
        await tx.run('UPDATE automation_log SET actions_taken = ?, status = ?, error = ? WHERE id = ?', [
          JSON.stringify(out.taken),
          out.status,
          out.error,
          claim.id,
        ]);
        await tx.run("UPDATE automation_rules SET run_count = run_count + 1, last_run = datetime('now') WHERE id = ?", [
          rule.id,
        ]);
        emit({
          type: 'automation_triggered',
          agent: '__system__',
          projectId: e.project_id,
          summary: `Automation "${rule.name}" ran on ${e.type}`,
          data: { rule_id: rule.id, rule_name: rule.name, actions: rule.actions.length, dry_run: dry, event_id: e.id },
        });
      });
    }
  });

  api.get(
    '/rules',
    async (req) => {
      const where = whereAll(ruleListFilters(req.input.query as z.output<typeof RuleListQuery>));
      return (
        await db.all<RuleRow>(`SELECT * FROM automation_rules ${where.sql} ORDER BY id DESC LIMIT 100`, where.args)
      ).map(toRule);
    },
    { summary: 'Automation rules (newest first, at most 100)', query: RuleListQuery, response: z.array(RuleOut) },
  );

  async function insertRule(
    b: Record<string, unknown>,
    who: string,
    base?: { name: string; description: string; trigger_event: string; conditions: string; actions: string },
  ) {
    const name = str(b, 'name', 200) ?? base?.name;
    const trigger = b.trigger_event === undefined ? base?.trigger_event : b.trigger_event;
    if (!name?.trim() || typeof trigger !== 'string' || !trigger)
      throw badRequest('name and trigger_event are required');
    if (!/^(\*|[a-z0-9_.:-]{1,64})$/.test(trigger)) throw badRequest('trigger_event must be an event type or "*"');
    const conditions = conditionsOf(b.conditions) ?? parseJson(base?.conditions, {});
    const actions = actionsOf(b.actions) ?? parseJson(base?.actions, []);
    const description = str(b, 'description', 2000) ?? base?.description ?? '';
    const projectId = str(b, 'project_id', 200) || null;
    return api.atomic(async (tx, emit) => {
      const row = await tx.get<RuleRow>(
        'INSERT INTO automation_rules (name, description, trigger_event, conditions, actions, project_id, created_by) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *',
        [name.trim(), description, trigger, JSON.stringify(conditions), JSON.stringify(actions), projectId, who],
      );
      const rule = toRule(row!);
      emit({
        type: 'automation_rule_created',
        agent: who,
        summary: `Automation rule created: ${rule.name}`,
        data: { rule_id: rule.id },
      });
      return rule;
    });
  }

  api.post(
    '/rules',
    async (req) => {
      const rule = await insertRule(req.body, req.who);
      return { ok: true, id: rule.id, rule };
    },
    {
      auth: 'admin',
      summary: 'Create a rule',
      body: CreateRule,
      response: z.object({ ok: z.boolean(), id: z.number(), rule: RuleOut }),
    },
  );

  api.get('/rules/:id', async (req) => getRule(req.params.id), {
    summary: 'One rule',
    response: RuleOut,
    params: IdParams,
    query: NoInput,
  });

  api.put(
    '/rules/:id',
    async (req) => {
      const rule = await getRule(req.params.id);
      const b = req.body;
      const trigger = b.trigger_event === undefined ? rule.trigger_event : b.trigger_event;
      if (typeof trigger !== 'string' || !/^(\*|[a-z0-9_.:-]{1,64})$/.test(trigger))
        throw badRequest('trigger_event must be an event type or "*"');
      const row = await db.get<RuleRow>(
        `UPDATE automation_rules SET name = ?, description = ?, trigger_event = ?, conditions = ?, actions = ?, enabled = ?, project_id = ?, updated_at = datetime('now') WHERE id = ? RETURNING *`,
        [
          (str(b, 'name', 200) ?? rule.name).trim() || rule.name,
          str(b, 'description', 2000) ?? rule.description,
          trigger,
          JSON.stringify(conditionsOf(b.conditions) ?? rule.conditions),
          JSON.stringify(actionsOf(b.actions) ?? rule.actions),
          b.enabled === undefined ? rule.enabled : b.enabled ? 1 : 0,
          b.project_id === undefined ? rule.project_id : str(b, 'project_id', 200) || null,
          rule.id,
        ],
      );
      return { ok: true, rule: toRule(row!) };
    },
    {
      auth: 'admin',
      summary: 'Update a rule',
      params: IdParams,
      body: UpdateRule,
      lazyBody: true,
      response: z.object({ ok: z.boolean(), rule: RuleOut }),
    },
  );

  api.delete(
    '/rules/:id',
    async (req) => {
      const rule = await getRule(req.params.id);
      await api.atomic(async (tx, emit) => {
        await tx.run('DELETE FROM automation_rules WHERE id = ?', [rule.id]);
        emit({
          type: 'automation_rule_deleted',
          agent: req.who,
          summary: `Automation rule deleted: ${rule.name}`,
          data: { rule_id: rule.id },
        });
      });
      return { ok: true };
    },
    {
      auth: 'admin',
      summary: 'Delete a rule',
      params: IdParams,
      query: NoInput,
      response: z.object({ ok: z.boolean() }),
    },
  );

  /** The validated `event_data` ({} when absent or null); read after the rule's 404. */
  const eventData = (b: unknown) => ((b as z.output<typeof EventDataBody>).event_data ?? {}) as Record<string, unknown>;

  api.post(
    '/rules/:id/test',
    async (req) => {
      const rule = await getRule(req.params.id);
      const d = eventData(req.input.body);
      const type = typeof d.type === 'string' ? d.type : rule.trigger_event;
      const matched = conditionsHold(rule.conditions, {
        type,
        agent: typeof d.agent === 'string' ? d.agent : '',
        project_id: typeof d.project_id === 'string' ? d.project_id : null,
        summary: '',
        data: d,
      });
      return {
        ok: true,
        rule_id: rule.id,
        rule_name: rule.name,
        matched,
        conditions: rule.conditions,
        event_data: d,
        actions_count: rule.actions.length,
        note: matched
          ? 'Conditions matched — actions would execute'
          : 'Conditions did not match — no actions would execute',
      };
    },
    {
      auth: 'admin',
      summary: "Dry-run a rule's conditions against event data",
      params: IdParams,
      body: EventDataBody,
      lazyBody: true,
      response: z.object({
        ok: z.boolean(),
        rule_id: z.number(),
        rule_name: z.string(),
        matched: z.boolean(),
        conditions: z.unknown(),
        event_data: z.record(z.string(), z.unknown()),
        actions_count: z.number(),
        note: z.string(),
      }),
    },
  );

  api.post(
    '/rules/:id/trigger',
    async (req) => {
      const rule = await getRule(req.params.id);
      const d = eventData(req.input.body);
      const ev: Ctx = {
        type: rule.trigger_event,
        agent: req.who,
        project_id: typeof d.project_id === 'string' ? d.project_id : rule.project_id,
        summary: `Manual trigger of ${rule.name}`,
        data: d,
      };
      const out = await execute(rule, ev);
      await api.atomic(async (tx, emit) => {
        await tx.run(
          'INSERT INTO automation_log (rule_id, rule_name, trigger_event, actions_taken, event_data, status, error) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [rule.id, rule.name, rule.trigger_event, JSON.stringify(out.taken), JSON.stringify(d), out.status, out.error],
        );
        await tx.run("UPDATE automation_rules SET run_count = run_count + 1, last_run = datetime('now') WHERE id = ?", [
          rule.id,
        ]);
        emit({
          type: 'automation_triggered',
          agent: req.who,
          summary: `Automation "${rule.name}" triggered manually`,
          data: { rule_id: rule.id, rule_name: rule.name, actions: rule.actions.length, dry_run: false, manual: true },
        });
      });
      return {
        ok: true,
        rule_id: rule.id,
        status: out.status,
        actions: out.taken,
        ...(out.error ? { error: out.error } : {}),
      };
    },
    {
      auth: 'admin',
      summary: "Run a rule's actions now with the given event data",
      params: IdParams,
      body: EventDataBody,
      lazyBody: true,
      response: z.object({
        ok: z.boolean(),
        rule_id: z.number(),
        status: z.string(),
        actions: z.array(z.unknown()),
        error: z.string().optional(),
      }),
    },
  );

  const logOut = (r: Record<string, unknown>) => ({
    ...r,
    actions_taken: parseJson(r.actions_taken, []),
    event_data: parseJson(r.event_data, {}),
  });

  api.get(
    '/log',
    async (req) => {
      const q = req.input.query as { rule_id?: string; status?: string; limit: number };
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.rule_id) {
        where.push('rule_id = ?');
        args.push(parseIntId(q.rule_id)!);
      }
      if (q.status) {
        where.push('status = ?');
        args.push(q.status);
      }
      return (
        await db.all(
          `SELECT * FROM automation_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
          [...args, q.limit],
        )
      ).map(logOut);
    },
    { summary: 'Recent executions, newest first', query: LogQuery, response: z.array(LogOut) },
  );

  api.get(
    '/stats',
    async () => {
      const [byStatus, byRule, last] = await Promise.all([
        db.all('SELECT status, COUNT(*) AS count FROM automation_log GROUP BY status'),
        db.all(
          'SELECT rule_id, rule_name, COUNT(*) AS count FROM automation_log GROUP BY rule_id ORDER BY count DESC LIMIT 20',
        ),
        db.get<{ n: number }>("SELECT COUNT(*) AS n FROM automation_log WHERE created_at > datetime('now', '-1 day')"),
      ]);
      return { by_status: byStatus, by_rule: byRule, last_24h: Number(last?.n ?? 0) };
    },
    {
      summary: 'Execution counts by status and rule, last 24 h',
      query: NoInput,
      response: z.object({ by_status: z.array(StatusCount), by_rule: z.array(RuleCount), last_24h: z.number() }),
    },
  );

  const TemplatesQuery = z.object({ category: z.string().optional() });
  api.get(
    '/templates',
    async (req) => {
      const { category } = req.input.query as z.output<typeof TemplatesQuery>;
      const rows = category
        ? await db.all('SELECT * FROM automation_templates WHERE category = ? ORDER BY id', [category])
        : await db.all('SELECT * FROM automation_templates ORDER BY id');
      return rows.map((r) => ({ ...r, conditions: parseJson(r.conditions, {}), actions: parseJson(r.actions, []) }));
    },
    { summary: 'Rule templates', query: TemplatesQuery, response: z.array(TemplateOut) },
  );

  api.post(
    '/rules/from-template/:templateId',
    async (req) => {
      const id = parseIntId(req.params.templateId);
      const tpl =
        id === null
          ? undefined
          : await db.get<{
              name: string;
              description: string;
              trigger_event: string;
              conditions: string;
              actions: string;
            }>('SELECT * FROM automation_templates WHERE id = ?', [id]);
      if (!tpl) throw notFound('Template not found');
      const rule = await insertRule(req.body, req.who, tpl);
      return { ok: true, id: rule.id, rule, template_id: id };
    },
    {
      auth: 'admin',
      summary: 'Create a rule from a template (body fields override it)',
      params: TemplateParams,
      body: FromTemplate,
      response: z.object({ ok: z.boolean(), id: z.number(), rule: RuleOut, template_id: z.number() }),
    },
  );

  api.get(
    '/widgets/activity',
    async () => {
      const [last, byStatus, top, recent] = await Promise.all([
        db.get<{ n: number }>("SELECT COUNT(*) AS n FROM automation_log WHERE created_at > datetime('now', '-1 day')"),
        db.all('SELECT status, COUNT(*) AS count FROM automation_log GROUP BY status'),
        db.all(
          'SELECT rule_id, rule_name, COUNT(*) AS count FROM automation_log GROUP BY rule_id ORDER BY count DESC LIMIT 5',
        ),
        db.all('SELECT * FROM automation_log ORDER BY id DESC LIMIT 10'),
      ]);
      return {
        triggered_last_24h: Number(last?.n ?? 0),
        by_status: byStatus,
        top_rules: top,
        recent: recent.map(logOut),
      };
    },
    {
      summary: 'Dashboard widget: activity',
      query: NoInput,
      response: z.object({
        triggered_last_24h: z.number(),
        by_status: z.array(StatusCount),
        top_rules: z.array(RuleCount),
        recent: z.array(LogOut),
      }),
    },
  );
}
