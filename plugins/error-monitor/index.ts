import {
  AppError,
  badRequest,
  forbidden,
  notFound,
  IdParams,
  intQuery,
  NoInput,
  parseIntId,
  parseJson,
  sentence,
  z,
  dataObject,
  hmacSha256Hex,
  secretsEqual,
  reply,
  type PluginApi,
  type PluginRequest,
} from '../../worker/src/plugins/sdk.js';

/**
 * error-monitor (spec 06 §5.8, W15, SEC-42): inbound error-tracker webhooks are accepted only
 * with the configured secret (constant-time, header only) or a valid Sentry HMAC signature over
 * the exact body bytes; replayed deliveries are acknowledged without effect; errors are
 * deduplicated by key in one upsert; past the threshold one bug is filed through the core bug
 * path (claimed by a conditional update so concurrent deliveries file it once).
 */

type Parsed = { key: string; title: string; message: string; url: string; stack: string };

const s = (v: unknown, max = 2000) =>
  (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v)).slice(0, max);

const PARSERS: Record<string, (b: Record<string, unknown>) => Parsed | null> = {
  sentry(b) {
    const issue = dataObject(dataObject(b.data).issue);
    if (issue.id === undefined || issue.id === null || issue.id === '') return null;
    return {
      key: `sentry:${s(issue.id, 200)}`,
      title: s(issue.title, 500),
      message: s(dataObject(issue.metadata).value),
      url: s(issue.permalink, 1000),
      stack: '',
    };
  },
  bugsnag(b) {
    const e = dataObject(b.error);
    if (!e.exceptionClass && !e.message) return null;
    return {
      key: `bugsnag:${s(e.exceptionClass, 200)}:${s(e.message).slice(0, 100)}`,
      title: s(e.exceptionClass, 500),
      message: s(e.message),
      url: s(e.url, 1000),
      stack: s(e.stackTrace, 20_000),
    };
  },
  datadog(b) {
    if (b.id === undefined || b.id === null || b.id === '') return null;
    return {
      key: `datadog:${s(b.id, 200)}`,
      title: s(b.title, 500),
      message: s(b.text),
      url: s(b.url, 1000),
      stack: '',
    };
  },
};

interface ErrorRow {
  id: number;
  provider: string;
  title: string;
  message: string;
  stack_trace: string;
  url: string;
  occurrences: number;
  bug_id: number | null;
  status: string;
  payload: string;
}

