// Approvals waiting for people: tier, quorum, votes so far; approve or deny with a comment.
// A decided approval leaves the list at once, and the list re-reads itself every few seconds.
import { api, get } from '../api.js';
import { h, field, statusLine, act, timeEl, table } from '../dom.js';

function approvalCard(a, votes, onVote) {
  const notes = h('textarea', { name: 'notes', rows: 2 });
  const status = statusLine();
  const vote = (kind) => async (e) => {
    await act(e.currentTarget, status, async () => {
      const r = await api('PUT', `/approvals/${a.id}/vote`, { vote: kind, notes: notes.value || undefined });
      await onVote(a, r);
    });
  };
  const payload = typeof a.payload === 'string' ? a.payload : JSON.stringify(a.payload);
  return h(
    'li',
    { class: 'panel', 'data-approval': a.id },
    h('h2', {}, a.title || a.action_type),
    h(
      'p',
      {},
      h('span', { class: `badge tier-${a.risk_tier}` }, `${a.risk_tier} risk`),
      ' ',
      a.action_type,
      ' · requested by ',
      h('strong', {}, a.requested_by),
      ' · ',
      timeEl(a.created_at),
      a.project_id ? ` · ${a.project_id}` : '',
    ),
    h('p', {}, 'Quorum: ', h('strong', {}, `${a.current_approvals} of ${a.required_approvals}`), ' approvals'),
    payload && payload !== '{}' ? h('details', {}, h('summary', {}, 'Payload'), h('pre', {}, payload)) : null,
    votes.length
      ? table(
          ['Voter', 'Vote', 'Comment'],
          votes.map((v) =>
            h('tr', {}, h('td', {}, v.voter_id || v.voter || ''), h('td', {}, v.vote), h('td', {}, v.notes || '')),
          ),
          'Votes so far',
        )
      : h('p', { class: 'muted' }, 'No votes yet.'),
    field('Comment', notes),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        {
          type: 'button',
          class: 'primary',
          'aria-label': `Approve: ${a.title || a.action_type}`,
          onclick: vote('approve'),
        },
        'Approve',
      ),
      h(
        'button',
        { type: 'button', class: 'danger', 'aria-label': `Deny: ${a.title || a.action_type}`, onclick: vote('deny') },
        'Deny',
      ),
    ),
    status.el,
  );
}

export async function render({ view, every }) {
  const list = h('ul', { class: 'list', 'aria-label': 'Pending approvals' });
  const outcome = statusLine();
  view.append(h('h1', {}, 'Approvals'), outcome.el, list);
  const load = async () => {
    const pending = await get('/approvals?status=pending&limit=500');
    const votes = await Promise.all(pending.map((a) => get(`/approvals/${a.id}/votes`).catch(() => [])));
    // Keep a card the operator is typing in; rebuild the rest.
    const focused = list.contains(document.activeElement) ? document.activeElement.closest('[data-approval]') : null;
    list.replaceChildren(
      ...pending.map((a, i) =>
        focused && focused.dataset.approval === String(a.id) ? focused : approvalCard(a, votes[i], onVote),
      ),
    );
    if (!pending.length) list.append(h('li', { class: 'muted' }, 'No approvals are waiting.'));
  };
  const onVote = async (a, r) => {
    const decided = r.status && r.status !== 'pending';
    outcome.ok(
      decided
        ? `“${a.title || a.action_type}” is ${r.status}.`
        : 'Vote recorded on “' +
            (a.title || a.action_type) +
            '”; ' +
            (r.remaining ?? 'more') +
            ' more approval(s) needed.',
    );
    await load();
  };
  await load();
  every(5_000, () => load().catch((err) => outcome.fail(err)));
}
