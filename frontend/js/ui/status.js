// status.js: status badges — a coloured dot and always a word, so colour
// is never the only signal.
import { h } from './dom.js';

/** badge(text, tone): tone is ok | warn | bad | info | muted. */
export function badge(text, tone = 'muted', attrs = {}) {
  return h('span', { class: `badge badge-${tone}`, ...attrs }, text);
}

/** setBadge updates a badge in place. */
export function setBadge(el, text, tone) {
  el.className = `badge badge-${tone}`;
  if (el.textContent !== text) el.textContent = text;
}

const PHASE_TONES = { Running: 'ok', Succeeded: 'muted', Pending: 'warn', Failed: 'bad', Unknown: 'bad', Terminating: 'muted' };

/**
 * podStatus is what a pod badge says: text is the phase (or Terminating
 * while the node finishes a graceful delete); detail is why, as kubectl's
 * STATUS column would add it (CrashLoopBackOff, ErrImagePull, Completed...).
 */
export function podStatus(pod) {
  if (pod.metadata?.deletionTimestamp) return { text: 'Terminating', tone: 'muted', detail: '' };
  const phase = pod.status?.phase || 'Pending';
  let detail = '';
  let tone = PHASE_TONES[phase] || 'muted';
  for (const cs of pod.status?.containerStatuses || []) {
    const w = cs.state?.waiting;
    const t = cs.state?.terminated;
    if (w?.reason && w.reason !== 'ContainerCreating') { detail = w.reason; if (/Err|BackOff|Invalid/.test(w.reason)) tone = 'bad'; break; }
    if (w?.reason) detail = w.reason;
    if (t && phase === 'Running') { detail = t.reason || `Exited (${t.exitCode})`; }
  }
  if (!detail && phase === 'Pending' && !pod.spec?.nodeName) detail = 'Unscheduled';
  if (phase === 'Running' && (pod.status?.containerStatuses || []).some((c) => !c.ready)) {
    detail = detail || 'Not ready';
    tone = 'warn';
  }
  return { text: phase, tone, detail };
}

export const restarts = (pod) => (pod.status?.containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0);

/** nodeReady is {text, tone} from a node's Ready condition. */
export function nodeReady(node) {
  const c = (node.status?.conditions || []).find((x) => x.type === 'Ready');
  let s = { text: 'Unknown', tone: 'bad', cond: c };
  if (c?.status === 'True') s = { text: 'Ready', tone: 'ok', cond: c };
  else if (c?.status === 'False') s = { text: 'NotReady', tone: 'bad', cond: c };
  return s;
}

export function roleBadge(role, clusterAdmin) {
  if (!role && clusterAdmin) return badge('cluster admin', 'info');
  if (!role) return null;
  return badge(role, role === 'admin' ? 'info' : role === 'edit' ? 'ok' : 'muted');
}
