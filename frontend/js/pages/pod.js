// pod.js: <berth-pod-page namespace name tab>, one pod: its status live,
// Stop / Start / Restart / Delete, and the Details, Logs, Terminal and
// Changes tabs. The router creates it for #/projects/NS/pods/NAME?tab=….

import { get, post, del, paths, APIError } from '../api.js';
import { watch, isLive, onConnectionState } from '../watch.js';
import { h as el, link, timeEl, refreshAges, button } from '../ui/dom.js';
import { pageHeader, table as baseTable } from '../ui/layout.js';
import { podStatus, setBadge, restarts, pendingReason, evTime } from '../ui/status.js';
import { confirmDialog } from '../ui/dialog.js';
import { errorView } from '../ui/errorview.js';
import { projectAccess } from '../ui/session.js';
import { to } from '../router.js';
import { h, containerState, errorText, duration, since } from '../pod/util.js';
import '../pod/logs.js';
import '../pod/shell.js';
import '../pod/changes.js';
import '../pod/graphs.js';

const CSS = '/static/css/pod.css';
if (!document.querySelector(`link[href="${CSS}"]`)) {
  document.head.append(h('link', { rel: 'stylesheet', href: CSS }));
}

const TABS = [
  ['details', 'Details'],
  ['logs', 'Logs'],
  ['terminal', 'Terminal'],
  ['changes', 'Changes'],
];

const ACTIONS = {
  stop: ['Stop', 'Stopping…', 'Stopped'],
  start: ['Start', 'Starting…', 'Started'],
  restart: ['Restart', 'Restarting…', 'Restarted'],
};

let uid = 0;

class PodPage extends HTMLElement {
  static get observedAttributes() { return ['tab']; }

