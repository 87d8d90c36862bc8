import {
  AppError,
  badRequest,
  conflict,
  dataObject,
  documentedRequired,
  hmacSha256Hex,
  IdParams,
  intQuery,
  NoInput,
  notFound,
  parseIntId,
  parseJson,
  secretsEqual,
  sentence,
  z,
  unauthorized,
  whereAll,
  type MyceliumEvent,
  type PluginApi,
  type PluginRequest,
} from '../../worker/src/plugins/sdk.js';

/**
 * github-sync (spec 06 §5.10, W15): GitHub webhooks, verified with `X-Hub-Signature-256` over the
 * exact request bytes (HMAC-SHA256, constant-time), deduplicated by `X-GitHub-Delivery`, stored,
 * then turned into events, inbox items and bugs. Issues and pull requests linked to a task or a bug
 * move its status (ours: closed/merged → done/fixed, reopened → open); a task or bug finished in
 * Mycelium emits `github_sync_outbound` and, with a token configured, comments on the linked issue
 * or PR through the SSRF-guarded fetch. The plugin's own writes are attributed to `github-sync`,
 * and changes it made itself are not echoed back to GitHub.
 */

const ACTOR = 'github-sync';
const GITHUB_TYPES = ['pr', 'issue', 'check'] as const;
const MYCELIUM_TYPES = ['task', 'bug'] as const;
const REPO_RE = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/;

type Payload = Record<string, any>;
interface LinkRow {
  id: number;
  github_type: string;
  github_repo: string;
  github_number: number;
  mycelium_type: 'task' | 'bug';
  mycelium_id: number;
  synced_at: string;
}

const str = (v: unknown, max = 500) => (typeof v === 'string' ? v : '').slice(0, max);
const truthy = (v: string | undefined) => v === 'true' || v === '1';
type Cond = [string, ...(string | number)[]];
/** whereAll over the conditions that apply (optional filters are null). */
const where = (conds: (Cond | null)[]) => whereAll(conds.filter((c): c is Cond => c !== null));
const eventOut = (r: Record<string, unknown>) => ({ ...r, payload: parseJson(r.payload, {}) });

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
const EventsQuery = z.object({
  event_type: z.string().optional(),
  repo: z.string().optional().meta({ description: 'owner/name' }),
  processed: sentence({ type: 'string', enum: ['true', 'false'] }, (v) =>
    v === undefined || v === 'true' || v === 'false' ? null : 'must be true or false',
  ),
  limit: intQuery(50, 1, 200),
  offset: intQuery(0, 0, 1_000_000),
});
const LinksQuery = z.object({
  repo: z.string().optional().meta({ description: 'owner/name' }),
  github_type: z
    .string()
    .optional()
    .meta({ enum: [...GITHUB_TYPES] }),
  mycelium_type: z
    .string()
    .optional()
    .meta({ enum: [...MYCELIUM_TYPES] }),
  limit: intQuery(50, 1, 200),
  offset: intQuery(0, 0, 1_000_000),
});
/** "Required: <all five>" comes before each field's own sentence, so the handler checks them, in that order. */
const LinkBody = z.object({
  github_repo: documentedRequired({ type: 'string', description: 'owner/name' }),
  github_number: documentedRequired({ type: 'integer', minimum: 1 }),
  github_type: documentedRequired({ type: 'string', enum: [...GITHUB_TYPES] }),
  mycelium_type: documentedRequired({ type: 'string', enum: [...MYCELIUM_TYPES] }),
  mycelium_id: documentedRequired({ type: 'integer', minimum: 1 }),
});

