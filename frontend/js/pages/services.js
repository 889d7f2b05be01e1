// services.js: a project's services, live: each one's type, cluster IP,
// ports (node ports too) and its endpoints as the endpoints controller
// keeps them — every pod it selects, ready or not, and on which node.
import { paths, del } from '../api.js';
import { h, link, replace, syncList, button } from '../ui/dom.js';
import { pageHeader, table, empty, loading, chip } from '../ui/layout.js';
import { badge } from '../ui/status.js';
import { inlineError } from '../ui/errorview.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { projectAccess } from '../ui/session.js';
import { to } from '../router.js';
import { Page, define } from '../ui/page.js';

const byName = (a, b) => a.metadata.name.localeCompare(b.metadata.name);

/** portText is one service port as "80/TCP → 8080" (node port: "80:30080/TCP → 8080"). */
export function portText(p) {
  const np = p.nodePort ? `:${p.nodePort}` : '';
  const target = p.targetPort !== undefined && String(p.targetPort) !== String(p.port) ? ` → ${p.targetPort}` : '';
  return `${p.name ? p.name + ' ' : ''}${p.port}${np}/${p.protocol || 'TCP'}${target}`;
}

/** endpointList flattens an Endpoints object into rows: address, ports, ready, node, pod. */
export function endpointList(ep) {
  const out = [];
  for (const ss of ep?.subsets || []) {
    const ports = (ss.ports || []).map((p) => p.port).join(', ');
    for (const [list, ready] of [[ss.addresses, true], [ss.notReadyAddresses, false]]) {
      for (const a of list || []) out.push({ ip: a.ip, ports, ready, node: a.nodeName || '', pod: a.targetRef?.kind === 'Pod' ? a.targetRef.name : '' });
    }
  }
  return out.sort((a, b) => (a.pod || a.ip).localeCompare(b.pod || b.ip));
}

class ServicesPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    this.title('Services', ns);
    try {
      this.access = await projectAccess(ns);
    } catch (err) {
      this.replaceChildren(inlineError(err));
      return;
    }
    this.data = { services: null, endpoints: null };
    const { el, tbody } = table(['Name', 'Type', 'Cluster IP', 'Ports', 'Endpoints', ''], { caption: 'Services' });
    this.tbody = tbody;
    this.tableEl = el;
    this.tableEl.hidden = true;
    this.status = h('div', null, loading());
    this.replaceChildren(
      pageHeader('Services', {
        crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns], [to.services(ns), 'Services']],
        sub: 'Stable addresses in front of pods: a cluster IP and a DNS name (NAME, NAME.' + ns + ') every pod of the project reaches, on any node.',
      }),
      this.status, this.tableEl);
    const set = (key) => (items) => { this.data[key] = items; this.update(); };
    const onError = (what) => (err) => replace(this.status, inlineError(err?.code === 403 ? err : { message: `Cannot follow ${what}: ${err?.message}` }));
    this.live(paths.services(ns), { onChange: set('services'), onError: onError('services') });
    this.live(paths.endpoints(ns), { onChange: set('endpoints'), onError: onError('endpoints') });
  }

  update() {
    const { services, endpoints } = this.data;
    if (!services || !endpoints) return;
    const eps = new Map(endpoints.map((e) => [e.metadata.name, e]));
    const svcs = [...services].sort(byName);
    this.tableEl.hidden = !svcs.length;
    if (!svcs.length) replace(this.status, empty('No services', 'Deploy with a port, or run berth expose rc NAME --port PORT, and the service appears here.'));
    else this.status.replaceChildren();
    syncList(this.tbody, svcs, (s) => s.metadata.uid || s.metadata.name, (s) => this.row(s), (row, s) => this.updateRow(row, s, eps.get(s.metadata.name)));
  }

  row(svc) {
    const name = svc.metadata.name;
    return h('tr', { 'data-test': 'service-row', 'data-service': name },
      h('td', { class: 'mono' }, name),
      h('td', { 'data-test': 'service-type' }),
      h('td', { class: 'mono', 'data-test': 'service-cluster-ip' }),
      h('td', { class: 'mono', 'data-test': 'service-ports' }),
      h('td', { 'data-test': 'service-endpoints' }),
      h('td', { class: 'col-actions' }, this.access.canEdit ? button('', {
        kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'delete-service', 'data-service': name,
        'aria-label': `Delete service ${name}`, title: 'Delete service', onclick: () => this.deleteService(name),
      }) : null));
  }

  updateRow(row, svc, ep) {
    const cell = (t) => row.querySelector(`[data-test=${t}]`);
    const cip = svc.spec?.clusterIP || '';
    replace(cell('service-type'), svc.spec?.type || 'ClusterIP');
    replace(cell('service-cluster-ip'), cip === 'None' ? h('span', { class: 'muted' }, 'None (headless)') : (cip || h('span', { class: 'muted' }, '—')));
    replace(cell('service-ports'), (svc.spec?.ports || []).map((p) => h('div', null, portText(p))));
    const list = endpointList(ep);
    const ready = list.filter((e) => e.ready).length;
    replace(cell('service-endpoints'),
      h('div', { class: 'small', 'data-test': 'endpoints-ready' }, `${ready} ready${list.length > ready ? `, ${list.length - ready} not ready` : ''}`),
      list.map((e) => h('div', { 'data-test': 'endpoint', 'data-ready': String(e.ready), 'data-pod': e.pod },
        badge(e.ready ? 'ready' : 'not ready', e.ready ? 'ok' : 'warn'), ' ',
        h('span', { class: 'mono' }, `${e.ip}:${e.ports}`), ' ',
        e.pod ? link(to.pod(this.ns, e.pod), null, e.pod) : null,
        e.node ? chip(`node ${e.node}`) : null)));
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
define('berth-services-page', ServicesPage);
