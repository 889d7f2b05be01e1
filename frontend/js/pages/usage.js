// usage.js: what was used, per day — a chart stacked by project (or, inside
// a project, by pod or user), the table behind it, a date range and the
// CSV of the same report.
import { get } from '../api.js';
import { h, replace } from '../ui/dom.js';
import { pageHeader, card, table, empty, loading } from '../ui/layout.js';
import { inlineError } from '../ui/errorview.js';
import { stackedBars } from '../ui/chart.js';
import { navigate, to } from '../router.js';
import { Page, define } from '../ui/page.js';

const METRICS = {
  cpuCoreHours: 'CPU core-hours',
  memoryGiBHours: 'Memory GiB-hours',
  podHours: 'Pod-hours',
  networkOutGiB: 'Network out GiB',
};
const day = (d) => d.toISOString().slice(0, 10);
const num = (v) => (v || 0).toFixed(3);

class UsagePage extends Page {
  async render() {
    const q = new URLSearchParams(this.getAttribute('query') || '');
    const ns = q.get('project') || '';
    const by = ns ? (q.get('by') === 'user' ? 'user' : 'pod') : 'project';
    const metric = METRICS[q.get('metric')] ? q.get('metric') : 'cpuCoreHours';
    const toDay = q.get('to') || day(new Date());
    const fromDay = q.get('from') || day(new Date(Date.parse(toDay) - 13 * 86400e3));
    this.title('Usage', ns);

    const input = (id, value, type = 'date') => h('input', { id, type, value });
    const fromEl = input('usage-from', fromDay);
    const toEl = input('usage-to', toDay);
    const projectEl = input('usage-project', ns, 'text');
    projectEl.placeholder = 'every project';
    const byEl = h('select', { id: 'usage-by', disabled: !ns }, ...['pod', 'user'].map((v) => h('option', { value: v, selected: v === by }, `by ${v}`)));
    const metricEl = h('select', { id: 'usage-metric' }, ...Object.entries(METRICS).map(([k, v]) => h('option', { value: k, selected: k === metric }, v)));
    const apply = (e) => {
      e?.preventDefault();
      const p = new URLSearchParams({ from: fromEl.value, to: toEl.value, metric: metricEl.value });
      if (projectEl.value.trim()) { p.set('project', projectEl.value.trim()); p.set('by', byEl.value); }
      navigate(`${to.usage()}?${p}`);
    };
    metricEl.onchange = apply;
    byEl.onchange = apply;
    const form = h('form', { class: 'usage-form', onsubmit: apply },
      h('label', null, 'From ', fromEl), h('label', null, 'To ', toEl),
      h('label', null, 'Project ', projectEl), byEl, metricEl,
      h('button', { type: 'submit', class: 'btn', 'data-test': 'usage-apply' }, 'Show'));

    // to is inclusive in the form: the report runs to the next midnight.
    const end = day(new Date(Date.parse(toEl.value) + 86400e3));
    const path = ns ? `/apis/berth.dev/v1/namespaces/${encodeURIComponent(ns)}/usage` : '/apis/berth.dev/v1/usage';
    const query = { from: fromEl.value, to: end, groupBy: `day,${by}` };
    const csv = h('a', { class: 'btn', 'data-test': 'usage-csv', download: '', href: `${path}?${new URLSearchParams({ ...query, format: 'csv' })}` }, 'Download CSV');
    const chart = h('div', { class: 'usage-chart', 'data-test': 'usage-chart' }, loading());
    const status = h('div');
    const { el: tableEl, tbody } = table(['Day', by[0].toUpperCase() + by.slice(1), ...Object.values(METRICS)], { caption: 'Usage by day' });
    this.replaceChildren(
      pageHeader('Usage', { sub: 'CPU, memory, pod-hours and network, as the nodes measured them.', actions: [csv], crumbs: [[to.usage(), 'Usage']] }),
      form, status, card(METRICS[metric], chart), tableEl);

    let report;
    try {
      report = await get(path, { query });
    } catch (err) {
      replace(status, inlineError(err));
      chart.replaceChildren();
      return;
    }
    const rows = report.rows || [];
    if (!rows.length) {
      chart.replaceChildren(empty('No usage', 'Nothing ran in this range, or its first records have not come in yet.'));
    }
    for (const r of rows) {
      tbody.append(h('tr', { 'data-test': 'usage-row' }, h('td', null, r.day), h('td', null, r[by] || '—'),
        ...Object.keys(METRICS).map((k) => h('td', { class: 'num' }, num(r[k])))));
    }
    const t = report.total || {};
    tbody.append(h('tr', { class: 'total', 'data-test': 'usage-total' }, h('th', null, 'Total'), h('td'),
      ...Object.keys(METRICS).map((k) => h('td', { class: 'num', 'data-metric': k }, num(t[k])))));
    if (!rows.length) return;
    const days = [...new Set(rows.map((r) => r.day))].sort();
    const groups = [...new Set(rows.map((r) => r[by] || '—'))].sort();
    const xs = days.map((d) => Date.parse(d) / 1000);
    const series = groups.map((g) => ({
      label: g, values: days.map((d) => rows.filter((r) => r.day === d && (r[by] || '—') === g).reduce((s, r) => s + (r[metric] || 0), 0)),
    }));
    await stackedBars(chart, xs, series, { unit: METRICS[metric], width: Math.max(320, Math.min(960, this.clientWidth - 40)) });
  }
}
define('berth-usage-page', UsagePage);
