// Tasks: filter the list, open one to read its comments, comment, reassign.
import { api, get } from '../api.js';
import { h, field, statusLine, act, timeEl, table } from '../dom.js';

const STATUSES = ['', 'open', 'in_progress', 'review', 'done', 'cancelled'];
const PRIORITIES = ['', 'high', 'normal', 'low'];

const select = (name, values, current) =>
  h(
    'select',
    { name },
    values.map((v) =>
      h('option', { value: v, selected: v === current ? true : undefined }, v ? v.replace('_', ' ') : 'any'),
    ),
  );

async function renderList(view) {
  const q = new URLSearchParams(location.search);
  const status = select('status', STATUSES, q.get('status') || '');
  const priority = select('priority', PRIORITIES, q.get('priority') || '');
  const assignee = h('input', { name: 'assignee', value: q.get('assignee') || '' });
  const project = h('input', { name: 'project_id', value: q.get('project_id') || '' });
  const form = h(
    'form',
    { class: 'panel row', role: 'search', 'aria-label': 'Filter tasks' },
    field('Status', status),
    field('Priority', priority),
    field('Assignee', assignee),
    field('Project', project),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  );
  const results = h('div', {});
  view.append(h('h1', {}, 'Tasks'), form, results);
  const load = async () => {
    const params = new URLSearchParams({ limit: '200' });
    for (const [k, el] of [
      ['status', status],
      ['priority', priority],
      ['assignee', assignee],
      ['project_id', project],
    ])
      if (el.value.trim()) params.set(k, el.value.trim());
    const tasks = await get(`/tasks?${params}`);
    results.replaceChildren(
      table(
        ['Task', 'Status', 'Priority', 'Assignee', 'Project', 'Updated'],
        tasks.map((t) =>
          h(
            'tr',
            {},
            h('td', {}, h('a', { href: `/dashboard/tasks/${t.id}`, 'data-nav': '' }, `#${t.id} ${t.title}`)),
            h('td', {}, t.status.replace('_', ' ')),
            h('td', {}, t.priority),
            h('td', {}, t.assignee || h('span', { class: 'muted' }, 'unassigned')),
            h('td', {}, t.project_id || ''),
            h('td', {}, timeEl(t.updated_at || t.created_at)),
          ),
        ),
        'Tasks',
      ),
    );
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, el] of [
      ['status', status],
      ['priority', priority],
      ['assignee', assignee],
      ['project_id', project],
    ])
      if (el.value.trim()) params.set(k, el.value.trim());
    history.replaceState(null, '', `/dashboard/tasks${params.size ? `?${params}` : ''}`);
    results.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    load().catch((err) => results.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message)));
  });
  await load();
}

async function renderTask(view, id) {
  const status = statusLine();
  const [task, comments] = await Promise.all([
    get(`/tasks/${encodeURIComponent(id)}`),
    get(`/tasks/${encodeURIComponent(id)}/comments`),
  ]);
  const assignee = h('input', { name: 'assignee', value: task.assignee || '' });
  const reassign = h('button', { type: 'submit', class: 'primary' }, 'Reassign');
  const reassignForm = h('form', { class: 'row' }, field('Assignee', assignee), reassign);
  reassignForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act(reassign, status, async () => {
      const next = assignee.value.trim();
      await api('PUT', `/tasks/${task.id}`, { assignee: next || null });
      status.ok(next ? `Task reassigned to ${next}.` : 'Task unassigned.');
      current.textContent = next || 'unassigned';
    });
  });
  const current = h('strong', {}, task.assignee || 'unassigned');
  const list = h('ol', { class: 'list', 'aria-label': 'Comments' });
  const drawComments = (rows) => {
    list.replaceChildren(
      ...rows.map((c) =>
        h(
          'li',
          {},
          h('strong', {}, c.author),
          ' ',
          h('span', { class: 'muted' }, timeEl(c.created_at)),
          h('div', {}, c.content),
        ),
      ),
    );
    if (!rows.length) list.append(h('li', { class: 'muted' }, 'No comments yet.'));
  };
  drawComments(comments);
  const content = h('textarea', { name: 'content', rows: 3, required: true });
  const post = h('button', { type: 'submit' }, 'Add comment');
  const commentForm = h('form', {}, field('Comment', content), post);
  commentForm.addEventListener('submit', (e) => {
    e.preventDefault();
    act(post, status, async () => {
      await api('POST', `/tasks/${task.id}/comments`, { content: content.value });
      content.value = '';
      drawComments(await get(`/tasks/${task.id}/comments`));
    });
  });
  view.append(
    h(
      'article',
      {},
      h('p', {}, h('a', { href: '/dashboard/tasks', 'data-nav': '' }, '← All tasks')),
      h('h1', {}, `#${task.id} ${task.title}`),
      h(
        'p',
        {},
        h('span', { class: 'badge' }, task.status.replace('_', ' ')),
        ' ',
        `${task.priority} priority · project ${task.project_id || '—'} · assignee `,
        current,
        ` · requested by ${task.requester || '—'} · `,
        timeEl(task.created_at),
      ),
      task.description ? h('div', { class: 'panel' }, task.description) : null,
      status.el,
      h('section', { class: 'panel' }, h('h2', {}, 'Reassign'), reassignForm),
      h('section', { class: 'panel' }, h('h2', {}, 'Comments'), list, commentForm),
    ),
  );
}

export async function render({ view, args }) {
  if (args[0]) return renderTask(view, args[0]);
  return renderList(view);
}
