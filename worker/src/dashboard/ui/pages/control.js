// The kill switch and sleep mode. Any operator may freeze; only admins may unfreeze (the server
// refuses anyone else anyway). Both switches ask for confirmation first.
import { api, get } from '../api.js';
import { h, field, statusLine, act } from '../dom.js';

/** A button that opens an inline confirmation panel before running `run`. */
function confirmed(label, question, confirmLabel, cls, run, status, attrs = {}) {
  const panel = h('div', { class: 'confirm', hidden: true, role: 'group', 'aria-label': `Confirm: ${label}` });
  const open = h('button', { type: 'button', class: cls, 'aria-expanded': 'false', ...attrs }, label);
  const close = () => {
    panel.hidden = true;
    open.setAttribute('aria-expanded', 'false');
    open.focus();
  };
  const yes = h('button', { type: 'button', class: cls }, confirmLabel);
  yes.addEventListener('click', () =>
    act(yes, status, async () => {
      await run();
    }),
  );
  panel.append(
    h('p', {}, question),
    h('div', { class: 'actions' }, yes, h('button', { type: 'button', onclick: close }, 'Cancel')),
  );
  open.addEventListener('click', () => {
    panel.hidden = false;
    open.setAttribute('aria-expanded', 'true');
    yes.focus();
  });
  return [open, panel];
}

export async function render(ctx) {
  const { view, me } = ctx;
  const isAdmin = me.role === 'admin';
  const status = statusLine();
  const killBox = h('section', { class: 'panel', 'aria-labelledby': 'kill-title' });
  const sleepBox = h('section', { class: 'panel', 'aria-labelledby': 'sleep-title' });
  view.append(h('h1', {}, 'Kill switch and sleep mode'), status.el, killBox, sleepBox);

  const draw = async () => {
    const s = await ctx.refreshStatus();
    const parts = [
      h('h2', { id: 'kill-title' }, 'Kill switch'),
      h('p', {}, 'Agent work is ', h('strong', { id: 'work-state' }, s.frozen ? 'frozen' : 'running'), '.'),
    ];
    if (!s.frozen) {
      parts.push(
        h(
          'p',
          { class: 'muted' },
          'Freezing stops all work routing at once: the work queue is empty, claims and dispatch are refused. Reads, heartbeats, messages and approvals keep working.',
        ),
        ...confirmed(
          'Freeze all agent work',
          'Freeze all agent work now? Only an admin can unfreeze.',
          'Yes, freeze all agent work',
          'danger',
          async () => {
            await api('PUT', '/admin/override', { action: 'freeze' });
            status.ok('Agent work is frozen.');
            await draw();
          },
          status,
        ),
      );
    } else if (isAdmin) {
      parts.push(
        ...confirmed(
          'Unfreeze',
          'Unfreeze and let agents take work again?',
          'Yes, unfreeze',
          'primary',
          async () => {
            await api('PUT', '/admin/override', { action: 'unfreeze' });
            status.ok('Agent work resumes.');
            await draw();
          },
          status,
        ),
      );
    } else {
      parts.push(
        h('button', { type: 'button', disabled: true, 'aria-describedby': 'unfreeze-why' }, 'Unfreeze'),
        h('p', { id: 'unfreeze-why', class: 'muted' }, 'Only admins can unfreeze.'),
      );
    }
    killBox.replaceChildren(...parts);

    let sleep;
    try {
      sleep = await get('/admin/sleep');
    } catch (err) {
      sleepBox.replaceChildren(
        h('h2', { id: 'sleep-title' }, 'Sleep mode'),
        h('p', { class: 'error', role: 'alert' }, err.message),
      );
      return;
    }
    const on = !!sleep.sleep_mode?.active;
    const sparts = [
      h('h2', { id: 'sleep-title' }, 'Sleep mode'),
      h(
        'p',
        {},
        'Sleep mode is ',
        h('strong', { id: 'sleep-state' }, on ? 'on' : 'off'),
        '. Available operators: ',
        String(sleep.available_operators ?? 0),
        '.',
      ),
    ];
    if (!isAdmin) sparts.push(h('p', { class: 'muted' }, 'Only admins can switch sleep mode.'));
    else if (on) {
      sparts.push(
        ...confirmed(
          'Turn sleep mode off',
          'Turn sleep mode off?',
          'Yes, turn it off',
          'primary',
          async () => {
            await api('PUT', '/admin/sleep', { action: 'off' });
            status.ok('Sleep mode is off.');
            await draw();
          },
          status,
        ),
      );
    } else {
      const directive = h('textarea', { name: 'directive', rows: 2 });
      sparts.push(
        field('Directive for the night (optional)', directive),
        ...confirmed(
          'Turn sleep mode on',
          'Turn sleep mode on? Agents work from the directive and high-risk approvals wait for the morning.',
          'Yes, turn it on',
          'primary',
          async () => {
            await api('PUT', '/admin/sleep', { action: 'on', directive: directive.value || undefined });
            status.ok('Sleep mode is on.');
            await draw();
          },
          status,
        ),
      );
    }
    sleepBox.replaceChildren(...sparts);
  };
  await draw();
}
