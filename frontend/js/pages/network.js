// network.js: a project's place on the pod network — which projects'
// pods its pods reach — and, for cluster admins, joining it to another
// project's network, making it global or isolating it again (the same
// projects/NAME/network subresource as `berth project network`).
import { get, put, paths } from '../api.js';
import { h, link, replace } from '../ui/dom.js';
import { pageHeader, card } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, select } from '../ui/forms.js';
import { badge } from '../ui/status.js';
import { projectAccess, session } from '../ui/session.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { to } from '../router.js';
import { Page, define } from '../ui/page.js';

const GLOBAL = 'global';

/** describe says in words what a ProjectNetwork means, as `berth project network show` does. */
function describe(pn) {
  if (pn.netID === GLOBAL) return 'Global: its pods reach, and are reached by, the pods of every project.';
  if (!pn.joined?.length) return 'A network of its own: its pods reach its own pods and those of global projects only.';
  return `Joined with ${pn.joined.join(', ')}: their pods and this project's reach each other.`;
}

class NetworkPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    this.title('Network', ns);
    await projectAccess(ns); // a project the user may not see is the error view
    this.admin = session.clusterAdmin;
    this.stateSlot = h('div');
    this.formSlot = h('div');
    this.replaceChildren(
      pageHeader('Network', {
        crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns], [to.network(ns), 'Network']],
        sub: this.admin ? 'Which projects this project\'s pods reach. Cluster admins join networks, make projects global or isolate them.'
          : 'Which projects this project\'s pods reach. Only cluster admins change it.',
      }),
      this.stateSlot, this.formSlot);
    await this.refresh();
  }

  async refresh() {
    const [pn, cn] = await Promise.all([
      get(paths.projectNetwork(this.ns)),
      get(paths.clusterNetwork()).catch(() => null),
    ]);
    this.pn = pn;
    const isolation = cn ? cn.projectIsolation : true;
    const kind = pn.netID === GLOBAL ? ['global', 'info'] : pn.joined?.length ? ['joined', 'ok'] : ['own network', 'muted'];
    const joined = (pn.joined || []).map((p) => h('li', null, link(to.network(p), { 'data-test': 'network-joined', 'data-project': p }, p)));
    replace(this.stateSlot, card('This project\'s network', [
      h('p', { 'data-test': 'network-state', 'data-kind': kind[0] }, badge(kind[0], kind[1]), ' ', describe(pn)),
      isolation ? null : h('div', { class: 'banner banner-warn', role: 'status', 'data-test': 'network-isolation-off' },
        'Project isolation is off on this cluster (--network-isolation=false): every pod reaches every pod, whatever this page says.'),
      h('dl', { class: 'kvlist' },
        h('dt', null, 'NetID'), h('dd', { class: 'mono', 'data-test': 'network-netid' }, pn.netID),
        pn.netID !== GLOBAL && joined.length ? [h('dt', null, 'Shared with'), h('dd', null, h('ul', { class: 'plain-list' }, joined))] : null,
        cn ? [h('dt', null, 'Pod range'), h('dd', { class: 'mono' }, cn.network)] : null),
    ], { attrs: { 'data-test': 'network-card' } }));
    if (this.admin) replace(this.formSlot, await this.actions());
  }

  async actions() {
    const list = await get(paths.projects());
    const others = (list.items || []).map((p) => p.metadata.name).filter((n) => n !== this.ns).sort();
    const target = select(others.map((n) => [n, n]), others[0], { id: 'network-join-project' });
    const joinBtn = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'network-join', disabled: !others.length }, 'Join');
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': 'Change the project\'s network' },
      h('h2', { class: 'card-title' }, 'Change the network'),
      formAlert(),
      h('div', { class: 'inline-form' },
        field(`Join ${this.ns} to the network of`, target, { errorFor: 'netID', hint: 'Its pods and those of the chosen project (and of the projects already joined with it) reach each other.' }),
        h('div', { class: 'form-actions' }, joinBtn)),
      h('div', { class: 'form-actions' },
        h('button', { type: 'button', class: 'btn', 'data-test': 'network-make-global', disabled: this.pn.netID === GLOBAL, onclick: () => this.makeGlobal(form) }, 'Make global'),
        ' ',
        h('button', { type: 'button', class: 'btn btn-danger', 'data-test': 'network-isolate', onclick: () => this.isolate(form) }, 'Isolate')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const other = target.value;
      await this.change(form, async () => (await get(paths.projectNetwork(other))).netID, `${this.ns} joined ${other}'s network`);
    });
    return form;
  }

  async makeGlobal(form) {
    const ok = await confirmDialog({
      title: `Make ${this.ns} global?`, message: `The pods of every project will reach ${this.ns}'s pods, and its pods theirs.`,
      confirmLabel: 'Make global', danger: false,
    });
    if (ok) await this.change(form, async () => GLOBAL, `${this.ns} is global`);
  }

  async isolate(form) {
    const ok = await confirmDialog({
      title: `Isolate ${this.ns}?`, message: `${this.ns} goes back on a network of its own: only its own pods and those of global projects reach its pods.`,
      confirmLabel: 'Isolate',
    });
    if (ok) await this.change(form, async () => '', `${this.ns} is on a network of its own`);
  }

  /** change puts the project on the NetID netID() gives and shows the result. */
  async change(form, netID, done) {
    clearErrors(form);
    const buttons = [...form.querySelectorAll('button')];
    buttons.forEach((b) => { b.dataset.was = b.disabled; b.disabled = true; });
    try {
      await put(paths.projectNetwork(this.ns), { apiVersion: 'berth.dev/v1', kind: 'ProjectNetwork', metadata: { name: this.ns }, netID: await netID() });
      toast(done);
      await this.refresh();
    } catch (err) {
      buttons.forEach((b) => { b.disabled = b.dataset.was === 'true'; });
      showAPIError(form, err);
    }
  }
}
define('berth-network-page', NetworkPage);
