// overview.js: what runs in a project, grouped as OpenShift's overview
// does — each replication controller with its pods, pods without a
// controller, and services with their addresses. Everything is live.
import { del, mergePatch, paths } from '../api.js';
import { h, link, button, icon, timeEl, refreshAges, replace, syncList, parseQuantity, formatBytes, formatCores } from '../ui/dom.js';
import { meter } from '../ui/meter.js';
import { pageHeader, empty, table, loading, chip } from '../ui/layout.js';
import { badge, setBadge, podStatus, restarts, roleBadge, podReady, summary, pendingReason } from '../ui/status.js';
import { isLive, onConnectionState } from '../watch.js';
import { projectAccess, session } from '../ui/session.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { inlineError } from '../ui/errorview.js';
import { to } from '../router.js';
import { Page, define } from '../ui/page.js';

const byName = (a, b) => a.metadata.name.localeCompare(b.metadata.name);

function selects(selector, labels) {
  const keys = Object.keys(selector || {});
  return keys.length > 0 && keys.every((k) => (labels || {})[k] === selector[k]);
}

class OverviewPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    this.access = await projectAccess(ns);
    const { project, role, canEdit } = this.access;
    this.title('Overview', ns);
    this.data = { rcs: null, pods: null, services: null, events: [] };
    this.pending = new Map(); // rc name → replicas asked for, until the watch shows it

    const actions = [];
    if (canEdit) actions.push(link(to.deploy(ns), { class: 'btn btn-primary', 'data-test': 'deploy' }, icon('deploy'), h('span', null, 'Deploy image')));
    this.alerts = h('div', { class: 'alerts' });
    this.rcBox = h('div', { class: 'rc-list', 'data-test': 'rcs' });
    this.bareList = h('ul', { class: 'pod-list', 'data-test': 'bare-pods' });
    this.bareSection = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'bare-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'bare-title' }, 'Pods without a controller')), this.bareList);
    const svcTable = table(['Name', 'Address', 'Selects', ['', 'col-actions']], { caption: 'Services' });
    this.svcBody = svcTable.tbody;
    this.svcSection = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'svc-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'svc-title' }, 'Services')), svcTable.el);
    this.quotaBox = h('div', { 'data-test': 'quotas' });
    this.quotaSection = h('section', { class: 'card', hidden: true, 'aria-labelledby': 'quota-title' },
      h('div', { class: 'card-head' }, h('h2', { class: 'card-title', id: 'quota-title' }, 'Quota')), this.quotaBox);
    this.emptyBox = h('div', null, loading());

    this.replaceChildren(
      pageHeader(project.spec?.displayName || ns, {
        crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns]],
        sub: [roleBadge(role, session.clusterAdmin) ? h('span', { 'data-test': 'role' }, roleBadge(role, session.clusterAdmin)) : null,
          project.spec?.description ? h('span', { class: 'muted' }, project.spec.description) : null],
        actions,
      }),
      this.alerts, this.emptyBox,
      h('div', { class: 'overview-grid' },
        h('div', { class: 'overview-main' },
          h('h2', { class: 'section-title', id: 'rc-title', hidden: true }, 'Replication controllers'),
          this.rcBox, this.bareSection),
        h('div', { class: 'overview-side' }, this.quotaSection, this.svcSection)));

    const onError = (what) => (err) => {
      replace(this.alerts, inlineError({ message: `Cannot follow ${what}: ${err?.message || 'unknown error'}` }));
    };
    const set = (key) => (items) => { this.data[key] = items; this.schedule(); };
    this.live(paths.rcs(ns), { onChange: set('rcs'), onError: onError('replication controllers') });
    this.live(paths.pods(ns), { onChange: set('pods'), onError: onError('pods') });
    this.live(paths.services(ns), { onChange: set('services'), onError: onError('services') });
    this.live(paths.quotas(ns), { onChange: (items) => this.updateQuotas(items), onError: onError('quotas') });
    // Warnings about pods (FailedScheduling …) say why Pending ones wait.
    this.live(paths.events(ns), { query: { fieldSelector: 'involvedObject.kind=Pod,type=Warning' }, onChange: set('events'), onError: () => {} });
    // While the live connection is down, actions on what is shown wait.
    this.onStop(onConnectionState(() => this.schedule()));
    this.every(5000, () => refreshAges(this));
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.update(); });
  }

  update() {
    if (!this.isConnected) return;
    const { rcs, pods, services } = this.data;
    if (!rcs || !pods || !services) return;
    const rcList = [...rcs].sort(byName);
    const podsOf = new Map(rcList.map((rc) => [rc.metadata.name, []]));
    const bare = [];
    for (const pod of [...pods].sort(byName)) {
      const owner = (pod.metadata.ownerReferences || []).find((o) => o.kind === 'ReplicationController' && podsOf.has(o.name));
      const rc = owner ? owner.name : rcList.find((r) => selects(r.spec?.selector, pod.metadata.labels))?.metadata.name;
      if (rc) podsOf.get(rc).push(pod);
      else bare.push(pod);
    }
    for (const rc of rcList) {
      const want = this.pending.get(rc.metadata.name);
      if (want !== undefined && want === (rc.spec?.replicas ?? 1)) this.pending.delete(rc.metadata.name);
    }

    const nothing = !rcList.length && !pods.length && !services.length;
    if (nothing) {
      replace(this.emptyBox, empty('Nothing runs here yet',
        this.access.canEdit ? 'Deploy an image to start a replication controller and its pods.' : 'Nobody has deployed anything to this project yet.',
        this.access.canEdit ? link(to.deploy(this.ns), { class: 'btn btn-primary', 'data-test': 'deploy-empty' }, icon('deploy'), h('span', null, 'Deploy image')) : null,
        { 'data-test': 'empty-overview' }));
    } else {
      this.emptyBox.replaceChildren();
    }
    this.querySelector('#rc-title').hidden = !rcList.length;
    syncList(this.rcBox, rcList, (rc) => rc.metadata.name, (rc) => this.rcCard(rc), (el, rc) => this.updateRC(el, rc, podsOf.get(rc.metadata.name)));
    this.bareSection.hidden = !bare.length;
    syncList(this.bareList, bare, (p) => p.metadata.name, (p) => this.podRow(p), (el, p) => this.updatePod(el, p));
    const svcs = [...services].sort(byName);
    this.svcSection.hidden = !svcs.length;
    syncList(this.svcBody, svcs, (s) => s.metadata.name, (s) => this.svcRow(s), (el, s) => this.updateSvc(el, s));
  }

  // ---- quotas: what the project uses of what its cluster admins allow

  updateQuotas(quotas) {
    const rows = [];
    for (const q of [...quotas].sort(byName)) {
      for (const name of Object.keys(q.spec?.hard || {}).sort()) rows.push({ quota: q.metadata.name, name, hard: q.spec.hard[name], used: q.status?.used?.[name] });
    }
    this.quotaSection.hidden = !rows.length;
    const key = (r) => `${r.quota}/${r.name}`;
    syncList(this.quotaBox, rows, key, (r) => {
      const el = meter(quotas.length > 1 ? `${r.name} (${r.quota})` : r.name, 'used');
      el.dataset.test = 'quota';
      el.dataset.resource = r.name;
      return el;
    }, (el, r) => {
      const compute = r.name.replace(/^(requests|limits)\./, '');
      const fmt = compute === 'memory' ? formatBytes : compute === 'cpu' ? formatCores : (n) => String(Math.round(n));
      el.set(parseQuantity(r.used || '0'), parseQuantity(r.hard), fmt);
    });
  }

  // ---- replication controllers

  rcCard(rc) {
    const name = rc.metadata.name;
    const el = h('section', { class: 'card rc', 'data-test': 'rc', 'data-rc': name, 'aria-label': `Replication controller ${name}` });
    const count = h('span', { class: 'rc-count', 'data-test': 'rc-replicas' });
    const controls = [];
    if (this.access.canEdit) {
      controls.push(h('div', { class: 'stepper', role: 'group', 'aria-label': `Scale ${name}` },
        h('button', { type: 'button', class: 'btn btn-icon', 'data-test': 'scale-down', 'data-rc': name, 'aria-label': `Scale ${name} down`, title: 'Scale down', onclick: () => this.scale(name, -1) }, icon('minus')),
        h('button', { type: 'button', class: 'btn btn-icon', 'data-test': 'scale-up', 'data-rc': name, 'aria-label': `Scale ${name} up`, title: 'Scale up', onclick: () => this.scale(name, +1) }, icon('plus'))));
      controls.push(button('', { kind: 'ghost', iconName: 'trash', 'data-test': 'delete-rc', 'data-rc': name, 'aria-label': `Delete ${name}`, title: 'Delete replication controller', onclick: () => this.deleteRC(name) }));
    }
    el.append(
      h('div', { class: 'rc-head' },
        h('div', { class: 'rc-title' },
          h('h3', null, name),
          h('div', { class: 'rc-sub muted' }, h('span', { class: 'mono rc-image' }), h('span', { class: 'rc-selector' })),
          h('div', { class: 'rc-summary small', 'data-test': 'rc-summary' })),
        h('div', { class: 'rc-controls' }, count, controls)),
      h('ul', { class: 'pod-list' }),
      h('p', { class: 'rc-nopods muted', hidden: true }, 'No pods.'));
    return el;
  }

  updateRC(el, rc, pods) {
    const name = rc.metadata.name;
    const desired = this.pending.get(name) ?? rc.spec?.replicas ?? 1;
    const current = pods.filter((p) => !p.metadata.deletionTimestamp).length;
    const ready = pods.filter(podReady).length;
    const count = el.querySelector('.rc-count');
    count.textContent = `${ready} / ${desired}`;
    count.title = `${ready} ready, ${current} current, ${desired} desired`;
    count.setAttribute('aria-label', `${ready} of ${desired} pods ready (${current} current)`);
    el.querySelector('.rc-summary').textContent = summary(pods);
    const images = (rc.spec?.template?.spec?.containers || []).map((c) => c.image).join(', ');
    el.querySelector('.rc-image').textContent = images;
    el.querySelector('.rc-selector').textContent = Object.entries(rc.spec?.selector || {}).map(([k, v]) => ` · ${k}=${v}`).join('');
    const live = isLive();
    for (const b of el.querySelectorAll('.rc-controls button')) {
      b.disabled = !live || (b.dataset.test === 'scale-down' && desired <= 0);
      b.title = live ? b.getAttribute('aria-label') : 'State unknown until the live connection is back';
    }
    syncList(el.querySelector('.pod-list'), pods, (p) => p.metadata.name, (p) => this.podRow(p), (row, p) => this.updatePod(row, p));
    el.querySelector('.rc-nopods').hidden = pods.length > 0;
  }

  async scale(name, delta) {
    const rc = this.data.rcs.find((r) => r.metadata.name === name);
    if (!rc) return;
    const base = this.pending.get(name) ?? rc.spec?.replicas ?? 1;
    const want = Math.max(0, base + delta);
    if (want === base) return;
    this.pending.set(name, want);
    this.schedule();
    try {
      await mergePatch(paths.rc(this.ns, name), { spec: { replicas: want } });
    } catch (err) {
      this.pending.delete(name);
      this.schedule();
      toast(`Cannot scale ${name}: ${err.message}`, 'bad');
    }
  }

  async deleteRC(name) {
    const ok = await confirmDialog({
      title: `Delete ${name}?`,
      message: 'The replication controller and its pods are deleted. Services that select them stay.',
      confirmLabel: 'Delete',
    });
    if (!ok) return;
    try {
      await del(paths.rc(this.ns, name));
      toast(`Deleting ${name}`);
    } catch (err) {
      toast(`Cannot delete ${name}: ${err.message}`, 'bad');
    }
  }

  // ---- pods

  podRow(pod) {
    const name = pod.metadata.name;
    return h('li', { class: 'pod-row', 'data-test': 'pod-row', 'data-pod': name },
      h('span', { class: 'pod-state' }, badge('', 'muted', { 'data-test': 'pod-status' }), h('span', { class: 'pod-detail small' })),
      h('span', { class: 'pod-name' }, link(to.pod(this.ns, name), { 'data-test': 'pod-link', class: 'mono' }, name)),
      h('span', { class: 'pod-meta muted small' }),
      h('span', { class: 'pod-reason small', 'data-test': 'pod-reason', hidden: true }),
      h('span', { class: 'pod-actions' },
        link(to.pod(this.ns, name, 'logs'), { class: 'btn btn-ghost btn-small', 'data-test': 'pod-logs', 'aria-label': `Logs of ${name}` }, icon('logs'), h('span', null, 'Logs')),
        this.access.canEdit ? button('', { kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'delete-pod', 'data-pod': name, 'aria-label': `Delete pod ${name}`, title: 'Delete pod', onclick: () => this.deletePod(name) }) : null));
  }

  updatePod(row, pod) {
    const st = podStatus(pod);
    setBadge(row.querySelector('[data-test=pod-status]'), st.text, st.tone);
    row.querySelector('.pod-detail').textContent = st.detail;
    row.dataset.phase = st.text;
    const meta = row.querySelector('.pod-meta');
    const r = restarts(pod);
    const parts = [pod.spec?.nodeName || 'not scheduled', pod.status?.podIP, r ? `${r} restart${r === 1 ? '' : 's'}` : null].filter(Boolean);
    meta.replaceChildren(parts.join(' · '), ' · ', timeEl(pod.status?.startTime || pod.metadata.creationTimestamp));
    const why = pendingReason(pod, this.data.events);
    const reason = row.querySelector('[data-test=pod-reason]');
    reason.textContent = why;
    reason.hidden = !why;
    const delBtn = row.querySelector('[data-test=delete-pod]');
    if (delBtn) delBtn.disabled = !!pod.metadata.deletionTimestamp || !isLive();
  }

  async deletePod(name) {
    const ok = await confirmDialog({
      title: `Delete pod ${name}?`,
      message: 'Its containers are stopped. A replication controller that owns it starts a replacement.',
      confirmLabel: 'Delete pod',
    });
    if (!ok) return;
    try {
      await del(paths.pod(this.ns, name));
    } catch (err) {
      toast(`Cannot delete ${name}: ${err.message}`, 'bad');
    }
  }

  // ---- services

  svcRow(svc) {
    const name = svc.metadata.name;
    return h('tr', { 'data-test': 'service-row', 'data-service': name },
      h('td', { class: 'mono' }, name),
      h('td', { class: 'mono', 'data-test': 'service-address' }),
      h('td', { class: 'svc-selector' }),
      h('td', { class: 'col-actions' }, this.access.canEdit ? button('', {
        kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'delete-service', 'data-service': name,
        'aria-label': `Delete service ${name}`, title: 'Delete service', onclick: () => this.deleteService(name),
      }) : null));
  }

  updateSvc(row, svc) {
    const cip = svc.spec?.clusterIP;
    const ip = cip && cip !== 'None' ? cip : '';
    const ports = (svc.spec?.ports || []).map((p) => `${ip ? ip + ':' : 'port '}${p.port} → ${p.targetPort ?? p.port}${p.protocol && p.protocol !== 'TCP' ? '/' + p.protocol : ''}`);
    replace(row.querySelector('[data-test=service-address]'),
      ports.length ? ports.map((p) => h('div', null, p)) : (ip || '—'),
      ip ? null : h('div', { class: 'muted small' }, cip === 'None' ? 'headless' : 'no cluster IP yet'));
    replace(row.querySelector('.svc-selector'), Object.entries(svc.spec?.selector || {}).map(([k, v]) => chip(`${k}=${v}`)));
  }

  async deleteService(name) {
    const ok = await confirmDialog({ title: `Delete service ${name}?`, message: 'Its address stops answering. The pods it selects keep running.', confirmLabel: 'Delete service' });
    if (!ok) return;
    try {
      await del(`${paths.services(this.ns)}/${encodeURIComponent(name)}`);
    } catch (err) {
      toast(`Cannot delete ${name}: ${err.message}`, 'bad');
    }
  }
}
define('berth-overview-page', OverviewPage);
