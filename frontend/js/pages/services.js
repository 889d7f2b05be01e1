// services.js: a project's services, live: each one's type, cluster IP,
// ports (node ports too), its endpoints as the endpoints controller
// keeps them — every pod it selects, ready or not, and on which node —
// and its routes, the URLs where the router makes it reachable from
// outside; editors create and delete routes here.
import { paths, del, post } from '../api.js';
import { h, link, replace, syncList, button } from '../ui/dom.js';
import { pageHeader, table, empty, loading, chip } from '../ui/layout.js';
import { badge } from '../ui/status.js';
import { inlineError } from '../ui/errorview.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { field, formAlert, clearErrors, showAPIError, select } from '../ui/forms.js';
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
    this.data = { services: null, endpoints: null, routes: null };
    const { el, tbody } = table(['Name', 'Type', 'Cluster IP', 'Ports', 'Endpoints', 'Routes', ''], { caption: 'Services' });
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
    if (this.access.canEdit) {
      this.form = this.routeForm();
      this.form.hidden = true;
      this.append(this.form);
    }
    const set = (key) => (items) => { this.data[key] = items; this.update(); };
    const onError = (what) => (err) => replace(this.status, inlineError(err?.code === 403 ? err : { message: `Cannot follow ${what}: ${err?.message}` }));
    this.live(paths.services(ns), { onChange: set('services'), onError: onError('services') });
    this.live(paths.endpoints(ns), { onChange: set('endpoints'), onError: onError('endpoints') });
    this.live(paths.routes(ns), { onChange: set('routes'), onError: onError('routes') });
  }

  update() {
    const { services, endpoints, routes } = this.data;
    if (!services || !endpoints || !routes) return;
    const eps = new Map(endpoints.map((e) => [e.metadata.name, e]));
    this.routesOf = (svc) => routes.filter((r) => r.spec?.to?.name === svc).sort(byName);
    const svcs = [...services].sort(byName);
    this.tableEl.hidden = !svcs.length;
    if (this.form) {
      this.form.hidden = !svcs.length;
      const sel = this.form.querySelector('#route-service');
      const want = svcs.map((s) => s.metadata.name);
      if ([...sel.options].map((o) => o.value).join() !== want.join()) sel.replaceChildren(...want.map((n) => h('option', { value: n }, n)));
    }
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
      h('td', { 'data-test': 'service-routes' }),
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
    replace(cell('service-routes'), this.routesOf(svc.metadata.name).map((r) => this.routeLine(r)));
  }

  /** routeLine is one route: its URL, clickable, and for editors a delete button. */
  routeLine(r) {
    const name = r.metadata.name;
    const url = r.status?.url;
    return h('div', { 'data-test': 'route', 'data-route': name },
      url ? h('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'mono', 'data-test': 'route-url' }, url)
        : h('span', { class: 'mono' }, r.spec.host + (r.spec.path || '')),
      this.access.canEdit ? button('', {
        kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'delete-route', 'data-route': name,
        'aria-label': `Delete route ${name}`, title: 'Delete route', onclick: () => this.deleteRoute(name),
      }) : null);
  }

  /** routeForm creates a route to one of the project's services. */
  routeForm() {
    const svc = h('select', { id: 'route-service' });
    const name = h('input', { id: 'route-name', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'default: the service' });
    const host = h('input', { id: 'route-host', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'default: SERVICE-' + this.ns + '.<apps domain>' });
    const path = h('input', { id: 'route-path', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '/' });
    const tls = select([['', 'HTTP'], ['ca', 'HTTP and HTTPS (cluster CA)']], '', { id: 'route-tls' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'create-route' }, 'Create route');
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': 'Create a route' },
      h('h2', { class: 'card-title' }, 'Create a route'),
      h('p', { class: 'muted small' }, 'A route makes a service reachable from outside the cluster by a host name, through the router.'),
      formAlert(),
      h('div', { class: 'inline-form' },
        field('Service', svc, { errorFor: 'spec.to', also: ['spec.port'] }),
        field('Name', name, { errorFor: 'metadata.name' }),
        field('Host', host, { errorFor: 'spec.host' }),
        field('Path', path, { errorFor: 'spec.path' }),
        field('TLS', tls, { errorFor: 'spec.tls' }),
        h('div', { class: 'form-actions' }, submit)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      const spec = { to: { kind: 'Service', name: svc.value }, host: host.value.trim(), path: path.value.trim() };
      if (tls.value) spec.tls = {};
      try {
        const r = await post(paths.routes(this.ns), { apiVersion: 'berth.dev/v1', kind: 'Route', metadata: { name: name.value.trim() || svc.value }, spec });
        toast(`Route ${r.metadata.name}: ${r.status?.url || r.spec.host}`);
        name.value = host.value = path.value = '';
      } catch (err) {
        showAPIError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  async deleteRoute(name) {
    const ok = await confirmDialog({ title: `Delete route ${name}?`, message: 'Its URL stops answering and its host name comes free. The service keeps running.', confirmLabel: 'Delete route' });
    if (!ok) return;
    try {
      await del(`${paths.routes(this.ns)}/${encodeURIComponent(name)}`);
    } catch (err) {
      toast(`Cannot delete ${name}: ${err.message}`, 'bad');
    }
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
