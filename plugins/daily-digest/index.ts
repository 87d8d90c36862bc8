import {
  IdParams,
  intQuery,
  NoInput,
  notFound,
  parseIntId,
  parseJson,
  sentence,
  sqlTime,
  z,
  dataObject,
  SsrfBlockedError,
  type PluginApi,
  type PluginEventInput,
} from '../../worker/src/plugins/sdk.js';

/**
 * daily-digest (spec 06 §5.9, W17, W21): per-project activity summaries. A maintenance job
 * (Node timer / Workers cron) generates them once per project and local day (or Monday for
 * weekly) after the configured hour in the configured time zone, and delivers them to the
 * operator inbox, optionally #general and Slack (SSRF-guarded). Event counters feed trends
 * and are kept apart from report snapshots.
 */

const DAY = 86_400_000;
const METRICS = ['tasks_completed', 'bugs_fixed', 'plan_steps_completed', 'messages_sent'] as const;

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
/** `type`: daily (the default when absent, null or empty) or weekly. */
const digestType = sentence({ type: 'string', enum: ['daily', 'weekly'], description: 'Default daily' }, (v) =>
  v === undefined || v === null || v === '' || v === 'daily' || v === 'weekly' ? null : 'must be daily or weekly',
);
const typeOf = (v: unknown): 'daily' | 'weekly' => (v === 'weekly' ? 'weekly' : 'daily');
const ReportsQuery = z.object({
  type: digestType,
  project_id: z.string().optional(),
  limit: intQuery(50, 1, 200),
  offset: intQuery(0, 0, 1_000_000),
});
const GenerateBody = z.object({
  type: digestType,
  project_id: sentence({ type: ['string', 'null'], description: 'Default: all projects' }, (v) =>
    v === undefined || v === null || typeof v === 'string' ? null : 'must be a string',
  ),
});
const PreviewQuery = z.object({ type: digestType, project_id: z.string().optional() });
const TrendsQuery = z.object({
  metric: sentence({ type: 'string', enum: [...METRICS], description: 'Default tasks_completed' }, (v) =>
    v === undefined || v === '' || (METRICS as readonly unknown[]).includes(v)
      ? null
      : `must be one of: ${METRICS.join(', ')}`,
  ),
  periods: intQuery(14, 1, 366),
});

/** Local date, weekday and hour of an instant in an IANA zone (throws on an unknown zone). */
export function localParts(d: Date, timeZone: string) {
  const f = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
    weekday: 'short',
  });
  const parts = Object.fromEntries(f.formatToParts(d).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, hour: Number(parts.hour), weekday: parts.weekday };
}

