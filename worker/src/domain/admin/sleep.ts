import { toDbTime } from '../../db/time.js';
import type { AppContext } from '../../context.js';
import type { Principal } from '../../auth/principal.js';
import type { Statement } from '../../db/types.js';
import type { EventInput } from '../events/bus.js';
import { badRequest, invalidEnum } from '../../http/errors.js';
import { configRepo } from '../config/repo.js';
import { parseArray, parseObject } from '../agents/json.js';
import { commitWithEvents } from '../messages/service.js';
import { sleepRepo } from './repo.js';

/** Sleep mode (spec 01 §5.3, 02 §3.8). It gates nothing; it records and informs. */

const EMPTY_LOG = {
  tasks_completed: [],
  steps_completed: [],
  approvals_queued: [],
  dispatches: [],
  errors: [],
  messages_sent: 0,
};
const APPROVAL_POLICIES = ['queue_high', 'normal'] as const;
const AWAY_MS = 30 * 60_000;

type SleepList = 'tasks_completed' | 'steps_completed' | 'approvals_queued' | 'dispatches' | 'errors';

export async function sleepState(app: AppContext): Promise<Record<string, unknown>> {
  const v = parseObject(await configRepo.value(app.db, 'sleep_mode'));
  return typeof v.active === 'boolean' ? v : { active: false };
}

/** Appends entries to one list of the sleep log, only while sleep mode is on; one statement each. */
export async function appendSleepLog(app: AppContext, list: SleepList, entries: Record<string, unknown>[]) {
  if (!entries.length || (await sleepState(app)).active !== true) return;
  await app.db.batch(entries.map((e) => sleepRepo.appendLog(list, e)));
}

/** Autonomous: no active, available operator whose studio user was seen in the last 30 min (spec 02 §2.6). */
export async function isAutonomous(app: AppContext): Promise<boolean> {
  const since = toDbTime(app.clock.now().getTime() - AWAY_MS);
  return !(await sleepRepo.presentOperator(app.db, since));
}

export async function sleepOverview(app: AppContext) {
  const log = await configRepo.value(app.db, 'sleep_mode_log');
  return {
    sleep_mode: await sleepState(app),
    autonomous: await isAutonomous(app),
    available_operators: await sleepRepo.availableCount(app.db),
    log: log ? parseObject(log) : null,
  };
}

async function resolveOperator(app: AppContext, p: Principal, body: Record<string, unknown>): Promise<string | null> {
  if (body.operator_id !== undefined && body.operator_id !== null && body.operator_id !== '') {
    if (typeof body.operator_id !== 'string') throw badRequest('operator_id must be a string');
    return body.operator_id;
  }
  if (p.kind === 'operator') return (await sleepRepo.operatorOfUser(app.db, p.userId))?.id ?? null;
  return null;
}

