// The operator's inbox: unread first; mark read, mark done, dismiss.
import { api, get } from '../api.js';
import { h, field, statusLine, act, timeEl } from '../dom.js';

export async function render({ view }) {
  const status = statusLine();
  const filter = h(
    'select',
    { name: 'status' },
    h('option', { value: '' }, 'All'),
    h('option', { value: 'unread' }, 'Unread'),
    h('option', { value: 'read' }, 'Read'),
    h('option', { value: 'actioned' }, 'Done'),
  );
  const list = h('ul', { class: 'list', 'aria-label': 'Inbox items' });
  view.append(h('h1', {}, 'Inbox'), h('div', { class: 'row' }, field('Show', filter)), status.el, list);

  const load = async () => {
    const items = await get(`/inbox?limit=200${filter.value ? `&status=${encodeURIComponent(filter.value)}` : ''}`);
    list.replaceChildren(
      ...items.map((it) => {
        const button = (label, method, path, done) =>
          h(
            'button',
            {
              type: 'button',
              // Every item has these buttons: the name says which item each one acts on.
              'aria-label': `${label}: ${it.title || it.type}`,
              onclick: (e) =>
                act(e.currentTarget, status, async () => {
                  await api(method, path);
                  status.ok(done);
                  await load();
                }),
            },
            label,
          );
        return h(
          'li',
          { 'data-inbox': it.id },
          h('strong', {}, it.title || it.type),
          ' ',
          h('span', { class: 'badge' }, it.priority),
          ' ',
          h('span', { class: 'muted' }, it.status),
          it.summary ? h('p', {}, it.summary) : null,
          h(
            'div',
            { class: 'muted' },
            it.type,
            it.entity_type ? ` · ${it.entity_type} ${it.entity_id || ''}` : '',
            ' · ',
            timeEl(it.created_at),
          ),
          h(
            'div',
            { class: 'actions' },
            it.status === 'unread' ? button('Mark read', 'PUT', `/inbox/${it.id}/read`, 'Marked read.') : null,
            it.status !== 'actioned' ? button('Mark done', 'PUT', `/inbox/${it.id}/action`, 'Marked done.') : null,
            button('Dismiss', 'DELETE', `/inbox/${it.id}`, 'Dismissed.'),
          ),
        );
      }),
    );
    if (!items.length) list.append(h('li', { class: 'muted' }, 'Your inbox is empty.'));
  };
  filter.addEventListener('change', () => load().catch((err) => status.fail(err)));
  await load();
}
