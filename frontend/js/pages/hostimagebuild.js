// hostimagebuild.js: <berth-build-page image build>, one build: its
// phase, what it made (commit, parent, version, packages, sizes), Cancel
// while it is queued or running, the diff with its parent's build, and
// its log, live until the build ends.
import { get, post, paths } from '../api.js';
import { h, link, button, timeEl, replace, refreshAges } from '../ui/dom.js';
import { pageHeader, card, loading, backLink } from '../ui/layout.js';
import { session } from '../ui/session.js';
import { toast } from '../ui/toast.js';
import { confirmDialog } from '../ui/dialog.js';
import { errorView } from '../ui/errorview.js';
import { setBadge } from '../ui/status.js';
import { to, navigate } from '../router.js';
import { phaseBadge, isDone, size, took, loadCSS } from './hostimageutil.js';
import '../ui/buildlog.js';

loadCSS();

class BuildPage extends HTMLElement {
  get image() { return this.getAttribute('image') || ''; }
  get buildName() { return this.getAttribute('build') || ''; }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.classList.add('page', 'build-page');
    document.title = `${this.buildName} · Host images · Berth`;
    this.badge = phaseBadge('…', { 'data-test': 'build-phase' });
    this.actions = h('span', { class: 'page-actions-inline' });
    this.status = h('dl', { class: 'kvlist build-status', 'data-test': 'build-status' }, loading());
    this.log = h('berth-build-log', { build: this.buildName });
    this.log.addEventListener('ended', () => this.refresh());
    this.replaceChildren(
      backLink(to.hostImage(this.image), this.image),
      pageHeader(this.buildName, { sub: h('span', null, 'Build of ', link(to.hostImage(this.image), null, this.image), ' · ', this.badge), actions: [this.actions] }),
      card('Status', this.status),
      card('Log', this.log, { cls: 'log-card' }));
    this.refresh();
    this.timer = setInterval(() => { if (!this.done) this.refresh(); refreshAges(this); }, 1500);
  }

  disconnectedCallback() { clearInterval(this.timer); }

  async refresh() {
    let b;
    try {
      b = await get(paths.build(this.buildName));
    } catch (err) {
      if (!this.b) this.replaceChildren(errorView(err, { retry: () => { this.built = false; this.connectedCallback(); } }));
      return;
    }
    this.b = b;
    const st = b.status || {};
    this.done = isDone(st.phase);
    setBadge(this.badge, st.phase, { Queued: 'muted', Running: 'info', Succeeded: 'ok', Failed: 'bad', Cancelled: 'warn' }[st.phase] || 'muted');
    const rows = [
      ['Phase', st.phase + (st.cancelRequested && !this.done ? ' (cancelling)' : '')],
      st.message ? ['Message', h('span', { 'data-test': 'build-message' }, st.message)] : null,
      ['Revision', String(b.spec?.revision || '')],
      ['Asked by', `${b.spec?.requestedBy || 'the trigger'} (${b.spec?.reason || ''})`],
      ['Queued', timeEl(b.metadata.creationTimestamp, ' ago')],
      ['Ran for', took(st)],
      st.runner ? ['Runner', st.runner] : null,
      st.ref ? ['Ref', h('span', { class: 'mono' }, st.ref)] : null,
      st.version ? ['Version', st.version] : null,
      st.commit ? ['Commit', h('span', { class: 'mono', 'data-test': 'build-commit' }, st.commit)] : null,
      st.parent ? ['Parent', h('span', { class: 'mono' }, st.parent)] : null,
      st.packageCount ? ['Packages', String(st.packageCount)] : null,
      st.commitSize ? ['Size', `${size(st.commitSize)} stored · ${size(st.unpackedSize)} unpacked`] : null,
      st.deltaSize ? ['Static delta', `${size(st.deltaSize)} from the parent`] : null,
      st.inputHash ? ['Input hash', h('span', { class: 'mono small' }, st.inputHash)] : null,
    ].filter(Boolean);
    replace(this.status, rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    const acts = [];
    if (session.clusterAdmin && !this.done) {
      acts.push(button('Cancel', { kind: 'danger', 'data-test': 'cancel-build', disabled: !!st.cancelRequested, onclick: () => this.cancel() }));
    }
    if (st.parent && this.done && !st.noChanges) {
      acts.push(button('Diff with the parent', { class: 'btn', 'data-test': 'diff-parent', onclick: () => this.diffParent(st.parent) }));
    }
    replace(this.actions, acts);
  }

  async cancel() {
    if (!(await confirmDialog({ title: `Cancel ${this.buildName}?`, message: 'The build stops; the ref stays on the commit it is on.', confirmLabel: 'Cancel the build' }))) return;
    try {
      await post(paths.buildCancel(this.buildName), {});
      toast(`Cancelling ${this.buildName}`);
      this.refresh();
    } catch (err) {
      toast(`Cannot cancel: ${err.message}`, 'bad');
    }
  }

  async diffParent(parent) {
    const list = await get(paths.builds(), { query: { fieldSelector: `status.commit=${parent}`, limit: 10 } });
    const from = (list.items || []).find((x) => x.status?.phase === 'Succeeded' && !x.status?.noChanges) || list.items?.[0];
    if (!from) { toast('The parent commit was not built by Berth', 'bad'); return; }
    navigate(to.buildDiff(this.image, from.metadata.name, this.buildName));
  }
}
if (!customElements.get('berth-build-page')) customElements.define('berth-build-page', BuildPage);
