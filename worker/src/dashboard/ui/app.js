// The dashboard shell: sign-in, navigation, the frozen/sleep banners and a tiny router over
// /dashboard/<page>. Each page module exports `render(view)`; see pages/.
import { api } from './api.js';
import { h, field, errorBox } from './dom.js';
import * as overview from './pages/overview.js';
import * as approvals from './pages/approvals.js';
import * as control from './pages/control.js';
import * as inbox from './pages/inbox.js';
import * as channels from './pages/channels.js';
import * as tasks from './pages/tasks.js';
import * as spend from './pages/spend.js';
import * as events from './pages/events.js';
import * as plugins from './pages/plugins.js';

const PAGES = [
  { path: '', title: 'Overview', page: overview },
  { path: 'approvals', title: 'Approvals', page: approvals },
  { path: 'control', title: 'Kill switch', page: control },
  { path: 'inbox', title: 'Inbox', page: inbox },
  { path: 'channels', title: 'Channels', page: channels },
  { path: 'tasks', title: 'Tasks', page: tasks },
  { path: 'spend', title: 'Spend', page: spend },
  { path: 'events', title: 'Events', page: events },
  { path: 'plugins', title: 'Plugins', page: plugins },
];

const $ = (id) => document.getElementById(id);
const state = {
  me: null,
  status: { frozen: false, sleep: false, known: false },
  cleanups: [],
  statusTimer: null,
  firstRender: true,
};

const href = (path) => `/dashboard/${path}`;

function currentPage() {
  const rest = location.pathname.replace(/^\/(dashboard\/?)?/, '');
  const [first, ...more] = rest.split('/');
  return { entry: PAGES.find((p) => p.path === first), args: more.map(decodeURIComponent) };
}

export function navigate(path) {
  history.pushState(null, '', path);
  render();
}

function renderNav() {
  const nav = $('nav');
  nav.replaceChildren(...PAGES.map((p) => h('a', { href: href(p.path), 'data-nav': '' }, p.title)));
  const menu = $('menu');
  menu.hidden = false;
  menu.onclick = () => {
    const open = nav.classList.toggle('open');
    menu.setAttribute('aria-expanded', String(open));
  };
  const me = state.me;
  $('who').replaceChildren(
    h('span', {}, me.display_name || me.username, ' ', h('span', { class: 'badge' }, me.role)),
    h('button', { type: 'button', onclick: signOut }, 'Sign out'),
  );
}

function renderBanners() {
  const s = state.status;
  const banners = [
    s.frozen
      ? h(
          'div',
          { class: 'banner banner-frozen', id: 'frozen-banner', role: 'alert' },
          'Agent work is frozen: no work is routed to agents and claims are refused until an admin unfreezes.',
        )
      : null,
    s.sleep
      ? h(
          'div',
          { class: 'banner banner-sleep', id: 'sleep-banner', role: 'status' },
          'Sleep mode is on: agents work from the sleep directive and queue high-risk approvals.',
        )
      : null,
  ];
  $('banners').replaceChildren(...banners.filter(Boolean));
}

/** Re-reads the kill switch and sleep mode; every page shows them as banners. */
export async function refreshStatus() {
  const [cfg, sleep] = await Promise.allSettled([api('GET', '/admin/config/admin_status'), api('GET', '/admin/sleep')]);
  const next = {
    // A missing key (404) means the switch was never used: not frozen.
    frozen: cfg.status === 'fulfilled' && cfg.value && cfg.value.value === 'frozen',
    sleep:
      sleep.status === 'fulfilled' &&
      !!sleep.value &&
      !!sleep.value.sleep_mode &&
      sleep.value.sleep_mode.active === true,
    known: true,
  };
  const changed = next.frozen !== state.status.frozen || next.sleep !== state.status.sleep;
  state.status = next;
  if (changed || !$('banners').dataset.rendered) {
    $('banners').dataset.rendered = '1';
    renderBanners();
  }
  return next;
}

async function render() {
  for (const fn of state.cleanups.splice(0)) fn();
  const main = $('main');
  const { entry, args } = currentPage();
  for (const a of $('nav').querySelectorAll('a')) {
    if (entry && a.getAttribute('href') === href(entry.path)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('nav').classList.remove('open');
  const view = h('div', { class: 'view' });
  main.replaceChildren(view);
  if (!state.firstRender) main.focus();
  state.firstRender = false;
  if (!entry) {
    document.title = 'Not found · Mycelium';
    view.append(
      h('h1', {}, 'Page not found'),
      h('p', {}, h('a', { href: href(''), 'data-nav': '' }, 'Back to the overview')),
    );
    return;
  }
  document.title = `${entry.title} · Mycelium`;
  const ctx = {
    view,
    args,
    me: state.me,
    get status() {
      return state.status;
    },
    refreshStatus,
    navigate,
    onCleanup: (fn) => state.cleanups.push(fn),
    /** A timer that stops when the page is left. */
    every(ms, fn) {
      const id = setInterval(() => view.isConnected && fn(), ms);
      state.cleanups.push(() => clearInterval(id));
    },
  };
  try {
    await entry.page.render(ctx);
  } catch (err) {
    if (err && err.status === 401) return showLogin('Your session has ended. Please sign in again.');
    view.append(errorBox(err));
  }
}

function showLogin(message) {
  for (const fn of state.cleanups.splice(0)) fn();
  clearInterval(state.statusTimer);
  state.me = null;
  $('nav').replaceChildren();
  $('who').replaceChildren();
  $('banners').replaceChildren();
  $('menu').hidden = true;
  document.title = 'Sign in · Mycelium';
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const out = h(
    'div',
    { role: 'status', 'aria-live': 'polite' },
    message ? h('p', { class: 'notice' }, message) : null,
  );
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'panel login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('p', { class: 'muted' }, 'Use your operator account.'),
    field('Username', username),
    field('Password', password),
    out,
    button,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    try {
      await api('POST', '/dashboard/session', { username: username.value, password: password.value });
      await start();
    } catch (err) {
      out.replaceChildren(errorBox(err));
      password.value = '';
      password.focus();
    } finally {
      button.disabled = false;
    }
  });
  $('main').replaceChildren(form);
  username.focus();
}

async function signOut() {
  try {
    await api('DELETE', '/dashboard/session');
    showLogin('You are signed out.');
  } catch (err) {
    $('main').prepend(errorBox(err));
  }
}

async function start() {
  try {
    state.me = await api('GET', '/studio/me');
  } catch (err) {
    if (err.status === 401 || err.status === 403) return showLogin();
    $('main').replaceChildren(errorBox(err));
    return;
  }
  renderNav();
  await refreshStatus();
  clearInterval(state.statusTimer);
  state.statusTimer = setInterval(() => refreshStatus().catch(() => undefined), 10_000);
  await render();
}

document.addEventListener('click', (e) => {
  const a = e.target instanceof Element ? e.target.closest('a[data-nav]') : null;
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', () => state.me && render());

start();
