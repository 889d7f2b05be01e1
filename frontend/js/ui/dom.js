// dom.js: building DOM without HTML strings. Text is always inserted as
// text nodes, so nothing a user or the API sends can become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h(tag, attrs, ...children) creates an element.
 * attrs: class, id, for, aria-*, data-* and other attributes are set as
 * attributes (true → present, false/null/undefined → absent); value,
 * checked, disabled, selected, hidden are set as properties; keys starting
 * with "on" and holding a function become event listeners (onclick → click).
 * children: strings/numbers become text; arrays are flattened; null and
 * false are skipped.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'multiple', 'readOnly', 'required']);

export function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (PROPS.has(k)) {
      el[k] = v;
    } else if (v === true) {
      el.setAttribute(k, '');
    } else if (v !== false && v !== null && v !== undefined) {
      el.setAttribute(k, String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** replace empties el and appends children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * syncList keeps container's children in the order of items, one element
 * per key: create(item) makes a new one, update(el, item) refreshes an
 * existing one in place (so focus and scroll survive live updates).
 */
export function syncList(container, items, key, create, update) {
  const existing = new Map();
  for (const el of [...container.children]) {
    if (el.dataset.key !== undefined) existing.set(el.dataset.key, el);
    else el.remove();
  }
  let prev = null;
  for (const item of items) {
    const k = key(item);
    let el = existing.get(k);
    if (el) {
      existing.delete(k);
      update?.(el, item);
    } else {
      el = create(item);
      el.dataset.key = k;
      update?.(el, item);
    }
    const want = prev ? prev.nextSibling : container.firstChild;
    if (want !== el) container.insertBefore(el, want);
    prev = el;
  }
  for (const el of existing.values()) el.remove();
}

/** link to a route of the console. */
export const link = (path, attrs, ...children) => h('a', { href: '#' + path, ...attrs }, ...children);

/** age formats the time since ts as kubectl does: 12s, 5m, 3h, 2d. */
export function age(ts, now = Date.now()) {
  if (!ts) return '—';
  const s = Math.max(0, Math.floor((now - new Date(ts).getTime()) / 1000));
  if (Number.isNaN(s)) return '—';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h`;
  return `${Math.floor(hr / 24)}d`;
}

/** when formats a timestamp as local date and time. */
export function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toLocaleString();
}

/** timeEl is a <time> showing the age, with the full time as its title. */
export function timeEl(ts, suffix = '') {
  return h('time', { datetime: ts || '', title: when(ts), 'data-age': ts || '', 'data-suffix': suffix }, ts ? age(ts) + suffix : '—');
}

/** refreshAges updates every <time data-age> under root. */
export function refreshAges(root) {
  const now = Date.now();
  for (const t of root.querySelectorAll('time[data-age]')) {
    if (t.dataset.age) t.textContent = age(t.dataset.age, now) + (t.dataset.suffix || '');
  }
}

// Icons: 24×24 stroked paths, drawn with currentColor.
const ICONS = {
  projects: 'M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z',
  usage: 'M4 20V10M10 20V4M16 20v-7M22 20H2',
  nodes: 'M4 5h16v5H4zM4 14h16v5H4zM8 7.5h.01M8 16.5h.01',
  hostimages: 'M12 3l9 5-9 5-9-5zM3 13l9 5 9-5M3 17l9 5 9-5',
  build: 'M14 4l6 6-9 9H5v-6zM12 6l6 6',
  audit: 'M9 5h11M9 12h11M9 19h11M4 5h.01M4 12h.01M4 19h.01',
  tokens: 'M15 7a4 4 0 1 1-3.9 4.9L4 19v-3h3v-3h3l1.1-1.1A4 4 0 0 1 15 7z',
  logout: 'M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10',
  menu: 'M4 6h16M4 12h16M4 18h16',
  plus: 'M12 5v14M5 12h14',
  minus: 'M5 12h14',
  trash: 'M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13',
  logs: 'M5 4h14v16H5zM8 8h8M8 12h8M8 16h5',
  overview: 'M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z',
  events: 'M13 3L5 14h6l-1 7 8-11h-6z',
  services: 'M3 9h6v6H3zM9 12h4M13 12l6-6M13 12h6M13 12l6 6',
  config: 'M4 6h9M17 6h3M4 12h3M11 12h9M4 18h11M19 18h1M15 4v4M9 10v4M17 16v4',
  members: 'M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zM3 20c0-3.3 2.7-6 6-6s6 2.7 6 6M16 4.5a3.5 3.5 0 0 1 0 6.5M18 14.5c1.8.9 3 2.9 3 5.5',
  deploy: 'M12 3v12M7 8l5-5 5 5M5 15v4h14v-4',
  copy: 'M9 9h11v11H9zM5 15V4h11',
  close: 'M6 6l12 12M18 6L6 18',
  back: 'M15 5l-7 7 7 7',
  password: 'M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3M12 14.5v2',
  network: 'M12 3a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM5 16a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM19 16a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5zM12 8v4M12 12l-6 4M12 12l6 4',
};

export function icon(name, cls = 'icon') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', ICONS[name] || '');
  svg.append(p);
  return svg;
}

/** button with an optional icon; kind: primary | danger | ghost | (plain). */
export function button(label, { kind = '', iconName, ...attrs } = {}) {
  return h('button', { type: 'button', class: `btn ${kind ? 'btn-' + kind : ''}`.trim(), ...attrs },
    iconName ? icon(iconName) : null, label ? h('span', null, label) : null);
}

/** copyText puts text on the clipboard (falls back to a hidden textarea). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { class: 'offscreen', 'aria-hidden': 'true' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

/** parseQuantity turns a Kubernetes quantity into a number (cores or bytes). */
export function parseQuantity(q) {
  if (q === undefined || q === null || q === '') return 0;
  const m = String(q).trim().match(/^([+-]?[0-9.]+(?:[eE][+-]?\d+)?)([a-zA-Z]*)$/);
  if (!m) return 0;
  const n = parseFloat(m[1]);
  const mult = {
    '': 1, m: 1e-3, u: 1e-6, n: 1e-9, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
  }[m[2]];
  return mult === undefined ? 0 : n * mult;
}

export function formatBytes(n) {
  if (!n) return '0';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

export function formatCores(n) {
  if (!n) return '0';
  if (n < 1) return `${Math.round(n * 1000)}m`;
  return `${Number.isInteger(n) ? n : n.toFixed(2)}`;
}
