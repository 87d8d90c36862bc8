import {
  badRequest,
  conflict,
  forbidden,
  notFound,
  parseJson,
  queryInt,
  reply,
  type PluginApi,
  type PluginRequest,
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
const ev = (workflowId: number | string, kind: string, payload: unknown): Statement => ({
  sql: 'INSERT INTO workflow_events (workflow_id, kind, payload) VALUES (?, ?, ?)',
  args: [workflowId, kind, JSON.stringify(payload ?? {})],
});

function capResult(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > RESULT_CAP ? `${s.slice(0, RESULT_CAP)}\n...[truncated at ${RESULT_CAP} chars]` : s;
}

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

  api.post('/', async (req) => {
    const b = req.body;
    if (typeof b.name !== 'string' || !b.name.trim()) throw badRequest('name is required');
    if (b.name.length > 200) throw badRequest('name exceeds max length (200 chars)');
    let spec: Record<string, unknown>;
    if (b.spec !== undefined && b.spec !== null && typeof b.spec === 'object' && !Array.isArray(b.spec))
      spec = b.spec as Record<string, unknown>;
    else if (Array.isArray(b.invocations))
      spec = { invocations: b.invocations, ...(b.params !== undefined ? { params: b.params } : {}) };
    else throw badRequest('spec object (or top-level invocations array) is required');
    const v = validateInvocations(spec.invocations);
    if (!v.ok) throw badRequest(v.error);
    const shape = b.shape === undefined ? 'custom' : b.shape;
    if (typeof shape !== 'string' || !SHAPES.includes(shape))
      throw badRequest(`shape must be one of: ${SHAPES.join(', ')}`);
    const projectId = b.project_id === undefined || b.project_id === null ? null : b.project_id;
    if (projectId !== null && typeof projectId !== 'string') throw badRequest('project_id must be a string');
    // Agents fire workflows only in their own project (spec 06 W3 project scope).
    if (req.principal?.kind === 'agent' && projectId && projectId !== req.principal.projectId) {
      throw forbidden(`Agent ${req.principal.id} cannot access resources in project ${projectId}`);
    }
    const wid = "(SELECT seq FROM sqlite_sequence WHERE name = 'workflows')";
    // Workflow, its invocations and the `created` event in one atomic batch.
    const res = await db.batch([
      {
        sql: 'INSERT INTO workflows (name, shape, spec, project_id, requested_by) VALUES (?, ?, ?, ?, ?) RETURNING id',
        args: [b.name.trim(), shape, JSON.stringify({ ...spec, invocations: v.invocations }), projectId, req.who],
      },
      ...v.invocations.map((i) => ({
        sql: `INSERT INTO workflow_invocations (workflow_id, inv_id, agent_id, model, brief, deps) VALUES (${wid}, ?, ?, ?, ?, ?)`,
        args: [i.id, i.agent, i.model ?? '', i.brief ?? '', JSON.stringify(i.deps)],
      })),
      {
        sql: `INSERT INTO workflow_events (workflow_id, kind, payload) VALUES (${wid}, 'created', ?)`,
        args: [JSON.stringify({ name: b.name.trim(), shape, invocations: v.invocations.length })],
      },
    ]);
    const id = Number(res[0].rows[0].id);
    const w = (await db.get<WorkflowRow>('SELECT * FROM workflows WHERE id = ?', [id]))!;
    await api.emit({
      type: 'workflow_created',
      agent: req.who,
      projectId,
      summary: `${req.who} fired workflow: ${w.name} (${v.invocations.length} invocations)`,
      data: { workflow_id: id },
    });
    return { ok: true, workflow: await full(w) };
  });

  api.get('/', async (req) => {
    const q = req.query;
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
    if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc')
      throw badRequest('order must be one of: asc, desc');
    const limit = queryInt(q.limit, 'limit', 50, 1, 500);
    const rows = await db.all<WorkflowRow>(
      `SELECT * FROM workflows ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.order === 'asc' ? 'ASC' : 'DESC'} LIMIT ?`,
      [...args, limit],
    );
    return rows.map(wfOut);
  });

  api.get('/:id', async (req) => full(await load(req.params.id)));

  api.post('/:id/claim', async (req) => {
    const w = await load(req.params.id);
    const asked = req.body.runner_id;
    if (asked !== undefined && typeof asked !== 'string') throw badRequest('runner_id must be a string');
    // Identity comes from authentication: only an admin may claim on behalf of another runner.
    const runner = req.principal?.isAdmin && asked ? asked : req.who;
    const [upd] = await db.batch([
      {
        sql: "UPDATE workflows SET status = 'claimed', claimed_by = ? WHERE id = ? AND status = 'pending' RETURNING *",
        args: [runner, w.id],
      },
      {
        sql: "INSERT INTO workflow_events (workflow_id, kind, payload) SELECT ?, 'claimed', ? WHERE changes() > 0",
        args: [w.id, JSON.stringify({ claimed_by: runner })],
      },
    ]);
    const row = upd.rows[0] as unknown as WorkflowRow | undefined;
    if (!row) {
      const now = (await db.get<WorkflowRow>('SELECT status FROM workflows WHERE id = ?', [w.id]))!;
      throw conflict(`Workflow not claimable (status: ${now.status})`);
    }
    await api.emit({
      type: 'workflow_claimed',
      agent: runner,
      projectId: row.project_id,
      summary: `${runner} claimed workflow #${row.id}: ${row.name}`,
      data: { workflow_id: row.id, claimed_by: runner },
    });
    return { ok: true, workflow: await full(row) };
  });

  api.put('/:id', async (req) => {
    const w = await load(req.params.id);
    assertNotTerminal(w);
    assertRunner(req, w);
    const b = req.body;
    for (const f of ['status', 'risk', 'error'] as const) {
      if (b[f] !== undefined && b[f] !== null && typeof b[f] !== 'string') throw badRequest(`${f} must be a string`);
    }
    if (
      b.approval_id !== undefined &&
      b.approval_id !== null &&
      !(typeof b.approval_id === 'number' && Number.isInteger(b.approval_id) && b.approval_id > 0)
    ) {
      throw badRequest('approval_id must be a positive integer');
    }
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
    const [upd] = await db.batch(stmts);
    const row = upd.rows[0] as unknown as WorkflowRow | undefined;
    // The compare-and-set on the old status lost: someone else moved it first.
    if (!row) throw conflict('Workflow changed concurrently; re-read and retry');
    if (changing && (TERMINAL.has(to) || to === 'awaiting_approval')) {
      await api.emit({
        type: `workflow_${to}`,
        agent: req.who,
        projectId: row.project_id,
        summary: `Workflow #${row.id} ${to}: ${row.name}`,
        data: { workflow_id: row.id, error: row.error },
      });
    }
    return { ok: true, workflow: await full(row) };
  });

  api.put('/:id/invocations/:invId', async (req) => {
    const w = await load(req.params.id);
    const inv = await db.get<{ id: number; status: string }>(
      'SELECT id, status FROM workflow_invocations WHERE workflow_id = ? AND inv_id = ?',
      [w.id, req.params.invId],
    );
    if (!inv) throw notFound('invocation not found');
    assertNotTerminal(w);
    assertRunner(req, w);
    const b = req.body;
    if (b.status !== undefined && (typeof b.status !== 'string' || !INV_STATUSES.includes(b.status)))
      throw badRequest(`invocation status must be one of: ${INV_STATUSES.join(', ')}`);
    if (b.transcript_path !== undefined && b.transcript_path !== null && typeof b.transcript_path !== 'string')
      throw badRequest('transcript_path must be a string');
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
    const row = await db.get(`UPDATE workflow_invocations SET ${sets.join(', ')} WHERE id = ? RETURNING *`, [
      ...args,
      inv.id,
    ]);
    if (b.status === 'completed' || b.status === 'failed') {
      const type = b.status === 'completed' ? 'workflow_invocation_finished' : 'workflow_invocation_failed';
      await api.emit({
        type,
        agent: req.who,
        projectId: w.project_id,
        summary: `Workflow #${w.id} invocation ${req.params.invId} ${b.status}`,
        data: { workflow_id: w.id, inv_id: req.params.invId, status: b.status },
      });
    }
    return { ok: true, invocation: invOut(row!) };
  });

  api.post('/:id/events', async (req) => {
    const w = await load(req.params.id);
    const kind = req.body.kind;
    if (typeof kind === 'string' && TERMINAL_KINDS.includes(kind))
      throw badRequest(`kind ${kind} is set by a status transition (PUT /workflows/${w.id} {status:'${kind}'})`);
    if (typeof kind !== 'string' || !EVENT_KINDS.includes(kind))
      throw badRequest(`kind must be one of: ${EVENT_KINDS.join(', ')}`);
    const payload = req.body.payload ?? {};
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload))
      throw badRequest('payload must be an object');
    assertNotTerminal(w);
    assertRunner(req, w);
    const r = await db.get<{ id: number }>(
      'INSERT INTO workflow_events (workflow_id, kind, payload) VALUES (?, ?, ?) RETURNING id',
      [w.id, kind, JSON.stringify(payload)],
    );
    await api.emit({
      type: `workflow_${kind}`,
      agent: req.who,
      projectId: w.project_id,
      summary: `Workflow #${w.id}: ${kind}`,
      data: { ...(payload as Record<string, unknown>), workflow_id: w.id },
    });
    return { ok: true, event_id: r!.id };
  });

  api.post('/:id/cancel', async (req) => {
    const w = await load(req.params.id);
    const p = req.principal!;
    if (!p.isAdmin && p.kind === 'agent' && w.requested_by !== req.who && w.claimed_by !== req.who)
      throw forbidden('Only the requester, the runner or an admin can cancel this workflow');
    if (TERMINAL.has(w.status)) throw conflict(`workflow already ${w.status}`);
    let status = w.status;
    if (w.status !== 'cancelling') {
      const immediate = w.status === 'pending' || w.status === 'claimed';
      status = immediate ? 'cancelled' : 'cancelling';
      const [upd] = await db.batch([
        {
          sql: `UPDATE workflows SET status = ?${immediate ? ", finished_at = datetime('now')" : ''} WHERE id = ? AND status = ? RETURNING id`,
          args: [status, w.id, w.status],
        },
        {
          sql: 'INSERT INTO workflow_events (workflow_id, kind, payload) SELECT ?, ?, ? WHERE changes() > 0',
          args: [w.id, status, JSON.stringify({ was: w.status })],
        },
      ]);
      if (!upd.rows.length) throw conflict('Workflow changed concurrently; re-read and retry');
    }
    await api.emit({
      type: 'workflow_cancel_requested',
      agent: req.who,
      projectId: w.project_id,
      summary: `Cancel requested for workflow #${w.id}: ${w.name}`,
      data: { workflow_id: w.id, status },
    });
    return { ok: true, status };
  });
}
