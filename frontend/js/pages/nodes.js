// nodes.js: the cluster's nodes (cluster admins): readiness, capacity and
// what the pods on them request, labels, versions, last heartbeat.
import { paths, post, get } from '../api.js';
import { h, link, button, timeEl, refreshAges, replace, syncList, parseQuantity, formatBytes, formatCores } from '../ui/dom.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { to } from '../router.js';
import { pageHeader, empty, loading, chip } from '../ui/layout.js';
import { badge, setBadge, nodeReady } from '../ui/status.js';
import { session } from '../ui/session.js';
import { inlineError } from '../ui/errorview.js';
import { Page, define } from '../ui/page.js';
import { loadCSS } from './hostimageutil.js';
import { meter } from '../ui/meter.js';

loadCSS();

function requests(pods) {
  const by = new Map();
  for (const p of pods) {
    const node = p.spec?.nodeName;
    if (!node || ['Succeeded', 'Failed'].includes(p.status?.phase)) continue;
    const r = by.get(node) || { cpu: 0, memory: 0, pods: 0 };
    r.pods++;
    for (const c of p.spec?.containers || []) {
      const req = c.resources?.requests || c.resources?.limits || {};
      r.cpu += parseQuantity(req.cpu);
      r.memory += parseQuantity(req.memory);
    }
    by.set(node, r);
  }
  return by;
}

class NodesPage extends Page {
  async render() {
    this.title('Nodes');
    const header = pageHeader('Nodes', { sub: 'The hosts that run containers. Allocation is what the pods on a node request; use is what their containers used in the last sampling window, against the node\'s capacity.' });
    if (!session.clusterAdmin) {
      this.replaceChildren(header, empty('Only cluster admins see nodes', 'Ask a cluster admin if you need to know where your pods run.'));
      return;
    }
    this.grid = h('div', { class: 'node-grid' });
    this.status = h('div', null, loading());
    this.alerts = h('div');
    this.replaceChildren(header, this.alerts, this.status, this.grid);
    this.nodes = null;
    this.pods = [];
    this.live(paths.nodes(), {
      onChange: (items) => { this.nodes = items; this.update(); },
      onError: (err) => { if (!this.nodes) replace(this.status, inlineError(err)); else replace(this.alerts, inlineError({ message: `Cannot follow nodes: ${err?.message}` })); },
    });
    this.live('/api/v1/pods', {
      onChange: (items) => { this.pods = items; this.update(); },
      onError: () => replace(this.alerts, h('div', { class: 'banner banner-info' }, 'Allocation is unknown: the pods of all projects cannot be listed.')),
    });
    this.every(1000, () => refreshAges(this));
    this.usage = new Map();
    const use = async () => {
      try {
        const list = await get('/apis/metrics.k8s.io/v1beta1/nodes');
        this.usage = new Map((list.items || []).map((m) => [m.metadata.name, { cpu: parseQuantity(m.usage?.cpu), memory: parseQuantity(m.usage?.memory) }]));
      } catch { this.usage = new Map(); }
      this.update();
    };
    use();
    this.every(15000, use);
  }

  update() {
    if (!this.nodes) return;
    if (!this.nodes.length) replace(this.status, empty('No nodes yet', 'Start a node agent (berth node, or berth up without --no-node) and it registers here.'));
    else this.status.replaceChildren();
    const req = requests(this.pods);
    const sorted = [...this.nodes].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    syncList(this.grid, sorted, (n) => n.metadata.name, (n) => this.card(n), (el, n) => this.fill(el, n, req.get(n.metadata.name) || { cpu: 0, memory: 0, pods: 0 }));
  }

  card(n) {
    const el = h('section', { class: 'card node', 'data-test': 'node', 'data-node': n.metadata.name, 'aria-label': `Node ${n.metadata.name}` },
      h('div', { class: 'node-head' }, h('h2', null, n.metadata.name), h('span', { class: 'node-badges' }, badge('', 'muted', { 'data-test': 'node-status' }), h('span', { class: 'node-sched' }))));
    el.cpu = meter('CPU');
    el.mem = meter('Memory');
    el.cpuUse = meter('CPU in use', 'used');
    el.memUse = meter('Memory in use', 'used');
    el.cpuUse.dataset.test = 'node-cpu-use';
    el.memUse.dataset.test = 'node-memory-use';
    el.podsMeter = meter('Pods', 'running');
    el.details = h('dl', { class: 'kvlist' });
    el.hostImage = h('div', { class: 'node-hostimage' });
    el.labels = h('div', { class: 'node-labels' });
    el.append(el.cpu, el.mem, el.cpuUse, el.memUse, el.podsMeter, el.details, el.hostImage, el.labels);
    return el;
  }

