// util.js: small helpers shared by the pod page's components.

/**
 * h builds an element. attrs: class, text (textContent), on{Event}
 * handlers (functions), dataset via data-*, anything else as an attribute
 * (true → empty attribute, false/null/undefined → left out). Children may
 * be nodes, strings (as text) or arrays of them.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** duration renders milliseconds as "5s", "3 minutes", "2 hours" etc. */
export function duration(ms, short = false) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const units = [['day', 86400, 'd'], ['hour', 3600, 'h'], ['minute', 60, 'm'], ['second', 1, 's']];
  for (const [name, secs, abbr] of units) {
    if (s >= secs || secs === 1) {
      const n = Math.floor(s / secs);
      if (short) return `${n}${abbr}`;
      if (name === 'second' && n < 60) return n < 2 ? 'Less than a second' : `${n} seconds`;
      return n === 1 ? (name === 'hour' ? 'About an hour' : `1 ${name}`) : `${n} ${name}s`;
    }
  }
  return '';
}

export const since = (t) => (t ? Date.now() - Date.parse(t) : 0);

/** age is the short age of a timestamp ("5m", "2d"). */
export const age = (t) => (t ? duration(since(t), true) : '—');

/** containerState describes a container's state as `docker ps` does. */
export function containerState(cs) {
  const st = cs?.state || {};
  if (st.running) return { text: `Up ${lower(duration(since(st.running.startedAt)))}`, kind: 'ok' };
  if (st.terminated) {
    const t = st.terminated;
    const ago = t.finishedAt ? ` ${lower(duration(since(t.finishedAt)))} ago` : '';
    return { text: `Exited (${t.exitCode ?? t.signal ?? '?'})${ago}`, kind: t.exitCode === 0 ? 'muted' : 'bad' };
  }
  if (st.waiting) {
    const r = st.waiting.reason || 'Waiting';
    return { text: `Waiting (${r})`, kind: /BackOff|Err|Invalid/.test(r) ? 'bad' : 'warn' };
  }
  return { text: 'Unknown', kind: 'muted' };
}

const lower = (s) => s.charAt(0).toLowerCase() + s.slice(1);

/** containerStatusOf is the status of the named container. */
export function containerStatusOf(pod, name) {
  return (pod?.status?.containerStatuses || []).find((c) => c.name === name);
}

/** errorText is a person-readable message of an API error. */
export function errorText(err) {
  if (!err) return '';
  return err.status?.message || err.message || String(err);
}

export { wsURL } from '../api.js';

/** labelled wraps a control in a label. */
export function labelled(label, control, cls = 'pod-field') {
  return h('label', { class: cls }, h('span', { class: 'pod-field-label', text: label }), control);
}
