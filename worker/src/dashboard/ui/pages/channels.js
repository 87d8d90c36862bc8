// Channels: pick one, read its posts (newest last), post to it.
import { api, get } from '../api.js';
import { h, field, statusLine, act, timeEl } from '../dom.js';

export async function render({ view, args }) {
  const status = statusLine();
  const channels = await get('/channels?limit=200');
  const selected = channels.find((c) => String(c.id) === args[0]) || channels[0];
  const nav = h(
    'nav',
    { class: 'chan-list panel', 'aria-label': 'Channels' },
    channels.length
      ? channels.map((c) =>
          h(
            'a',
            {
              href: `/dashboard/channels/${c.id}`,
              'data-nav': '',
              'aria-current': selected && c.id === selected.id ? 'true' : undefined,
            },
            `#${c.slug || c.name}`,
          ),
        )
      : h('p', { class: 'muted' }, 'No channels yet.'),
  );
  const pane = h('section', { class: 'panel', 'aria-live': 'polite' });
  view.append(h('h1', {}, 'Channels'), status.el, h('div', { class: 'split' }, nav, pane));
  if (!selected) return;

  const list = h('ol', { class: 'list messages', 'aria-label': `Posts in #${selected.slug || selected.name}` });
  const content = h('textarea', { name: 'content', rows: 3, required: true });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Post');
  const form = h('form', {}, field('Message', content), send);
  pane.append(h('h2', {}, `#${selected.slug || selected.name}`));
  if (selected.description) pane.append(h('p', { class: 'muted' }, selected.description));
  pane.append(list, form);

  const load = async () => {
    const posts = (await get(`/channels/${selected.id}/messages?limit=100`)).slice().reverse();
    list.replaceChildren(
      ...posts.map((m) =>
        h(
          'li',
          {},
          h('strong', {}, m.from_agent),
          ' ',
          h('span', { class: 'muted' }, timeEl(m.created_at)),
          h('div', {}, m.content),
        ),
      ),
    );
    if (!posts.length) list.append(h('li', { class: 'muted' }, 'No posts yet.'));
    list.scrollTop = list.scrollHeight;
    const last = posts[posts.length - 1];
    if (last) api('PUT', `/channels/${selected.id}/read`, { message_id: last.id }).catch(() => undefined);
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    act(send, status, async () => {
      await api('POST', `/channels/${selected.id}/messages`, { content: content.value });
      content.value = '';
      await load();
    });
  });
  if (!args[0]) history.replaceState(null, '', `/dashboard/channels/${selected.id}`);
  await load();
}
