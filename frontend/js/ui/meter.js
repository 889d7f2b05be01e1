// meter.js: a labelled bar of use against a total (a node's capacity, a
// project's quota), amber from 75 % and red from 95 %.
import { h } from './dom.js';

export function meter(label, verb = 'requested') {
  const fill = h('div', { class: 'meter-fill' });
  const val = h('span', { class: 'muted' });
  const bar = h('div', { class: 'meter-bar', role: 'img' }, fill);
  const el = h('div', { class: 'meter' }, h('div', { class: 'meter-top' }, h('span', null, label), val), bar);
  el.set = (used, total, fmt) => {
    const pct = total ? Math.min(100, (used / total) * 100) : (used > 0 ? 100 : 0);
    fill.style.width = `${pct.toFixed(1)}%`;
    fill.className = `meter-fill${pct >= 95 ? ' full' : pct >= 75 ? ' high' : ''}`;
    val.textContent = `${fmt(used)} of ${fmt(total)} ${verb} (${Math.round(pct)}%)`;
    bar.setAttribute('aria-label', `${label}: ${val.textContent}`);
    el.dataset.used = String(used);
    el.dataset.total = String(total);
  };
  return el;
}
