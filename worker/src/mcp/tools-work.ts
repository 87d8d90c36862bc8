import { z } from 'zod';
import {
  age,
  arr,
  enc,
  intId,
  json,
  jsonish,
  jsonArg,
  listing,
  present,
  text,
  tool,
  ToolArgError,
  type ToolDef,
  type ToolEnv,
} from './tool.js';

/** Agents, boot, session, work, tasks, plans and bugs (spec 08 §2.1–2.4). */

const PRIORITY = z.enum(['low', 'normal', 'high', 'urgent']);

function needSelf(env: ToolEnv, what: string): string {
  if (env.self) return env.self;
  throw new ToolArgError(`${what} needs an agent: connect with an agent key (or the admin key with X-Acting-As)`);
}

function needAgentKey(env: ToolEnv, tool: string): string {
  if (env.principal.kind === 'agent') return env.principal.id;
  throw new ToolArgError(`${tool} acts for the connected agent only: connect with an agent key`);
}

const workLine = (x: any, i: number) =>
  `${i + 1}. [${String(x.type ?? 'item').toUpperCase()}] #${x.id}${x.plan_title ? ` (${x.plan_title})` : ''}: ${x.title ?? ''}${x.status ? ` [${x.status}]` : ''}${x.summary ? ` — ${x.summary}` : ''}`;
const taskLine = (t: any) =>
  `#${t.id} [${t.status}] ${t.title}${t.assignee ? ` →${t.assignee}` : ''}${t.priority && t.priority !== 'normal' ? ` [${t.priority}]` : ''}${t.project_id ? ` [${t.project_id}]` : ''}`;
const bugLine = (b: any) => `#${b.id} [${b.severity}] ${b.title}${b.assignee ? ` →${b.assignee}` : ''} (${b.status})`;

/** What is pending for the agent, so a remote client learns about directives without a background stream (D15). */
function pendingLine(counts: any): string {
  if (!counts || typeof counts !== 'object') return '';
  const names: [string, string][] = [
    ['directives', 'directive'],
    ['requests', 'request'],
    ['messages_unread', 'unread message'],
    ['tasks_mine', 'task'],
    ['bugs_open', 'open bug'],
    ['plans_active', 'active plan'],
  ];
  const parts = names
    .filter(([k]) => Number(counts[k]) > 0)
    .map(([k, n]) => `${counts[k]} ${n}${Number(counts[k]) === 1 ? '' : 's'}`);
  return parts.length ? `Pending: ${parts.join(', ')}` : '';
}

function bootText(b: any, self: string): string {
  const out: string[] = [`Booted as ${self}${b.agent?.project_id ? ` (${b.agent.project_id})` : ''}`];
  if (b.context_meta)
    out.push(
      `Context (${b.context_meta.selected ?? '?'}/${b.context_meta.total_available ?? '?'} keys, ${b.context_meta.method ?? 'all'})`,
    );
  const rc = b.role_contract;
  if (rc) out.push('=== Role Contract ===', typeof rc === 'string' ? rc : json(rc));
  const directives = arr(b.directives);
  if (directives.length) {
    out.push(`!!! ${directives.length} BLOCKING DIRECTIVE(S): handle them before anything else !!!`);
    for (const d of directives) out.push(`--- DIRECTIVE #${d.id} from ${d.from_agent} ---`, String(d.content ?? ''));
    out.push('Resolve each directive with mycelium_respond_to_request.');
  }
  const reqs = arr(b.pending_requests);
  if (reqs.length)
    out.push(
      `=== Pending Requests (${reqs.length}) ===`,
      ...reqs.map((r) => `[REQ #${r.id}] ${r.from_agent}: ${String(r.content ?? '').slice(0, 200)}`),
    );
  const others = arr(b.other_agents);
  if (others.length)
    out.push(
      '=== Agents ===',
      ...others.map((a) => `[${a.status === 'online' ? 'ON' : 'OFF'}] ${a.id}: ${a.working_on ?? ''}`),
    );
  const sp = b.savepoint;
  if (sp?.has_savepoint) {
    out.push('=== Session Resume ===');
    if (sp.was_working_on) out.push(`Was working on: ${sp.was_working_on}`);
    if (sp.notes) out.push(`Notes: ${sp.notes}`);
    if (b.changes_since_last)
      out.push(
        `Changes: ${typeof b.changes_since_last === 'string' ? b.changes_since_last : json(b.changes_since_last)}`,
      );
  }
  const queue = arr(b.work_queue ?? b.queue);
  if (queue.length)
    out.push(
      `=== Work Queue (${queue.length} items) ===`,
      ...queue.map((x) => `${String(x.type ?? '').toUpperCase()} #${x.id}: ${x.title}`),
    );
  const pending = pendingLine(b.counts);
  if (pending) out.push(pending);
  if (b.server_time) out.push(`Server time: ${b.server_time}`);
  return out.join('\n');
}

