import { toDbTime } from '../db/time.js';
import { z } from 'zod';
import {
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
} from './tool.js';

/** Messages, channels, context, approvals, spend, concepts, projects, orgs, admin, skills, pass-through (spec 08 §2.5–2.18). */

const msgLine = (m: any) => {
  const tag = m.msg_type === 'request' ? '[REQ] ' : m.msg_type === 'directive' ? '[DIR] ' : '';
  const c = String(m.content ?? '');
  return `${tag}#${m.id} ${m.from_agent}→${m.to_agent || 'all'}: ${c.length > 200 ? `${c.slice(0, 200)}...` : c}`;
};
const CONCEPT_TYPE = z.enum(['character', 'style', 'ruleset', 'library', 'brand', 'custom']);

/** ISO-8601 or DB text → the DB's `YYYY-MM-DD HH:MM:SS` (UTC), which is what the server compares against (D23). */
function dbTime(name: string, v: string | undefined): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new ToolArgError(`${name} must be an ISO-8601 time or YYYY-MM-DD HH:MM:SS`);
  return toDbTime(t);
}

/** The channel slug rule of spec 08 D2. */
function slugOf(name: string): string {
  return name
    .toLowerCase()
    .replace(/^#/, '')
    .replace(/[^a-z0-9]+/g, '-');
}

export const sharedTools: ToolDef[] = [
  // ---------- messages and requests ----------
  tool({
    name: 'mycelium_send_message',
    description: 'Send a direct message (to) or a broadcast (no to). The sender is the connected identity.',
    args: { content: text(100_000), to: text(128).optional(), project_id: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('POST', '/messages', {
        body: present({ content: a.content, to_agent: a.to, project_id: a.project_id }),
      });
      return `Message sent (id: ${r.id}) to ${a.to ?? 'all'}`;
    },
  }),
  tool({
    name: 'mycelium_send_request',
    description: 'Ask one agent something it must answer; auto_task also creates a task for it.',
    args: {
      content: text(100_000),
      to: text(128),
      auto_task: z.boolean().optional(),
      project_id: text(200).optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/requests', {
        body: present({ content: a.content, to_agent: a.to, auto_task: a.auto_task, project_id: a.project_id }),
      });
      return `Request sent (id: ${r.id}) to ${a.to}${r.task_id ? `\nAuto-created task #${r.task_id}` : ''}`;
    },
  }),
  tool({
    name: 'mycelium_respond_to_request',
    description: 'Resolve a request or directive addressed to you.',
    args: { request_id: intId, response: text(100_000) },
    async run(env, a) {
      await env.rest('PUT', `/messages/${a.request_id}/resolve`, { body: { response: a.response } });
      return `Request #${a.request_id} resolved.`;
    },
  }),
  tool({
    name: 'mycelium_read_messages',
    description: 'Your inbox: pending requests first, then messages (default limit 30). since accepts ISO-8601.',
    args: {
      since: text(40).optional(),
      from: text(128).optional(),
      limit: z.number().int().min(1).max(500).optional(),
    },
    async run(env, a) {
      const limit = a.limit ?? 30;
      const since = dbTime('since', a.since);
      const main = await env.rest('GET', '/messages', {
        query: { since, from: a.from, limit, to: env.self && !a.from ? env.self : undefined },
      });
      let pending: any[] = [];
      if (env.self) {
        const r = await env.raw('GET', '/messages', {
          query: { to: env.self, status: 'pending', msg_type: 'request', limit: 10 },
        });
        if (r.status === 200) pending = arr(r.body?.messages ?? r.body);
      }
      const seen = new Set(pending.map((m) => m.id));
      const all = [...pending, ...arr(main?.messages ?? main).filter((m) => !seen.has(m.id))];
      return all.length ? all.map(msgLine).join('\n') : 'No messages found.';
    },
  }),
  tool({
    name: 'mycelium_file_directive',
    description: 'Give an agent an order it must answer before it gets new work (admin or operator).',
    args: { to: text(128), content: text(100_000), project_id: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('POST', '/messages', {
        body: present({ to_agent: a.to, content: a.content, msg_type: 'directive', project_id: a.project_id }),
      });
      return `Directive sent to ${a.to}. Message #${r.id}.\nThe agent must answer it before it gets new work.`;
    },
  }),

  // ---------- channels ----------
  tool({
    name: 'mycelium_list_channels',
    description: 'Channels you can see.',
    async run(env) {
      const r = await env.rest('GET', '/channels');
      return listing(
        'Channels',
        arr(r?.channels ?? r),
        (ch) => `#${ch.id} ${ch.name} [${ch.type}]${ch.description ? ` — ${ch.description}` : ''}`,
        'No channels found.',
      );
    },
  }),
  tool({
    name: 'mycelium_create_channel',
    description: 'Create a channel; slug defaults to the name lower-cased with runs of other characters as "-".',
    args: {
      name: text(200),
      slug: text(200).optional(),
      type: z.enum(['general', 'announcement']).optional(),
      description: text(2000).optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/channels', {
        body: present({
          name: a.name,
          slug: a.slug ?? slugOf(a.name),
          type: a.type ?? 'general',
          description: a.description,
        }),
      });
      return `Created channel #${r.id ?? r.channel?.id}: ${a.name}`;
    },
  }),
  tool({
    name: 'mycelium_read_channel',
    description: 'Messages of a channel, newest first.',
    args: { channel_id: intId, limit: z.number().int().min(1).max(500).optional() },
    async run(env, a) {
      const r = await env.rest('GET', `/channels/${a.channel_id}/messages`, { query: { limit: a.limit } });
      const list = arr(r?.messages ?? r);
      return list.length ? list.map(msgLine).join('\n') : 'No messages in this channel.';
    },
  }),
  tool({
    name: 'mycelium_send_to_channel',
    description: 'Post to a channel you are a member of.',
    args: { channel_id: intId, content: text(100_000) },
    async run(env, a) {
      const r = await env.rest('POST', `/channels/${a.channel_id}/messages`, { body: { content: a.content } });
      return `Message sent to channel #${a.channel_id} (msg id: ${r.id ?? r.message?.id})`;
    },
  }),

  // ---------- context ----------
  tool({
    name: 'mycelium_get_context',
    description: 'Read one context key, or a whole namespace when key is absent.',
    args: { namespace: text(200), key: text(500).optional() },
    async run(env, a) {
      return json(
        await env.rest(
          'GET',
          a.key === undefined ? `/context/keys/${enc(a.namespace)}` : `/context/keys/${enc(a.namespace)}/${enc(a.key)}`,
        ),
      );
    },
  }),
  tool({
    name: 'mycelium_set_context',
    description: 'Write a context key; data may be JSON or text.',
    args: {
      namespace: text(200),
      key: text(500),
      data: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown()), z.number(), z.boolean()]),
    },
    async run(env, a) {
      await env.rest('PUT', `/context/keys/${enc(a.namespace)}/${enc(a.key)}`, { body: { data: a.data } });
      return `Saved context: ${a.namespace}/${a.key}`;
    },
  }),
  tool({
    name: 'mycelium_delete_context',
    description: 'Delete a context key (whatever the server allows the caller: admins, or agents in their own scope).',
    args: { namespace: text(200), key: text(500) },
    async run(env, a) {
      await env.rest('DELETE', `/context/keys/${enc(a.namespace)}/${enc(a.key)}`);
      return `Deleted context key: ${a.namespace}/${a.key}`;
    },
  }),
  tool({
    name: 'mycelium_list_namespaces',
    description: 'Context namespaces with their key counts.',
    async run(env) {
      const r = await env.rest('GET', '/context/namespaces');
      const list = arr(r?.namespaces ?? r);
      if (!list.length) return 'No context namespaces found.';
      return [
        '=== Context Namespaces ===',
        ...list
          .map((n) =>
            typeof n === 'string' ? `  ${n}` : `  ${n.namespace} (${n.count ?? n.key_count ?? n.keys ?? '?'} keys)`,
          )
          .sort(),
      ].join('\n');
    },
  }),
  tool({
    name: 'mycelium_context_history',
    description: 'Earlier versions of a context key.',
    args: { namespace: text(200), key: text(500), limit: z.number().int().min(1).max(500).optional() },
    async run(env, a) {
      const r = await env.rest('GET', `/context/keys/${enc(a.namespace)}/${enc(a.key)}/history`, {
        query: { limit: a.limit ?? 10 },
      });
      const list = arr(r?.history ?? r);
      if (!list.length) return `No history found for ${a.namespace}:${a.key}`;
      return [
        `=== History: ${a.namespace}:${a.key} (${list.length} versions) ===`,
        ...list.map((h) => {
          const d = typeof h.data === 'string' ? h.data : JSON.stringify(h.data);
          return `#${h.id} | ${h.changed_at} | by ${h.changed_by ?? 'unknown'}\n  ${d.slice(0, 100)}${d.length > 100 ? '...' : ''}`;
        }),
      ].join('\n');
    },
  }),
  tool({
    name: 'mycelium_rollback_context',
    description: 'Restore a context key to an earlier version (by history id).',
    args: { history_id: intId },
    async run(env, a) {
      const r = await env.rest('POST', `/context/keys/rollback/${a.history_id}`, { body: {} });
      return `Rolled back ${r.namespace}:${r.key} to version #${r.restored_from ?? a.history_id}`;
    },
  }),

  // ---------- approvals ----------
  tool({
    name: 'mycelium_request_approval',
    description:
      "Ask humans to approve a gated action. The server picks the tier and quorum; the project defaults to the caller's.",
    args: {
      action_type: text(100),
      title: text(500),
      payload: jsonish.optional(),
      project: text(200).optional(),
      risk_tier: text(50).optional(),
      description: text(50_000).optional(),
    },
    async run(env, a) {
      const payload = a.payload === undefined ? {} : jsonArg('payload', a.payload);
      const r = await env.rest('POST', '/approvals', {
        body: present({
          action_type: a.action_type,
          title: a.title,
          payload,
          project: a.project,
          risk_tier: a.risk_tier,
          description: a.description,
        }),
      });
      const status = r.status ?? 'pending';
      return [
        `Approval requested (id: ${r.id})`,
        `Action: ${a.action_type}`,
        `Title: ${a.title}`,
        `Status: ${status}${r.risk_tier ? ` (tier ${r.risk_tier})` : ''}`,
        `Poll with mycelium_check_approval.`,
      ].join('\n');
    },
  }),
  tool({
    name: 'mycelium_check_approval',
    description: 'Status of one approval.',
    args: { approval_id: intId },
    async run(env, a) {
      const r = await env.rest('GET', `/approvals/${a.approval_id}`);
      const x = r.approval ?? r;
      const out = [`Approval #${x.id} [${x.status}]`, `Action: ${x.action_type}`, `Title: ${x.title}`];
      if (x.status === 'approved')
        out.push(
          `Approved by: ${x.decided_by} at ${x.decided_at}`,
          ...(x.reason ? [`Notes: ${x.reason}`] : []),
          'Go ahead, then call mycelium_mark_executed.',
        );
      else if (x.status === 'denied')
        out.push(`Denied by: ${x.decided_by}`, ...(x.reason ? [`Reason: ${x.reason}`] : []), 'Do not go ahead.');
      else if (x.status === 'executed') out.push(`Already executed at: ${x.executed_at}`);
      else out.push('Still waiting for a decision.');
      const p = typeof x.payload === 'string' ? jsonArg('payload', x.payload, { lenient: true }) : x.payload;
      if (p && typeof p === 'object' && Object.keys(p).length) out.push(`Payload: ${JSON.stringify(p)}`);
      return out.join('\n');
    },
  }),
  tool({
    name: 'mycelium_mark_executed',
    description: 'Report that an approved action was done.',
    args: { approval_id: intId },
    async run(env, a) {
      await env.rest('PUT', `/approvals/${a.approval_id}/executed`, { body: {} });
      return `Approval #${a.approval_id} marked as executed.`;
    },
  }),
  tool({
    name: 'mycelium_list_approvals',
    description: 'List approvals (default: pending).',
    args: {
      status: z.enum(['pending', 'approved', 'denied', 'executed']).optional(),
      action_type: text(100).optional(),
      project: text(200).optional(),
    },
    async run(env, a) {
      const r = await env.rest('GET', '/approvals', {
        query: { status: a.status ?? 'pending', action_type: a.action_type, project: a.project },
      });
      return listing(
        'Approvals',
        arr(r?.approvals ?? r),
        (x) =>
          `#${x.id} [${x.status}] ${x.action_type}: ${x.title} (by ${x.requested_by})${x.project_id ? ` — ${x.project_id}` : ''}`,
        'No approvals found.',
      );
    },
  }),

  // ---------- spend ----------
  tool({
    name: 'mycelium_log_spend',
    description: 'Record a cost you incurred.',
    args: {
      cost_usd: z.number().min(0),
      source: text(200).optional(),
      description: text(2000).optional(),
      model: text(200).optional(),
      tokens_in: z.number().int().min(0).optional(),
      tokens_out: z.number().int().min(0).optional(),
      project_id: text(200).optional(),
    },
    async run(env, a) {
      await env.rest('POST', '/spend', { body: present(a) });
      return `Logged spend: $${a.cost_usd.toFixed(4)} (${a.source ?? 'unknown'})`;
    },
  }),
  tool({
    name: 'mycelium_spend_summary',
    description: 'Spend totals by agent and project.',
    args: { since: text(40).optional(), project_id: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('GET', '/spend', { query: a });
      const rows = arr(r?.breakdown ?? r?.rows);
      const out = ['=== Spend Summary ===', `Total: $${Number(r?.total_cost_usd ?? 0).toFixed(4)}`, ''];
      out.push(
        ...(rows.length
          ? rows.map(
              (x) =>
                `${x.agent_id} | ${x.project_id || 'unscoped'} | $${Number(x.total_cost ?? 0).toFixed(4)} | ${x.entry_count} entries | ${x.tokens_in ?? 0} in / ${x.tokens_out ?? 0} out`,
            )
          : ['No spend recorded.']),
      );
      return out.join('\n');
    },
  }),

  // ---------- organisations, projects, concepts ----------
  tool({
    name: 'mycelium_list_orgs',
    description: 'Organisations.',
    async run(env) {
      return listing(
        'Organizations',
        arr(await env.rest('GET', '/orgs')),
        (o) => `#${o.id} ${o.name}${o.description ? ` — ${o.description}` : ''}`,
        'No organizations found.',
      );
    },
  }),
  tool({
    name: 'mycelium_create_org',
    description: 'Create an organisation (admin). The id is text you choose.',
    args: { id: text(128), name: text(200), description: text(2000).optional() },
    async run(env, a) {
      const r = await env.rest('POST', '/orgs', { body: present(a) });
      return `Created org #${r.id ?? a.id}: ${a.name}`;
    },
  }),
  tool({
    name: 'mycelium_list_projects',
    description: 'Projects, optionally of one organisation (org ids are text).',
    args: { org_id: text(128).optional() },
    async run(env, a) {
      const r = await env.rest('GET', '/projects', { query: a });
      return listing(
        'Projects',
        arr(r?.projects ?? r),
        (p) => `${p.id} — ${p.name}${p.type ? ` [${p.type}]` : ''}${p.description ? `: ${p.description}` : ''}`,
        'No projects found.',
      );
    },
  }),
  tool({
    name: 'mycelium_create_project',
    description: 'Create a project (admin).',
    args: {
      id: text(200),
      name: text(200),
      description: text(2000).optional(),
      type: text(100).optional(),
      org_id: text(128).optional(),
    },
    async run(env, a) {
      await env.rest('POST', '/projects', { body: present(a) });
      return `Created project: ${a.id} (${a.name})`;
    },
  }),
  tool({
    name: 'mycelium_update_project',
    description: 'Change a project (admin). Every given field is sent.',
    args: { id: text(200), name: text(200).optional(), description: text(2000).optional(), type: text(100).optional() },
    async run(env, a) {
      const { id, ...rest } = a;
      await env.rest('PUT', `/projects/${enc(id)}`, { body: present(rest) });
      return `Updated project: ${id}`;
    },
  }),
  tool({
    name: 'mycelium_list_concepts',
    description: 'Shared concepts (characters, styles, rulesets …).',
    args: { type: CONCEPT_TYPE.optional() },
    async run(env, a) {
      return listing(
        'Concepts',
        arr(await env.rest('GET', '/concepts', { query: a })),
        (c) => `#${c.id} [${c.type}] ${c.name}${c.description ? ` — ${c.description}` : ''}`,
        'No concepts found.',
      );
    },
  }),
  tool({
    name: 'mycelium_get_concept',
    description: 'One concept with its data and linked projects.',
    args: { concept_id: intId },
    async run(env, a) {
      const c = await env.rest('GET', `/concepts/${a.concept_id}`);
      const data = typeof c.data === 'string' ? jsonArg('data', c.data, { lenient: true }) : c.data;
      const links = arr(c.projects ?? c.linked_projects);
      return [
        `Concept #${c.id} [${c.type}]`,
        `Name: ${c.name}`,
        `Description: ${c.description || '(none)'}`,
        `Data: ${typeof data === 'object' ? json(data) : String(data ?? '')}`,
        'Linked projects:',
        ...links.map((p) => `  - ${p.name ?? p.project_id ?? p.id ?? p}`),
      ].join('\n');
    },
  }),
  tool({
    name: 'mycelium_create_concept',
    description: 'Create a concept; data may be JSON or JSON text.',
    args: { name: text(200), type: CONCEPT_TYPE, description: text(50_000).optional(), data: jsonish.optional() },
    async run(env, a) {
      const r = await env.rest('POST', '/concepts', {
        body: present({ ...a, data: a.data === undefined ? undefined : jsonArg('data', a.data) }),
      });
      return `Created concept #${r.id}: ${a.name} [${a.type}]`;
    },
  }),
  tool({
    name: 'mycelium_update_concept',
    description: 'Change a concept. Every given field is sent.',
    args: {
      concept_id: intId,
      name: text(200).optional(),
      type: CONCEPT_TYPE.optional(),
      description: text(50_000).optional(),
      data: jsonish.optional(),
    },
    async run(env, a) {
      const { concept_id, ...rest } = a;
      await env.rest('PUT', `/concepts/${concept_id}`, {
        body: present({ ...rest, data: rest.data === undefined ? undefined : jsonArg('data', rest.data) }),
      });
      return `Updated concept #${concept_id}`;
    },
  }),
  tool({
    name: 'mycelium_link_concept',
    description: 'Share a concept with a project.',
    args: { concept_id: intId, project: text(200) },
    async run(env, a) {
      await env.rest('POST', `/concepts/${a.concept_id}/link`, { body: { project: a.project } });
      return `Linked concept #${a.concept_id} to project ${a.project}`;
    },
  }),

  // ---------- admin ----------
  tool({
    name: 'mycelium_sleep',
    description: 'Turn sleep mode on (with an optional night directive) or off (with the morning summary). Admin.',
    args: { action: z.enum(['on', 'off']), directive: text(10_000).optional(), operator_id: text(128).optional() },
    async run(env, a) {
      const r = await env.rest('PUT', '/admin/sleep', { body: present(a) });
      if (a.action === 'on')
        return `Sleep mode ON. Agents notified.${r.sleep_mode?.directive ? `\nDirective: ${r.sleep_mode.directive}` : ''}\nRun mycelium_sleep with action=off when waking.`;
      const ms = r.morning_summary ?? {};
      const done = arr(ms.tasks_completed).map((t) => `  ✓ ${t.title ?? t.id ?? t}`);
      const waiting = arr(ms.approvals_waiting ?? ms.pending_approvals).map((t) => `  ! ${t.title ?? t.id ?? t}`);
      return [
        'Sleep mode OFF. Good morning!',
        ...(done.length ? done : ['Nothing was completed.']),
        ...waiting,
        ...(r.slept_since ? [`Slept since: ${r.slept_since}`] : []),
      ].join('\n');
    },
  }),

  // ---------- skills (installed list) ----------
  tool({
    name: 'mycelium_my_skills',
    description: 'Skills installed for an agent (default: you).',
    args: { agent_id: text(128).optional() },
    async run(env, a) {
      const id = a.agent_id ?? env.self;
      if (!id) return 'An agent id is needed: pass agent_id (or connect with an agent key).';
      const r = await env.rest('GET', `/agents/${enc(id)}/skills`);
      const list = arr(r?.skills ?? r);
      return list.length
        ? list
            .map(
              (s) => `${s.id ?? s.skill_id} — ${s.name ?? ''} [${s.category ?? ''}] installed ${s.installed_at ?? ''}`,
            )
            .join('\n')
        : 'No skills installed.';
    },
  }),

  // ---------- A2A (spec 06 §5.6: the a2a-gateway plugin's tools, served by the core here) ----------
  tool({
    name: 'mycelium_a2a_discover',
    description: 'Discover a remote A2A agent by its base URL (reads its Agent Card; public http(s) only).',
    requires: 'POST /a2a/discover',
    args: { url: text(2000) },
    async run(env, a) {
      const r = await env.rest('POST', '/a2a/discover', { body: { url: a.url } });
      return `Discovered A2A agent #${r.id}: ${r.agent?.name ?? a.url} (protocol ${r.agent?.protocol_version ?? '?'})\nSend to it with mycelium_a2a_send {agent_id: ${r.id}}.`;
    },
  }),
  tool({
    name: 'mycelium_a2a_send',
    description: 'Send a message to a discovered A2A agent; answers the remote task state and reply.',
    requires: 'POST /a2a/send',
    args: { agent_id: intId, message: text(100_000), context_id: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('POST', '/a2a/send', {
        body: present({ agent_id: a.agent_id, message: a.message, context_id: a.context_id }),
      });
      return `A2A task ${r.task_id} [${r.status}]\n${json(r.result)}`;
    },
  }),
  tool({
    name: 'mycelium_a2a_list',
    description: 'Discovered A2A agents (what=agents, default) or your outbound A2A tasks (what=tasks).',
    requires: 'GET /a2a/agents',
    args: { what: z.enum(['agents', 'tasks']).optional(), status: text(50).optional() },
    async run(env, a) {
      if (a.what === 'tasks') {
        return listing(
          'A2A Tasks',
          arr(await env.rest('GET', '/a2a/tasks', { query: { status: a.status } })),
          (x) => `${x.id} [${x.status}] → agent #${x.external_agent_id}: ${String(x.input_text).slice(0, 100)}`,
          'No A2A tasks.',
        );
      }
      return listing(
        'A2A Agents',
        arr(await env.rest('GET', '/a2a/agents', { query: { status: a.status } })),
        (x) => `#${x.id} ${x.name} [${x.status}] ${x.agent_url} (protocol ${x.protocol_version})`,
        'No A2A agents discovered.',
      );
    },
  }),

  // ---------- pass-through ----------
  tool({
    name: 'mycelium_api',
    description:
      'Call any Mycelium REST route under /api/mycelium as the connected identity (e.g. GET /events?limit=20).',
    args: { method: z.enum(['GET', 'POST', 'PUT', 'DELETE']), path: text(2000), body: jsonish.optional() },
    async run(env, a) {
      if (
        !a.path.startsWith('/') ||
        a.path.startsWith('//') ||
        /(^|\/)\.\.?(\/|$|\?)/.test(a.path) ||
        /^\/mcp(\/|\?|$)/.test(a.path)
      ) {
        throw new ToolArgError(
          'path must be a route under /api/mycelium such as /tasks?status=open (no "..", no /mcp)',
        );
      }
      if (a.body !== undefined && (a.method === 'GET' || a.method === 'DELETE'))
        throw new ToolArgError(`body is not sent with ${a.method}: drop it or use POST/PUT`);
      const body = a.body === undefined ? undefined : jsonArg('body', a.body);
      const r = await env.rest(a.method, a.path, { body });
      return typeof r === 'string' ? r : json(r);
    },
  }),
];
