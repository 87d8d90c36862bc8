import { parseDbTime, toDbTime } from '../../db/time.js';
import type { Queryable } from '../../db/db.js';
import { awaitAll } from '../../db/parallel.js';
import { composedBatch, StatementCapture } from '../../db/captured.js';
import { ScalarFold } from '../../db/scalar-fold.js';
import { configRepo } from '../config/repo.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { ResultSet, Statement } from '../../db/types.js';
import { forbidden, notFound } from '../../http/errors.js';
import { isFrozen } from '../admin/freeze.js';
import {
  agentsRepo,
  agentWrites,
  profilesRepo,
  toPublicAgent,
  type AgentRow,
  type ProfileRow,
} from '../agents/repo.js';
import { derivePresence, PRESENCE_STALE_MS } from '../agents/service.js';
import { presentProfile } from '../agents/manage.js';
import { calibrationBlock, resolveCalibrationChain } from '../agents/calibration.js';
import { parseObject, parseStringArray } from '../agents/json.js';
import { INBOX_UNREAD, inboxListsFrom, messagesRepo, type InboxItem } from '../messages/repo.js';
import { savepointsRepo } from '../savepoints/repo.js';
import { diffAgainst } from '../savepoints/service.js';
import { queueFrom, queueReads, workScope, type QueueItem } from '../work/service.js';
import { QUEUE_PARTS } from '../work/repo.js';
import type { Inbox } from '../heartbeat/service.js';
import { isAutonomous, sleepState } from '../admin/sleep.js';
import { bootRepo, type BootAgentRow } from './repo.js';
import { WebhookService } from '../webhooks/service.js';
import { heartbeatRepo } from '../heartbeat/repo.js';
import { pluginServiceOf } from '../../plugins/host.js';
import { RawJson } from '../../http/raw-json.js';
import type { ContextScorer } from '../../plugins/types.js';

const CRASH_STALE_MS = 15 * 60_000;
/** Smart boot waits this long for the semantic-memory scorer, then ranks by keywords alone. */
const SCORER_BUDGET_MS = 1500;
const OTHERS_WINDOW_MS = 7 * 86_400_000;
/** Slim boot's `work_queue`: the first 5 items (spec 02 §3.4.1). */
const SLIM_QUEUE = 5;
/** The queue's parts keyed by the agent itself (buckets 1–6); the rest are the unassigned buckets. */
const OWN_PARTS = QUEUE_PARTS.indexOf('freeSteps');
const NO_ROWS: ResultSet = { rows: [], rowsAffected: 0, lastInsertRowid: null };

type Variant = 'slim' | 'smart' | 'verbose';

/** Crash recovery is judged on the row as it was before boot's own heartbeat (spec 02 §3.4). */
function crashRecovery(
  before: BootAgentRow,
  now: number,
  latest: { state_snapshot: string; notes: string | null } | undefined,
) {
  if (!before.working_on) return null;
  const t = parseDbTime(before.last_heartbeat);
  if (!Number.isFinite(t) || now - t <= CRASH_STALE_MS) return null;
  return {
    detected: true,
    last_heartbeat: before.last_heartbeat,
    stale_minutes: Math.round((now - t) / 60_000),
    was_working_on: before.working_on,
    recovery_state: latest?.state_snapshot ?? null,
    recovery_notes: latest?.notes ?? null,
  };
}

function changesText(summary: Record<string, unknown> | undefined): string {
  if (!summary) return 'No changes since last session.';
  const parts: string[] = [];
  const add = (n: unknown, one: string, many: string) => {
    const k = Number(n) || 0;
    if (k > 0) parts.push(`${k} ${k === 1 ? one : many}`);
  };
  add(summary.messages, 'new message', 'new messages');
  add(summary.tasks, 'task change', 'task changes');
  add(summary.plans, 'plan change', 'plan changes');
  add(summary.bugs, 'bug change', 'bug changes');
  add(summary.context, 'context change', 'context changes');
  return parts.length ? `${parts.join(', ')} since last session.` : 'No changes since last session.';
}

function parseMaybeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** role_contract (spec 02 §3.4.4) from the agent row and the two context keys it reads. */
function roleContract(a: BootAgentRow, roleKey: { data: string } | undefined, guideKey: { data: string } | undefined) {
  const role = parseObject(roleKey?.data);
  let guidelines: unknown = typeof role.guidelines === 'string' ? role.guidelines : null;
  if (guidelines === null && a.project_id) {
    const g = parseMaybeJson(guideKey?.data);
    if (typeof g === 'string') guidelines = g;
    else if (g && typeof g === 'object') {
      const o = g as Record<string, unknown>;
      guidelines =
        typeof o.text === 'string' ? o.text : typeof o.guidelines === 'string' ? o.guidelines : JSON.stringify(o);
    }
  }
  return {
    agent_id: a.id,
    role: a.role || 'agent',
    project_id: a.project_id,
    capabilities: parseStringArray(a.capabilities),
    llm_backend: a.llm_backend || null,
    llm_model: a.llm_model || null,
    description: typeof role.description === 'string' ? role.description : null,
    responsibilities: Array.isArray(role.responsibilities) ? role.responsibilities : [],
    constraints: Array.isArray(role.constraints) ? role.constraints : [],
    guidelines,
  };
}

function enforcementRules(key: { data: string } | undefined): string[] {
  const v = parseMaybeJson(key?.data);
  const rules = Array.isArray(v)
    ? v
    : v && typeof v === 'object' && Array.isArray((v as { rules?: unknown }).rules)
      ? (v as { rules: unknown[] }).rules
      : [];
  return rules
    .filter((r): r is Record<string, unknown> => !!r && typeof r === 'object')
    .map(
      (r) =>
        `${String(r.id ?? 'rule')}: ${String(r.message ?? '').slice(0, 80)} (${String(r.severity ?? 'warn').toUpperCase()})`,
    );
}

/**
 * Slim boot's `other_agents` from `bootRepo.otherAgentsList`'s value. Usually its text goes into the
 * answer as it is (RawJson: no parse, no second serialization — at 200 agents that JavaScript cost
 * more than SQLite's building of the list). Only odd heartbeat spellings need JS, and only those
 * entries carry the key `last_heartbeat` (inside a JSON string a quote is escaped, so the text
 * `"last_heartbeat":` occurs only as that key): then the list is parsed and those entries decided.
 */
function otherAgentsFrom(text: unknown, now: Date) {
  const json = typeof text === 'string' ? text : '[]';
  if (!json.includes('"last_heartbeat":')) return new RawJson(json);
  const list = JSON.parse(json) as {
    id: string;
    status: string;
    working_on: unknown;
    last_heartbeat?: string | null;
  }[];
  for (const o of list)
    if ('last_heartbeat' in o) {
      o.status = derivePresence(o.status, o.last_heartbeat ?? null, now);
      delete o.last_heartbeat;
    }
  return list;
}

const sameStatement = (a: Statement, b: Statement) =>
  a.sql === b.sql &&
  (a.args ?? []).length === (b.args ?? []).length &&
  (a.args ?? []).every((v, i) => v === b.args?.[i]);

const run = (app: AppContext) => (stmts: Statement[]) => app.db.batch(stmts);

export class BootService {
  /**
   * The agent_type each agent last booted with (per process, bounded). Boot reads the calibration
   * chain in its first batch, before the row is known; the guess is checked against the row read in
   * that same batch, and a wrong guess costs one more pass, never a wrong answer.
   */
  private readonly agentTypes = new Map<string, string>();

  constructor(private readonly app: AppContext) {}

  /**
   * GET /boot/:agentId (spec 02 §3.4) in two batches (issue 11; two pipeline requests on Workers):
   * 1. every read that needs only the agent id and its project — taken from the caller's key and
   *    checked against the row read in the same batch;
   * 2. the savepoint diff (before boot's writes), the writes with the agent_boot event, then the
   *    reads that must see them (profile, counts, inbox with its delivery marks, verbose lists).
   * The work queue's reads (the work area's statements, spec 02 §3.5) close batch 2: they see
   * what boot wrote, as they did when the queue was its own request after it.
   */
  async boot(p: Principal, agentId: string, variant: Variant) {
    if (p.kind !== 'agent' || p.id !== agentId) throw forbidden('Agent key does not match agent ID');
    let guess = { project: p.projectId, type: this.agentTypes.get(agentId) ?? 'agent' };
    for (let attempt = 0; ; attempt++) {
      const out = await this.bootAs(agentId, variant, guess, attempt >= 2);
      if ('retryWith' in out) {
        guess = out.retryWith;
        continue;
      }
      return out.body;
    }
  }