function overviewText(o: any): string {
  const out: string[] = [];
  const agents = arr(o.agents);
  out.push(
    '=== Agents ===',
    ...agents.map(
      (a) =>
        `[${a.status === 'online' ? 'ON' : 'OFF'}] ${a.name ?? a.id} (${a.id}) — ${a.project_id ?? ''}${a.working_on ? `\n  Working on: ${a.working_on}` : ''}\n  Heartbeat: ${age(a.last_heartbeat)}`,
    ),
  );
  const t = o.tasks;
  if (t && typeof t === 'object' && !Array.isArray(t)) {
    const open = arr(t.open),
      prog = arr(t.in_progress),
      review = arr(t.review);
    out.push(
      `=== Tasks: ${open.length} open, ${prog.length} in-progress, ${review.length} review, ${arr(t.done).length} recently done ===`,
      ...[...open, ...prog, ...review].map(taskLine),
    );
  }
  const plans = arr(o.plans);
  if (plans.length)
    out.push(`=== Plans (${plans.length}) ===`, ...plans.map((p) => `Plan #${p.id} [${p.status}] ${p.title}`));
  const bugs = arr(o.bugs).filter((b) => b.status === 'open' || b.status === 'in_progress');
  if (bugs.length) out.push(`=== Open Bugs (${bugs.length}) ===`, ...bugs.map(bugLine));
  if (!t && !plans.length) out.push(json(o));
  return out.join('\n');
}