// Declared answers (issue 15): the host shapes each answer through its schema, so the internal
// `filing` flag, or a column added later, never leaves unless it is named here.
const ErrorOut = z.object({
  id: z.number(),
  provider: z.string(),
  error_key: z.string(),
  title: z.string(),
  message: z.string(),
  stack_trace: z.string(),
  url: z.string(),
  occurrences: z.number(),
  first_seen: z.string(),
  last_seen: z.string(),
  /** The provider's last delivery: free-form JSON. */
  payload: z.unknown(),
  bug_id: z.number().nullable(),
  status: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
const WebhookOut = z.object({
  ok: z.boolean(),
  duplicate: z.boolean().optional(),
  error_id: z.number().optional(),
  is_new: z.boolean().optional(),
  occurrences: z.number().optional(),
});
const StatsOut = z.object({
  by_provider: z.array(z.object({ provider: z.string(), count: z.number() })),
  by_status: z.array(z.object({ status: z.string(), count: z.number() })),
  last_24h: z.number(),
  top_errors: z.array(ErrorOut),
});

const out = (r: Record<string, unknown>) => {
  const { filing: _f, ...rest } = r;
  return { ...rest, payload: parseJson(r.payload, {}) };
};

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
const STATUSES = ['open', 'muted', 'resolved'];
const EventsQuery = z.object({
  provider: z
    .string()
    .optional()
    .meta({ enum: Object.keys(PARSERS) }),
  status: z.string().optional().meta({ enum: STATUSES }),
  limit: intQuery(50, 1, 200),
  offset: intQuery(0, 0, 1_000_000),
});
const TriageBody = z.object({
  status: sentence({ type: 'string', enum: STATUSES }, (v) =>
    v === undefined || STATUSES.includes(v as string) ? null : `must be one of: ${STATUSES.join(', ')}`,
  ),
  bug_id: sentence({ type: ['integer', 'null'], minimum: 1, description: 'Link to this bug (null unlinks)' }, (v) =>
    v === undefined || v === null || (typeof v === 'number' && Number.isInteger(v) && v > 0)
      ? null
      : 'must be a positive integer',
  ),
});

export function setup(api: PluginApi) {
  const db = api.db;

  async function verify(req: PluginRequest) {
    const secret = await api.config.get('webhook_secret');
    // SEC-42: no secret configured means no intake at all (no admin-key or query fallback, W15).
    if (!secret) throw new AppError(503, 'Webhook secret not configured');
    const header = req.headers.get('x-webhook-secret');
    if (header !== null) {
      if (await secretsEqual(header, secret)) return;
      throw forbidden('Invalid webhook secret');
    }
    const sig = req.headers.get('sentry-hook-signature');
    if (sig !== null) {
      if (!req.rawBody.length) throw badRequest('Request body required for signature verification');
      if (await secretsEqual(sig.trim().toLowerCase(), await hmacSha256Hex(secret, req.rawBody))) return;
    }
    throw forbidden('Invalid webhook secret');
  }

  async function fileBug(e: ErrorRow): Promise<number | null> {
    // Claim: only one delivery (or admin call) gets to file the bug for this error.
    const claimed = await db.get(
      'UPDATE error_events SET filing = 1 WHERE id = ? AND bug_id IS NULL AND filing = 0 RETURNING id',
      [e.id],
    );
    if (!claimed) return null;
    try {
      const project = (await api.config.get('default_project')) || 'mycelium';
      const severity = (await api.config.get('default_severity')) || 'normal';
      const bug = await api.core.bugs.file(
        {
          title: `[${e.provider}] ${e.title || 'Error'}`.slice(0, 300),
          description: [
            e.message,
            e.stack_trace ? `\nStack:\n${e.stack_trace.slice(0, 5000)}` : '',
            e.url ? `\nLink: ${e.url}` : '',
            `\nOccurrences: ${e.occurrences}`,
          ].join(''),
          project_id: project,
          severity,
          category: 'other',
        },
        '__system__',
      );
      await api.atomic(async (tx, emit) => {
        await tx.run("UPDATE error_events SET bug_id = ?, filing = 0, updated_at = datetime('now') WHERE id = ?", [
          bug.id,
          e.id,
        ]);
        emit({
          type: 'error_bug_filed',
          projectId: project,
          summary: `Bug #${bug.id} filed for ${e.provider} error: ${e.title}`,
          data: { bug_id: bug.id, error_id: e.id, provider: e.provider },
        });
      });
      await api.core.inbox.notifyOperators({
        type: 'error_bug',
        entity_type: 'bug',
        entity_id: bug.id,
        title: `Bug filed from ${e.provider}: ${e.title}`.slice(0, 300),
        summary: e.message.slice(0, 300),
        priority: severity === 'critical' ? 'urgent' : 'normal',
      });
      return bug.id;
    } catch (err) {
      await db.run('UPDATE error_events SET filing = 0 WHERE id = ?', [e.id]);
      throw err;
    }
  }

  for (const provider of Object.keys(PARSERS)) {
    api.post(
      `/webhook/${provider}`,
      async (req) => {
        await verify(req);
        const delivery =
          req.headers.get('x-delivery-id') ?? req.headers.get('request-id') ?? req.headers.get('x-request-id');
        const project = (await api.config.get('default_project')) || null;
        // The delivery's dedupe row, the deduplicated error and its error_received event: all or
        // nothing (a refused payload records no delivery, so the corrected one is not a "duplicate").
        const e = await api.atomic(async (tx, emit) => {
          if (delivery) {
            const fresh = await tx.get(
              'INSERT INTO error_deliveries (delivery_id) VALUES (?) ON CONFLICT DO NOTHING RETURNING delivery_id',
              [`${provider}:${delivery.slice(0, 200)}`],
            );
            if (!fresh) return null;
          }
          const p = PARSERS[provider](req.body);
          if (!p) throw badRequest(`Unrecognised ${provider} payload`);
          const payload = JSON.stringify(req.body).slice(0, 100_000);
          const row = (await tx.get<ErrorRow & { created_at: string; updated_at: string }>(
            `INSERT INTO error_events (provider, error_key, title, message, stack_trace, url, payload) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(error_key) DO UPDATE SET occurrences = occurrences + 1, last_seen = datetime('now'), payload = excluded.payload, updated_at = datetime('now')
           RETURNING *`,
            [provider, p.key, p.title, p.message, p.stack, p.url, payload],
          ))!;
          emit({
            type: 'error_received',
            projectId: project,
            summary: `${provider} error: ${row.title}`.slice(0, 300),
            data: { error_id: row.id, provider, is_new: Number(row.occurrences) === 1, occurrences: row.occurrences },
          });
          return row;
        });
        if (!e) return { ok: true, duplicate: true };
        const isNew = Number(e.occurrences) === 1;
        const threshold = Math.max(1, Number((await api.config.get('auto_file_threshold')) ?? 1) || 1);
        if (e.occurrences >= threshold && e.bug_id === null && e.status !== 'muted') await fileBug(e);
        if (isNew)
          await api.core.inbox.notifyOperators({
            type: 'error_received',
            entity_type: 'error_event',
            entity_id: e.id,
            title: `New ${provider} error: ${e.title}`.slice(0, 300),
            summary: e.message.slice(0, 300),
          });
        return { ok: true, error_id: e.id, is_new: isNew, occurrences: e.occurrences };
      },
      {
        auth: 'public',
        summary: `${provider} webhook (X-Webhook-Secret header${provider === 'sentry' ? ' or Sentry-Hook-Signature' : ''})`,
        // Read as bytes: the Sentry signature covers the exact body.
        body: 'raw',
        response: WebhookOut,
      },
    );
  }

  // A linked bug fixed or closed resolves its open errors (the core emits bug_updated on status changes).
  api.on('bug_updated', async (ev) => {
    const bugId = Number(dataObject(ev.data).bug_id);
    if (!Number.isInteger(bugId) || bugId < 1) return;
    const bug = await api.core.bugs.get(bugId);
    if (!bug || (bug.status !== 'fixed' && bug.status !== 'closed')) return;
    await db.run(
      "UPDATE error_events SET status = 'resolved', updated_at = datetime('now') WHERE bug_id = ? AND status = 'open'",
      [bugId],
    );
  });

  const get = async (raw: string) => {
    const id = parseIntId(raw);
    const e = id === null ? undefined : await db.get<ErrorRow>('SELECT * FROM error_events WHERE id = ?', [id]);
    if (!e) throw notFound('Error event not found');
    return e;
  };

  api.get(
    '/events',
    async (req) => {
      const q = req.input.query as z.output<typeof EventsQuery>;
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.provider) {
        where.push('provider = ?');
        args.push(q.provider);
      }
      if (q.status) {
        where.push('status = ?');
        args.push(q.status);
      }
      return (
        await db.all(
          `SELECT * FROM error_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?`,
          [...args, q.limit, q.offset],
        )
      ).map(out);
    },
    { summary: 'Deduplicated errors, most recently seen first', query: EventsQuery, response: z.array(ErrorOut) },
  );

  api.get('/events/:id', async (req) => out((await get(req.params.id)) as unknown as Record<string, unknown>), {
    summary: 'One error with its last payload',
    response: ErrorOut,
    params: IdParams,
    query: NoInput,
  });

  /** An error belongs to its linked bug's project, else to the project its bug would be filed in. */
  const projectOf = async (bugId: number | null) =>
    (bugId === null ? null : (await api.core.bugs.get(bugId))?.project_id) ??
    ((await api.config.get('default_project')) || 'mycelium');

  api.put(
    '/events/:id',
    async (req) => {
      const e = await get(req.params.id);
      const b = req.input.body as z.output<typeof TriageBody>;
      // W3: humans may triage any error; an agent only errors of its projects, and may re-link only to a bug it could touch.
      await api.core.projects.assertWrite(req.principal!, await projectOf(e.bug_id));
      if (typeof b.bug_id === 'number' && b.bug_id !== e.bug_id)
        await api.core.projects.assertWrite(req.principal!, await projectOf(b.bug_id));
      const row = await db.get(
        "UPDATE error_events SET status = ?, bug_id = ?, updated_at = datetime('now') WHERE id = ? RETURNING *",
        [
          (b.status as string | undefined) ?? e.status,
          b.bug_id === undefined ? e.bug_id : (b.bug_id as number | null),
          e.id,
        ],
      );
      return { ok: true, error: out(row!) };
    },
    {
      summary: 'Triage an error: status, linked bug',
      params: IdParams,
      body: TriageBody,
      lazyBody: true,
      response: z.object({ ok: z.boolean(), error: ErrorOut }),
    },
  );

  api.post(
    '/events/:id/file-bug',
    async (req) => {
      const e = await get(req.params.id);
      if (e.bug_id !== null) throw badRequest(`Error already linked to bug #${e.bug_id}`);
      const bugId = await fileBug(e);
      if (bugId === null) return reply(409, { error: 'A bug for this error is being filed' });
      return { ok: true, bug_id: bugId, error_id: e.id };
    },
    {
      auth: 'admin',
      summary: 'File a bug for an error now',
      params: IdParams,
      body: NoInput,
      response: z.object({ ok: z.boolean(), bug_id: z.number(), error_id: z.number() }),
    },
  );

  api.get(
    '/stats',
    async () => {
      const [byProvider, byStatus, last, top] = await Promise.all([
        db.all('SELECT provider, COUNT(*) AS count FROM error_events GROUP BY provider'),
        db.all('SELECT status, COUNT(*) AS count FROM error_events GROUP BY status'),
        db.get<{ n: number }>("SELECT COUNT(*) AS n FROM error_events WHERE last_seen > datetime('now', '-1 day')"),
        db.all('SELECT * FROM error_events ORDER BY occurrences DESC LIMIT 10'),
      ]);
      return { by_provider: byProvider, by_status: byStatus, last_24h: Number(last?.n ?? 0), top_errors: top.map(out) };
    },
    { summary: 'Error counts by provider and status, last 24 h, top errors', query: NoInput, response: StatsOut },
  );

  api.get(
    '/widgets/error-count',
    async () => {
      const n = Number(
        (
          await db.get<{ n: number }>(
            "SELECT COUNT(*) AS n FROM error_events WHERE last_seen > datetime('now', '-1 day')",
          )
        )?.n ?? 0,
      );
      return { type: 'stat', value: n, label: 'Errors (24h)', color: n > 10 ? 'red' : 'green' };
    },
    {
      summary: 'Dashboard widget: errors in the last 24 h',
      query: NoInput,
      response: z.object({ type: z.string(), value: z.number(), label: z.string(), color: z.string() }),
    },
  );
}