export async function setSleep(app: AppContext, p: Principal, body: Record<string, unknown>) {
  const action = body.action;
  if (action !== 'on' && action !== 'off') throw badRequest('action must be on or off');
  const operatorId = await resolveOperator(app, p, body);
  const who = p.who;
  const nowIso = app.clock.now().toISOString();
  if (action === 'on') {
    const directive = body.directive ?? '';
    if (typeof directive !== 'string' || directive.length > 5000)
      throw badRequest('directive must be a string of at most 5000 characters');
    const priorities = body.priorities ?? [];
    if (!Array.isArray(priorities) || priorities.length > 100) throw badRequest('priorities must be an array');
    const policy = body.approval_policy ?? 'queue_high';
    if (typeof policy !== 'string' || !(APPROVAL_POLICIES as readonly string[]).includes(policy))
      throw invalidEnum('approval_policy', policy, APPROVAL_POLICIES);
    // Never silently ignored (spec 02 W42): nothing would wake the network at that time.
    if (body.auto_wake_at !== undefined && body.auto_wake_at !== null)
      throw badRequest('auto_wake_at is not supported; end sleep mode with action off');
    const since = toDbTime(app.clock.now().getTime() - AWAY_MS);
    const away = await sleepRepo.staleAvailableOperators(app.db, since, operatorId);
    const starts = parseObject(await configRepo.value(app.db, 'sleep_mode_operator_starts'));
    starts[operatorId ?? who] = nowIso;
    const sleepMode = {
      active: true,
      directive,
      priorities,
      approval_policy: policy,
      auto_wake_at: null,
      started_at: nowIso,
      started_by: who,
    };
    const stmts: Statement[] = [
      ...(operatorId ? [sleepRepo.setAvailability(operatorId, 'sleeping', directive)] : []),
      ...away.map((o) =>
        sleepRepo.setAvailability(o.id, 'away', 'Auto-marked away — no dashboard activity at sleep mode activation'),
      ),
      ...(away.length ? [configRepo.upsert('sleep_mode_auto_away', JSON.stringify(away.map((o) => o.id)), who)] : []),
      configRepo.upsert('sleep_mode_operator_starts', JSON.stringify(starts), who),
      configRepo.upsert('sleep_mode', JSON.stringify(sleepMode), who),
      configRepo.upsert('sleep_mode_log', JSON.stringify(EMPTY_LOG), who),
    ];
    const autonomous = await isAutonomous(app);
    const events: EventInput[] = [
      ...away.map((o) => ({
        type: 'operator_availability',
        agent: '__system__',
        summary: `${o.display_name} auto-marked away (no recent dashboard activity)`,
        data: { operator_id: o.id, availability: 'away' },
      })),
      {
        type: 'sleep_mode_on',
        agent: who,
        summary: `${who} activated sleep mode${autonomous || away.length ? ' (network autonomous)' : ''}`,
        data: { directive },
      },
    ];
    await commitWithEvents(app, stmts, events);
    return {
      ok: true,
      sleep_mode: sleepMode,
      autonomous: await isAutonomous(app),
      auto_away_operators: away.map((o) => o.id),
    };
  }

  // off: any admin ends it for everyone.
  let wasOverride = false;
  if (operatorId) wasOverride = (await sleepRepo.operator(app.db, operatorId))?.availability === 'available';
  const starts = parseObject(await configRepo.value(app.db, 'sleep_mode_operator_starts'));
  const startKey = operatorId ?? who;
  const sleptSince = typeof starts[startKey] === 'string' ? (starts[startKey] as string) : null;
  const autoAway = parseArray(await configRepo.value(app.db, 'sleep_mode_auto_away')).filter(
    (x): x is string => typeof x === 'string',
  );
  const restored = await sleepRepo.stillAway(app.db, autoAway);
  const logText = await configRepo.value(app.db, 'sleep_mode_log');
  const log = logText ? parseObject(logText) : null;
  let summary: Record<string, unknown> | null = log;
  const stmts: Statement[] = [
    ...(operatorId ? [sleepRepo.setAvailability(operatorId, 'available', '')] : []),
    sleepRepo.wakeSleepers(),
    ...restored.map((o) => sleepRepo.setAvailability(o.id, 'available', '')),
    configRepo.upsert('sleep_mode', JSON.stringify({ active: false }), who),
    configRepo.upsert('sleep_mode_operator_starts', '{}', who),
    configRepo.upsert('sleep_mode_auto_away', '[]', who),
    sleepRepo.notifyOnlineAgents('Sleep mode ended. Human operators are available again.'),
  ];
  if (operatorId && log) {
    const since = sleptSince ?? '';
    const inWindow = (k: string) =>
      parseArray(JSON.stringify(log[k] ?? [])).filter(
        (e) => !since || String((e as { time?: string })?.time ?? '') >= since,
      );
    const tasksDb = sleptSince ? await sleepRepo.tasksDoneSince(app.db, toDbTime(Date.parse(sleptSince))) : [];
    summary = {
      tasks_completed: inWindow('tasks_completed'),
      tasks_completed_db: tasksDb,
      steps_completed: inWindow('steps_completed'),
      approvals_queued: inWindow('approvals_queued'),
      dispatches: inWindow('dispatches').length,
      messages_sent: Number(log.messages_sent ?? 0),
    };
    const text = [
      "Good morning! Here's what happened while you were away:",
      `- Tasks completed: ${tasksDb.length || (summary.tasks_completed as unknown[]).length}`,
      `- Plan steps completed: ${(summary.steps_completed as unknown[]).length}`,
      `- Approvals queued: ${(summary.approvals_queued as unknown[]).length}`,
      `- Dispatches: ${summary.dispatches}`,
    ].join('\n');
    stmts.push(sleepRepo.morningSummary(operatorId, text));
  }
  const events: EventInput[] = [
    ...restored.map((o) => ({
      type: 'operator_availability',
      agent: '__system__',
      summary: `${o.display_name} restored to available (sleep mode ended)`,
      data: { operator_id: o.id, availability: 'available' },
    })),
    {
      type: 'sleep_mode_off',
      agent: who,
      summary: wasOverride ? `${who} ended sleep mode (override)` : `${who} is back — sleep mode ended`,
      data: {},
    },
  ];
  await commitWithEvents(app, stmts, events);
  return {
    ok: true,
    sleep_mode: { active: false },
    was_override: wasOverride,
    slept_since: sleptSince,
    morning_summary: summary,
  };
}