// ---- Declared answers (issue 15): the host shapes each answer through its schema, so a column
// added to a table later (or a secret) never leaves unless it is named here.
const EventOut = z.object({
  id: z.number(),
  event_type: z.string(),
  action: z.string(),
  repo: z.string(),
  /** GitHub's delivery as it sent it: free-form JSON. */
  payload: z.unknown(),
  processed: z.number(),
  delivery_id: z.string().nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
});
const LinkOut = z.object({
  id: z.number(),
  github_type: z.string(),
  github_repo: z.string(),
  github_number: z.number(),
  mycelium_type: z.string(),
  mycelium_id: z.number(),
  synced_at: z.string(),
});
const Synced = z.array(z.object({ mycelium_type: z.string(), mycelium_id: z.number(), status: z.string() }));
const WebhookOut = z.object({
  ok: z.boolean(),
  event_id: z.number().nullable(),
  duplicate: z.boolean().optional(),
  synced: Synced.optional(),
  bug_id: z.number().optional(),
  duplicate_issue: z.boolean().optional(),
});
const TypeCount = (key: string) => z.object({ [key]: z.string(), count: z.number() });
const StatsOut = z.object({
  total_events: z.number(),
  total_links: z.number(),
  unprocessed_events: z.number(),
  events_by_type: z.array(TypeCount('event_type')),
  links_by_type: z.array(TypeCount('github_type')),
});
const PrOut = z.object({
  repo: z.string(),
  number: z.number(),
  title: z.string(),
  state: z.string(),
  updated: z.string(),
});
const PrStatusOut = z.object({ open_prs: z.number(), open: z.array(PrOut), recent_merges: z.array(PrOut) });
const RunOut = z.object({
  type: z.string(),
  repo: z.string(),
  name: z.string().optional(),
  conclusion: z.string(),
  branch: z.string(),
  created_at: z.string(),
});
const CiStatusOut = z.object({ runs: z.array(RunOut), latest_pass: RunOut.nullable(), latest_fail: RunOut.nullable() });
const OkOut = z.object({ ok: z.boolean() });

/** The JSON delivery: GitHub sends `application/json`, or a form with the JSON in `payload`. */
function payloadOf(req: PluginRequest): Payload {
  const type = req.headers.get('content-type') ?? '';
  if (/^application\/x-www-form-urlencoded/i.test(type)) {
    const form = new URLSearchParams(new TextDecoder().decode(req.rawBody));
    const v = parseJson<unknown>(form.get('payload'), null);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw badRequest('Form field payload must be a JSON object');
    return v as Payload;
  }
  return req.body as Payload;
}

