// Plugins: enable or disable (admins only; the server refuses everyone else).
import { api, get } from '../api.js';
import { h, statusLine, act, table } from '../dom.js';

export async function render({ view, me }) {
  view.append(h('h1', {}, 'Plugins'));
  if (me.role !== 'admin') {
    view.append(h('p', { class: 'notice' }, 'Only admins manage plugins.'));
    return;
  }
  const status = statusLine();
  const body = h('div', {});
  view.append(status.el, body);
  const load = async () => {
    const plugins = await get('/plugins');
    body.replaceChildren(
      table(
        ['Plugin', 'State', 'Description', ''],
        plugins.map((p) => {
          const enabled = p.enabled === 1 || p.enabled === true;
          const label = (enabled ? 'Disable ' : 'Enable ') + (p.display_name || p.name);
          return h(
            'tr',
            { 'data-plugin': p.name },
            h(
              'td',
              {},
              h('strong', {}, p.display_name || p.name),
              h('div', { class: 'muted' }, `${p.name} ${p.version || ''}`),
            ),
            h(
              'td',
              {},
              enabled ? 'enabled' : 'disabled',
              p.load_error ? h('div', { class: 'error' }, p.load_error) : null,
            ),
            h('td', {}, p.description || ''),
            h(
              'td',
              {},
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': label,
                  onclick: (e) =>
                    act(e.currentTarget, status, async () => {
                      await api('PUT', `/plugins/${encodeURIComponent(p.name)}${enabled ? '/disable' : '/enable'}`);
                      status.ok((p.display_name || p.name) + (enabled ? ' disabled.' : ' enabled.'));
                      await load();
                    }),
                },
                enabled ? 'Disable' : 'Enable',
              ),
            ),
          );
        }),
        'Plugins',
      ),
    );
  };
  await load();
}