export const workTools: ToolDef[] = [
  tool({
    name: 'mycelium_boot',
    description:
      'Start a session: directives, pending requests, savepoint resume, work queue (agent); the network overview (admin/operator).',
    async run(env) {
      if (env.self)
        return bootText(await env.rest('GET', `/boot/${enc(env.self)}`, { query: { smart: 'true' } }), env.self);
      return overviewText(await env.rest('GET', '/admin/overview', { query: { verbose: 'true' } }));
    },
  }),
  tool({
    name: 'mycelium_overview',
    description: 'Whole-network summary: agents, tasks, plans, open bugs (admin).',
    async run(env) {
      return overviewText(await env.rest('GET', '/admin/overview', { query: { verbose: 'true' } }));
    },
  }),
  tool({
    name: 'mycelium_list_agents',
    description: 'Agent roster with status, current work and last heartbeat.',
    async run(env) {
      const list = arr(await env.rest('GET', '/agents'));
      return listing(
        'Agents',
        list,
        (a) =>
          `[${String(a.status ?? 'offline').toUpperCase()}] ${a.id}${a.name ? ` (${a.name})` : ''}${a.working_on ? `: ${a.working_on}` : ''} | heartbeat ${age(a.last_heartbeat)}`,
        'No agents registered.',
      );
    },
  }),
  tool({
    name: 'mycelium_get_work',
    description:
      'Your prioritised work queue; auto_claim=true claims the first claimable item atomically. Admin/operator: open tasks and pending approvals.',
    args: { auto_claim: z.boolean().optional() },
    async run(env, a) {
      if (!env.self) {
        // The slim overview lacks these lists (D5): read them directly.
        const [open, prog, review, pend] = await Promise.all([
          env.rest('GET', '/tasks', { query: { status: 'open' } }),
          env.rest('GET', '/tasks', { query: { status: 'in_progress' } }),
          env.rest('GET', '/tasks', { query: { status: 'review' } }),
          env.rest('GET', '/approvals', { query: { status: 'pending' } }),
        ]);
        const tasks = [...arr(open), ...arr(prog), ...arr(review)];
        const approvals = arr(pend?.approvals ?? pend);
        if (!tasks.length && !approvals.length) return 'No open work items.';
        return [
          listing('All Open Tasks', tasks, taskLine, '=== All Open Tasks (0) ==='),
          listing(
            'Pending Approvals',
            approvals,
            (x) => `#${x.id} [${x.action_type}] ${x.title} (by ${x.requested_by})`,
            '=== Pending Approvals (0) ===',
          ),
        ].join('\n');
      }
      const w = await env.rest('GET', `/work/${enc(env.self)}`, {
        query: { auto_claim: a.auto_claim ? 'true' : undefined },
      });
      const out: string[] = [];
      if (w.frozen) out.push('Work routing is frozen by the kill switch: nothing to claim right now.');
      if (w.claimed)
        out.push(
          '=== AUTO-CLAIMED ===',
          `${String(w.claimed.type).toUpperCase()} #${w.claimed.id}: ${w.claimed.title}`,
          ...(w.claimed.description ? [String(w.claimed.description)] : []),
        );
      const queue = arr(w.queue ?? w.work_queue);
      if (queue.length) out.push(`=== Prioritized Work Queue (${queue.length} items) ===`, ...queue.map(workLine));
      if (!out.length) return 'No work items found. You are idle.';
      return out.join('\n');
    },
  }),
  tool({
    name: 'mycelium_heartbeat',
    description:
      'Report presence and what you are working on (agent). Answers pending counts and auto-dispatched work.',
    args: {
      working_on: text(2000),
      messages_acked: z.array(z.number().int()).max(1000).optional(),
      state_snapshot: jsonish.optional(),
      session_id: text(200).optional(),
    },
    async run(env, a) {
      needAgentKey(env, 'mycelium_heartbeat');
      const snap = a.state_snapshot === undefined ? undefined : jsonArg('state_snapshot', a.state_snapshot);
      const r = await env.rest('POST', '/agents/heartbeat', {
        body: present({
          status: 'online',
          working_on: a.working_on,
          session_id: a.session_id,
          messages_acked: a.messages_acked,
          state_snapshot: snap,
          runtime: 'mcp-remote',
        }),
      });
      let s = `Heartbeat sent. working_on: "${a.working_on}"`;
      if (Number(r.pending) > 0) s += ` | ${r.pending} pending`;
      if (r.wake) s += '\nWAKE: new work is waiting — call mycelium_get_work.';
      const auto = arr(r.auto_dispatched);
      if (auto.length) s += `\nAuto-dispatched: ${auto.map((x) => x.title ?? `#${x.id}`).join(', ')}`;
      return s;
    },
  }),
  tool({
    name: 'mycelium_rekey',
    description:
      "Replace your own agent key. The old key stops working at once, including for this connection: put the new key in your client's X-Agent-Key header.",
    async run(env) {
      const id = needAgentKey(env, 'mycelium_rekey');
      const r = await env.rest('POST', '/agents/rekey', { body: {} });
      return `New API key for ${id}:\n${r.api_key}\nThis connection's key is now revoked: replace the X-Agent-Key header (or MYCELIUM_API_KEY) with the new key and reconnect.`;
    },
  }),
  tool({
    name: 'mycelium_set_avatar',
    description: 'Change your own avatar URL (an empty string clears it).',
    args: { avatar_url: text(2000) },
    async run(env, a) {
      const id = needAgentKey(env, 'mycelium_set_avatar');
      await env.rest('PUT', `/agents/${enc(id)}`, { body: { avatar_url: a.avatar_url } });
      return `Avatar updated for ${id}: ${a.avatar_url || '(cleared)'}`;
    },
  }),
  tool({
    name: 'mycelium_agent_profile',
    description: "Read or update an agent's profile record (updates: the agent itself or an admin).",
    args: {
      action: z.enum(['get', 'update']).optional(),
      agent_id: text(128).optional(),
      specializations: jsonish.optional(),
      preferred_projects: jsonish.optional(),
      max_concurrent: z.number().int().min(0).optional(),
      profile_data: jsonish.optional(),
    },
    async run(env, a) {
      const id = a.agent_id ?? needSelf(env, 'mycelium_agent_profile without agent_id');
      if ((a.action ?? 'get') === 'get') return json(await env.rest('GET', `/agents/${enc(id)}/profile`));
      const body = present({
        specializations: a.specializations === undefined ? undefined : jsonArg('specializations', a.specializations),
        preferred_projects:
          a.preferred_projects === undefined ? undefined : jsonArg('preferred_projects', a.preferred_projects),
        max_concurrent: a.max_concurrent,
        profile_data: a.profile_data === undefined ? undefined : jsonArg('profile_data', a.profile_data),
      });
      return json(await env.rest('PUT', `/agents/${enc(id)}/profile`, { body }));
    },
  }),
  tool({
    name: 'mycelium_view_savepoint',
    description: "An agent's most recent savepoint (agents: their own).",
    args: { agent_id: text(128) },
    async run(env, a) {
      const r = await env.raw('GET', `/agents/${enc(a.agent_id)}/savepoint`);
      if (r.status === 404) return `No savepoint found for ${a.agent_id}`;
      if (r.status >= 300) return env.rest('GET', `/agents/${enc(a.agent_id)}/savepoint`);
      const s = r.body;
      if (!s || s.has_savepoint === false) return `No savepoint found for ${a.agent_id}`;
      const sp = s.savepoint ?? s;
      const out = [
        `=== Savepoint for ${a.agent_id} ===`,
        `Last heartbeat: ${sp.last_heartbeat ?? sp.created_at ?? ''}`,
        `Session: ${sp.session_id ?? ''}`,
        `Working on: ${sp.working_on ?? ''}`,
      ];
      if (sp.admin_notes ?? sp.notes) out.push(`Notes: ${sp.admin_notes ?? sp.notes}`);
      const st =
        typeof sp.state_snapshot === 'string'
          ? jsonArg('state_snapshot', sp.state_snapshot, { lenient: true })
          : sp.state_snapshot;
      if (st && typeof st === 'object' && Object.keys(st).length) out.push(`State: ${json(st)}`);
      return out.join('\n');
    },
  }),
  tool({
    name: 'mycelium_savepoint_diff',
    description: "What changed since an agent's savepoint (agents: their own).",
    args: { agent_id: text(128) },
    async run(env, a) {
      const d = await env.rest('GET', `/agents/${enc(a.agent_id)}/savepoint/diff`);
      if (!d || d.has_savepoint === false) return `No savepoint for ${a.agent_id}: this is the first session.`;
      const ch = d.changes ?? d.summary ?? {};
      const lines = Object.entries(ch)
        .filter(([, v]) => Number(v) > 0)
        .map(([k, v]) => `  ${k}: ${v}`);
      return [
        `=== Changes since savepoint (${d.savepoint_at ?? ''}) ===`,
        `Was working on: ${d.was_working_on ?? ''}`,
        ...(d.admin_notes ? [`Admin notes: ${d.admin_notes}`] : []),
        'Changes:',
        ...(lines.length ? lines : ['No changes detected.']),
      ].join('\n');
    },
  }),
  tool({
    name: 'mycelium_leave_notes',
    description: 'Attach notes an agent reads at its next boot (admin).',
    args: { agent_id: text(128), notes: text(50_000) },
    async run(env, a) {
      const r = await env.rest('PUT', `/agents/${enc(a.agent_id)}/savepoint/notes`, { body: { notes: a.notes } });
      return `Notes saved for ${a.agent_id} (savepoint #${r.savepoint_id ?? r.id ?? '?'}).\nThe agent sees them at its next boot.`;
    },
  }),

  // ---------- tasks ----------
  tool({
    name: 'mycelium_claim_task',
    description: 'Claim a task atomically: 409 with the holder when someone else has it; idempotent for you.',
    args: { task_id: intId },
    async run(env, a) {
      const t = await env.rest('POST', `/tasks/${a.task_id}/claim`, { body: {} });
      const task = t.task ?? t;
      return `Claimed task #${a.task_id}: ${task.title ?? ''}\nworking_on: ${task.title ?? ''}`;
    },
  }),
  tool({
    name: 'mycelium_complete_task',
    description: 'Mark a task done. Notes become a task comment; the description is left alone.',
    args: { task_id: intId, notes: text(50_000).optional() },
    async run(env, a) {
      await env.rest('PUT', `/tasks/${a.task_id}`, { body: { status: 'done' } });
      if (a.notes) await env.rest('POST', `/tasks/${a.task_id}/comments`, { body: { content: a.notes } });
      let next = '';
      if (env.self) {
        const w = await env.raw('GET', `/work/${enc(env.self)}`);
        const first = arr(w.body?.queue)[0];
        if (first) next = `\nNext: ${String(first.type).toUpperCase()} #${first.id}: ${first.title}`;
      }
      return `Completed task #${a.task_id}.${a.notes ? ' Notes saved as a comment.' : ''}${next}`;
    },
  }),
  tool({
    name: 'mycelium_create_task',
    description: 'Create a task (in your project unless project_id names another you may write to).',
    args: {
      title: text(500),
      description: text(50_000).optional(),
      project_id: text(200).optional(),
      priority: PRIORITY.optional(),
      assignee: text(200).optional(),
      needs_approval: z.boolean().optional(),
      tags: z.array(text(100)).max(100).optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/tasks', { body: present({ ...a, priority: a.priority ?? 'normal' }) });
      return `Created task #${r.id}: ${r.title ?? a.title}`;
    },
  }),
  tool({
    name: 'mycelium_list_tasks',
    description: 'List tasks, filtered by project, status and assignee.',
    args: {
      project_id: text(200).optional(),
      status: text(50).optional(),
      assignee: text(200).optional(),
      limit: z.number().int().min(1).max(500).optional(),
    },
    async run(env, a) {
      return listing('Tasks', arr(await env.rest('GET', '/tasks', { query: a })), taskLine, 'No tasks found.');
    },
  }),
  tool({
    name: 'mycelium_get_task',
    description: 'One task with its fields.',
    args: { task_id: intId },
    async run(env, a) {
      const t = await env.rest('GET', `/tasks/${a.task_id}`);
      const out = [
        `=== Task #${t.id} ===`,
        `Title: ${t.title}`,
        `Status: ${t.status}`,
        `Priority: ${t.priority || 'normal'}`,
        `Project: ${t.project_id || '(none)'}`,
        `Assignee: ${t.assignee || '(unassigned)'}`,
        `Created: ${t.created_at}`,
      ];
      if (t.description) out.push('Description:', t.description);
      if (t.needs_approval) out.push('Needs approval: yes');
      return out.join('\n');
    },
  }),
  tool({
    name: 'mycelium_update_task',
    description: 'Change task fields. Every given field is sent, empty strings included (so a field can be cleared).',
    args: {
      task_id: intId,
      status: text(50).optional(),
      assignee: text(200).nullable().optional(),
      priority: PRIORITY.optional(),
      title: text(500).optional(),
      description: text(50_000).optional(),
    },
    async run(env, a) {
      const { task_id, ...rest } = a;
      await env.rest('PUT', `/tasks/${task_id}`, { body: present(rest) });
      return `Updated task #${task_id}`;
    },
  }),
  tool({
    name: 'mycelium_request_work',
    description: 'Ask the coordinator for work (agent).',
    args: {
      type: z.enum(['task_request', 'asset_request', 'work_request']),
      description: text(50_000).optional(),
      target: text(200).optional(),
      priority: PRIORITY.optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/work/request', { body: present({ ...a, priority: a.priority ?? 'normal' }) });
      return `Work request filed. Message #${r.message_id ?? r.id} routed to ${r.routed_to ?? 'the coordinator'}.\nThe coordinator will assign work.`;
    },
  }),

  // ---------- plans ----------
  tool({
    name: 'mycelium_check_plans',
    description:
      'Plans with step progress. Without status: every plan that is not finished (draft and active included).',
    args: { project_id: text(200).optional(), status: text(50).optional() },
    async run(env, a) {
      const body = await env.rest('GET', '/plans', { query: a });
      let plans = arr(body?.plans ?? body);
      if (!a.status) plans = plans.filter((p) => !['completed', 'cancelled', 'archived'].includes(p.status));
      if (!plans.length) return `No plans found${a.status ? ` with status ${a.status}` : ' that are not finished'}.`;
      const blocks = plans.map((p) => {
        const steps = arr(p.steps);
        const done = steps.filter((s) => s.status === 'completed').length;
        return [
          `#${p.id} [${p.status}] ${p.title} (${done}/${steps.length} steps done)`,
          ...steps.map((s) => `  [${s.status}] Step #${s.id}: ${s.title}${s.assignee ? ` → ${s.assignee}` : ''}`),
        ].join('\n');
      });
      return `Filter: ${a.status ?? 'not finished'}\n\n${blocks.join('\n\n')}`;
    },
  }),
  tool({
    name: 'mycelium_update_step',
    description: 'Change a plan step (status, assignee, linked task or branch).',
    args: {
      plan_id: intId,
      step_id: intId,
      status: text(50).optional(),
      assignee: text(200).nullable().optional(),
      linked_task_id: intId.nullable().optional(),
      linked_branch: text(500).nullable().optional(),
    },
    async run(env, a) {
      const { plan_id, step_id, ...rest } = a;
      await env.rest('PUT', `/plans/${plan_id}/steps/${step_id}`, { body: present(rest) });
      return `Updated step #${step_id} on plan #${plan_id}`;
    },
  }),
  tool({
    name: 'mycelium_create_plan',
    description: 'Create a plan with its initial steps (plans start as draft).',
    args: {
      title: text(500),
      description: text(50_000).optional(),
      project_id: text(200).optional(),
      priority: PRIORITY.optional(),
      steps: z
        .array(
          z.strictObject({ title: text(500), description: text(50_000).optional(), assignee: text(200).optional() }),
        )
        .max(200)
        .optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/plans', { body: present({ ...a, priority: a.priority ?? 'normal' }) });
      const id = r.id ?? r.plan?.id;
      return `Created plan #${id}: ${a.title}${a.steps?.length ? ` (${a.steps.length} steps)` : ''}${r.approval_warning ? `\n${r.approval_warning}` : ''}`;
    },
  }),

  // ---------- bugs ----------
  tool({
    name: 'mycelium_file_bug',
    description: 'Report a bug.',
    args: {
      title: text(500),
      description: text(50_000),
      project_id: text(200).optional(),
      severity: z.enum(['low', 'normal', 'high', 'critical']).optional(),
      category: text(100).optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/bugs', {
        body: present({ ...a, severity: a.severity ?? 'normal', category: a.category ?? 'other' }),
      });
      return `Filed bug #${r.id} [${r.severity ?? a.severity ?? 'normal'}]: ${a.title}`;
    },
  }),
  tool({
    name: 'mycelium_list_bugs',
    description: 'List bugs with the counts per status.',
    args: { project_id: text(200).optional(), status: text(50).optional(), severity: text(50).optional() },
    async run(env, a) {
      const r = await env.rest('GET', '/bugs', { query: a });
      const bugs = arr(r?.bugs);
      const counts =
        r?.counts && typeof r.counts === 'object'
          ? `Counts: ${Object.entries(r.counts)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : '';
      return [listing('Bugs', bugs, bugLine, 'No bugs found.'), counts].filter(Boolean).join('\n');
    },
  }),
  tool({
    name: 'mycelium_claim_bug',
    description: 'Claim a bug atomically: 409 with the holder when someone else has it; idempotent for you.',
    args: { bug_id: intId },
    async run(env, a) {
      const r = await env.rest('POST', `/bugs/${a.bug_id}/claim`, { body: {} });
      const b = r.bug ?? r;
      return `Claimed bug #${a.bug_id}: ${b.title ?? ''}`;
    },
  }),
  tool({
    name: 'mycelium_fix_bug',
    description: 'Mark a bug fixed, with optional notes.',
    args: { bug_id: intId, notes: text(50_000).optional() },
    async run(env, a) {
      await env.rest('PUT', `/bugs/${a.bug_id}`, { body: present({ status: 'fixed', admin_notes: a.notes }) });
      return `Bug #${a.bug_id} marked fixed.`;
    },
  }),
];
