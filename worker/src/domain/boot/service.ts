import { parallelQueries } from '../../db/parallel.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { Statement } from '../../db/types.js';
import { forbidden, notFound } from '../../http/errors.js';
import { isFrozen } from '../admin/freeze.js';
import { agentsRepo, agentWrites, profilesRepo, toPublicAgent, type AgentRow } from '../agents/repo.js';
import { derivePresence } from '../agents/service.js';
import { presentProfile } from '../agents/manage.js';
import { calibrationBlock, resolveCalibrationChain } from '../agents/calibration.js';
import { parseDbTime, parseObject, parseStringArray, toDbTime } from '../agents/json.js';
import { messagesRepo } from '../messages/repo.js';
import { savepointsRepo } from '../savepoints/repo.js';
import { savepointDiff } from '../savepoints/service.js';
import { buildQueue, workScope } from '../work/service.js';
import { inboxFor } from '../heartbeat/service.js';
import { isAutonomous, sleepState } from '../admin/sleep.js';
import { bootRepo } from './repo.js';
import { WebhookService } from '../webhooks/service.js';
import { heartbeatRepo } from '../heartbeat/repo.js';

const CRASH_STALE_MS = 15 * 60_000;
const OTHERS_WINDOW_MS = 7 * 86_400_000;

type Variant = 'slim' | 'smart' | 'verbose';