  get ns() { return this.getAttribute('namespace') || ''; }
  get podName() { return this.getAttribute('name') || ''; }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.uid = ++uid;
    this.classList.add('pod-page');
    this.pod = null;
    this.events = [];
    this.canEdit = true;
    this.build();
    this.load();
    this.stopWatch = watch(paths.pods(this.ns), {
      query: { fieldSelector: `metadata.name=${this.podName}` },
      onChange: (items, ev) => {
        if (ev?.type === 'DELETED' && ev.object?.metadata?.name === this.podName) { this.gone(); return; }
        const pod = items.find((p) => p.metadata?.name === this.podName);
        if (pod) this.setPod(pod);
      },
      onError: (st) => this.flash(`Live updates of the pod stopped: ${st?.message || 'unknown error'}`, 'bad'),
    });
    this.stopEvents = watch(paths.events(this.ns), {
      query: { fieldSelector: `involvedObject.name=${this.podName}` },
      onChange: (items) => {
        this.events = items.filter((e) => !e.involvedObject?.kind || e.involvedObject.kind === 'Pod');
        this.renderEvents();
        this.renderHeader();
      },
      onError: () => { /* events are a nicety; the pod watch reports outages */ },
    });
    this.ticker = setInterval(() => this.tick(), 10000);
    // While the live connection is down the header says so and the actions wait.
    this.stopLive = onConnectionState(() => this.renderHeader());
    this.whoCanEdit();
  }

  disconnectedCallback() {
    this.stopWatch?.();
    this.stopEvents?.();
    this.stopLive?.();
    clearInterval(this.ticker);
    clearTimeout(this.flashTimer);
    this.built = false;
    this.textContent = '';
  }

  attributeChangedCallback(name, old, val) {
    if (name === 'tab' && this.built && val && val !== this.tab) this.select(val, false);
  }

  build() {
    const ns = this.ns;
    document.title = `${this.podName} · Pod · Berth`;
    this.badge = el('span', { class: 'badge', 'data-test': 'pod-status' }, '…');
    this.detail = h('span', { class: 'pod-detail', 'data-test': 'pod-reason' });
    this.meta = h('dl', { class: 'pod-meta' });
    this.actionBtns = {};
    for (const [op, [label]] of Object.entries(ACTIONS)) {
      this.actionBtns[op] = button(label, { 'data-action': op, 'data-test': `pod-${op}`, onclick: () => this.act(op) });
    }
    this.deleteBtn = button('Delete', { kind: 'danger', iconName: 'trash', 'data-test': 'pod-delete', onclick: () => this.confirmDelete() });
    this.actions = h('div', { class: 'pod-actions', role: 'group', 'aria-label': 'Pod actions' },
      this.actionBtns.stop, this.actionBtns.start, this.actionBtns.restart, this.deleteBtn);
    this.flashEl = h('div', { class: 'banner banner-info', role: 'status', hidden: true });
    this.alert = h('div', { class: 'banner banner-bad', role: 'alert', hidden: true });
    this.header = pageHeader(h('span', { class: 'pod-title' }, h('span', { text: this.podName }), ' ', this.badge, ' ', this.detail), {
      crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns]],
      sub: this.meta,
      actions: [this.actions],
    });

    this.tabBtns = {};
    this.panels = {};
    const tablist = h('div', { class: 'pod-tabs', role: 'tablist', 'aria-label': 'Pod views', onkeydown: (e) => this.tabKey(e) });
    for (const [id, label] of TABS) {
      const btn = h('button', {
        type: 'button', role: 'tab', class: 'pod-tab', id: `pod${this.uid}-tab-${id}`, 'aria-controls': `pod${this.uid}-panel-${id}`,
        'aria-selected': 'false', tabindex: '-1', 'data-tab': id, onclick: () => this.select(id, true),
      }, label);
      this.tabBtns[id] = btn;
      tablist.append(btn);
      this.panels[id] = h('section', { class: 'pod-panel', role: 'tabpanel', id: `pod${this.uid}-panel-${id}`, 'aria-labelledby': btn.id, hidden: true });
    }

    this.details = h('div', { class: 'pod-details' });
    this.eventsEl = h('div', { class: 'pod-events' });
    this.graphs = h('berth-pod-graphs', { namespace: ns, name: this.podName });
    this.panels.details.append(this.details, h('h2', { class: 'section-title', text: 'Resource use' }), this.graphs,
      h('h2', { class: 'section-title', text: 'Events' }), this.eventsEl);
    this.logs = h('berth-pod-logs', { namespace: ns, name: this.podName });
    this.term = h('berth-pod-terminal', { namespace: ns, name: this.podName });
    this.changes = h('berth-pod-changes', { namespace: ns, name: this.podName });
    this.panels.logs.append(this.logs);
    this.panels.terminal.append(this.term);
    this.panels.changes.append(this.changes);

    this.body = h('div', { class: 'pod-body', hidden: true }, tablist, Object.values(this.panels));
    this.append(this.header, this.alert, this.flashEl, this.body);
    this.renderEvents();
  }

  async load() {
    try {
      const pod = await get(paths.pod(this.ns, this.podName));
      if (!this.pod) this.setPod(pod);
    } catch (err) {
      if (this.pod || !this.isConnected) return;
      if (err instanceof APIError && err.code === 404) {
        err.message = `There is no pod “${this.podName}” in the project “${this.ns}”. It may have been deleted.`;
      }
      this.replaceChildren(errorView(err, { retry: () => { this.replaceChildren(); this.build(); this.load(); } }));
    }
  }

  /** whoCanEdit hides the actions from members with the view role. */
  async whoCanEdit() {
    try {
      this.canEdit = (await projectAccess(this.ns)).canEdit;
    } catch { return; }
    this.term.canEdit = this.canEdit;
    this.renderHeader();
  }

  setPod(pod) {
    const first = !this.pod;
    this.pod = pod;
    this.body.hidden = false;
    if (!this.deleted) this.alert.hidden = true;
    this.logs.pod = pod;
    this.term.pod = pod;
    this.changes.pod = pod;
    this.renderHeader();
    this.renderDetails();
    if (first) this.select(this.getAttribute('tab') || 'details', false);
  }

  gone() {
    this.deleted = true;
    this.showAlert('This pod was deleted. The page shows its last known state.', false);
    setBadge(this.badge, 'Deleted', 'muted');
    this.actions.hidden = true;
  }

  tick() {
    if (!this.pod) return;
    refreshAges(this);
    if (!this.panels.details.hidden) this.renderDetails();
  }

  showAlert(text, withBack) {
    this.alert.replaceChildren(h('span', { text }));
    if (withBack) this.alert.append(' ', link(to.project(this.ns), null, `Back to ${this.ns}`));
    this.alert.hidden = false;
  }

  flash(text, kind = 'ok') {
    this.flashEl.textContent = text;
    this.flashEl.className = `banner banner-${kind === 'bad' ? 'bad' : 'info'}`;
    this.flashEl.setAttribute('role', kind === 'bad' ? 'alert' : 'status');
    this.flashEl.hidden = false;
    clearTimeout(this.flashTimer);
    if (kind === 'ok') this.flashTimer = setTimeout(() => { this.flashEl.hidden = true; }, 4000);
  }

  // --- header -----------------------------------------------------------

  renderHeader() {
    const pod = this.pod;
    if (!pod || this.deleted) return;
    const st = podStatus(pod);
    const live = isLive();
    setBadge(this.badge, st.text, live ? st.tone : 'muted');
    this.detail.textContent = live ? pendingReason(pod, this.events) || st.detail || '' : 'last known state';
    const statuses = pod.status?.containerStatuses || [];
    const ready = statuses.filter((c) => c.ready).length;
    const owner = (pod.metadata?.ownerReferences || []).find((o) => o.controller) || pod.metadata?.ownerReferences?.[0];
    this.meta.textContent = '';
    const item = (k, v) => this.meta.append(h('div', { class: 'pod-meta-item' }, h('dt', { text: k }), h('dd', {}, v)));
    item('Ready', `${ready}/${pod.spec?.containers?.length || 0}`);
    item('Node', pod.spec?.nodeName || 'Not scheduled');
    item('Pod IP', pod.status?.podIP || '—');
    item('Restarts', String(restarts(pod)));
    item('Age', timeEl(pod.metadata?.creationTimestamp));
    if (owner) item('Managed by', `${owner.kind} ${owner.name}`);

    const terminating = !!pod.metadata?.deletionTimestamp;
    const scheduled = !!pod.spec?.nodeName;
    const running = statuses.some((c) => c.state?.running);
    const allRunning = statuses.length > 0 && statuses.every((c) => c.state?.running);
    this.actions.hidden = !this.canEdit;
    const busy = !!this.busy;
    const set = (btn, on, why) => {
      btn.disabled = busy || !on || !live;
      btn.title = !live ? 'The pod’s state is unknown until the live connection is back' : !on ? why : '';
    };
    set(this.actionBtns.stop, scheduled && !terminating && running, terminating ? 'The pod is terminating' : 'No container runs');
    set(this.actionBtns.start, scheduled && !terminating && !allRunning, terminating ? 'The pod is terminating' : scheduled ? 'All containers run' : 'The pod is not on a node yet');
    set(this.actionBtns.restart, scheduled && !terminating, terminating ? 'The pod is terminating' : 'The pod is not on a node yet');
    set(this.deleteBtn, !terminating, 'The pod is terminating');
  }

  async act(op) {
    const [, doing, done] = ACTIONS[op];
    this.busy = op;
    this.renderHeader();
    this.flash(doing, 'info');
    try {
      await post(`${paths.pod(this.ns, this.podName)}/${op}`);
      this.flash(`${done}.`, 'ok');
    } catch (err) {
      this.flash(`${ACTIONS[op][0]} failed: ${errorText(err)}`, 'bad');
    } finally {
      this.busy = null;
      this.renderHeader();
    }
  }

  async confirmDelete() {
    const owned = (this.pod?.metadata?.ownerReferences || []).length > 0;
    const ok = await confirmDialog({
      title: `Delete pod ${this.podName}?`,
      message: owned
        ? 'Its containers are stopped and removed. Its replication controller starts a new pod in its place.'
        : 'Its containers are stopped and removed, with their logs and filesystem changes. This cannot be undone.',
      confirmLabel: 'Delete pod',
    });
    if (!ok) return;
    this.flash('Deleting…', 'info');
    try {
      await del(paths.pod(this.ns, this.podName));
      location.hash = '#' + to.project(this.ns);
    } catch (err) {
      this.flash(`The pod could not be deleted: ${errorText(err)}`, 'bad');
    }
  }

  // --- tabs -------------------------------------------------------------

  select(id, fromUser) {
    if (!this.panels[id]) id = 'details';
    for (const [tid] of TABS) {
      const on = tid === id;
      this.tabBtns[tid].setAttribute('aria-selected', String(on));
      this.tabBtns[tid].tabIndex = on ? 0 : -1;
      this.panels[tid].hidden = !on;
    }
    this.tab = id;
    if (fromUser) {
      const hash = `#/projects/${encodeURIComponent(this.ns)}/pods/${encodeURIComponent(this.podName)}?tab=${id}`;
      if (location.hash !== hash) history.replaceState(history.state, '', hash);
      if (this.getAttribute('tab') !== id) { this.setAttribute('tab', id); }
    }
    if (!this.pod) return;
    if (id === 'logs') this.logs.start();
    else if (id === 'terminal') this.term.start();
    else if (id === 'changes') this.changes.start();
    else if (id === 'details') { this.renderDetails(); this.renderEvents(); }
  }

  tabKey(e) {
    const ids = TABS.map((t) => t[0]);
    let i = ids.indexOf(this.tab);
    if (e.key === 'ArrowRight') i = (i + 1) % ids.length;
    else if (e.key === 'ArrowLeft') i = (i - 1 + ids.length) % ids.length;
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = ids.length - 1;
    else return;
    e.preventDefault();
    this.select(ids[i], true);
    this.tabBtns[ids[i]].focus();
  }

  // --- details ----------------------------------------------------------

  renderDetails() {
    const pod = this.pod;
    if (!pod) return;
    const labels = Object.entries(pod.metadata?.labels || {});
    const st = podStatus(pod);
    const parts = [h('section', { class: 'card' }, h('div', { class: 'pod-grid' },
      kv('Status', st.detail ? `${st.text} (${st.detail})` : st.text),
      kv('Node', pod.spec?.nodeName || 'Not scheduled'),
      kv('Pod IP', pod.status?.podIP || '—'),
      kv('Host IP', pod.status?.hostIP || '—'),
      kv('Created', when(pod.metadata?.creationTimestamp)),
      kv('Started', when(pod.status?.startTime)),
      kv('Restart policy', pod.spec?.restartPolicy || 'Always'),
      kv('Labels', labels.length ? labels.map(([k, v]) => h('span', { class: 'chip', text: `${k}=${v}` })) : '—')))];
    if (pod.status?.message || pod.status?.reason) {
      parts.push(h('p', { class: 'banner banner-warn', text: [pod.status.reason, pod.status.message].filter(Boolean).join(': ') }));
    }

    parts.push(h('h2', { class: 'section-title', text: 'Containers' }));
    const statuses = pod.status?.containerStatuses || [];
    for (const c of pod.spec?.containers || []) {
      const cs = statuses.find((x) => x.name === c.name);
      const cst = containerState(cs);
      const last = cs?.lastState?.terminated;
      const msg = cs?.state?.waiting?.message || cs?.state?.terminated?.message;
      parts.push(h('article', { class: 'card pod-container', 'data-test': 'container', 'data-container': c.name },
        h('div', { class: 'card-head' },
          h('h3', { class: 'card-title', text: c.name }),
          h('span', { class: `badge badge-${cst.kind}`, 'data-test': 'container-state', text: cst.text })),
        h('div', { class: 'pod-grid' },
          kv('Image', h('code', { text: c.image || '—' })),
          kv('Ready', cs?.ready ? 'Yes' : 'No'),
          kv('Restarts', String(cs?.restartCount || 0)),
          last ? kv('Last state', `Exited (${last.exitCode})${last.reason ? ` ${last.reason}` : ''}${last.finishedAt ? `, ${duration(since(last.finishedAt)).toLowerCase()} ago` : ''}`) : null,
          c.command?.length || c.args?.length ? kv('Command', h('code', { text: [...(c.command || []), ...(c.args || [])].join(' ') })) : null,
          kv('Ports', c.ports?.length ? c.ports.map((p) => `${p.containerPort}/${p.protocol || 'TCP'}${p.hostPort ? ` → host ${p.hostPort}` : ''}${p.name ? ` (${p.name})` : ''}`).join(', ') : 'None'),
          resources(c.resources),
          c.tty || c.stdin ? kv('Terminal', [c.tty ? 'TTY' : '', c.stdin ? 'stdin open' : ''].filter(Boolean).join(', ')) : null),
        msg ? h('p', { class: 'banner banner-warn pod-msg', text: msg }) : null,
        envList(c.env)));
    }

    parts.push(forwardHint(this.ns, pod, this.canEdit));

    const conds = pod.status?.conditions || [];
    parts.push(h('h2', { class: 'section-title', text: 'Conditions' }));
    if (!conds.length) parts.push(h('p', { class: 'muted', text: 'No conditions reported yet.' }));
    else {
      parts.push(table(['Type', 'Status', 'Reason', 'Message', 'Since'], conds.map((c) => [
        c.type, h('span', { class: `badge badge-${c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'muted'}`, text: c.status }),
        c.reason || '', c.message || '', timeEl(c.lastTransitionTime, ' ago'),
      ]), 'Pod conditions'));
    }
    // Keep the open state of the environment lists across live updates.
    const open = new Set([...this.details.querySelectorAll('details[open]')].map((d) => d.dataset.key));
    this.details.replaceChildren(...parts);
    for (const d of this.details.querySelectorAll('details')) if (open.has(d.dataset.key)) d.open = true;
  }

  renderEvents() {
    const box = this.eventsEl;
    if (!box) return;
    const evs = this.events.slice().sort((a, b) => evTime(b).localeCompare(evTime(a)));
    if (!evs.length) { box.replaceChildren(h('p', { class: 'muted', text: 'No events for this pod.' })); return; }
    box.replaceChildren(table(['Type', 'Reason', 'Message', 'Count', 'Last seen', 'From'], evs.map((e) => [
      h('span', { class: `badge badge-${e.type === 'Warning' ? 'bad' : 'muted'}`, text: e.type || 'Normal' }),
      e.reason || '', e.message || '', String(e.count || 1), timeEl(evTime(e), ' ago'),
      e.source?.component ? `${e.source.component}${e.source.host ? ` (${e.source.host})` : ''}` : (e.reportingComponent || ''),
    ]), 'Events of the pod', 'pod-event-row'));
  }
}

