// Spend: bars per UTC day, per agent, and each budget's spend against its limit. Inline SVG,
// with the same numbers in tables for screen readers and for anyone who prefers to read.
import { get } from '../api.js';
import { h, svg, money, table } from '../dom.js';

const W = 720;

function dayChart(days, dailyLimit) {
  const H = 220,
    top = 16,
    bottom = 30,
    left = 48;
  const max = Math.max(0.01, dailyLimit || 0, ...days.map((d) => d.total_cost));
  const plotH = H - top - bottom;
  const step = (W - left - 8) / days.length;
  const y = (v) => top + plotH - (v / max) * plotH;
  const parts = [svg('line', { x1: left, y1: top + plotH, x2: W - 8, y2: top + plotH, stroke: '#aab3bd' })];
  for (const frac of [0.5, 1])
    parts.push(svg('text', { x: left - 6, y: y(max * frac) + 4, 'text-anchor': 'end' }, money(max * frac)));
  days.forEach((d, i) => {
    const x = left + i * step + step * 0.15;
    const bh = (d.total_cost / max) * plotH;
    parts.push(
      svg(
        'rect',
        {
          x,
          y: top + plotH - bh,
          width: step * 0.7,
          height: Math.max(bh, d.total_cost > 0 ? 1 : 0),
          rx: 2,
          fill: '#1f6f4a',
        },
        svg('title', {}, `${d.day}: ${money(d.total_cost)}`),
      ),
    );
    if (days.length <= 16 || i % 2 === 0)
      parts.push(svg('text', { x: x + step * 0.35, y: H - 10, 'text-anchor': 'middle' }, d.day.slice(5)));
  });
  if (dailyLimit) {
    parts.push(
      svg('line', {
        x1: left,
        x2: W - 8,
        y1: y(dailyLimit),
        y2: y(dailyLimit),
        stroke: '#b42318',
        'stroke-dasharray': '6 4',
      }),
      svg('text', { x: left + 4, y: y(dailyLimit) - 4 }, `daily budget ${money(dailyLimit)}`),
    );
  }
  return svg(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': `Spend per day over the last ${days.length} days`,
    },
    ...parts,
  );
}

/** Horizontal bars: value against an optional limit (the limit is the full track when set). */
function barChart(rows, label) {
  const rowH = 26,
    left = 170,
    right = 130;
  const H = rows.length * rowH + 8;
  const max = Math.max(0.01, ...rows.map((r) => Math.max(r.value, r.limit || 0)));
  const scale = (v) => (v / max) * (W - left - right);
  const parts = [];
  rows.forEach((r, i) => {
    const y = 4 + i * rowH;
    parts.push(
      svg(
        'text',
        { x: left - 8, y: y + 16, 'text-anchor': 'end' },
        r.name.length > 24 ? `${r.name.slice(0, 23)}…` : r.name,
      ),
    );
    if (r.limit)
      parts.push(svg('rect', { x: left, y: y + 3, width: scale(r.limit), height: 16, rx: 3, fill: '#e6e9ed' }));
    const color = r.state === 'exhausted' ? '#b42318' : r.state === 'warning' ? '#b7791f' : '#1f6f4a';
    parts.push(
      svg(
        'rect',
        {
          x: left,
          y: y + 3,
          width: Math.max(scale(Math.min(r.value, max)), r.value > 0 ? 1 : 0),
          height: 16,
          rx: 3,
          fill: color,
        },
        svg('title', {}, `${r.name}: ${money(r.value)}${r.limit ? ` of ${money(r.limit)}` : ''}`),
      ),
    );
    parts.push(svg('text', { x: W - right + 6, y: y + 16 }, money(r.value) + (r.limit ? ` / ${money(r.limit)}` : '')));
  });
  return svg('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label }, ...parts);
}

export async function render({ view }) {
  const data = await get('/dashboard/api/spend?days=14');
  const total = data.days.reduce((s, d) => s + d.total_cost, 0);
  view.append(
    h('h1', {}, 'Spend'),
    h('p', {}, 'Last ', String(data.days.length), ' days: ', h('strong', {}, money(total)), '.'),
  );

  const dailyProjectLimits = data.budgets.filter((b) => b.period === 'day');
  const dailyLimit = dailyProjectLimits.length === 1 ? dailyProjectLimits[0].limit_usd : 0;
  view.append(h('section', { class: 'panel' }, h('h2', {}, 'Per day'), dayChart(data.days, dailyLimit)));

  const agentBudget = new Map(data.budgets.filter((b) => b.scope === 'agent').map((b) => [b.scope_id, b]));
  view.append(
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Per agent'),
      data.agents.length
        ? barChart(
            data.agents.map((a) => ({ name: a.agent_id, value: a.total_cost })),
            `Spend per agent over the last ${data.days.length} days`,
          )
        : h('p', { class: 'muted' }, 'No spend recorded in this window.'),
    ),
  );
  view.append(
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Budgets'),
      data.budgets.length
        ? barChart(
            data.budgets.map((b) => ({
              name: `${b.scope} ${b.scope_id} (${b.period})`,
              value: b.spent_usd,
              limit: b.limit_usd,
              state: b.state,
            })),
            'Spend against each budget',
          )
        : h('p', { class: 'muted' }, 'No budgets set.'),
      data.budgets.length
        ? table(
            ['Budget', 'Period', 'Spent', 'Limit', 'State'],
            data.budgets.map((b) =>
              h(
                'tr',
                {},
                h('td', {}, `${b.scope} ${b.scope_id}`),
                h('td', {}, b.period),
                h('td', {}, money(b.spent_usd)),
                h('td', {}, money(b.limit_usd)),
                h('td', {}, b.state + (b.hard_stop ? ' (hard stop)' : '')),
              ),
            ),
            'Budgets',
          )
        : null,
    ),
  );
  view.append(
    h('h2', {}, 'Numbers'),
    table(
      ['Agent', 'Spend', 'Entries', 'Budget'],
      data.agents.map((a) => {
        const b = agentBudget.get(a.agent_id);
        return h(
          'tr',
          {},
          h('td', {}, a.agent_id),
          h('td', {}, money(a.total_cost)),
          h('td', {}, String(a.entry_count)),
          h('td', {}, b ? `${money(b.spent_usd)} of ${money(b.limit_usd)} (${b.period})` : '—'),
        );
      }),
      'Spend per agent',
    ),
  );
}