export function setup(api: PluginApi) {
  const db = api.db;
  const core = api.core;

  async function collect(type: 'daily' | 'weekly', projectId: string | undefined, end: Date) {
    const start = new Date(end.getTime() - (type === 'weekly' ? 7 : 1) * DAY);
    const since = sqlTime(start);
    // Timestamps have one-second resolution: the current second belongs to this window.
    const until = sqlTime(new Date(end.getTime() + 1000));
    const [tasks, bugs, steps, messages, agents] = await Promise.all([
      core.tasks.changedBetween({ status: 'done', since, until, projectId }),
      core.bugs.changedBetween({ status: 'fixed', since, until, projectId }),
      core.planSteps.completedBetween(since, until, projectId),
      core.messages.countBetween(since, until, projectId),
      core.agents.list(),
    ]);
    const inScope = projectId ? agents.filter((a) => a.project_id === projectId) : agents;
    const stats: Record<string, { tasks: number; bugs: number; steps: number }> = {};
    const bump = (who: string | null, k: 'tasks' | 'bugs' | 'steps') => {
      const key = who || 'unassigned';
      stats[key] ??= { tasks: 0, bugs: 0, steps: 0 };
      stats[key][k]++;
    };
    tasks.forEach((t) => {
      bump(t.assignee, 'tasks');
    });
    bugs.forEach((b) => {
      bump(b.assignee, 'bugs');
    });
    steps.forEach((s) => {
      bump(s.assignee, 'steps');
    });
    const content = {
      project_id: projectId ?? null,
      period: { start: since, end: until },
      tasks_completed: tasks.length,
      bugs_fixed: bugs.length,
      plan_steps_completed: steps.length,
      messages_sent: messages,
      agent_count: inScope.length,
      agents_online: inScope.filter((a) => a.status !== 'offline').length,
      agent_stats: stats,
      tasks: tasks.map((t) => ({ id: t.id, title: t.title, assignee: t.assignee })),
      bugs: bugs.map((b) => ({ id: b.id, title: b.title, assignee: b.assignee })),
      steps: steps.map((s) => ({ id: s.id, title: s.title, plan_title: s.plan_title, assignee: s.assignee })),
    };
    const lines = [
      `${type === 'weekly' ? 'Weekly' : 'Daily'} digest${projectId ? ` for ${projectId}` : ''}`,
      `Period: ${since} → ${until} UTC`,
      `Tasks completed: ${content.tasks_completed}`,
      `Bugs fixed: ${content.bugs_fixed}`,
      `Plan steps completed: ${content.plan_steps_completed}`,
      `Messages sent: ${messages}`,
      `Agents online: ${content.agents_online}/${content.agent_count}`,
    ];
    const breakdown = Object.entries(stats);
    if (breakdown.length) {
      lines.push('Agent breakdown:');
      for (const [who, s] of breakdown) lines.push(`  ${who}: ${s.tasks} tasks, ${s.bugs} bugs, ${s.steps} steps`);
    }
    const activity = tasks.length + bugs.length + steps.length + messages;
    return { start: since, end: until, content, summary: lines.join('\n'), activity };
  }

  /** Delivers a report and records where; `event` (built from the destinations) commits with that record. */
  async function deliver(
    reportId: number,
    type: string,
    projectId: string,
    summary: string,
    event?: (delivered: string[]) => PluginEventInput,
  ) {
    const delivered: string[] = [];
    const errors: string[] = [];
    await core.inbox.notifyOperators({
      type: 'digest_report',
      entity_type: 'digest_report',
      entity_id: reportId,
      title: `${type === 'weekly' ? 'Weekly' : 'Daily'} digest${projectId ? `: ${projectId}` : ''}`,
      summary: summary.slice(0, 2000),
    });
    delivered.push('inbox');
    if ((await api.config.get('post_to_channel')) === 'true') {
      try {
        await core.messages.send({ content: summary, project_id: projectId || null, msg_type: 'info' }, '__digest__');
        delivered.push('channel');
      } catch (err) {
        errors.push(`channel: ${(err as Error).message}`);
      }
    }
    const slack = await api.config.get('slack_webhook');
    if (slack) {
      try {
        const res = await api.fetch(slack, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ text: `*${type} Digest*\n${summary}` }),
        });
        await res.body?.cancel().catch(() => undefined);
        if (res.ok) delivered.push('slack');
        else errors.push(`slack: HTTP ${res.status}`);
      } catch (err) {
        // A blocked or failed delivery is recorded, never retried (SEC-31).
        errors.push(`slack: ${err instanceof SsrfBlockedError ? 'blocked: ' : ''}${(err as Error).message}`);
      }
    }
    await api.atomic(async (tx, emit) => {
      await tx.run('UPDATE digest_reports SET delivered_to = ? WHERE id = ?', [JSON.stringify(delivered), reportId]);
      if (event) emit(event(delivered));
    });
    return { delivered, errors };
  }

  /** Stores (once per schedule key, when given) and delivers one report. Null when another run already made it. */
  async function generate(type: 'daily' | 'weekly', projectId: string, scheduleKey: string | null, skipEmpty: boolean) {
    const d = await collect(type, projectId || undefined, api.clock.now());
    if (skipEmpty && d.activity === 0) return null;
    const row = await db.get<{ id: number }>(
      `INSERT INTO digest_reports (project_id, period_start, period_end, digest_type, schedule_key, content, summary) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING RETURNING id`,
      [projectId, d.start, d.end, type, scheduleKey, JSON.stringify(d.content), d.summary],
    );
    if (!row) return null;
    const { delivered, errors } = await deliver(row.id, type, projectId, d.summary, (to) => ({
      type: 'digest_generated',
      projectId: projectId || null,
      summary: `${type} digest generated${projectId ? ` for ${projectId}` : ''}`,
      data: { report_id: row.id, digest_type: type, delivered_to: to },
    }));
    return {
      report_id: row.id,
      digest_type: type,
      project_id: projectId,
      summary: d.summary,
      delivered_to: delivered,
      ...(errors.length ? { delivery_errors: errors } : {}),
    };
  }

  /** The scheduler (W21): after the local hour, once per project and local day (weekly: Mondays). */
  async function scheduled() {
    const tz = (await api.config.get('timezone')) || 'UTC';
    const hour = Number((await api.config.get('digest_hour')) ?? 8);
    const type = (await api.config.get('schedule')) === 'weekly' ? 'weekly' : 'daily';
    let local;
    try {
      local = localParts(api.clock.now(), tz);
    } catch {
      api.log.error(`unknown timezone "${tz}"; digests are not generated until it is fixed`);
      return { generated: 0 };
    }
    if (local.hour < hour) return { generated: 0 };
    if (type === 'weekly' && local.weekday !== 'Mon') return { generated: 0 };
    let generated = 0;
    for (const p of await core.projects.list()) {
      if (await generate(type, p.id, local.date, true)) generated++;
    }
    return { generated };
  }
  api.job({ name: 'scheduled-digest', everyMs: 15 * 60_000, run: scheduled });

  // Event counters (for trends), one per event and agent, separate from report snapshots.
  const count = async (metric: string, ev: { id: number | null; agent: string; created_at: string }) => {
    const period = ev.created_at.slice(0, 10);
    for (const key of [ev.agent || 'unknown', 'total']) {
      await db.run(
        'INSERT INTO digest_metrics (metric_type, metric_key, value, period, event_id) VALUES (?, ?, 1, ?, ?) ON CONFLICT DO NOTHING',
        [metric, key, period, ev.id],
      );
    }
  };
  api.on('task_done', (ev) => count('tasks_completed', ev));
  api.on('plan_step_completed', (ev) => count('plan_steps_completed', ev));
  api.on('bug_updated', async (ev) => {
    const id = Number(dataObject(ev.data).bug_id);
    if (!Number.isInteger(id) || id < 1) return;
    const bug = await core.bugs.get(id);
    if (bug?.status === 'fixed') await count('bugs_fixed', ev);
  });

  // Declared answers (issue 15): the host shapes each answer through its schema, so a column
  // added later never leaves unless it is named here.
  const ReportOut = z.object({
    id: z.number(),
    project_id: z.string(),
    period_start: z.string(),
    period_end: z.string(),
    digest_type: z.string(),
    /** The local date a scheduled report is for (null when generated on demand). */
    schedule_key: z.string().nullable(),
    /** The digest's computed sections: free-form JSON that grows with the digest. */
    content: z.unknown(),
    summary: z.string(),
    delivered_to: z.array(z.unknown()),
    created_at: z.string(),
  });
  const TrendsOut = z.object({
    metric: z.string(),
    periods: z.number(),
    data: z.array(z.object({ period: z.string(), total: z.number() })),
  });

  const reportOut = (r: Record<string, unknown>) => ({
    ...r,
    content: parseJson(r.content, {}),
    delivered_to: parseJson(r.delivered_to, []),
  });

  api.get(
    '/reports',
    async (req) => {
      const q = req.input.query as z.output<typeof ReportsQuery>;
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.type) {
        where.push('digest_type = ?');
        args.push(typeOf(q.type));
      }
      if (q.project_id !== undefined) {
        where.push('project_id = ?');
        args.push(q.project_id);
      }
      return (
        await db.all(
          `SELECT * FROM digest_reports ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ? OFFSET ?`,
          [...args, q.limit, q.offset],
        )
      ).map(reportOut);
    },
    { summary: 'Stored reports, newest first', query: ReportsQuery, response: z.array(ReportOut) },
  );

  api.get(
    '/reports/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const r = id === null ? undefined : await db.get('SELECT * FROM digest_reports WHERE id = ?', [id]);
      if (!r) throw notFound('Report not found');
      return reportOut(r);
    },
    { summary: 'One report', params: IdParams, query: NoInput, response: ReportOut },
  );

  api.post(
    '/generate',
    async (req) => {
      const b = req.input.body as z.output<typeof GenerateBody>;
      const out = await generate(typeOf(b.type), (b.project_id as string | null | undefined) ?? '', null, false);
      return { ok: true, ...out! };
    },
    {
      auth: 'admin',
      summary: 'Generate and deliver a digest now',
      body: GenerateBody,
      response: z.object({
        ok: z.boolean(),
        report_id: z.number(),
        digest_type: z.string(),
        project_id: z.string(),
        summary: z.string(),
        delivered_to: z.array(z.unknown()),
        delivery_errors: z.array(z.unknown()).optional(),
      }),
    },
  );

  api.get(
    '/preview',
    async (req) => {
      const q = req.input.query as z.output<typeof PreviewQuery>;
      const type = typeOf(q.type);
      const d = await collect(type, q.project_id || undefined, api.clock.now());
      return { digest_type: type, data: d.content, summary: d.summary };
    },
    {
      auth: 'admin',
      summary: 'A digest for the period, not stored',
      query: PreviewQuery,
      // `data` is the digest's computed sections: free-form JSON that grows with the digest.
      response: z.object({ digest_type: z.string(), data: z.unknown(), summary: z.string() }),
    },
  );

  api.post(
    '/deliver/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const r =
        id === null
          ? undefined
          : await db.get<{ id: number; digest_type: string; project_id: string; summary: string }>(
              'SELECT * FROM digest_reports WHERE id = ?',
              [id],
            );
      if (!r) throw notFound('Report not found');
      const { delivered, errors } = await deliver(r.id, r.digest_type, r.project_id, r.summary);
      return {
        ok: true,
        report_id: r.id,
        delivered_to: delivered,
        ...(errors.length ? { delivery_errors: errors } : {}),
      };
    },
    {
      auth: 'admin',
      summary: 'Deliver a stored report again',
      params: IdParams,
      body: NoInput,
      response: z.object({
        ok: z.boolean(),
        report_id: z.number(),
        delivered_to: z.array(z.string()),
        delivery_errors: z.array(z.string()).optional(),
      }),
    },
  );

  api.get(
    '/trends',
    async (req) => {
      const q = req.input.query as { metric?: string; periods: number };
      const metric = q.metric || 'tasks_completed';
      const periods = q.periods;
      if (metric === 'messages_sent') {
        const now = api.clock.now();
        const data = [];
        for (let i = 0; i < periods; i++) {
          const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - i * DAY);
          data.push({
            period: day.toISOString().slice(0, 10),
            total: await core.messages.countBetween(sqlTime(day), sqlTime(new Date(day.getTime() + DAY))),
          });
        }
        return { metric, periods, data };
      }
      const rows = await db.all<{ period: string; total: number }>(
        "SELECT period, SUM(value) AS total FROM digest_metrics WHERE metric_type = ? AND metric_key = 'total' GROUP BY period ORDER BY period DESC LIMIT ?",
        [metric, periods],
      );
      return { metric, periods, data: rows.map((r) => ({ period: r.period, total: Number(r.total) })) };
    },
    { summary: 'Daily counters over recent days', query: TrendsQuery, response: TrendsOut },
  );

  api.get(
    '/widgets/velocity',
    async () => {
      const date = api.clock.now().toISOString().slice(0, 10);
      const sum = async (m: string) =>
        Number(
          (
            await db.get<{ n: number }>(
              "SELECT COALESCE(SUM(value), 0) AS n FROM digest_metrics WHERE metric_type = ? AND metric_key = 'total' AND period = ?",
              [m, date],
            )
          )?.n ?? 0,
        );
      return { date, tasks_completed: await sum('tasks_completed'), bugs_fixed: await sum('bugs_fixed') };
    },
    {
      summary: 'Dashboard widget: velocity today',
      query: NoInput,
      response: z.object({ date: z.string(), tasks_completed: z.number(), bugs_fixed: z.number() }),
    },
  );
}
