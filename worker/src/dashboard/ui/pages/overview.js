// Overview: who is up and what they do, drones, the work queue, active plans, and the counts
// that need a human (open bugs, pending approvals, unread inbox items).
import { get } from '../api.js';
import { h, presenceOf, presenceBadge, table, timeEl, errorBox } from '../dom.js';

const RANK = { high: 0, normal: 1, low: 2 };

/** One section's data; a failing source shows its own message instead of blanking the page. */
async function settle(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (err) {
    return { ok: false, error: err };
  }
}

function count(label, result, pick, link) {
  const n = result.ok ? pick(result.value) : '—';
  return h(
    'a',
    { class: 'card', href: link, 'data-nav': '' },
    h('span', { class: 'n' }, String(n)),
    h('span', { class: 'l' }, label),
  );
}

function agentRows(list, now) {
  return list.map((a) => {
    const p = presenceOf(a, now);
    return h(
      'tr',
      { 'data-agent': a.id },
      h(
        'td',
        {},
        h('strong', {}, a.name || a.id),
        a.name && a.name !== a.id ? h('div', { class: 'muted' }, a.id) : null,
      ),
      h('td', {}, presenceBadge(p)),
      h('td', {}, a.working_on || h('span', { class: 'muted' }, 'nothing')),
      h('td', {}, a.project_id || ''),
      h('td', {}, timeEl(a.last_heartbeat)),
    );
  });
}

export async function render({ view, every }) {
  view.append(h('h1', {}, 'Overview'));
  const body = h('div', {});
  view.append(body);
  const load = async () => {
    const [agents, bugs, approvals, inbox, queue, plans] = await Promise.all([
      settle(get('/agents')),
      settle(get('/bugs?status=open&limit=1')),
      settle(get('/approvals?status=pending&limit=500')),
      settle(get('/inbox/count')),
      settle(get('/tasks?status=open&limit=20')),
      settle(get('/plans?status=active&limit=20')),
    ]);
    const now = Date.now();
    const parts = [
      h(
        'div',
        { class: 'cards' },
        count('Open bugs', bugs, (b) => b.counts.open, '/dashboard/tasks'),
        count('Pending approvals', approvals, (a) => a.length, '/dashboard/approvals'),
        count(
          'Unread inbox items',
          inbox,
          (i) => (Array.isArray(i) ? i.reduce((s, r) => s + r.count, 0) : i.unread),
          '/dashboard/inbox',
        ),
        count(
          'Agents online',
          agents,
          (l) => l.filter((a) => a.agent_type !== 'drone' && presenceOf(a, now) === 'online').length,
          '/dashboard/',
        ),
      ),
    ];
    if (!inbox.ok && inbox.error.status === 404)
      parts.push(h('p', { class: 'muted' }, `Inbox: ${inbox.error.message}.`));
    const heads = ['Name', 'Presence', 'Working on', 'Project', 'Last heartbeat'];
    if (agents.ok) {
      const all = agents.value.filter((a) => a.status !== 'retired');
      parts.push(
        h('h2', {}, 'Agents'),
        table(
          heads,
          agentRows(
            all.filter((a) => a.agent_type !== 'drone'),
            now,
          ),
          'Agents',
        ),
      );
      parts.push(
        h('h2', {}, 'Drones'),
        table(
          heads,
          agentRows(
            all.filter((a) => a.agent_type === 'drone'),
            now,
          ),
          'Drones',
        ),
      );
    } else parts.push(h('h2', {}, 'Agents'), errorBox(agents.error));

    parts.push(h('h2', {}, 'Work queue'));
    if (queue.ok) {
      parts.push(
        table(
          ['Task', 'Priority', 'Project', 'Assignee', 'Created'],
          // Ranked as agents receive work: high before normal before low, oldest first.
          queue.value
            .slice()
            .sort(
              (a, b) =>
                (RANK[a.priority] ?? 1) - (RANK[b.priority] ?? 1) ||
                String(a.created_at).localeCompare(String(b.created_at)) ||
                a.id - b.id,
            )
            .map((t) =>
              h(
                'tr',
                {},
                h('td', {}, h('a', { href: `/dashboard/tasks/${t.id}`, 'data-nav': '' }, `#${t.id} ${t.title}`)),
                h('td', {}, t.priority),
                h('td', {}, t.project_id || ''),
                h('td', {}, t.assignee || h('span', { class: 'muted' }, 'unassigned')),
                h('td', {}, timeEl(t.created_at)),
              ),
            ),
          'Open tasks',
        ),
      );
    } else parts.push(errorBox(queue.error));

    parts.push(h('h2', {}, 'Active plans'));
    if (plans.ok) {
      parts.push(
        plans.value.length
          ? h(
              'div',
              { class: 'grid' },
              plans.value.map((p) =>
                h(
                  'div',
                  { class: 'panel' },
                  h('strong', {}, p.title),
                  h('div', { class: 'muted' }, p.project_id || '', p.owner ? ` · ${p.owner}` : ''),
                  h(
                    'div',
                    {
                      class: 'progress',
                      role: 'progressbar',
                      'aria-label': `Progress of ${p.title}`,
                      'aria-valuemin': 0,
                      'aria-valuemax': 100,
                      'aria-valuenow': p.progress.percent,
                    },
                    h('span', { style: `width:${p.progress.percent}%` }),
                  ),
                  h(
                    'div',
                    {},
                    `${p.progress.completed} of ${p.progress.total} steps done`,
                    p.current_step ? ` · now: ${p.current_step}` : '',
                  ),
                ),
              ),
            )
          : h('p', { class: 'muted' }, 'No active plans.'),
      );
    } else parts.push(errorBox(plans.error));
    body.replaceChildren(...parts);
  };
  await load();
  every(10_000, load);
}