  fill(el, n, r) {
    const ready = nodeReady(n);
    setBadge(el.querySelector('[data-test=node-status]'), ready.text, ready.tone);
    replace(el.querySelector('.node-sched'), n.spec?.unschedulable ? [' ', badge('Unschedulable', 'warn')] : []);
    const alloc = n.status?.allocatable || n.status?.capacity || {};
    const cap = n.status?.capacity || {};
    el.cpu.set(r.cpu, parseQuantity(alloc.cpu), formatCores);
    el.mem.set(r.memory, parseQuantity(alloc.memory), formatBytes);
    const use = this.usage?.get(n.metadata.name) || { cpu: 0, memory: 0 };
    el.cpuUse.set(use.cpu, parseQuantity(cap.cpu), formatCores);
    el.memUse.set(use.memory, parseQuantity(cap.memory), formatBytes);
    el.podsMeter.set(r.pods, parseQuantity(alloc.pods), (x) => String(Math.round(x)));
    const info = n.status?.nodeInfo || {};
    const addr = (n.status?.addresses || []).map((a) => a.address).filter(Boolean).join(', ');
    const rows = [
      ['Heartbeat', ready.cond?.lastHeartbeatTime ? timeEl(ready.cond.lastHeartbeatTime, ' ago') : '—'],
      ready.cond?.message ? ['Condition', ready.cond.message] : null,
      ['Capacity', `${formatCores(parseQuantity(cap.cpu))} CPU · ${formatBytes(parseQuantity(cap.memory))} · ${cap.pods || '?'} pods`],
      addr ? ['Address', addr] : null,
      ['Agent', info.kubeletVersion || '—'],
      ['Runtime', info.containerRuntimeVersion || '—'],
      ['OS', [info.osImage, info.operatingSystem, info.architecture].filter(Boolean).join(' · ') || '—'],
      info.kernelVersion ? ['Kernel', info.kernelVersion] : null,
      ['Images', String((n.status?.images || []).length)],
      ['Created', timeEl(n.metadata.creationTimestamp, ' ago')],
    ].filter(Boolean);
    replace(el.details, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    replace(el.labels, Object.entries(n.metadata.labels || {}).map(([k, v]) => chip(`${k}=${v}`, { title: `${k}=${v}` })));
    this.fillHostImage(el.hostImage, n);
  }

  // fillHostImage says which host image build the node booted, whether a
  // newer one exists (with an Upgrade button), and where an upgrade is.
  fillHostImage(slot, n) {
    const a = n.metadata.annotations || {};
    const deployment = a['berth.dev/booted-deployment'] || '';
    if (!deployment) { replace(slot, h('span', { class: 'muted small', 'data-test': 'node-hostimage' }, 'Not an OSTree host: Berth does not upgrade it')); return; }
    const build = a['berth.dev/host-image'] || '';
    const image = build.replace(/-\d+$/, '');
    const newest = a['berth.dev/host-image-newest'] || '';
    let up = null;
    try { up = a['berth.dev/upgrade'] ? JSON.parse(a['berth.dev/upgrade']) : null; } catch { up = null; }
    const busy = up && !['Succeeded', 'Failed'].includes(up.phase);
    const parts = [h('span', { 'data-test': 'node-hostimage' }, 'Host image ', build ? link(to.build(image, build), null, build) : h('span', { class: 'mono', title: deployment }, deployment.split(' ').pop().slice(0, 12)))];
    if (newest) parts.push(badge(`Behind: ${newest} is newer`, 'warn', { 'data-test': 'node-behind' }));
    if (up && (busy || up.phase === 'Failed')) {
      parts.push(badge(`Upgrade ${up.phase}`, up.phase === 'Failed' ? 'bad' : 'info', { 'data-test': 'node-upgrade-state', title: up.message || '' }));
      if (up.message) parts.push(h('span', { class: 'muted small' }, up.message));
    }
    if (newest && !busy) {
      parts.push(button('Upgrade', { class: 'btn btn-small', 'data-test': 'node-upgrade', 'aria-label': `Upgrade ${n.metadata.name} to ${newest}`, onclick: () => this.upgrade(n.metadata.name, newest) }));
    }
    replace(slot, parts);
  }

  async upgrade(node, build) {
    const ok = await confirmDialog({
      title: `Upgrade ${node} to ${build}?`,
      message: 'Berth cordons the node and deletes its pods (their controllers start them elsewhere); the node pulls the new commit, reboots into it, and takes pods again once it reports it.',
      confirmLabel: 'Upgrade', danger: false,
    });
    if (!ok) return;
    try {
      const r = await post(paths.nodeUpgrade(node), { apiVersion: 'berth.dev/v1', kind: 'NodeUpgrade' });
      toast(`Upgrading ${node} to ${r.build}`);
    } catch (err) {
      if (err.code === 409 && /not managed by a replication controller/.test(err.message)) {
        const force = await confirmDialog({ title: `Delete pods that will not come back?`, message: err.message, confirmLabel: 'Upgrade anyway' });
        if (!force) return;
        try {
          const r = await post(paths.nodeUpgrade(node), { apiVersion: 'berth.dev/v1', kind: 'NodeUpgrade', force: true });
          toast(`Upgrading ${node} to ${r.build}`);
        } catch (err2) {
          toast(`Cannot upgrade ${node}: ${err2.message}`, 'bad');
        }
        return;
      }
      toast(`Cannot upgrade ${node}: ${err.message}`, 'bad');
    }
  }
}
define('berth-nodes-page', NodesPage);
