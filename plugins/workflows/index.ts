import {
  badRequest,
  conflict,
  documented,
  forbidden,
  IdParams,
  intQuery,
  NoInput,
  notFound,
  parseJson,
  reply,
  sentence,
  z,
  type PluginApi,
  type PluginRequest,
  type Queryable,
} from '../../worker/src/plugins/sdk.js';
import type { Statement } from '../../worker/src/db/types.js';
import { validateInvocations } from './dag.js';

/**
 * workflows (spec 06 §5.2 with HEAD behaviour, W19): the platform stores a fired DAG and its
 * state machine; an external runner claims and executes it. Ownership: after a claim only the
 * claiming runner (or an admin) drives status, invocations and runner events; terminal
 * workflows refuse every write; terminal event kinds come only from status transitions.
 */

const TRANSITIONS: Record<string, string[]> = {
  pending: ['claimed', 'cancelled'],
  claimed: ['running', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelling', 'awaiting_approval'],
  awaiting_approval: ['running', 'failed', 'cancelled'],
  cancelling: ['cancelled', 'completed', 'failed'],
  completed: [],
  failed: [],
  cancelled: [],
};
const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const INV_STATUSES = ['pending', 'running', 'completed', 'failed', 'skipped'];
const EVENT_KINDS = [
  'created',
  'claimed',
  'risk_assessed',
  'wave_started',
  'invocation_started',
  'invocation_finished',
  'invocation_failed',
  'awaiting_approval',
  'resumed',
  'cancelling',
];
const TERMINAL_KINDS = ['completed', 'failed', 'cancelled'];
const RESULT_CAP = 32_000;
const SHAPES = ['fanout', 'pipeline', 'repair', 'custom'];

interface WorkflowRow {
  id: number;
  name: string;
  shape: string;
  spec: string;
  project_id: string | null;
  status: string;
  risk: string | null;
  requested_by: string;
  claimed_by: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  approval_id: number | null;
}

const wfOut = (r: WorkflowRow) => ({ ...r, spec: parseJson(r.spec, {}) });
const invOut = (r: Record<string, unknown>) => ({ ...r, deps: parseJson(r.deps, []) });
const evOut = (r: Record<string, unknown>) => ({ ...r, payload: parseJson(r.payload, {}) });
// Declared answers (issue 15): the host shapes each answer through its schema, so a column
// added to these tables later never leaves unless it is named here.
const WorkflowOut = z.object({
  id: z.number(),
  name: z.string(),
  shape: z.string(),
  /** The fired spec as the caller sent it: free-form JSON. */
  spec: z.unknown(),
  project_id: z.string().nullable(),
  status: z.string(),
  risk: z.string().nullable(),
  requested_by: z.string(),
  claimed_by: z.string().nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  approval_id: z.number().nullable(),
});
const InvocationOut = z.object({
  id: z.number(),
  workflow_id: z.number(),
  inv_id: z.string(),
  agent_id: z.string(),
  model: z.string(),
  brief: z.string(),
  deps: z.array(z.unknown()),
  status: z.string(),
  result: z.string().nullable(),
  transcript_path: z.string().nullable(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});
const RunnerEventOut = z.object({
  id: z.number(),
  workflow_id: z.number(),
  ts: z.string(),
  kind: z.string(),
  /** The runner's payload: free-form JSON. */
  payload: z.unknown(),
});
const FullOut = WorkflowOut.extend({ invocations: z.array(InvocationOut), events: z.array(RunnerEventOut) });
const WorkflowWritten = z.object({ ok: z.boolean(), workflow: FullOut });

const ev = (workflowId: number | string, kind: string, payload: unknown): Statement => ({
  sql: 'INSERT INTO workflow_events (workflow_id, kind, payload) VALUES (?, ?, ?)',
  args: [workflowId, kind, JSON.stringify(payload ?? {})],
});

/** One statement inside `api.atomic`'s transaction. */
const run = (tx: Queryable, s: Statement) => tx.run(s.sql, s.args);

function capResult(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > RESULT_CAP ? `${s.slice(0, RESULT_CAP)}\n...[truncated at ${RESULT_CAP} chars]` : s;
}

// ---- Declared input (issue 15): validated by the host with the sentences this plugin always answered.
const absent = (v: unknown) => v === undefined || v === null;
const optString = sentence({ type: ['string', 'null'] }, (v) =>
  absent(v) || typeof v === 'string' ? null : 'must be a string',
);
const FireBody = z.object({
  name: sentence(
    { type: 'string', maxLength: 200 },
    (v) =>
      typeof v !== 'string' || !v.trim() ? 'is required' : v.length > 200 ? 'exceeds max length (200 chars)' : null,
    { always: true },
  ),
  // Either `spec` or a top-level `invocations` array: the handler checks that pair and the DAG.
  invocations: documented({
    type: 'array',
    items: { type: 'object' },
    description: 'The DAG: {id, agent, model?, brief?, deps?} each (required unless `spec` holds it)',
  }),
  spec: documented({ type: 'object', description: '`{invocations, params?}` instead of the top-level fields' }),
  params: documented({ type: 'object', description: 'Runner parameters stored with the spec' }),
  shape: sentence({ type: 'string', enum: SHAPES }, (v) =>
    v === undefined || (typeof v === 'string' && SHAPES.includes(v)) ? null : `must be one of: ${SHAPES.join(', ')}`,
  ),
  project_id: optString,
});
const ListQuery = z.object({
  status: z.string().optional(),
  project_id: z.string().optional(),
  order: sentence({ type: 'string', enum: ['asc', 'desc'] }, (v) =>
    v === undefined || v === 'asc' || v === 'desc' ? null : 'must be one of: asc, desc',
  ),
  limit: intQuery(50, 1, 500),
});
const ClaimBody = z.object({
  runner_id: sentence({ type: 'string', description: 'Admins only: claim for this runner' }, (v) =>
    v === undefined || typeof v === 'string' ? null : 'must be a string',
  ),
});
const UpdateBody = z.object({
  status: optString,
  risk: optString,
  error: optString,
  approval_id: sentence({ type: ['integer', 'null'], minimum: 1 }, (v) =>
    absent(v) || (typeof v === 'number' && Number.isInteger(v) && v > 0) ? null : 'must be a positive integer',
  ),
});
const InvocationParams = z.object({ id: IdParams.shape.id, invId: z.string().meta({ description: 'Invocation id' }) });
const InvocationBody = z.object({
  // Its sentence says "invocation status": checked by the handler.
  status: documented({ type: 'string', enum: INV_STATUSES }),
  result: documented({ description: `Any JSON value or text (capped at ${RESULT_CAP} chars)` }),
  transcript_path: sentence({ type: ['string', 'null'] }, (v) =>
    absent(v) || typeof v === 'string' ? null : 'must be a string',
  ),
});
const EventBody = z.object({
  // Its sentences name the workflow: checked by the handler.
  kind: documented({ type: 'string', enum: EVENT_KINDS }),
  payload: sentence({ type: ['object', 'null'] }, (v) =>
    absent(v) || (typeof v === 'object' && !Array.isArray(v)) ? null : 'must be an object',
  ),
});

export function setup(api: PluginApi) {
  const db = api.db;

  const idOf = (raw: string) => {
    if (!/^[1-9]\d{0,15}$/.test(raw)) throw badRequest('invalid workflow id');
    return Number(raw);
  };
  const load = async (raw: string) => {
    const w = await db.get<WorkflowRow>('SELECT * FROM workflows WHERE id = ?', [idOf(raw)]);
    if (!w) throw notFound('Workflow not found');
    return w;
  };
  const full = async (w: WorkflowRow) => {
    const [invocations, events] = await Promise.all([
      db.all('SELECT * FROM workflow_invocations WHERE workflow_id = ? ORDER BY id', [w.id]),
      db.all(
        'SELECT * FROM (SELECT * FROM workflow_events WHERE workflow_id = ? ORDER BY id DESC LIMIT 50) ORDER BY id',
        [w.id],
      ),
    ]);
    return { ...wfOut(w), invocations: invocations.map(invOut), events: events.map(evOut) };
  };
  /** Runner writes: the claiming runner or an admin (W19); before any claim, the requester too. */
  const assertRunner = (req: PluginRequest, w: WorkflowRow) => {
    if (req.principal?.isAdmin) return;
    if (w.claimed_by ? w.claimed_by === req.who : w.requested_by === req.who) return;
    throw forbidden(
      w.claimed_by
        ? `Workflow is claimed by ${w.claimed_by}`
        : 'Only the requester or an admin can change an unclaimed workflow',
    );
  };
  const assertNotTerminal = (w: WorkflowRow) => {
    if (TERMINAL.has(w.status)) throw badRequest(`cannot modify terminal state: ${w.status}`);
  };

  api.post(
    '/',
    async (req) => {
      const b = req.input.body as Record<string, unknown> & { name: string };
      let spec: Record<string, unknown>;
      if (b.spec !== undefined && b.spec !== null && typeof b.spec === 'object' && !Array.isArray(b.spec))
        spec = b.spec as Record<string, unknown>;
      else if (Array.isArray(b.invocations))
        spec = { invocations: b.invocations, ...(b.params !== undefined ? { params: b.params } : {}) };
      else throw badRequest('spec object (or top-level invocations array) is required');
      const v = validateInvocations(spec.invocations);
      if (!v.ok) throw badRequest(v.error);
      const shape = (b.shape as string | undefined) ?? 'custom';
      const projectId = (b.project_id as string | null | undefined) ?? null;
      // Agents fire workflows only in their own project (spec 06 W3 project scope).
      if (req.principal?.kind === 'agent' && projectId && projectId !== req.principal.projectId) {
        throw forbidden(`Agent ${req.principal.id} cannot access resources in project ${projectId}`);
      }
      // Workflow, its invocations, its `created` row and the workflow_created event: all or nothing.
      const w = await api.atomic(async (tx, emit) => {
        const row = await tx.get<{ id: number }>(
          'INSERT INTO workflows (name, shape, spec, project_id, requested_by) VALUES (?, ?, ?, ?, ?) RETURNING id',
          [b.name.trim(), shape, JSON.stringify({ ...spec, invocations: v.invocations }), projectId, req.who],
        );
        const id = Number(row!.id);
        for (const i of v.invocations)
          await tx.run(
            'INSERT INTO workflow_invocations (workflow_id, inv_id, agent_id, model, brief, deps) VALUES (?, ?, ?, ?, ?, ?)',
            [id, i.id, i.agent, i.model ?? '', i.brief ?? '', JSON.stringify(i.deps)],
          );
        await run(tx, ev(id, 'created', { name: b.name.trim(), shape, invocations: v.invocations.length }));
        const created = (await tx.get<WorkflowRow>('SELECT * FROM workflows WHERE id = ?', [id]))!;
        emit({
          type: 'workflow_created',
          agent: req.who,
          projectId,
          summary: `${req.who} fired workflow: ${created.name} (${v.invocations.length} invocations)`,
          data: { workflow_id: id },
        });
        return created;
      });
      return { ok: true, workflow: await full(w) };
    },
    { summary: 'Fire a workflow (a DAG of agent invocations)', body: FireBody, response: WorkflowWritten },
  );

  api.get(
    '/',
    async (req) => {
      const q = req.input.query as z.output<typeof ListQuery>;
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (q.status) {
        where.push('status = ?');
        args.push(q.status);
      }
      if (q.project_id) {
        where.push('project_id = ?');
        args.push(q.project_id);
      }
      const limit = q.limit;
      const rows = await db.all<WorkflowRow>(
        `SELECT * FROM workflows ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ?`,
        [...args, limit],
      );
      return rows.map(wfOut);
    },
    { summary: 'Workflows, newest first', query: ListQuery, response: z.array(WorkflowOut) },
  );

  api.get('/:id', async (req) => full(await load(req.params.id)), {
    summary: 'A workflow with its invocations and recent events',
    response: FullOut,
    params: IdParams,
    query: NoInput,
  });

  api.post(
    '/:id/claim',
    async (req) => {
      const w = await load(req.params.id);
      const asked = (req.input.body as z.output<typeof ClaimBody>).runner_id as string | undefined;
      // Identity comes from authentication: only an admin may claim on behalf of another runner.
      const runner = req.principal?.isAdmin && asked ? asked : req.who;
      const row = await api.atomic(async (tx, emit) => {
        const claimed = await tx.get<WorkflowRow>(
          "UPDATE workflows SET status = 'claimed', claimed_by = ? WHERE id = ? AND status = 'pending' RETURNING *",
          [runner, w.id],
        );
        if (!claimed) return undefined;
        await run(tx, ev(w.id, 'claimed', { claimed_by: runner }));
        emit({
          type: 'workflow_claimed',
          agent: runner,
          projectId: claimed.project_id,
          summary: `${runner} claimed workflow #${claimed.id}: ${claimed.name}`,
          data: { workflow_id: claimed.id, claimed_by: runner },
        });
        return claimed;
      });
      if (!row) {
        const now = (await db.get<WorkflowRow>('SELECT status FROM workflows WHERE id = ?', [w.id]))!;
        throw conflict(`Workflow not claimable (status: ${now.status})`);
      }
      return { ok: true, workflow: await full(row) };
    },
    {
      summary: 'Claim a pending workflow (runner)',
      params: IdParams,
      body: ClaimBody,
      lazyBody: true,
      response: WorkflowWritten,
    },
  );

  api.put(
    '/:id',
    async (req) => {
      const w = await load(req.params.id);
      assertNotTerminal(w);
      assertRunner(req, w);
      const b = req.input.body as Record<string, unknown>;
      const to = b.status as string | undefined;
      if (to !== undefined && to !== w.status) {
        const allowed = TRANSITIONS[w.status] ?? [];
        if (!allowed.includes(to))
          return reply(400, {
            error: `illegal transition ${w.status} -> ${to} (allowed: ${allowed.length ? allowed.join(', ') : 'none'})`,
            from: w.status,
          });
      }
      const sets: string[] = [];
      const args: (string | number | null)[] = [];
      if (b.risk !== undefined) {
        sets.push('risk = ?');
        args.push((b.risk as string | null) ?? null);
      }
      if (b.error !== undefined) {
        sets.push('error = ?');
        args.push((b.error as string | null) ?? null);
      }
      if (b.approval_id !== undefined) {
        sets.push('approval_id = ?');
        args.push((b.approval_id as number | null) ?? null);
      }
      const changing = to !== undefined && to !== w.status;
      if (changing) {
        sets.push('status = ?');
        args.push(to);
        if (to === 'running' && !w.started_at) sets.push("started_at = datetime('now')");
        if (TERMINAL.has(to)) sets.push("finished_at = datetime('now')");
      }
      if (!sets.length) return { ok: true, workflow: await full(w) };
      const stmts: Statement[] = [
        {
          sql: `UPDATE workflows SET ${sets.join(', ')} WHERE id = ? AND status = ? RETURNING *`,
          args: [...args, w.id, w.status],
        },
      ];
      if (changing && TERMINAL.has(to))
        stmts.push({
          ...ev(w.id, to, b.error ? { error: b.error } : {}),
          sql: 'INSERT INTO workflow_events (workflow_id, kind, payload) SELECT ?, ?, ? WHERE changes() > 0',
        });
      if (changing && to === 'awaiting_approval')
        stmts.push({
          ...ev(w.id, 'awaiting_approval', { approval_id: b.approval_id ?? w.approval_id }),
          sql: 'INSERT INTO workflow_events (workflow_id, kind, payload) SELECT ?, ?, ? WHERE changes() > 0',
        });
      if (changing && w.status === 'awaiting_approval' && to === 'running')
        stmts.push({
          ...ev(w.id, 'resumed', {}),
          sql: 'INSERT INTO workflow_events (workflow_id, kind, payload) SELECT ?, ?, ? WHERE changes() > 0',
        });
      const row = await api.atomic(async (tx, emit) => {
        const [update, ...rest] = stmts;
        const updated = await tx.get<WorkflowRow>(update.sql, update.args);
        if (!updated) return undefined;
        for (const s of rest) await run(tx, s);
        if (changing && (TERMINAL.has(to) || to === 'awaiting_approval'))
          emit({
            type: `workflow_${to}`,
            agent: req.who,
            projectId: updated.project_id,
            summary: `Workflow #${updated.id} ${to}: ${updated.name}`,
            data: { workflow_id: updated.id, error: updated.error },
          });
        return updated;
      });
      // The compare-and-set on the old status lost: someone else moved it first.
      if (!row) throw conflict('Workflow changed concurrently; re-read and retry');
      return { ok: true, workflow: await full(row) };
    },
    {
      summary: 'Drive a workflow: status transition, risk, error, approval',
      response: WorkflowWritten,
      params: IdParams,
      body: UpdateBody,
      lazyBody: true,
    },
  );

  api.put(
    '/:id/invocations/:invId',
    async (req) => {
      const w = await load(req.params.id);
      const inv = await db.get<{ id: number; status: string }>(
        'SELECT id, status FROM workflow_invocations WHERE workflow_id = ? AND inv_id = ?',
        [w.id, req.params.invId],
      );
      if (!inv) throw notFound('invocation not found');
      assertNotTerminal(w);
      assertRunner(req, w);
      const b = req.input.body as Record<string, unknown>;
      if (b.status !== undefined && (typeof b.status !== 'string' || !INV_STATUSES.includes(b.status)))
        throw badRequest(`invocation status must be one of: ${INV_STATUSES.join(', ')}`);
      const sets: string[] = [];
      const args: (string | number | null)[] = [];
      if (b.status !== undefined) {
        sets.push('status = ?');
        args.push(b.status as string);
        if (b.status === 'running') sets.push("started_at = datetime('now')");
        if (['completed', 'failed', 'skipped'].includes(b.status as string)) sets.push("finished_at = datetime('now')");
      }
      if (b.result !== undefined) {
        sets.push('result = ?');
        args.push(capResult(b.result));
      }
      if (b.transcript_path !== undefined) {
        sets.push('transcript_path = ?');
        args.push((b.transcript_path as string | null) ?? null);
      }
      if (!sets.length) throw badRequest('no recognized fields (status, result, transcript_path)');
      const row = await api.atomic(async (tx, emit) => {
        const updated = await tx.get(`UPDATE workflow_invocations SET ${sets.join(', ')} WHERE id = ? RETURNING *`, [
          ...args,
          inv.id,
        ]);
        if (b.status === 'completed' || b.status === 'failed')
          emit({
            type: b.status === 'completed' ? 'workflow_invocation_finished' : 'workflow_invocation_failed',
            agent: req.who,
            projectId: w.project_id,
            summary: `Workflow #${w.id} invocation ${req.params.invId} ${b.status}`,
            data: { workflow_id: w.id, inv_id: req.params.invId, status: b.status },
          });
        return updated;
      });
      return { ok: true, invocation: invOut(row!) };
    },
    {
      summary: 'Report an invocation (status, result, transcript)',
      response: z.object({ ok: z.boolean(), invocation: InvocationOut }),
      params: InvocationParams,
      body: InvocationBody,
      lazyBody: true,
    },
  );

  api.post(
    '/:id/events',
    async (req) => {
      const w = await load(req.params.id);
      const body = req.body;
      const kind = body.kind;
      if (typeof kind === 'string' && TERMINAL_KINDS.includes(kind))
        throw badRequest(`kind ${kind} is set by a status transition (PUT /workflows/${w.id} {status:'${kind}'})`);
      if (typeof kind !== 'string' || !EVENT_KINDS.includes(kind))
        throw badRequest(`kind must be one of: ${EVENT_KINDS.join(', ')}`);
      const payload = ((req.input.body as z.output<typeof EventBody>).payload ?? {}) as Record<string, unknown>;
      assertNotTerminal(w);
      assertRunner(req, w);
      const r = await api.atomic(async (tx, emit) => {
        const inserted = await tx.get<{ id: number }>(
          'INSERT INTO workflow_events (workflow_id, kind, payload) VALUES (?, ?, ?) RETURNING id',
          [w.id, kind, JSON.stringify(payload)],
        );
        emit({
          type: `workflow_${kind}`,
          agent: req.who,
          projectId: w.project_id,
          summary: `Workflow #${w.id}: ${kind}`,
          data: { ...payload, workflow_id: w.id },
        });
        return inserted;
      });
      return { ok: true, event_id: r!.id };
    },
    {
      summary: 'Record a runner event',
      params: IdParams,
      body: EventBody,
      lazyBody: true,
      response: z.object({ ok: z.boolean(), event_id: z.number() }),
    },
  );

  api.post(
    '/:id/cancel',
    async (req) => {
      const w = await load(req.params.id);
      const p = req.principal!;
      if (!p.isAdmin && p.kind === 'agent' && w.requested_by !== req.who && w.claimed_by !== req.who)
        throw forbidden('Only the requester, the runner or an admin can cancel this workflow');
      if (TERMINAL.has(w.status)) throw conflict(`workflow already ${w.status}`);
      const immediate = w.status === 'pending' || w.status === 'claimed';
      const status = w.status === 'cancelling' ? w.status : immediate ? 'cancelled' : 'cancelling';
      const moved = await api.atomic(async (tx, emit) => {
        if (w.status !== 'cancelling') {
          const upd = await tx.get(
            `UPDATE workflows SET status = ?${immediate ? ", finished_at = datetime('now')" : ''} WHERE id = ? AND status = ? RETURNING id`,
            [status, w.id, w.status],
          );
          if (!upd) return false;
          await run(tx, ev(w.id, status, { was: w.status }));
        }
        emit({
          type: 'workflow_cancel_requested',
          agent: req.who,
          projectId: w.project_id,
          summary: `Cancel requested for workflow #${w.id}: ${w.name}`,
          data: { workflow_id: w.id, status },
        });
        return true;
      });
      if (!moved) throw conflict('Workflow changed concurrently; re-read and retry');
      return { ok: true, status };
    },
    {
      summary: 'Cancel a workflow',
      params: IdParams,
      body: NoInput,
      response: z.object({ ok: z.boolean(), status: z.string() }),
    },
  );
}
