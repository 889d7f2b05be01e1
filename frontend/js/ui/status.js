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

/** podReady reports whether a pod is ready (its Ready condition, as kubectl's READY counts). */
export function podReady(pod) {
  if (pod.metadata?.deletionTimestamp) return false;
  const c = (pod.status?.conditions || []).find((x) => x.type === 'Ready');
  const cs = pod.status?.containerStatuses || [];
  return c ? c.status === 'True' : cs.length > 0 && cs.every((x) => x.ready);
}

/** stateWord is a pod's state in a summary: a waiting reason worth telling (CrashLoopBackOff), else its phase. */
export function stateWord(pod) {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  const w = (pod.status?.containerStatuses || []).map((c) => c.state?.waiting?.reason).find((r) => r && r !== 'ContainerCreating');
  return w || pod.status?.phase || 'Pending';
}

/** summary counts pods by state: "3 Running · 2 Pending · 1 CrashLoopBackOff". */
export function summary(pods) {
  const n = new Map([['Running', 0], ['Pending', 0]]);
  for (const p of pods) n.set(stateWord(p), (n.get(stateWord(p)) || 0) + 1);
  return [...n].filter(([, c]) => c).map(([w, c]) => `${c} ${w}`).join(' · ');
}

/**
 * pendingReason says why a Pending pod does not run yet: the scheduler's
 * message when no node fits (its PodScheduled condition or FailedScheduling
 * event), an image being pulled, containers being created, a back-off.
 */
export function pendingReason(pod, events = []) {
  if (pod.status?.phase !== 'Pending' || pod.metadata?.deletionTimestamp) return '';
  const uid = pod.metadata?.uid;
  const evs = events.filter((e) => (e.involvedObject?.uid ? e.involvedObject.uid === uid : e.involvedObject?.name === pod.metadata?.name))
    .sort((a, b) => evTime(a).localeCompare(evTime(b)));
  const last = (reason) => evs.filter((e) => e.reason === reason).pop();
  if (!pod.spec?.nodeName) {
    const c = (pod.status?.conditions || []).find((x) => x.type === 'PodScheduled' && x.status === 'False');
    const msg = c?.message || last('FailedScheduling')?.message;
    return msg ? `Unschedulable: ${msg}` : 'Waiting for the scheduler to place it';
  }
  for (const cs of pod.status?.containerStatuses || []) {
    const w = cs.state?.waiting;
    if (!w?.reason) continue;
    if (/BackOff/.test(w.reason)) return `Back-off (${w.reason}): ${w.message || 'waiting before trying again'}`;
    if (w.reason !== 'ContainerCreating') return `${w.reason}${w.message ? `: ${w.message}` : ''}`;
  }
  const pull = evs.filter((e) => /^Pull(ing|ed)$/.test(e.reason)).pop();
  if (pull?.reason === 'Pulling') return `Pulling: ${pull.message}`;
  return `Creating containers on ${pod.spec.nodeName}`;
}

export const evTime = (e) => e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp || '';

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
