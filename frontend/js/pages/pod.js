// pod.js: <berth-pod-page namespace name tab>, one pod: its status live,
// Stop / Start / Restart / Delete, and the Details, Logs, Terminal and
// Changes tabs. The router creates it for #/projects/NS/pods/NAME?tab=….

import { get, post, del, paths, APIError } from '../api.js';
import { watch } from '../watch.js';
import { h, age, containerState, podStatus, errorText, duration, since } from '../pod/util.js';
import '../pod/logs.js';
import '../pod/shell.js';
import '../pod/changes.js';

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
      },
      onError: () => { /* events are a nicety; the pod watch reports outages */ },
    });
    this.ticker = setInterval(() => this.tick(), 10000);
    this.whoCanEdit();
  }

  disconnectedCallback() {
    this.stopWatch?.();
    this.stopEvents?.();
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
    this.badge = h('span', { class: 'pod-badge', 'data-test': 'pod-status' }, '…');
    this.meta = h('dl', { class: 'pod-meta' });
    this.actionBtns = {};
    for (const [op, [label]] of Object.entries(ACTIONS)) {
      this.actionBtns[op] = h('button', { type: 'button', class: 'btn', 'data-action': op, onclick: () => this.act(op) }, label);
    }
    this.deleteBtn = h('button', { type: 'button', class: 'btn btn-danger', 'data-action': 'delete', onclick: () => this.confirmDelete() }, 'Delete');
    this.actions = h('div', { class: 'pod-actions', role: 'group', 'aria-label': 'Pod actions' },
      this.actionBtns.stop, this.actionBtns.start, this.actionBtns.restart, this.deleteBtn);
    this.flashEl = h('div', { class: 'pod-flash', role: 'status', hidden: true });
    this.alert = h('div', { class: 'pod-alert', role: 'alert', hidden: true });

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
    this.panels.details.append(this.details, h('h2', { class: 'pod-h2', text: 'Events' }), this.eventsEl);
    this.logs = h('berth-pod-logs', { namespace: ns, name: this.podName });
    this.term = h('berth-pod-terminal', { namespace: ns, name: this.podName });
    this.changes = h('berth-pod-changes', { namespace: ns, name: this.podName });
    this.panels.logs.append(this.logs);
    this.panels.terminal.append(this.term);
    this.panels.changes.append(this.changes);

    this.body = h('div', { class: 'pod-body', hidden: true }, tablist, Object.values(this.panels));
    this.append(
      h('nav', { class: 'pod-crumbs', 'aria-label': 'Breadcrumb' },
        h('a', { href: `#/projects/${encodeURIComponent(ns)}`, text: ns }), h('span', { 'aria-hidden': 'true', text: ' / ' }),
        h('span', { text: 'Pods' })),
      h('header', { class: 'pod-header' },
        h('div', { class: 'pod-title' }, h('h1', { class: 'pod-name', text: this.podName }), this.badge),
        this.actions),
      this.meta,
      this.alert,
      this.flashEl,
      this.body,
      this.dialog(),
    );
    this.renderEvents();
  }

  async load() {
    try {
      const pod = await get(paths.pod(this.ns, this.podName));
      if (!this.pod) this.setPod(pod);
    } catch (err) {
      if (this.pod) return;
      const text = err instanceof APIError && err.code === 404
        ? `There is no pod “${this.podName}” in the project “${this.ns}”. It may have been deleted.`
        : `The pod could not be loaded: ${errorText(err)}`;
      this.showAlert(text, true);
      this.badge.textContent = err.code === 404 ? 'Not found' : 'Error';
      this.badge.dataset.kind = 'bad';
      this.actions.hidden = true;
    }
  }

  /** whoCanEdit hides the actions from members with the view role. */
  async whoCanEdit() {
    try {
      const me = await get(paths.whoami());
      if (me.clusterAdmin) return;
      const member = await get(paths.member(this.ns, me.username));
      this.canEdit = member?.spec?.role !== 'view';
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
    this.showAlert('This pod was deleted. What the page shows is its last known state.', false);
    this.badge.textContent = 'Deleted';
    this.badge.dataset.kind = 'muted';
    this.actions.hidden = true;
  }

  tick() {
    if (!this.pod) return;
    this.renderHeader();
    if (!this.panels.details.hidden) { this.renderDetails(); this.renderEvents(); }
  }

  showAlert(text, withBack) {
    this.alert.textContent = '';
    this.alert.append(h('span', { text }));
    if (withBack) this.alert.append(' ', h('a', { href: `#/projects/${encodeURIComponent(this.ns)}`, text: `Back to ${this.ns}` }));
    this.alert.hidden = false;
  }

  flash(text, kind = 'ok') {
    this.flashEl.textContent = text;
    this.flashEl.dataset.kind = kind;
    this.flashEl.hidden = false;
    clearTimeout(this.flashTimer);
    if (kind === 'ok') this.flashTimer = setTimeout(() => { this.flashEl.hidden = true; }, 4000);
  }

  // --- header -----------------------------------------------------------

  renderHeader() {
    const pod = this.pod;
    if (!pod || this.deleted) return;
    const st = podStatus(pod);
    this.badge.textContent = st.text;
    this.badge.dataset.kind = st.kind;
    const statuses = pod.status?.containerStatuses || [];
    const restarts = statuses.reduce((n, c) => n + (c.restartCount || 0), 0);
    const ready = statuses.filter((c) => c.ready).length;
    const owner = (pod.metadata?.ownerReferences || []).find((o) => o.controller) || pod.metadata?.ownerReferences?.[0];
    this.meta.textContent = '';
    const item = (k, v) => this.meta.append(h('div', { class: 'pod-meta-item' }, h('dt', { text: k }), h('dd', {}, v)));
    item('Ready', `${ready}/${pod.spec?.containers?.length || 0}`);
    item('Node', pod.spec?.nodeName || 'Not scheduled');
    item('Pod IP', pod.status?.podIP || '—');
    item('Restarts', String(restarts));
    item('Age', h('time', { datetime: pod.metadata?.creationTimestamp || '', title: pod.metadata?.creationTimestamp || '', text: age(pod.metadata?.creationTimestamp) }));
    if (owner) item('Managed by', `${owner.kind} ${owner.name}`);

    const terminating = !!pod.metadata?.deletionTimestamp;
    const scheduled = !!pod.spec?.nodeName;
    const running = statuses.some((c) => c.state?.running);
    const allRunning = statuses.length > 0 && statuses.every((c) => c.state?.running);
    this.actions.hidden = !this.canEdit;
    const busy = !!this.busy;
    const set = (btn, on, why) => { btn.disabled = busy || !on; btn.title = !on ? why : ''; };
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

  dialog() {
    this.dlgError = h('p', { class: 'pod-alert', role: 'alert', hidden: true });
    this.dlgConfirm = h('button', { type: 'button', class: 'btn btn-danger', onclick: () => this.doDelete() }, 'Delete pod');
    const cancel = h('button', { type: 'button', class: 'btn', onclick: () => this.dlg.close() }, 'Cancel');
    const owned = () => (this.pod?.metadata?.ownerReferences || []).length > 0;
    this.dlgText = h('p', {});
    this.dlg = h('dialog', { class: 'pod-dialog', 'aria-labelledby': `pod${this.uid}-dlg-title` },
      h('h2', { id: `pod${this.uid}-dlg-title`, text: `Delete pod ${this.podName}?` }),
      this.dlgText, this.dlgError,
      h('div', { class: 'pod-dialog-buttons' }, cancel, this.dlgConfirm));
    this.dlgOwned = owned;
    return this.dlg;
  }

  confirmDelete() {
    this.dlgText.textContent = this.dlgOwned()
      ? 'Its containers are stopped and removed. Its replication controller will start a new pod in its place.'
      : 'Its containers are stopped and removed, with their logs and filesystem changes. This cannot be undone.';
    this.dlgError.hidden = true;
    this.dlgConfirm.disabled = false;
    this.dlg.showModal();
    this.dlg.querySelector('.btn').focus();
  }

  async doDelete() {
    this.dlgConfirm.disabled = true;
    try {
      await del(paths.pod(this.ns, this.podName));
      this.dlg.close();
      location.hash = `#/projects/${encodeURIComponent(this.ns)}`;
    } catch (err) {
      this.dlgError.textContent = `The pod could not be deleted: ${errorText(err)}`;
      this.dlgError.hidden = false;
      this.dlgConfirm.disabled = false;
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
    const d = this.details;
    d.textContent = '';
    const labels = Object.entries(pod.metadata?.labels || {});
    d.append(h('div', { class: 'pod-grid' },
      kv('Status', podStatus(pod).text),
      kv('Phase', pod.status?.phase || '—'),
      kv('Node', pod.spec?.nodeName || 'Not scheduled'),
      kv('Pod IP', pod.status?.podIP || '—'),
      kv('Host IP', pod.status?.hostIP || '—'),
      kv('Created', when(pod.metadata?.creationTimestamp)),
      kv('Started', when(pod.status?.startTime)),
      kv('Restart policy', pod.spec?.restartPolicy || 'Always'),
      kv('Labels', labels.length ? h('span', { class: 'pod-chips' }, labels.map(([k, v]) => h('span', { class: 'pod-chip', text: `${k}=${v}` }))) : '—'),
    ));
    if (pod.status?.message || pod.status?.reason) {
      d.append(h('p', { class: 'pod-alert', text: [pod.status.reason, pod.status.message].filter(Boolean).join(': ') }));
    }

    d.append(h('h2', { class: 'pod-h2', text: 'Containers' }));
    const statuses = pod.status?.containerStatuses || [];
    for (const c of pod.spec?.containers || []) {
      const cs = statuses.find((s) => s.name === c.name);
      const st = containerState(cs);
      const last = cs?.lastState?.terminated;
      const waitMsg = cs?.state?.waiting?.message;
      const termMsg = cs?.state?.terminated?.message;
      d.append(h('article', { class: 'pod-container', 'data-test': 'container' },
        h('header', { class: 'pod-container-head' },
          h('h3', { class: 'pod-container-name', text: c.name }),
          h('span', { class: 'pod-state', 'data-kind': st.kind, 'data-test': 'container-state', text: st.text })),
        h('div', { class: 'pod-grid' },
          kv('Image', h('code', { text: c.image || '—' })),
          kv('Ready', cs?.ready ? 'Yes' : 'No'),
          kv('Restarts', String(cs?.restartCount || 0)),
          last ? kv('Last state', `Exited (${last.exitCode}) ${last.reason ? `${last.reason}, ` : ''}${last.finishedAt ? `${duration(since(last.finishedAt)).toLowerCase()} ago` : ''}`) : null,
          c.command?.length || c.args?.length ? kv('Command', h('code', { text: [...(c.command || []), ...(c.args || [])].join(' ') })) : null,
          kv('Ports', c.ports?.length ? c.ports.map((p) => `${p.containerPort}/${p.protocol || 'TCP'}${p.hostPort ? ` → host ${p.hostPort}` : ''}${p.name ? ` (${p.name})` : ''}`).join(', ') : 'None'),
          resources(c.resources),
          c.tty || c.stdin ? kv('Terminal', [c.tty ? 'TTY' : '', c.stdin ? 'stdin open' : ''].filter(Boolean).join(', ')) : null,
        ),
        waitMsg || termMsg ? h('p', { class: 'pod-alert', text: waitMsg || termMsg }) : null,
        envTable(c.env)));
    }

    const conds = pod.status?.conditions || [];
    d.append(h('h2', { class: 'pod-h2', text: 'Conditions' }));
    if (!conds.length) d.append(h('p', { class: 'pod-empty', text: 'No conditions reported yet.' }));
    else {
      d.append(table(['Type', 'Status', 'Reason', 'Message', 'Since'], conds.map((c) => [
        c.type, h('span', { class: 'pod-cond', 'data-kind': c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'muted', text: c.status }),
        c.reason || '', c.message || '', when(c.lastTransitionTime),
      ]), 'Pod conditions'));
    }
  }

  renderEvents() {
    const el = this.eventsEl;
    if (!el) return;
    el.textContent = '';
    const evs = this.events.slice().sort((a, b) => evTime(b).localeCompare(evTime(a)));
    if (!evs.length) { el.append(h('p', { class: 'pod-empty', text: 'No events for this pod.' })); return; }
    el.append(table(['Type', 'Reason', 'Message', 'Count', 'Last seen', 'From'], evs.map((e) => [
      h('span', { class: 'pod-evtype', 'data-kind': e.type === 'Warning' ? 'bad' : 'muted', text: e.type || 'Normal' }),
      e.reason || '', e.message || '', String(e.count || 1), when(evTime(e)),
      e.source?.component ? `${e.source.component}${e.source.host ? ` (${e.source.host})` : ''}` : (e.reportingComponent || ''),
    ]), 'Events of the pod'));
  }
}

function evTime(e) {
  return e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp || '';
}

function when(t) {
  if (!t) return '—';
  return h('time', { datetime: t, title: new Date(t).toLocaleString(), text: `${age(t)} ago` });
}

function kv(k, v) {
  return h('div', { class: 'pod-kv' }, h('span', { class: 'pod-k', text: k }), h('span', { class: 'pod-v' }, v ?? '—'));
}

function table(head, rows, label) {
  return h('div', { class: 'pod-table-wrap', tabindex: '0', role: 'region', 'aria-label': label },
    h('table', { class: 'pod-table' },
      h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c, i) => h('td', { 'data-label': head[i] }, c)))))));
}

function resources(r) {
  const parts = [];
  for (const kind of ['requests', 'limits']) {
    const v = r?.[kind];
    if (v && Object.keys(v).length) parts.push(`${kind}: ${Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ')}`);
  }
  return parts.length ? kv('Resources', parts.join(' · ')) : null;
}

function envTable(env) {
  if (!env?.length) return null;
  return h('details', { class: 'pod-env' },
    h('summary', { text: `Environment (${env.length})` }),
    h('dl', { class: 'pod-env-list' }, env.map((e) => [
      h('dt', { text: e.name }),
      h('dd', { text: e.value !== undefined ? e.value : e.valueFrom ? `from ${Object.keys(e.valueFrom)[0]}` : '' }),
    ])));
}

customElements.define('berth-pod-page', PodPage);