const when = (t) => (t ? timeEl(t, ' ago') : '—');

function kv(k, v) {
  return h('div', { class: 'pod-kv' }, h('span', { class: 'pod-k', text: k }), h('span', { class: 'pod-v' }, v ?? '—'));
}

function table(head, rows, caption, test) {
  const { el: wrap, tbody } = baseTable(head, { caption, cls: 'pod-table' });
  for (const r of rows) tbody.append(h('tr', { 'data-test': test }, r.map((c, i) => h('td', { 'data-label': head[i] }, c))));
  return wrap;
}

function resources(r) {
  const parts = [];
  for (const kind of ['requests', 'limits']) {
    const v = r?.[kind];
    if (v && Object.keys(v).length) parts.push(`${kind}: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ')}`);
  }
  return parts.length ? kv('Resources', parts.join(' · ')) : null;
}

function envList(env) {
  if (!env?.length) return null;
  return h('details', { class: 'pod-env', 'data-key': env.map((e) => e.name).join(',') },
    h('summary', { text: `Environment (${env.length})` }),
    h('dl', { class: 'pod-env-list' }, env.map((e) => [
      h('dt', { text: e.name }),
      h('dd', { text: e.value !== undefined ? e.value : e.valueFrom ? `from ${Object.keys(e.valueFrom)[0]}` : '' }),
    ])));
}

