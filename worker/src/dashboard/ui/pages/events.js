// A live feed over the server's SSE stream. The stream is opened with a short-lived ticket
// (POST /events/stream-ticket), so no credential ever appears in a URL.
import { api, get } from '../api.js';
import { h, timeEl } from '../dom.js';

function item(e, fresh) {
  return h(
    'li',
    { 'data-event': e.id, class: fresh ? 'fresh' : undefined },
    h('code', {}, e.type),
    ' ',
    e.agent ? h('strong', {}, e.agent) : null,
    ' ',
    e.summary || '',
    ' ',
    h('span', { class: 'muted' }, e.project_id ? `${e.project_id} · ` : '', timeEl(e.created_at)),
  );
}

export async function render({ view, onCleanup }) {
  const state = h('p', { role: 'status', id: 'feed-state', class: 'muted' }, 'Connecting…');
  const feed = h('ol', {
    class: 'feed panel',
    'aria-label': 'Events, newest first',
    'aria-live': 'polite',
    reversed: true,
  });
  view.append(h('h1', {}, 'Events'), state, feed);

  const recent = await get('/events?limit=50');
  const rows = Array.isArray(recent) ? recent : recent.events || [];
  const seen = new Set();
  let lastId = 0;
  for (const e of rows) {
    seen.add(e.id);
    lastId = Math.max(lastId, Number(e.id) || 0);
    feed.append(item(e, false));
  }

  let source = null;
  let retry = null;
  let closed = false;
  const connect = async () => {
    if (closed || !view.isConnected) return;
    try {
      const { ticket } = await api('POST', '/events/stream-ticket');
      if (closed) return;
      const qs = `ticket=${encodeURIComponent(ticket)}${lastId ? `&last_event_id=${lastId}` : ''}`;
      source = new EventSource(`/api/mycelium/events/stream?${qs}`);
      source.onopen = () => {
        state.textContent = 'Live: new events appear here as they happen.';
      };
      source.onmessage = (m) => {
        let e;
        try {
          e = JSON.parse(m.data);
        } catch {
          return;
        }
        if (e.id != null) {
          if (seen.has(e.id)) return;
          seen.add(e.id);
          lastId = Math.max(lastId, Number(e.id) || 0);
        }
        feed.prepend(item(e, true));
        while (feed.children.length > 200) feed.lastElementChild.remove();
      };
      source.onerror = () => {
        // Tickets are short-lived: on any drop, close and reconnect with a fresh one.
        source.close();
        state.textContent = 'Disconnected; reconnecting…';
        retry = setTimeout(connect, 3000);
      };
    } catch (err) {
      state.textContent = `Live feed unavailable: ${err.message} Retrying…`;
      retry = setTimeout(connect, 5000);
    }
  };
  onCleanup(() => {
    closed = true;
    clearTimeout(retry);
    if (source) source.close();
  });
  await connect();
}