  private async bootAs(
    agentId: string,
    variant: Variant,
    guess: { project: string; type: string },
    lastTry: boolean,
  ): Promise<{ body: Record<string, unknown> } | { retryWith: { project: string; type: string } }> {
    const { app } = this;
    const { db } = app;
    const now = app.clock.now();
    const nowMs = now.getTime();
    const nowIso = now.toISOString();

    // ── Batch 1: reads keyed by the agent id and its (expected) project.
    const r1 = new StatementCapture(db);
    const r1App: AppContext = { ...app, db: r1.db };
    // Verbose boot shows the whole public row; slim and smart read only the columns they use, in
    // one statement with the one-value reads and the other agents' list (`head`, below).
    const fullRead = variant === 'verbose' ? agentsRepo.get(r1.db, agentId) : undefined;
    const latestRead = savepointsRepo.latest(r1.db, agentId);
    const scopeRead = workScope(r1App, { id: agentId, project_id: guess.project });
    const chainRead = resolveCalibrationChain(r1.db, agentId, guess.type);
    // The one-value reads (context keys, config flags, operator counts) travel as one statement.
    const fold = new ScalarFold(db);
    const foldApp: AppContext = { ...app, db: fold.db };
    const roleRead = bootRepo.contextKey(fold.db, 'roles', agentId);
    const guideRead = guess.project ? bootRepo.contextKey(fold.db, guess.project, 'guidelines') : undefined;
    const rulesRead = variant === 'verbose' ? undefined : bootRepo.contextKey(fold.db, 'mycelium', 'enforcement_rules');
    const sleepRead = sleepState(foldApp);
    const autonomousRead = isAutonomous(foldApp);
    const operatorsRead = bootRepo.operatorsAvailable(fold.db);
    const frozenRead = isFrozen(fold.db);
    // Two of boot's writes change a row only now and then (an expired ephemeral key, notes not yet
    // delivered): whether they would is asked here, so batch 2 sends them only then (issue 11).
    const expiredRead = bootRepo.expiredEphemeral(fold.db, agentId, nowIso);
    const notesRead = savepointsRepo.undeliveredNotes(fold.db, agentId);
    const teamsRead = bootRepo.teams(r1.db, agentId);
    const othersSince = toDbTime(nowMs - OTHERS_WINDOW_MS);
    // Verbose boot shows more of each agent; slim and smart get the list shaped by SQLite.
    const othersRead =
      variant === 'verbose' ? bootRepo.otherAgents(r1.db, agentId, guess.project, othersSince) : undefined;
    // Slim and smart: the row, the fold's reads and the list are one statement (issue 11).
    const head =
      variant === 'verbose'
        ? undefined
        : bootRepo.agentWith(
            agentId,
            {
              directives: messagesRepo.pendingInboxLists(agentId).directives,
              others: bootRepo.otherAgentsList(
                agentId,
                guess.project,
                othersSince,
                toDbTime(nowMs - PRESENCE_STALE_MS),
              ),
            },
            fold.statements()[0],
          );
    // Slim and smart boot deliver the inbox once, like the heartbeat (verbose shows none): read here
    // (boot's writes touch no message), and exactly the regular messages read are marked in batch 2.
    const ib = new StatementCapture(db);
    // Its pending directives are a column of `head` (the heartbeat's JSON list); requests and
    // unread messages are reads of their own (the requests read is shared with the queue, below).
    const requestsRead = variant === 'verbose' ? undefined : messagesRepo.pendingRequests(ib.db, agentId);
    const unreadRead = variant === 'verbose' ? undefined : messagesRepo.unreadRegular(ib.db, agentId, INBOX_UNREAD);
    // The newest message as this batch sees it: if it finds fewer unread than it asks for, every
    // message up to this one is read once batch 2 marks them, and the read-up-to mark moves here.
    const newestRead = variant === 'verbose' ? undefined : messagesRepo.newestId(ib.db);
    // The queue is the work area's (spec 02 §3.5); boot's writes touch none of its rows. Its pending
    // requests are the inbox's read (the same statement), sent once. Slim boot shows the first 5
    // items: the agent's own buckets (1–6) are read here; the unassigned buckets (7–8), the queue's
    // costliest reads, follow in batch 2 only when the own buckets leave room in those 5.
    const queueStmts = queueReads(app, agentId);
    const sharedAt = ib.statements().findIndex((st) => sameStatement(st, queueStmts[0]));
    const ownStmts = queueStmts.slice(sharedAt >= 0 ? 1 : 0, OWN_PARTS);
    const early = variant === 'slim' ? ownStmts : [];
    let res1: ResultSet[][];
    try {
      res1 = await composedBatch(run(app), [head ? [head] : [], r1, head ? [] : fold, ib, early]);
    } catch (err) {
      if (head) fold.fail();
      throw err;
    }
    const [headRes, , , ibRes, earlyRes] = res1;
    const requestsRes = sharedAt >= 0 ? [ibRes[sharedAt]] : [];
    const headRow = head ? headRes[0].rows[0] : undefined;
    if (head) fold.settle(headRes);

    const before: BootAgentRow | undefined = head ? (headRow as unknown as BootAgentRow | undefined) : await fullRead;
    if (!before) throw notFound('Agent not found');
    const type = before.agent_type || 'agent';
    if (this.agentTypes.size > 10_000) this.agentTypes.clear();
    this.agentTypes.set(agentId, type);
    if ((before.project_id !== guess.project || type !== guess.type) && !lastTry)
      return { retryWith: { project: before.project_id, type } };
    const [latest, scope, chain, teams, requests, unread, newest, expired, notes] = await Promise.all([
      latestRead,
      scopeRead,
      chainRead,
      teamsRead,
      requestsRead,
      unreadRead,
      newestRead,
      expiredRead,
      notesRead,
    ]);
    const box: Inbox | undefined =
      requests && unread
        ? {
            directives: inboxListsFrom(headRow).directives,
            requests: requests.map(({ status: _s, ...r }: InboxItem & { status?: string }) => r),
            messages: unread,
          }
        : undefined;

    const mdReport = parseObject(latest?.state_snapshot).md_report;
    const calibration = calibrationBlock(
      chain,
      mdReport && typeof mdReport === 'object' && !Array.isArray(mdReport)
        ? (mdReport as Record<string, unknown>)
        : null,
      nowIso,
    );
    const agent: BootAgentRow = { ...before, status: 'online', last_heartbeat: toDbTime(nowMs) };

    // ── Batch 2: the diff (it compares with the latest savepoint before boot touched anything),
    // boot's writes, then the reads that must see them.
    const r2before = new StatementCapture(db);
    const diffRead = latest
      ? diffAgainst(r2before.db, agentId, latest, scope)
      : Promise.resolve({ has_savepoint: false as const });
    const writes: Statement[] = [
      // The calibration block is stored where agents and dashboards read it (spec 02 §3.10).
      heartbeatRepo.storeAgentKey(agentId, before.project_id, 'standup', JSON.stringify(calibration)),
      ...(expired ? [bootRepo.deleteExpiredEphemeral(agentId, nowIso)] : []),
      // Already online: only the heartbeat time moves (the status index stays as it is).
      before.status === 'online'
        ? agentWrites.touchHeartbeat(agentId, toDbTime(nowMs))
        : agentWrites.heartbeat(agentId, 'online', before.working_on ?? '', toDbTime(nowMs)),
      ...(notes ? [savepointsRepo.markNotesDelivered(agentId)] : []),
      ...(box
        ? messagesRepo.markRead(
            agentId,
            box.messages.map((m) => m.id),
          )
        : []),
      ...(box && newest !== undefined && box.messages.length < INBOX_UNREAD
        ? [messagesRepo.markReadTo(agentId, newest)]
        : []),
    ];
    // The session count answers with the profile boot serves (spec 02 §3.4: as GET /agents/:id/profile).
    const profileAt = writes.length;
    writes.push(profilesRepo.countSession(agentId));
    const ev = {
      type: 'agent_boot',
      agent: agentId,
      projectId: before.project_id || null,
      summary: variant === 'slim' ? `${agentId} booted` : `${agentId} booted (${variant})`,
      data: before.status !== 'online' ? { previous_status: before.status, new_status: 'online' } : {},
    };
    const eventAt = writes.length;
    writes.push(app.events.statement(ev));
    // Boot flips the agent online: the status webhook fires here too (spec 02 W30), its outbox row
    // in the boot's batch.
    const hooks = new WebhookService(app);
    const flipped = before.status !== 'online';
    const webhookAt = writes.length;
    if (flipped)
      writes.push(
        hooks.enqueueStatement('agent_status_changed', agentId, {
          agent_id: agentId,
          previous_status: before.status,
          new_status: 'online',
          working_on: before.working_on ?? '',
        }),
      );
    const r2after = new StatementCapture(db);
    // Smart boot scores the keys as boot left them (its fresh calibration block included).
    const smartRead = variant === 'smart' ? this.smartReads(r2after.db, agentId, agent.project_id, nowIso) : undefined;
    const primary = teams.find((t) => Number(t.is_primary) === 1);
    const slimReads =
      variant === 'verbose'
        ? undefined
        : {
            counts: bootRepo.counts(r2after.db, agentId, agent.project_id, scope),
            members: primary ? bootRepo.teamMembers(r2after.db, primary.id) : undefined,
          };
    const verboseReads =
      variant === 'verbose' ? this.verboseReads(r2after.db, agent, before, scope, nowIso) : undefined;
    // The queue's remaining reads: slim boot's unassigned buckets when there is room; everything
    // but the shared requests for smart and verbose.
    let own = requestsRes;
    let lateStmts = queueStmts.slice(requestsRes.length);
    let ownQueue: QueueItem[] | undefined;
    if (variant === 'slim') {
      own = [...requestsRes, ...earlyRes];
      ownQueue = queueFrom(agent, [...own, ...queueStmts.slice(OWN_PARTS).map(() => NO_ROWS)]);
      lateStmts = ownQueue.length >= SLIM_QUEUE ? [] : queueStmts.slice(OWN_PARTS);
    }
    const res = await composedBatch(run(app), [r2before, writes, r2after, lateStmts]);
    const queue = ownQueue && lateStmts.length === 0 ? ownQueue : queueFrom(agent, [...own, ...res[3]]);
    const eventRow = res[1][eventAt].rows[0] as { id?: unknown; webhooks_active?: unknown } | undefined;
    // The row says whether a webhook was active: if none was, nothing was queued and nothing is drained.
    app.events.publishWritten(ev, Number(eventRow?.id ?? null), eventRow);
    // Send at once only what was queued (someone subscribes): no idle outbox poll.
    if (flipped && res[1][webhookAt].rowsAffected > 0) hooks.kick();

    const profile = res[1][profileAt].rows[0] as unknown as ProfileRow | undefined;
    const [diff, sleep, autonomous, operatorsAvailable, frozen, roleKey, guideKey] = await Promise.all([
      diffRead,
      sleepRead,
      autonomousRead,
      operatorsRead,
      frozenRead,
      roleRead,
      guideRead,
    ]);
    const presence = (o: { status: string; last_heartbeat: string | null }) =>
      derivePresence(o.status, o.last_heartbeat, now);
    const common: Record<string, unknown> = {
      role_contract: roleContract(agent, roleKey, guideKey),
      crash_recovery: crashRecovery(before, nowMs, latest),
      calibration,
      sleep_mode: sleep,
      autonomous_mode: autonomous,
      operators_available: operatorsAvailable,
      server_time: nowIso,
      savepoint: diff,
    };
    if (profile) common.profile = presentProfile(profile);
    if (frozen) common.admin_status = 'frozen';

    if (verboseReads)
      return {
        body: this.verbose(
          // Verbose read the whole row (`fullRead`): its public fields are shown.
          { ...(await fullRead)!, status: agent.status, last_heartbeat: agent.last_heartbeat },
          await verboseReads,
          queue,
          common,
          (await othersRead!).map((o) => ({
            id: o.id,
            display_name: o.name,
            status: presence(o),
            working_on: o.working_on ?? '',
            last_heartbeat: o.last_heartbeat,
            project_id: o.project_id,
            llm_backend: o.llm_backend,
            runtime: o.runtime,
          })),
        ),
      };

    const counts = await slimReads!.counts;
    const inbox = box ?? { directives: [], requests: [], messages: [] };
    const out: Record<string, unknown> = {
      agent: {
        id: agent.id,
        role: agent.role,
        project: agent.project_id,
        capabilities: parseStringArray(agent.capabilities),
      },
      role_contract: common.role_contract,
      counts: {
        directives: inbox.directives.length,
        requests: inbox.requests.length,
        messages_unread: inbox.messages.length,
        tasks_mine: Number(counts?.tasks_mine ?? 0),
        bugs_open: Number(counts?.bugs_open ?? 0),
        plans_active: Number(counts?.plans_active ?? 0),
      },
      work_queue: frozen ? [] : queue.slice(0, SLIM_QUEUE).map((i) => ({ type: i.type, id: i.id, title: i.title })),
      pending_directives: inbox.directives.map((d) => ({ id: d.id, from: d.from_agent, content: d.content })),
      pending_requests: inbox.requests.map((d) => ({ id: d.id, from: d.from_agent, content: d.content })),
      other_agents: otherAgentsFrom(headRow?.others, now),
      ...common,
      enforcement_rules_active: enforcementRules(await rulesRead),
      changes_since_last: diff.has_savepoint ? changesText(diff.summary) : 'No changes since last session.',
    };
    if (inbox.directives.length || inbox.requests.length || inbox.messages.length) out.inbox = inbox;
    if (primary) {
      out.team = primary;
      out.team_members = await slimReads!.members;
    }
    const guests = teams.filter((t) => Number(t.is_primary) !== 1);
    if (guests.length) out.guest_teams = guests;
    if (smartRead)
      Object.assign(
        out,
        await this.smartContext(
          agent,
          queue.map((q) => `${q.title} ${String(q.summary ?? '')}`).join(' '),
          await smartRead,
          nowMs,
        ),
      );
    return { body: out };
  }