customElements.define('berth-pod-page', PodPage);

/**
 * forwardHint tells how to reach a port of the pod from one's own machine:
 * the pod's first TCP port (8080 as an example when it declares none),
 * forwarded by the berth CLI or kubectl. Ports below 1024 map to a local
 * port 8000 higher, which needs no privilege.
 */
function forwardHint(ns, pod, canEdit) {
  const name = pod.metadata?.name || '';
  const port = (pod.spec?.containers || []).flatMap((c) => c.ports || []).find((p) => (p.protocol || 'TCP') === 'TCP')?.containerPort;
  const remote = port || 8080;
  const local = remote < 1024 ? remote + 8000 : remote;
  const cmd = (text) => h('pre', { class: 'pod-cmd' }, h('code', { text }));
  return h('section', { class: 'card pod-forward', 'data-test': 'forward-hint' },
    h('h2', { class: 'card-title', text: 'Forward a port' }),
    h('p', { text: `To reach ${port ? `port ${port}` : 'a port'} of this pod at localhost:${local} on your machine (the pod's own localhost included), run one of:` }),
    cmd(`berth port-forward -n ${ns} ${name} ${local}:${remote}`),
    cmd(`kubectl port-forward -n ${ns} pod/${name} ${local}:${remote}`),
    h('p', { class: 'muted', text: canEdit === false ? 'Forwarding needs the edit role in this project, which you do not have.' : 'It lasts until you stop the command (Ctrl+C).' }));
}
