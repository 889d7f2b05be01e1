// toast.js: short notices in a polite live region.
import { h } from './dom.js';

let region;

export function toast(message, tone = 'ok', ms = 4000) {
  if (!region) {
    region = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite', 'data-test': 'toasts' });
    document.body.append(region);
  }
  const t = h('div', { class: `toast toast-${tone}` }, message);
  region.append(t);
  setTimeout(() => t.remove(), tone === 'bad' ? ms * 2 : ms);
}
