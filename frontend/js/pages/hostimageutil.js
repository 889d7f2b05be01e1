// hostimageutil.js: what the host image pages share: phase badges, sizes,
// durations, and their style sheet.
import { h } from '../ui/dom.js';
import { badge } from '../ui/status.js';

const CSS = '/static/css/hostimage.css';

export function loadCSS() {
  if (!document.querySelector(`link[href="${CSS}"]`)) document.head.append(h('link', { rel: 'stylesheet', href: CSS }));
}

const TONES = { Queued: 'muted', Running: 'info', Succeeded: 'ok', Failed: 'bad', Cancelled: 'warn' };

/** phaseBadge is a build's phase as a badge. */
export function phaseBadge(phase, attrs = {}) {
  return badge(phase || 'Unknown', TONES[phase] || 'muted', attrs);
}

export const isDone = (phase) => phase === 'Succeeded' || phase === 'Failed' || phase === 'Cancelled';

/** size formats bytes with a binary unit. */
export function size(n) {
  if (!n) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n >= 100 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

/** took is how long a build ran (so far). */
export function took(st) {
  if (!st?.startTime) return '—';
  const end = st.completionTime ? new Date(st.completionTime) : new Date();
  const s = Math.max(0, Math.round((end - new Date(st.startTime)) / 1000));
  if (s < 120) return `${s}s`;
  return `${Math.floor(s / 60)}m ${s % 60}s`;
}

export const short = (c) => (c ? c.slice(0, 12) : '—');