/** Crash recovery is judged on the row as it was before boot's own heartbeat (spec 02 §3.4). */
function crashRecovery(
  before: AgentRow,
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

export class BootService {
  constructor(private readonly app: AppContext) {}

  private async roleContract(a: AgentRow) {
    const role = parseObject((await bootRepo.contextKey(this.app.db, 'roles', a.id))?.data);
    let guidelines: unknown = typeof role.guidelines === 'string' ? role.guidelines : null;
    if (guidelines === null && a.project_id) {
      const g = parseMaybeJson((await bootRepo.contextKey(this.app.db, a.project_id, 'guidelines'))?.data);
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

  private async enforcementRules(): Promise<string[]> {
    const v = parseMaybeJson((await bootRepo.contextKey(this.app.db, 'mycelium', 'enforcement_rules'))?.data);
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

  async boot(p: Principal, agentId: string, variant: Variant) {
    const { app } = this;
    const { db } = app;
    if (p.kind !== 'agent' || p.id !== agentId) throw forbidden('Agent key does not match agent ID');
    const before = await agentsRepo.get(db, agentId);
    if (!before) throw notFound('Agent not found');
    const now = app.clock.now();
    const nowMs = now.getTime();
    const nowIso = now.toISOString();
    const latest = await savepointsRepo.latest(db, agentId);
    // The diff compares with the latest savepoint before this boot touched anything.
    const diff = await savepointDiff(app, before, latest);

    const mdReport = parseObject(latest?.state_snapshot).md_report;
    const chain = await resolveCalibrationChain(db, agentId, before.agent_type || 'agent');
    const calibration = calibrationBlock(
      chain,
      mdReport && typeof mdReport === 'object' && !Array.isArray(mdReport)
        ? (mdReport as Record<string, unknown>)
        : null,
      nowIso,
    );
    const sideEffects: Statement[] = [
      // The calibration block is stored where agents and dashboards read it (spec 02 §3.10).
      heartbeatRepo.storeAgentKey(agentId, before.project_id, 'standup', JSON.stringify(calibration)),
      bootRepo.deleteExpiredEphemeral(agentId, nowIso),
      agentWrites.heartbeat(agentId, 'online', before.working_on ?? '', toDbTime(nowMs)),
      profilesRepo.countSession(agentId),
      savepointsRepo.markNotesDelivered(agentId),
    ];
    const ev = {
      type: 'agent_boot',
      agent: agentId,
      projectId: before.project_id || null,
      summary: variant === 'slim' ? `${agentId} booted` : `${agentId} booted (${variant})`,
      data: before.status !== 'online' ? { previous_status: before.status, new_status: 'online' } : {},
    };
    // Boot flips the agent online: the status webhook fires here too (spec 02 W30), its outbox row
    // in the boot's batch.
    const hooks = new WebhookService(app);
    const flipped = before.status !== 'online';
    const webhook = flipped
      ? [
          hooks.enqueueStatement('agent_status_changed', agentId, {
            agent_id: agentId,
            previous_status: before.status,
            new_status: 'online',
            working_on: before.working_on ?? '',
          }),
        ]
      : [];
    const res = await db.batch([...sideEffects, app.events.statement(ev), ...webhook]);
    app.events.publishWritten(ev, Number(res[sideEffects.length].rows[0]?.id ?? null));
    if (flipped) hooks.kick();
    const agent: AgentRow = { ...before, status: 'online', last_heartbeat: toDbTime(nowMs) };

    const scope = await workScope(app, agent);
    // At most 6 reads in flight (Workers' per-request connection limit): the queue is one batch, so
    // it goes first; then the inbox (three at once) beside the single reads, three lanes — room for
    // the background work the boot's event starts (webhook outbox drains) and, on a cold isolate,
    // the plugin host's start.
    const queue = await buildQueue(app, agent);
    const [inbox, counts, others, teams, profile, sleep, autonomous, operatorsAvailable, frozen] =
      await parallelQueries(
        [
          () => inboxFor(app, agentId),
          () => bootRepo.counts(db, agentId, agent.project_id, scope),
          () => bootRepo.otherAgents(db, agentId, agent.project_id, toDbTime(nowMs - OTHERS_WINDOW_MS)),
          () => bootRepo.teams(db, agentId),
          () => profilesRepo.get(db, agentId),
          () => sleepState(app),
          () => isAutonomous(app),
          () => bootRepo.operatorsAvailable(db),
          () => isFrozen(db),
        ],
        3,
      );
    const presence = (o: { status: string; last_heartbeat: string | null }) =>
      derivePresence(o.status, o.last_heartbeat, now);
    const common: Record<string, unknown> = {
      role_contract: await this.roleContract(agent),
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

    if (variant === 'verbose')
      return this.verbose(
        agent,
        before,
        scope,
        queue,
        common,
        others.map((o) => ({
          id: o.id,
          display_name: o.name,
          status: presence(o),
          working_on: o.working_on ?? '',
          last_heartbeat: o.last_heartbeat,
          project_id: o.project_id,
          llm_backend: o.llm_backend,
          runtime: o.runtime,
        })),
      );

    const primary = teams.find((t) => Number(t.is_primary) === 1);
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
      work_queue: frozen ? [] : queue.slice(0, 5).map((i) => ({ type: i.type, id: i.id, title: i.title })),
      pending_directives: inbox.directives.map((d) => ({ id: d.id, from: d.from_agent, content: d.content })),
      pending_requests: inbox.requests.map((d) => ({ id: d.id, from: d.from_agent, content: d.content })),
      other_agents: others.map((o) => ({ id: o.id, status: presence(o), working_on: o.working_on ?? '' })),
      ...common,
      enforcement_rules_active: await this.enforcementRules(),
      changes_since_last: diff.has_savepoint ? changesText(diff.summary) : 'No changes since last session.',
    };
    if (inbox.directives.length || inbox.requests.length || inbox.messages.length) {
      out.inbox = inbox;
      // Slim boot delivers unread messages once, like the heartbeat.
      if (inbox.messages.length)
        await db.batch(
          messagesRepo.markRead(
            agentId,
            inbox.messages.map((m) => m.id),
          ),
        );
    }
    if (primary) {
      out.team = primary;
      out.team_members = await bootRepo.teamMembers(db, primary.id);
    }
    const guests = teams.filter((t) => Number(t.is_primary) !== 1);
    if (guests.length) out.guest_teams = guests;
    if (variant === 'smart')
      Object.assign(
        out,
        await this.smartContext(
          agent,
          queue.map((q) => `${q.title} ${String(q.summary ?? '')}`).join(' '),
          nowIso,
          nowMs,
        ),
      );
    return out;
  }

  /** Keyword + access + recency scorer (spec 02 §3.4.2; the vector path is optional). */
  private async smartContext(agent: AgentRow, work: string, nowIso: string, nowMs: number) {
    const namespaces = [...new Set([agent.id, agent.project_id, 'mycelium'].filter(Boolean))];
    const keys = await bootRepo.contextKeys(this.app.db, namespaces, nowIso);
    const tokens = (s: string) =>
      new Set(
        s
          .toLowerCase()
          .split(/[^a-z0-9]+/)
          .filter((w) => w.length > 2),
      );
    const query = tokens(`${work} ${agent.project_id}`);
    const maxAccess = Math.max(1, ...keys.map((k) => Number(k.access_count) || 0));
    const cfg = await this.app.db.get<{ value: string }>(
      "SELECT value FROM instance_config WHERE key = 'smart_boot_max_keys'",
    );
    const maxKeys = Math.min(200, Math.max(1, Number.parseInt(cfg?.value ?? '', 10) || 20));
    const scored = keys.map((k) => {
      const kt = tokens(`${k.namespace} ${k.key} ${k.data}`);
      const kw = query.size ? [...query].filter((w) => kt.has(w)).length / query.size : 0;
      const access = (Number(k.access_count) || 0) / maxAccess;
      const last = Math.max(parseDbTime(k.updated_at) || 0, parseDbTime(k.last_accessed_at) || 0);
      const recency = last ? Math.max(0, 1 - (nowMs - last) / (90 * 86_400_000)) : 0;
      const id = `${k.namespace}:${k.key}`;
      const critical = /conventions|enforcement_rules|role_/.test(id);
      let score = 0.45 * kw + 0.35 * access + 0.2 * recency;
      const reasons: string[] = [];
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
        method: 'keyword+access',
        max_keys: maxKeys,
      },
    };
  }

  private async verbose(
    agent: AgentRow,
    before: AgentRow,
    scope: string[] | null,
    queue: unknown[],
    common: Record<string, unknown>,
    others: Array<Record<string, unknown> & { project_id: string }>,
  ) {
    const { db } = this.app;
    const nowIso = common.server_time as string;
    const ns = async (n: string) => (n ? bootRepo.contextKeys(db, [n], nowIso) : []);
    const since = before.last_heartbeat;
    const [
      project,
      tasks,
      requests,
      directives,
      newMessages,
      projectKeys,
      platformKeys,
      agentKeys,
      approvalQueue,
      myApprovals,
      recentEvents,
      openBugs,
      plans,
      channels,
      concepts,
      sinceCounts,
      plugins,
    ] = await parallelQueries([
      () => (agent.project_id ? bootRepo.project(db, agent.project_id) : undefined),
      () => bootRepo.assignedTaskRows(db, agent.id),
      () => messagesRepo.pendingRequestRows(db, agent.id),
      () => messagesRepo.pendingDirectiveRows(db, agent.id),
      () => (since ? messagesRepo.newSince(db, agent.id, since) : Promise.resolve([])),
      () => ns(agent.project_id),
      () => (agent.project_id === 'mycelium' ? Promise.resolve([]) : ns('mycelium')),
      () => ns(agent.id),
      () => bootRepo.approvalQueue(db, scope),
      () => bootRepo.myApprovals(db, agent.id),
      () => bootRepo.recentEvents(db, agent.id, scope),
      () => bootRepo.openBugs(db, scope),
      () => bootRepo.plans(db, agent.project_id),
      () => bootRepo.channels(db, agent.id),
      () => (agent.project_id ? bootRepo.concepts(db, agent.project_id) : Promise.resolve([])),
      () => (since ? bootRepo.sinceLastSession(db, agent.id, since) : Promise.resolve(undefined)),
      () => bootRepo.enabledPlugins(db),
    ]);
    const unread_counts: Record<string, number> = {};
    for (const ch of channels) unread_counts[String(ch.id)] = Number(ch.unread);
    return {
      agent: toPublicAgent(agent),
      project: project ?? null,
      role_contract: common.role_contract,
      work_queue: common.admin_status === 'frozen' ? [] : queue,
      tasks,
      pending_requests: requests,
      new_messages: newMessages,
      pending_directives: directives,
      asset_requests: [],
      other_agents: others,
      context_keys: projectKeys,
      platform_context: platformKeys,
      agent_context: agentKeys,
      approval_queue: approvalQueue,
      my_approvals: myApprovals,
      recent_events: recentEvents,
      open_bugs: openBugs,
      plans,
      channels,
      unread_counts,
      concepts: concepts.map((c) => ({ ...c, data: parseObject(c.data) })),
      plugins,
      team_agents: others.filter((o) => o.project_id === agent.project_id),
      since_last_session: sinceCounts ? { ...sinceCounts, since } : null,
      ...common,
    };
  }
}