export function setup(api: PluginApi) {
  const db = api.db;
  const project = async () => (await api.config.get('default_project')) || 'mycelium';

  /** W15 / spec 06 §5.10: `sha256=` + hex HMAC of the raw bytes, compared in constant time. */
  async function verify(req: PluginRequest) {
    const secret = await api.config.get('webhook_secret');
    // Nothing is accepted without a secret (no unsigned intake, no fallback). A configuration
    // problem of this server, not of the caller: 503 rather than the original's 500.
    if (!secret) throw new AppError(503, 'Webhook secret not configured');
    const sig = req.headers.get('x-hub-signature-256')?.trim().toLowerCase();
    const expected = `sha256=${await hmacSha256Hex(secret, req.rawBody)}`;
    if (!sig || !(await secretsEqual(sig, expected))) throw unauthorized('Invalid signature');
  }

  const linksOf = (type: string, repo: string, number: number) =>
    db.all<LinkRow>(
      'SELECT * FROM github_links WHERE github_type = ? AND github_repo = ? AND github_number = ? AND mycelium_id > 0',
      [type, repo, number],
    );

  /**
   * Moves every Mycelium item linked to an issue/PR; returns what changed and the links that did
   * (their `synced_at` is written with the delivery's event, `touch`).
   */
  async function applyToLinks(
    type: 'pr' | 'issue',
    repo: string,
    number: number,
    to: { task: 'done' | 'cancelled' | 'open'; bug: 'fixed' | 'closed' | 'open' },
  ) {
    const changed: { mycelium_type: string; mycelium_id: number; status: string }[] = [];
    const linkIds: number[] = [];
    for (const l of await linksOf(type, repo, number)) {
      if (l.mycelium_type === 'task') {
        const t = await api.core.tasks.get(l.mycelium_id);
        if (!t || t.status === to.task) continue;
        await api.core.tasks.setStatus(l.mycelium_id, to.task, ACTOR);
        changed.push({ mycelium_type: 'task', mycelium_id: l.mycelium_id, status: to.task });
      } else {
        const b = await api.core.bugs.get(l.mycelium_id);
        if (!b || b.status === to.bug) continue;
        await api.core.bugs.setStatus(l.mycelium_id, to.bug, ACTOR);
        changed.push({ mycelium_type: 'bug', mycelium_id: l.mycelium_id, status: to.bug });
      }
      linkIds.push(l.id);
    }
    return { changed, linkIds };
  }

  /** issues opened → one bug per issue: the link is claimed first, so a second delivery files nothing. */
  async function fileBugForIssue(repo: string, issue: Payload) {
    const number = Number(issue.number);
    const claim = await db.get<{ id: number }>(
      `INSERT INTO github_links (github_type, github_repo, github_number, mycelium_type, mycelium_id)
       VALUES ('issue', ?, ?, 'bug', 0) ON CONFLICT DO NOTHING RETURNING id`,
      [repo, number],
    );
    if (!claim) return null;
    try {
      const title = str(issue.title, 480) || `Issue #${number}`;
      const bug = await api.core.bugs.file(
        {
          title: `[GH] ${title}`,
          description:
            `${str(issue.body, 20_000)}\n\nSource: ${str(issue.html_url, 1000) || `${repo}#${number}`}`.trim(),
          project_id: await project(),
          category: 'other',
          severity: 'normal',
        },
        ACTOR,
      );
      // The claimed link gets its bug with the github_issue_synced event.
      await emit(
        'github_issue_synced',
        `Issue ${repo}#${number} filed as bug #${bug.id}`,
        { repo, number, bug_id: bug.id, title: str(issue.title) },
        [["UPDATE github_links SET mycelium_id = ?, synced_at = datetime('now') WHERE id = ?", bug.id, claim.id]],
      );
      return { bug_id: bug.id, title };
    } catch (err) {
      await db.run('DELETE FROM github_links WHERE id = ? AND mycelium_id = 0', [claim.id]);
      throw err;
    }
  }

  type Write = [string, ...(string | number)[]];
  /** A delivery's event, committed together with the plugin's own writes it reports (`writes`). */
  async function emit(type: string, summary: string, data: Record<string, unknown>, writes: Write[] = []) {
    const event = { type, agent: ACTOR, projectId: await project(), summary: summary.slice(0, 300), data };
    if (!writes.length) return api.emit(event);
    await api.atomic(async (tx, stage) => {
      for (const [sql, ...args] of writes) await tx.run(sql, args);
      stage(event);
    });
  }
  const touch = (ids: number[]): Write[] =>
    ids.map((id) => ["UPDATE github_links SET synced_at = datetime('now') WHERE id = ?", id]);

  /** The effects of one stored delivery (spec 06 §5.10 table, plus the link sync that is ours). */
  async function process(event: string, p: Payload, repo: string): Promise<Record<string, unknown>> {
    const action = str(p.action, 100);
    if (event === 'pull_request') {
      const pr = dataObject(p.pull_request);
      const number = Number(pr.number ?? p.number);
      const title = str(pr.title);
      const url = str(pr.html_url, 1000);
      if (action === 'opened') {
        await api.core.inbox.notifyOperators(
          {
            type: 'github_pr',
            entity_type: 'github_pr',
            entity_id: `${repo}#${number}`,
            title: `PR #${number} opened in ${repo}: ${title}`,
            summary: `${str(dataObject(pr.user).login, 100)}: ${str(pr.body, 300)}`,
            data: { repo, number, url },
          },
          ACTOR,
        );
        await emit('github_pr_opened', `PR #${number} opened in ${repo}: ${title}`, { repo, number, title, url });
        return {};
      }
      if (action === 'closed' && pr.merged === true) {
        const links = await linksOf('pr', repo, number);
        const { changed: synced, linkIds } = await applyToLinks('pr', repo, number, { task: 'done', bug: 'fixed' });
        await emit(
          'github_pr_merged',
          `PR #${number} merged in ${repo}: ${title}`,
          { repo, number, title, ...(links.length ? { link: links[0] } : {}), synced },
          touch(linkIds),
        );
        return { synced };
      }
      if (action === 'closed') {
        await emit('github_pr_closed', `PR #${number} closed in ${repo}: ${title}`, { repo, number, title });
      }
      return {};
    }
    if (event === 'issues') {
      const issue = dataObject(p.issue);
      const number = Number(issue.number);
      const title = str(issue.title);
      if (action === 'opened') {
        if (!truthy(await api.config.get('auto_create_bugs'))) return {};
        const filed = await fileBugForIssue(repo, issue);
        if (!filed) return { duplicate_issue: true };
        return { bug_id: filed.bug_id };
      }
      if (action === 'labeled') {
        const labels = Array.isArray(issue.labels) ? issue.labels.map((l: Payload) => str(l?.name, 100)) : [];
        await emit('github_issue_labeled', `Issue ${repo}#${number} labeled`, { repo, number, title, labels });
        return {};
      }
      if (action === 'closed' || action === 'reopened') {
        // GitHub's state_reason: `completed` (or none) finishes the work; `not_planned` abandons it.
        const abandoned = action === 'closed' && str(issue.state_reason) === 'not_planned';
        const to =
          action === 'reopened'
            ? ({ task: 'open', bug: 'open' } as const)
            : abandoned
              ? ({ task: 'cancelled', bug: 'closed' } as const)
              : ({ task: 'done', bug: 'fixed' } as const);
        const { changed: synced, linkIds } = await applyToLinks('issue', repo, number, to);
        await emit(
          `github_issue_${action}`,
          `Issue ${repo}#${number} ${action}`,
          { repo, number, title, synced },
          touch(linkIds),
        );
        return { synced };
      }
      if (action === 'edited') {
        // Bug titles are fixed at filing in the core API; the edit is recorded as an event on the link.
        const links = await linksOf('issue', repo, number);
        await emit(
          'github_issue_edited',
          `Issue ${repo}#${number} edited`,
          {
            repo,
            number,
            title,
            links: links.map((l) => ({ mycelium_type: l.mycelium_type, mycelium_id: l.mycelium_id })),
          },
          touch(links.map((l) => l.id)),
        );
      }
      return {};
    }
    if ((event === 'check_suite' || event === 'workflow_run') && action === 'completed') {
      const run = dataObject(event === 'check_suite' ? p.check_suite : p.workflow_run);
      if (run.conclusion !== 'failure' || !truthy(await api.config.get('ci_notifications'))) return {};
      const branch = str(run.head_branch, 200);
      const name = event === 'workflow_run' ? str(run.name, 200) : 'checks';
      const url = str(run.html_url ?? run.url, 1000);
      await api.core.inbox.notifyOperators(
        {
          type: 'github_ci',
          entity_type: 'github_ci',
          entity_id: `${repo}@${branch}`,
          title: `CI failed in ${repo} (${branch}): ${name}`,
          summary: url,
          data: { repo, branch, name, url },
          // The original passed `high`, outside the inbox's own scale; its top level is `urgent`.
          priority: 'urgent',
        },
        ACTOR,
      );
      await emit(
        event === 'check_suite' ? 'github_ci_failed' : 'github_workflow_failed',
        `CI failed in ${repo} (${branch}): ${name}`,
        { repo, branch, name, conclusion: 'failure', url },
      );
      return {};
    }
    if (event === 'push') {
      const commits = Array.isArray(p.commits) ? p.commits : [];
      const head = dataObject(p.head_commit);
      const branch = str(p.ref, 300).replace(/^refs\/heads\//, '');
      await emit('github_push', `${commits.length} commit(s) pushed to ${repo} ${branch}`, {
        repo,
        branch,
        commit_count: commits.length,
        head_commit: head.id ? { id: str(head.id, 64), message: str(head.message, 500) } : null,
      });
      return {};
    }
    if (event === 'issue_comment' && action === 'created') {
      const number = Number(dataObject(p.issue).number);
      const c = dataObject(p.comment);
      await emit('github_comment', `Comment on ${repo}#${number}`, {
        repo,
        number,
        body: str(c.body, 500),
        user: str(dataObject(c.user).login, 100),
      });
    }
    return {};
  }

  api.post(
    '/webhook',
    async (req) => {
      await verify(req);
      const event = (req.headers.get('x-github-event') ?? '').trim().slice(0, 100) || 'unknown';
      const delivery = req.headers.get('x-github-delivery')?.trim().slice(0, 200) || null;
      const p = payloadOf(req);
      const repo = str(dataObject(p.repository).full_name, 200);
      const stored = await db.get<{ id: number }>(
        `INSERT INTO github_events (event_type, action, repo, payload, delivery_id) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING RETURNING id`,
        [event, str(p.action, 100), repo, JSON.stringify(p).slice(0, 1_000_000), delivery],
      );
      if (!stored) {
        // A redelivery (GitHub retries, or an operator's "Redeliver"): acknowledged, not re-applied.
        const first = await db.get<{ id: number }>('SELECT id FROM github_events WHERE delivery_id = ?', [delivery]);
        return { ok: true, duplicate: true, event_id: first?.id ?? null };
      }
      let result: Record<string, unknown> = {};
      try {
        result = await process(event, p, repo);
        await db.run('UPDATE github_events SET processed = 1 WHERE id = ?', [stored.id]);
      } catch (err) {
        // The delivery stays stored and unprocessed with its reason; GitHub still gets a 200 so it
        // does not retry a delivery whose effect failed here (spec: errors are swallowed).
        const message = err instanceof Error ? err.message : String(err);
        api.log.warn(`delivery ${stored.id} (${event}) not applied: ${message}`);
        await db.run('UPDATE github_events SET error = ? WHERE id = ?', [message.slice(0, 1000), stored.id]);
      }
      return { ok: true, event_id: stored.id, ...result };
    },
    {
      auth: 'public',
      summary: 'GitHub webhook delivery (X-Hub-Signature-256 over the exact body)',
      // Read as bytes: the signature covers them, and a form delivery carries the JSON in `payload`.
      body: 'raw',
      response: WebhookOut,
    },
  );

  // ---- outbound: Mycelium → GitHub -------------------------------------------------------------

  async function outbound(kind: 'task' | 'bug', id: number, status: string, ev: MyceliumEvent) {
    const links = await db.all<LinkRow>(
      "SELECT * FROM github_links WHERE mycelium_type = ? AND mycelium_id = ? AND github_type IN ('issue', 'pr')",
      [kind, id],
    );
    if (!links.length) return;
    // A change this plugin made from a GitHub delivery is not echoed back to GitHub.
    if (ev.agent === ACTOR) return;
    const token = await api.config.get('github_token');
    const base = ((await api.config.get('api_url')) || 'https://api.github.com').replace(/\/+$/, '');
    for (const l of links) {
      let commented = false;
      if (token) {
        const res = await api.fetch(`${base}/repos/${l.github_repo}/issues/${l.github_number}/comments`, {
          method: 'POST',
          headers: {
            Accept: 'application/vnd.github+json',
            Authorization: `Bearer ${token}`,
            'X-GitHub-Api-Version': '2022-11-28',
            'Content-Type': 'application/json',
            'User-Agent': 'mycelium-github-sync',
          },
          body: JSON.stringify({ body: `Mycelium ${kind} #${id} is now **${status}** (by ${ev.agent || 'someone'}).` }),
        });
        commented = res.status === 201;
        await res.body?.cancel().catch(() => undefined);
        if (!commented) api.log.warn(`comment on ${l.github_repo}#${l.github_number} failed: HTTP ${res.status}`);
      }
      await api.emit({
        type: 'github_sync_outbound',
        agent: ACTOR,
        projectId: ev.project_id,
        summary: `${kind} #${id} ${status} → ${l.github_repo}#${l.github_number}`,
        data: {
          github_type: l.github_type,
          repo: l.github_repo,
          number: l.github_number,
          mycelium_type: kind,
          mycelium_id: id,
          status,
          commented,
        },
      });
    }
  }

  api.on('task_done', (ev) => outbound('task', Number(dataObject(ev.data).task_id), 'done', ev));
  api.on('task_cancelled', (ev) => outbound('task', Number(dataObject(ev.data).task_id), 'cancelled', ev));
  api.on('bug_updated', async (ev) => {
    const d = dataObject(ev.data);
    const status = str(dataObject(d.updates).status, 20);
    if (status === 'fixed' || status === 'closed') await outbound('bug', Number(d.bug_id), status, ev);
  });

  // ---- read and link routes ----------------------------------------------------------------------

  api.get(
    '/events',
    async (req) => {
      const q = req.input.query as z.output<typeof EventsQuery>;
      const w = where([
        q.event_type ? ['event_type = ?', q.event_type] : null,
        q.repo ? ['repo = ?', q.repo] : null,
        q.processed !== undefined ? ['processed = ?', q.processed === 'true' ? 1 : 0] : null,
      ]);
      const rows = await db.all(
        `SELECT * FROM github_events ${w.sql} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
        [...w.args, q.limit, q.offset],
      );
      return rows.map(eventOut);
    },
    { summary: 'Deliveries received, newest first', query: EventsQuery, response: z.array(EventOut) },
  );

  api.get(
    '/events/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const row = id === null ? undefined : await db.get('SELECT * FROM github_events WHERE id = ?', [id]);
      if (!row) throw notFound('Event not found');
      return eventOut(row);
    },
    { summary: 'One delivery with its payload', params: IdParams, query: NoInput, response: EventOut },
  );

  api.get(
    '/links',
    async (req) => {
      const q = req.input.query as z.output<typeof LinksQuery>;
      const w = where([
        ['mycelium_id > 0'],
        q.repo ? ['github_repo = ?', q.repo] : null,
        q.github_type ? ['github_type = ?', q.github_type] : null,
        q.mycelium_type ? ['mycelium_type = ?', q.mycelium_type] : null,
      ]);
      return db.all(`SELECT * FROM github_links ${w.sql} ORDER BY synced_at DESC, id DESC LIMIT ? OFFSET ?`, [
        ...w.args,
        q.limit,
        q.offset,
      ]);
    },
    { summary: 'Links between GitHub items and tasks/bugs', query: LinksQuery, response: z.array(LinkOut) },
  );

  /** The project of a linked item, for the core's write-scope rule (W3); 404 when it does not exist. */
  async function projectOfItem(type: string, id: number): Promise<string> {
    if (type === 'task') {
      const t = await api.core.tasks.get(id);
      if (!t) throw notFound('Task not found');
      return t.project_id;
    }
    const b = await api.core.bugs.get(id);
    if (!b) throw notFound('Bug not found');
    return b.project_id;
  }

  const positiveInt = (v: unknown) =>
    typeof v === 'number' ? (Number.isSafeInteger(v) && v > 0 ? v : null) : parseIntId(typeof v === 'string' ? v : '');

  api.post(
    '/links',
    async (req) => {
      const b = req.input.body as Record<string, unknown>;
      const missing = ['github_repo', 'github_number', 'github_type', 'mycelium_type', 'mycelium_id'].some(
        (k) => b[k] === undefined || b[k] === null || b[k] === '',
      );
      if (missing) throw badRequest('Required: github_repo, github_number, github_type, mycelium_type, mycelium_id');
      if (!(GITHUB_TYPES as readonly unknown[]).includes(b.github_type))
        throw badRequest('github_type must be pr, issue, or check');
      if (!(MYCELIUM_TYPES as readonly unknown[]).includes(b.mycelium_type))
        throw badRequest('mycelium_type must be task or bug');
      if (typeof b.github_repo !== 'string' || !REPO_RE.test(b.github_repo))
        throw badRequest('github_repo must be owner/name');
      const number = positiveInt(b.github_number);
      if (number === null) throw badRequest('github_number must be a positive integer');
      const myceliumId = positiveInt(b.mycelium_id);
      if (myceliumId === null) throw badRequest('mycelium_id must be a positive integer');
      const type = b.github_type as string;
      const mtype = b.mycelium_type as string;
      await api.core.projects.assertWrite(req.principal!, await projectOfItem(mtype, myceliumId));
      const repo = b.github_repo as string;
      const projectId = await project();
      const row = await api.atomic(async (tx, emit) => {
        const inserted = await tx.get<{ id: number }>(
          `INSERT INTO github_links (github_type, github_repo, github_number, mycelium_type, mycelium_id)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
          [type, repo, number, mtype, myceliumId],
        );
        if (inserted)
          emit({
            type: 'github_link_created',
            agent: req.who,
            projectId,
            summary: `${repo}#${number} (${type}) linked to ${mtype} #${myceliumId}`,
            data: {
              link_id: inserted.id,
              github_repo: repo,
              github_number: number,
              github_type: type,
              mycelium_type: mtype,
              mycelium_id: myceliumId,
            },
          });
        return inserted;
      });
      if (!row) {
        const existing = await db.get(
          'SELECT * FROM github_links WHERE github_type = ? AND github_repo = ? AND github_number = ?',
          [type, b.github_repo, number],
        );
        throw conflict('Link already exists', { existing });
      }
      return { ok: true, link_id: row.id };
    },
    {
      summary: 'Link a GitHub issue/PR/check to a task or bug',
      body: LinkBody,
      response: z.object({ ok: z.boolean(), link_id: z.number() }),
    },
  );

  api.delete(
    '/links/:id',
    async (req) => {
      const id = parseIntId(req.params.id);
      const link = id === null ? undefined : await db.get<LinkRow>('SELECT * FROM github_links WHERE id = ?', [id]);
      // No 404 (spec): deleting what is not there is a no-op. An agent may unlink only items of its projects.
      if (link && link.mycelium_id > 0) {
        const item =
          link.mycelium_type === 'task'
            ? await api.core.tasks.get(link.mycelium_id)
            : await api.core.bugs.get(link.mycelium_id);
        if (item) await api.core.projects.assertWrite(req.principal!, item.project_id);
        await db.run('DELETE FROM github_links WHERE id = ?', [link.id]);
      }
      return { ok: true };
    },
    { summary: 'Remove a link (a missing one is a no-op)', params: IdParams, query: NoInput, response: OkOut },
  );

  api.get(
    '/stats',
    async () => {
      const [events, links, unprocessed, byType, linksByType] = await Promise.all([
        db.get<{ n: number }>('SELECT COUNT(*) AS n FROM github_events'),
        db.get<{ n: number }>('SELECT COUNT(*) AS n FROM github_links WHERE mycelium_id > 0'),
        db.get<{ n: number }>('SELECT COUNT(*) AS n FROM github_events WHERE processed = 0'),
        db.all('SELECT event_type, COUNT(*) AS count FROM github_events GROUP BY event_type ORDER BY count DESC'),
        db.all(
          'SELECT github_type, COUNT(*) AS count FROM github_links WHERE mycelium_id > 0 GROUP BY github_type ORDER BY count DESC',
        ),
      ]);
      return {
        total_events: Number(events?.n ?? 0),
        total_links: Number(links?.n ?? 0),
        unprocessed_events: Number(unprocessed?.n ?? 0),
        events_by_type: byType,
        links_by_type: linksByType,
      };
    },
    { summary: 'Deliveries and links by type', query: NoInput, response: StatsOut },
  );

  api.get(
    '/widgets/pr-status',
    async () => {
      const rows = await db.all<{ repo: string; action: string; payload: string; created_at: string }>(
        "SELECT repo, action, payload, created_at FROM github_events WHERE event_type = 'pull_request' ORDER BY id DESC LIMIT 200",
      );
      // Newest first: the first row seen for a PR is its current state.
      const latest = new Map<string, { repo: string; number: number; title: string; state: string; updated: string }>();
      for (const r of rows) {
        const pr = dataObject(dataObject(parseJson(r.payload, {})).pull_request);
        const key = `${r.repo}#${pr.number}`;
        if (!latest.has(key))
          latest.set(key, {
            repo: r.repo,
            number: Number(pr.number),
            title: str(pr.title),
            state: r.action,
            updated: r.created_at,
          });
      }
      const all = [...latest.values()];
      const open = all.filter((p) => p.state !== 'closed');
      return {
        open_prs: open.length,
        open: open.slice(0, 10),
        recent_merges: all.filter((p) => p.state === 'closed').slice(0, 10),
      };
    },
    { summary: 'Dashboard widget: pull requests', query: NoInput, response: PrStatusOut },
  );

  api.get(
    '/widgets/ci-status',
    async () => {
      const rows = await db.all<{ event_type: string; repo: string; payload: string; created_at: string }>(
        `SELECT event_type, repo, payload, created_at FROM github_events
        WHERE event_type IN ('check_suite', 'workflow_run') AND action = 'completed' ORDER BY id DESC LIMIT 20`,
      );
      const runs = rows.map((r) => {
        const p = dataObject(parseJson(r.payload, {}));
        const run = dataObject(r.event_type === 'check_suite' ? p.check_suite : p.workflow_run);
        return {
          type: r.event_type,
          repo: r.repo,
          ...(r.event_type === 'workflow_run' ? { name: str(run.name, 200) } : {}),
          conclusion: str(run.conclusion, 50),
          branch: str(run.head_branch, 200),
          created_at: r.created_at,
        };
      });
      return {
        runs,
        latest_pass: runs.find((r) => r.conclusion === 'success') ?? null,
        latest_fail: runs.find((r) => r.conclusion === 'failure') ?? null,
      };
    },
    { summary: 'Dashboard widget: CI runs', query: NoInput, response: CiStatusOut },
  );
}
