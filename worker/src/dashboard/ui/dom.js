// Small DOM helpers. Text always goes in as text nodes, never as HTML, so nothing the API returns
// can inject markup into the page.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

let fieldSeq = 0;
/** A labelled form control: returns the wrapper and the control. */
export function field(label, control) {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err?.message ? err.message : String(err));
}

/** A region that shows the outcome of an action (errors as messages, never a blank page). */
export function statusLine() {
  const el = h('div', { role: 'status', 'aria-live': 'polite' });
  return {
    el,
    ok(msg) {
      el.replaceChildren(h('p', { class: 'notice' }, msg));
    },
    fail(err) {
      el.replaceChildren(errorBox(err));
    },
    clear() {
      el.replaceChildren();
    },
  };
}

/** Runs an action with its button disabled; reports failures in `status`. */
export async function act(button, status, fn) {
  if (button) button.disabled = true;
  status?.clear();
  try {
    return await fn();
  } catch (err) {
    if (status) status.fail(err);
    else throw err;
  } finally {
    if (button?.isConnected) button.disabled = false;
  }
}

/** Database times are UTC `YYYY-MM-DD HH:MM:SS`; live frames may be ISO. */
export function parseTime(s) {
  if (!s) return NaN;
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`;
  return Date.parse(iso);
}

export function ago(s, now = Date.now()) {
  const t = parseTime(s);
  if (Number.isNaN(t)) return 'never';
  const sec = Math.max(0, Math.round((now - t) / 1000));
  if (sec < 60) return `${sec} s ago`;
  if (sec < 3600) return `${Math.round(sec / 60)} min ago`;
  if (sec < 86400) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}

export function timeEl(s) {
  const t = parseTime(s);
  return h('time', { datetime: Number.isNaN(t) ? undefined : new Date(t).toISOString(), title: s || '' }, ago(s));
}

export const money = (n) => `$${Number(n || 0).toFixed(2)}`;

/** Heartbeats older than this read "stale" (the server itself calls an agent offline at 15 min). */
export const STALE_AFTER_MS = 5 * 60_000;

/**
 * Presence as an operator reads it: online (working or ready), idle, stale (claims to be up but
 * has not sent a heartbeat for a while), offline.
 */
export function presenceOf(agent, now = Date.now()) {
  const status = agent.status || 'offline';
  if (status !== 'online' && status !== 'idle' && status !== 'busy') return 'offline';
  const t = parseTime(agent.last_heartbeat);
  if (Number.isNaN(t)) return 'offline';
  if (now - t >= STALE_AFTER_MS) return 'stale';
  return status === 'idle' ? 'idle' : 'online';
}

export function presenceBadge(p) {
  return h('span', { class: `badge presence-${p}` }, p);
}

export function table(headers, rows, caption) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      {},
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) => h('th', { scope: 'col' }, x)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing here.')),
      ),
    ),
  );
}