  /** The smart scorer's inputs: candidate keys of the agent's namespaces and the instance's max_keys. */
  private async smartReads(db: Queryable, agentId: string, projectId: string, nowIso: string) {
    const namespaces = [...new Set([agentId, projectId, 'mycelium'].filter(Boolean))];
    const [keys, cfg] = await Promise.all([
      bootRepo.contextKeys(db, namespaces, nowIso),
      configRepo.value(db, 'smart_boot_max_keys'),
    ]);
    return { keys, maxKeysValue: cfg };
  }

  /** Keyword + access + recency scorer (spec 02 §3.4.2; the vector path is optional). */
  private async smartContext(
    agent: BootAgentRow,
    work: string,
    reads: Awaited<ReturnType<BootService['smartReads']>>,
    nowMs: number,
  ) {
    const { keys } = reads;
    const tokens = (s: string) =>
      new Set(
        s
          .toLowerCase()
          .split(/[^a-z0-9]+/)
          .filter((w) => w.length > 2),
      );
    const query = tokens(`${work} ${agent.project_id}`);
    const vectors = await this.vectorScores(agent, work, keys);
    const maxAccess = Math.max(1, ...keys.map((k) => Number(k.access_count) || 0));
    const maxKeys = Math.min(200, Math.max(1, Number.parseInt(reads.maxKeysValue ?? '', 10) || 20));
    const scored = keys.map((k) => {
      const kt = tokens(`${k.namespace} ${k.key} ${k.data}`);
      const kw = query.size ? [...query].filter((w) => kt.has(w)).length / query.size : 0;
      const access = (Number(k.access_count) || 0) / maxAccess;
      const last = Math.max(parseDbTime(k.updated_at) || 0, parseDbTime(k.last_accessed_at) || 0);
      const recency = last ? Math.max(0, 1 - (nowMs - last) / (90 * 86_400_000)) : 0;
      const id = `${k.namespace}:${k.key}`;
      const critical = /conventions|enforcement_rules|role_/.test(id);
      const vec = vectors?.scores.get(id);
      let score =
        vectors && vec !== undefined
          ? 0.35 * vec + 0.3 * kw + 0.2 * access + 0.15 * recency
          : 0.45 * kw + 0.35 * access + 0.2 * recency;
      const reasons: string[] = [];
      if (vec !== undefined && vec > 0.1) reasons.push(`vector:${vec.toFixed(2)}`);
      if (kw > 0.05) reasons.push(`keyword:${kw.toFixed(2)}`);
      if (access > 0.1) reasons.push(`access:${access.toFixed(2)}`);
      if (recency > 0.5) reasons.push('recent');
      if (critical) {
        score = Math.max(1, score);
        reasons.push('critical');
      }
      return {
        namespace: k.namespace,
        key: k.key,
        data: parseMaybeJson(k.data),
        score: Math.round(score * 1000) / 1000,
        reasons,
        critical,
      };
    });
    const critical = scored.filter((s) => s.critical);
    const rest = scored
      .filter((s) => !s.critical)
      .sort((a, b) => b.score - a.score)
      .slice(0, maxKeys);
    const selected = [...critical, ...rest].map(({ critical: _c, ...s }) => s);
    return {
      context_keys: selected,
      context_meta: {
        total_available: keys.length,
        selected: selected.length,
        method: vectors?.method ?? 'keyword+access',
        max_keys: maxKeys,
      },
    };
  }

