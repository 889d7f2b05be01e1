// layout.js: the building blocks every page shares, so pages look alike.
import { h, link, icon } from './dom.js';

/** pageHeader: a title, an optional line under it, actions on the right. */
export function pageHeader(title, { sub, actions = [], crumbs = [] } = {}) {
  return h('header', { class: 'page-header' },
    crumbs.length ? h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      crumbs.map(([path, label], i) => [i ? h('span', { class: 'crumb-sep', 'aria-hidden': 'true' }, '/') : null, link(path, null, label)])) : null,
    h('div', { class: 'page-header-row' },
      h('div', { class: 'page-title' }, h('h1', null, title), sub ? h('div', { class: 'page-sub' }, sub) : null),
      actions.length ? h('div', { class: 'page-actions' }, actions) : null));
}

/** card: a titled panel. */
export function card(title, body, { actions = [], cls = '', attrs = {}, level = 'h2' } = {}) {
  return h('section', { class: `card ${cls}`.trim(), ...attrs },
    title ? h('div', { class: 'card-head' }, h(level, { class: 'card-title' }, title), actions.length ? h('div', { class: 'card-actions' }, actions) : null) : null,
    body);
}

/** empty: what a page shows when a list has nothing in it. */
export function empty(title, text, action, attrs = {}) {
  return h('div', { class: 'empty', ...attrs }, h('p', { class: 'empty-title' }, title), text ? h('p', { class: 'muted' }, text) : null, action || null);
}

/** table: a scrollable table; headers is a list of labels (or [label, class]). */
export function table(headers, { caption, cls = '' } = {}) {
  const tbody = h('tbody');
  const el = h('div', { class: 'table-wrap' },
    h('table', { class: `table ${cls}`.trim() },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', null, h('tr', null, headers.map((x) => Array.isArray(x) ? h('th', { scope: 'col', class: x[1] }, x[0]) : h('th', { scope: 'col' }, x)))),
      tbody));
  return { el, tbody };
}

export const loading = (text = 'Loading…') => h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);

export const chip = (text, attrs = {}) => h('span', { class: 'chip', ...attrs }, text);

export const backLink = (path, label) => link(path, { class: 'back-link' }, icon('back'), h('span', null, label));
