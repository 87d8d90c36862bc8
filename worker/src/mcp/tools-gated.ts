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
} from './tool.js';

/**
 * Tools over areas built on their own branches (drones, assets, skills catalogue, widgets, GitHub;
 * spec 08 §2.12–2.16). Each names the REST route it needs: the endpoint lists it only once that
 * route is mounted, so this file lights up as those areas land, with no other change.
 */

const GH_NAME = /^[A-Za-z0-9._-]{1,100}$/;
const ghName = z.string().regex(GH_NAME, 'must match ^[A-Za-z0-9._-]{1,100}$');
const ghPath = (owner: string, repo: string) => `/github/prs/${enc(owner)}/${enc(repo)}`;
/** Drone rows carry capability/requires lists as JSON text already; stringifying that again would quote it. */
const jsonList = (v: unknown) => (typeof v === 'string' && v !== '' ? v : JSON.stringify(v ?? []));

export const gatedTools: ToolDef[] = [
  // ---------- skills catalogue and widgets ----------
  tool({
    name: 'mycelium_list_skills',
    description: 'Search available skills.',
    requires: 'GET /skills',
    args: { category: text(100).optional(), search: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('GET', '/skills', { query: a });
      const list = arr(r?.skills ?? r);
      if (!list.length) return 'No skills found.';
      // required_capabilities is the row's JSON text ('[]' when the skill needs nothing).
      const requires = (caps: unknown) =>
        typeof caps === 'string' && caps !== '' && caps !== '[]' ? ` (requires: ${caps})` : '';
      return list
        .map(
          (s) =>
            `${s.id} — ${s.name} [${s.category}] v${s.version ?? '?'}${requires(s.required_capabilities)}\n  ${s.description || '(no description)'}`,
        )
        .join('\n\n');
    },
  }),
  tool({
    name: 'mycelium_install_skill',
    description: 'Install a skill (the server picks the target agent from the credential).',
    requires: 'POST /skills/:id/install',
    args: { skill_id: text(200), config: jsonish.optional() },
    async run(env, a) {
      // Non-agents must name the target (05 §12.2): an admin acting as an agent installs for it.
      const agentId = env.isAgent ? undefined : (env.self ?? undefined);
      await env.rest('POST', `/skills/${enc(a.skill_id)}/install`, {
        body: present({
          config: a.config === undefined ? undefined : jsonArg('config', a.config, { lenient: true }),
          agent_id: agentId,
        }),
      });
      return `Skill "${a.skill_id}" installed.`;
    },
  }),
  tool({
    name: 'mycelium_create_widget',
    description: 'Push a dashboard widget.',
    requires: 'POST /widgets',
    args: { title: text(500), data: jsonish, widget_type: text(100).optional(), project_id: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('POST', '/widgets', {
        body: present({
          title: a.title,
          widget_type: a.widget_type ?? 'status',
          data: jsonArg('data', a.data, { lenient: true }),
          project_id: a.project_id,
        }),
      });
      return `Widget created: #${r.id}`;
    },
  }),
  tool({
    name: 'mycelium_update_widget',
    description: 'Change a widget. Every given field is sent.',
    requires: 'PUT /widgets/:id',
    args: {
      widget_id: intId,
      title: text(500).optional(),
      data: jsonish.optional(),
      status: z.enum(['active', 'archived']).optional(),
    },
    async run(env, a) {
      await env.rest('PUT', `/widgets/${a.widget_id}`, {
        body: present({
          title: a.title,
          status: a.status,
          data: a.data === undefined ? undefined : jsonArg('data', a.data, { lenient: true }),
        }),
      });
      return `Widget #${a.widget_id} updated`;
    },
  }),
  tool({
    name: 'mycelium_list_widgets',
    description: 'Widgets shown on the dashboard.',
    requires: 'GET /widgets',
    args: { agent_id: text(128).optional(), project_id: text(200).optional() },
    async run(env, a) {
      const r = await env.rest('GET', '/widgets', { query: a });
      const list = arr(r?.widgets ?? r);
      return list.length
        ? list
            .map((w) => `#${w.id} [${w.widget_type}] ${w.title} — by ${w.agent_id} (${w.updated_at ?? w.created_at})`)
            .join('\n')
        : 'No active widgets.';
    },
  }),

  // ---------- drones ----------
  tool({
    name: 'mycelium_list_drone_jobs',
    description: 'Drone jobs (higher priority runs first).',
    requires: 'GET /drones/jobs',
    args: { status: text(50).optional(), limit: z.number().int().min(1).max(500).optional() },
    async run(env, a) {
      const r = await env.rest('GET', '/drones/jobs', { query: { status: a.status, limit: a.limit ?? 20 } });
      return listing(
        'Drone Jobs',
        arr(r?.jobs ?? r),
        (j) =>
          `#${j.id} [${j.status}] ${j.title}${j.drone_id ? ` (worker: ${j.drone_id})` : ''} [p${j.priority}]${j.started_at ? ` started ${age(j.started_at)}` : ''}${j.completed_at ? ` completed ${age(j.completed_at)}` : ''}${j.error ? `\n  ERROR: ${String(j.error).slice(0, 200)}` : ''}`,
        'No drone jobs found.',
      );
    },
  }),
  tool({
    name: 'mycelium_get_drone_job',
    description: 'One drone job with its input and result.',
    requires: 'GET /drones/jobs/:id',
    args: { job_id: intId },
    async run(env, a) {
      const j = await env.rest('GET', `/drones/jobs/${a.job_id}`);
      const parse = (v: unknown) => (typeof v === 'string' && v !== '' ? jsonArg('', v, { lenient: true }) : v);
      const input = parse(j.input_data);
      const lines = [
        `=== Drone Job #${j.id} ===`,
        `Title: ${j.title}`,
        `Status: ${j.status}`,
        `Priority: ${j.priority}`,
        `Requester: ${j.requester}`,
        `Worker: ${j.drone_id || 'unassigned'}`,
        `Command: ${j.command ?? ''}`,
      ];
      if (input && !(typeof input === 'object' && !Array.isArray(input) && !Object.keys(input).length))
        lines.push(`Input: ${json(input)}`);
      if (j.started_at) lines.push(`Started: ${age(j.started_at)}`);
      if (j.completed_at) lines.push(`Completed: ${age(j.completed_at)}`);
      if (j.error) lines.push(`Error: ${j.error}`);
      if (j.result_data) {
        const r = parse(j.result_data);
        if (typeof r === 'string') lines.push(`Result: ${r.slice(0, 500)}`);
        else if (r && typeof r === 'object') {
          const o = r as Record<string, unknown>;
          if (o.stdout) lines.push(`Stdout: ${String(o.stdout).slice(0, 1000)}`);
          if (o.stderr) lines.push(`Stderr: ${String(o.stderr).slice(0, 500)}`);
        }
      }
      return lines.join('\n');
    },
  }),
  tool({
    name: 'mycelium_queue_drone_job',
    description:
      'Queue a drone job from a template (job_type) or, for admins, a raw command. Higher priority runs first; the server default is 0.',
    requires: 'POST /drones/jobs',
    args: {
      title: text(500),
      command: text(10_000).optional(),
      requires: z.array(text(100)).max(50).optional(),
      priority: z.number().int().optional(),
      input_data: jsonish.optional(),
      job_type: text(200).optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', '/drones/jobs', {
        body: present({
          ...a,
          input_data: a.input_data === undefined ? undefined : jsonArg('input_data', a.input_data),
        }),
      });
      const job = r.job ?? r;
      return `Queued drone job #${job.id}: ${a.title}${a.job_type ? `\nTemplate: ${a.job_type}` : ''}\nPriority: ${job.priority ?? a.priority ?? 0} (higher runs first)`;
    },
  }),
  tool({
    name: 'mycelium_cancel_drone_job',
    description:
      'Cancel a drone job. With lease_token (from the claim), only while that claim still holds the job (else 409).',
    requires: 'PUT /drones/jobs/:id',
    // lease_token is forwarded as given: the route fences the write on it (issue 17, drone_job_leases).
    args: { job_id: intId, lease_token: text(100).min(1).optional() },
    async run(env, a) {
      await env.rest('PUT', `/drones/jobs/${a.job_id}`, {
        body: present({ status: 'cancelled', lease_token: a.lease_token }),
      });
      return `Cancelled drone job #${a.job_id}`;
    },
  }),
  tool({
    name: 'mycelium_list_drones',
    description: 'Drone workers.',
    requires: 'GET /drones',
    async run(env) {
      const r = await env.rest('GET', '/drones');
      return listing(
        'Drone Workers',
        arr(r?.drones ?? r),
        (d) =>
          `[${d.status === 'online' ? 'ON' : 'OFF'}] ${d.name} (${d.id}) ${jsonList(d.capabilities)}${d.working_on ? `\n  Working on: ${d.working_on}` : ''}\n  Last seen: ${age(d.last_seen ?? d.last_heartbeat)}`,
        'No drone workers registered.',
      );
    },
  }),
  tool({
    name: 'mycelium_list_artifacts',
    description: 'Drone artifact files.',
    requires: 'GET /drones/artifacts',
    async run(env) {
      const r = await env.rest('GET', '/drones/artifacts');
      return listing(
        'Drone Artifacts',
        arr(r?.artifacts ?? r),
        (f) =>
          `${f.name} (${f.size > 1_048_576 ? `${(f.size / 1_048_576).toFixed(1)} MB` : `${Math.round((f.size ?? 0) / 1024)} KB`}) — uploaded ${age(f.uploaded ?? f.uploaded_at ?? f.created_at)}`,
        'No artifacts uploaded.',
      );
    },
  }),
  tool({
    name: 'mycelium_list_job_templates',
    description: 'Drone job templates.',
    requires: 'GET /drones/templates',
    async run(env) {
      const r = await env.rest('GET', '/drones/templates');
      return listing(
        'Job Templates',
        arr(r?.templates ?? r),
        (t) =>
          `${t.id} — ${t.name} [${t.project_id ?? ''}] | requires: ${jsonList(t.requires)}${Number(t.min_vram_gb) > 0 ? ` | VRAM: ${t.min_vram_gb}GB+` : ''} | disk: ${Number(t.min_disk_gb) || 0}GB+`,
        'No job templates found.',
      );
    },
  }),
  tool({
    name: 'mycelium_check_drone_compatibility',
    description: 'Which job templates one drone can run.',
    requires: 'GET /drones/:id/compatibility',
    args: { drone_id: text(128) },
    async run(env, a) {
      const r = await env.rest('GET', `/drones/${enc(a.drone_id)}/compatibility`);
      if (r?.error) throw new ToolArgError(String(r.error));
      const ok = arr(r?.compatible);
      const bad = arr(r?.incompatible);
      if (!ok.length && !bad.length)
        return `=== Compatibility for ${a.drone_id} ===\nNo templates found to check against.`;
      return [
        `=== Compatibility for ${a.drone_id} ===`,
        'Compatible:',
        ...ok.map((x) => `  [OK] ${x.template} (${x.name}) — ${x.notes ?? ''}`),
        'Incompatible:',
        ...bad.map((x) => `  [X] ${x.template} (${x.name}) — ${arr(x.reasons).join(', ')}`),
      ].join('\n');
    },
  }),

  // ---------- assets ----------
  tool({
    name: 'mycelium_upload_asset',
    description: "Set an asset's status and path (moves no bytes: upload the file through the assets REST route).",
    requires: 'PUT /assets/:id',
    args: { asset_id: intId, path: text(2000).optional(), status: text(50).optional() },
    async run(env, a) {
      await env.rest('PUT', `/assets/${a.asset_id}`, { body: present({ status: a.status ?? 'ready', path: a.path }) });
      return `Asset #${a.asset_id} updated. Status: ${a.status ?? 'ready'}. Path: ${a.path || '(none)'}`;
    },
  }),
  tool({
    name: 'mycelium_download_asset',
    description: 'Where to download an asset (its download_url); moves no bytes itself.',
    requires: 'GET /assets/:id',
    args: { asset_id: intId },
    async run(env, a) {
      const x = await env.rest('GET', `/assets/${a.asset_id}`);
      if (x.status !== 'ready') return `Asset #${a.asset_id} is not ready. Status: ${x.status}`;
      return [
        `Asset #${a.asset_id} (${x.name}) is ready.`,
        `Download: ${x.download_url || x.path || '(no file attached)'}`,
        `Type: ${x.asset_type ?? x.type ?? ''}`,
        `Project: ${x.project_id ?? ''}`,
      ].join('\n');
    },
  }),

  // ---------- GitHub ----------
  tool({
    name: 'mycelium_list_prs',
    description: 'Pull requests of a repository.',
    requires: 'GET /github/prs/:owner/:repo',
    args: { owner: ghName, repo: ghName, state: z.enum(['open', 'closed', 'all']).optional() },
    async run(env, a) {
      const r = await env.rest('GET', ghPath(a.owner, a.repo), { query: { state: a.state ?? 'open' } });
      const prs = arr(r?.prs ?? r);
      if (!prs.length) return `No ${a.state ?? 'open'} PRs in ${a.owner}/${a.repo}`;
      return [
        `=== PRs: ${a.owner}/${a.repo} (${prs.length}) ===`,
        ...prs.map(
          (p) =>
            `#${p.number}${p.draft ? ' [DRAFT]' : ''} ${p.title} (${p.author ?? p.user ?? ''} | ${p.branch ?? p.head ?? ''})\n  ${p.url ?? p.html_url ?? ''}`,
        ),
      ].join('\n');
    },
  }),
  tool({
    name: 'mycelium_merge_pr',
    description: 'Merge a pull request (admin).',
    requires: 'POST /github/prs/:owner/:repo/:number/merge',
    args: {
      owner: ghName,
      repo: ghName,
      number: z.number().int().positive(),
      merge_method: z.enum(['merge', 'squash', 'rebase']).optional(),
      commit_title: text(500).optional(),
      commit_message: text(10_000).optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', `${ghPath(a.owner, a.repo)}/${a.number}/merge`, {
        body: present({
          merge_method: a.merge_method ?? 'squash',
          commit_title: a.commit_title,
          commit_message: a.commit_message,
        }),
      });
      return `Merged PR #${a.number} in ${a.owner}/${a.repo} (sha: ${String(r.sha ?? '').slice(0, 8)})`;
    },
  }),
  tool({
    name: 'mycelium_create_pr',
    description: 'Open a pull request (admin).',
    requires: 'POST /github/prs/:owner/:repo',
    args: {
      owner: ghName,
      repo: ghName,
      title: text(500),
      head: text(200),
      base: text(200),
      body: text(50_000).optional(),
      draft: z.boolean().optional(),
    },
    async run(env, a) {
      const r = await env.rest('POST', ghPath(a.owner, a.repo), {
        body: { title: a.title, head: a.head, base: a.base, body: a.body ?? '', draft: a.draft ?? false },
      });
      return `Created PR #${r.number}: ${a.title}\n${r.url ?? r.html_url ?? ''}`;
    },
  }),
];