  /**
   * Vector similarity of each key to the work text, from the semantic-memory plugin when it is
   * enabled (spec 02 §3.4.2). Time-boxed; any failure means keyword ranking, never a failed boot.
   */
  private async vectorScores(agent: BootAgentRow, work: string, keys: { namespace: string; key: string }[]) {
    if (!keys.length) return null;
    const scorer = await pluginServiceOf<ContextScorer>(this.app, 'context-scorer');
    if (!scorer) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        scorer.score({
          agentId: agent.id,
          projectId: agent.project_id,
          query: work,
          keys: keys.map((k) => ({ namespace: k.namespace, key: k.key })),
        }),
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), SCORER_BUDGET_MS);
        }),
      ]);
    } catch (err) {
      this.app.log.warn(`[boot] context scorer failed, keyword ranking used: ${(err as Error).message}`);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Verbose boot's lists (spec 02 §3.4.3), all issued at once so they ride in boot's second batch. */
  private async verboseReads(
    db: Queryable,
    agent: BootAgentRow,
    before: BootAgentRow,
    scope: string[] | null,
    nowIso: string,
  ) {
    const none = Promise.resolve([]);
    const ns = (n: string) => (n ? bootRepo.contextKeys(db, [n], nowIso) : none);
    const since = before.last_heartbeat;
    // Issued together (they ride in boot's second batch), awaited as one named record.
    const reads = await awaitAll({
      project: agent.project_id ? bootRepo.project(db, agent.project_id) : undefined,
      tasks: bootRepo.assignedTaskRows(db, agent.id),
      requests: messagesRepo.pendingRequestRows(db, agent.id),
      directives: messagesRepo.pendingDirectiveRows(db, agent.id),
      newMessages: since ? messagesRepo.newSince(db, agent.id, since) : none,
      projectKeys: ns(agent.project_id),
      platformKeys: agent.project_id === 'mycelium' ? none : ns('mycelium'),
      agentKeys: ns(agent.id),
      approvalQueue: bootRepo.approvalQueue(db, scope),
      myApprovals: bootRepo.myApprovals(db, agent.id),
      recentEvents: bootRepo.recentEvents(db, agent.id, scope),
      openBugs: bootRepo.openBugs(db, scope),
      plans: bootRepo.plans(db, agent.project_id),
      channels: bootRepo.channels(db, agent.id),
      concepts: agent.project_id ? bootRepo.concepts(db, agent.project_id) : Promise.resolve([] as { data: string }[]),
      sinceCounts: since ? bootRepo.sinceLastSession(db, agent.id, since) : Promise.resolve(undefined),
      plugins: bootRepo.enabledPlugins(db),
    });
    return { ...reads, since };
  }

  private verbose(
    agent: AgentRow,
    r: Awaited<ReturnType<BootService['verboseReads']>>,
    queue: unknown[],
    common: Record<string, unknown>,
    others: Array<Record<string, unknown> & { project_id: string }>,
  ) {
    const unread_counts: Record<string, number> = {};
    for (const ch of r.channels) unread_counts[String(ch.id)] = Number(ch.unread);
    return {
      agent: toPublicAgent(agent),
      project: r.project ?? null,
      role_contract: common.role_contract,
      work_queue: common.admin_status === 'frozen' ? [] : queue,
      tasks: r.tasks,
      pending_requests: r.requests,
      new_messages: r.newMessages,
      pending_directives: r.directives,
      asset_requests: [],
      other_agents: others,
      context_keys: r.projectKeys,
      platform_context: r.platformKeys,
      agent_context: r.agentKeys,
      approval_queue: r.approvalQueue,
      my_approvals: r.myApprovals,
      recent_events: r.recentEvents,
      open_bugs: r.openBugs,
      plans: r.plans,
      channels: r.channels,
      unread_counts,
      concepts: r.concepts.map((c) => ({ ...c, data: parseObject(c.data) })),
      plugins: r.plugins,
      team_agents: others.filter((o) => o.project_id === agent.project_id),
      since_last_session: r.sinceCounts ? { ...r.sinceCounts, since: r.since } : null,
      ...common,
    };
  }
}
