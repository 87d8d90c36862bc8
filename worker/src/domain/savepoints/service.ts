import type { Queryable } from '../../db/db.js';
import { composedBatch, StatementCapture } from '../../db/captured.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import { isSelfOrAdmin } from '../../auth/principal.js';
import { badRequest, forbidden, notFound } from '../../http/errors.js';
import { agentsRepo, type AgentRow } from '../agents/repo.js';
import { parseArray, parseObject } from '../agents/json.js';
import { workScope } from '../work/service.js';
import { savepointsRepo, toWireSavepoint, type SavepointRow } from './repo.js';
import { diffRepo } from './diff-repo.js';
import { atomicWrite } from '../events/write.js';
import { dronesRepo } from '../drones/repo.js';

function assertSavepointAccess(p: Principal, agentId: string) {
  if (!isSelfOrAdmin(p, agentId)) throw forbidden('Can only access your own savepoints');
}

/**
 * What changed since the latest savepoint (spec 02 §3.7), limited to what the agent may read
 * (W23): its messages, its and its projects' unassigned tasks, its projects' plans and bugs, its
 * context namespaces, and events of its projects.
 */
async function savepointDiff(app: AppContext, agent: AgentRow, sp?: SavepointRow) {
  const latest = sp ?? (await savepointsRepo.latest(app.db, agent.id));
  if (!latest) return { has_savepoint: false as const };
  const scope = await workScope(app, agent);
  // Seven reads: one batch (one round trip on Workers, never more than one connection in flight).
  const reads = new StatementCapture(app.db);
  const diff = diffAgainst(reads.db, agent.id, latest, scope);
  await composedBatch((stmts) => app.db.batch(stmts), [reads]);
  return diff;
}

/**
 * The diff's reads, all issued at once (no await before them), so a caller may run them inside
 * its own batch through a StatementCapture (boot, issue 11).
 */
export async function diffAgainst(db: Queryable, agentId: string, latest: SavepointRow, scope: string[] | null) {
  const since = latest.heartbeat_at;
  const acked = parseArray(latest.messages_acked).map(Number).filter(Number.isInteger);
  const projects = scope ?? [];
  const [new_messages, tasks_changed, context_changed, plans_changed, bugs_changed, events, drone_jobs_changed] =
    await Promise.all([
      diffRepo.messages(db, agentId, since, acked, latest.messages_mark ?? null),
      diffRepo.tasks(db, agentId, since, scope),
      diffRepo.context(db, agentId, [agentId, ...projects, 'mycelium'], since),
      diffRepo.plans(db, since, scope),
      diffRepo.bugs(db, since, scope),
      diffRepo.eventCount(db, agentId, since, scope, latest.events_mark ?? null),
      dronesRepo.changedSince(db, agentId, since),
    ]);
  return {
    has_savepoint: true as const,
    savepoint_id: latest.id,
    savepoint_at: latest.heartbeat_at,
    session_id: latest.session_id,
    was_working_on: latest.working_on,
    notes: latest.notes,
    previous_state: parseObject(latest.state_snapshot),
    changes: {
      new_messages,
      tasks_changed,
      context_changed,
      plans_changed,
      bugs_changed,
      drone_jobs_changed,
      events_since: events,
    },
    summary: {
      messages: new_messages.length,
      tasks: tasks_changed.length,
      context: context_changed.length,
      plans: plans_changed.length,
      bugs: bugs_changed.length,
      drone_jobs: drone_jobs_changed.length,
      events,
      time_since: latest.heartbeat_at,
    },
  };
}

export class SavepointService {
  constructor(private readonly app: AppContext) {}

  async latest(p: Principal, agentId: string) {
    assertSavepointAccess(p, agentId);
    const sp = await savepointsRepo.latest(this.app.db, agentId);
    return sp ? toWireSavepoint(sp) : { has_savepoint: false };
  }

  async list(p: Principal, agentId: string, rawLimit: string | undefined) {
    assertSavepointAccess(p, agentId);
    const n = rawLimit !== undefined && /^\d+$/.test(rawLimit) ? Number(rawLimit) : NaN;
    const limit = !Number.isFinite(n) || n < 1 ? 10 : Math.min(n, 500);
    return savepointsRepo.list(this.app.db, agentId, limit);
  }

  async diff(p: Principal, agentId: string) {
    assertSavepointAccess(p, agentId);
    const agent = await agentsRepo.get(this.app.db, agentId);
    if (!agent) return { has_savepoint: false };
    return savepointDiff(this.app, agent);
  }

  async setNotes(agentId: string, notes: unknown) {
    if (typeof notes !== 'string' || !notes.trim()) throw badRequest('notes required');
    if (notes.length > 20_000) throw badRequest('notes exceeds max length (20000 chars)');
    // The notes and their event commit together; the event names the savepoint the UPDATE chose.
    const res = await atomicWrite(this.app)
      .add('savepoint', savepointsRepo.setNotesOnLatest(agentId, notes))
      .requireChanged('no savepoint')
      .eventPerRow(
        { type: 'savepoint_notes', agent: '__admin__' },
        {
          summarySql: '?',
          dataSql: "json_object('agent_id', ?, 'savepoint_id', sp)",
          rest: savepointsRepo.latestIdSql,
          args: [`Admin left notes for ${agentId}: ${notes.slice(0, 100)}`, agentId, agentId],
        },
      )
      .commitUnlessAborted();
    const row = res?.row<{ id: number }>('savepoint');
    if (!row) throw notFound('No savepoint found for agent');
    return { ok: true, savepoint_id: Number(row.id) };
  }

  async create(agentId: string, notes: unknown) {
    const agent = await agentsRepo.get(this.app.db, agentId);
    if (!agent) throw notFound('Agent not found');
    if (notes !== undefined && notes !== null && typeof notes !== 'string') throw badRequest('notes must be a string');
    const res = await atomicWrite(this.app)
      .add(
        'savepoint',
        savepointsRepo.insert({
          agentId,
          workingOn: agent.working_on ?? '',
          notes: (notes as string | undefined) || null,
        }),
      )
      .commit();
    return { ok: true, savepoint_id: Number(res.row('savepoint')!.id) };
  }
}
