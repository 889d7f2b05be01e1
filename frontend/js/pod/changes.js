// changes.js: <berth-pod-changes>, a container's filesystem diff against
// its image (GET …/pods/NAME/diff?container=C → [{path, kind}], kind A/C/D),
// grouped by kind and filterable.

import { get, paths } from '../api.js';
import { h, labelled, errorText } from './util.js';

const KINDS = [['A', 'Added'], ['C', 'Changed'], ['D', 'Deleted']];

class PodChanges extends HTMLElement {
  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.className = 'pod-changes';
    this.changes = [];
    this.show = { A: true, C: true, D: true };
    this.containerSel = h('select', { 'aria-label': 'Container', onchange: () => this.load() });
    this.filter = h('input', { type: 'search', class: 'pod-input', placeholder: 'Filter paths', 'aria-label': 'Filter paths', oninput: () => this.render() });
    this.kindBtns = KINDS.map(([k, label]) => h('button', {
      type: 'button', class: `btn btn-small chg-toggle chg-${k}`, 'aria-pressed': 'true', title: `Show ${label.toLowerCase()} paths`,
      onclick: (e) => { this.show[k] = !this.show[k]; e.currentTarget.setAttribute('aria-pressed', String(this.show[k])); this.render(); },
    }, `${k} · ${label}`));
    this.refreshBtn = h('button', { type: 'button', class: 'btn', onclick: () => this.load() }, 'Refresh');
    this.status = h('span', { class: 'pod-count', role: 'status' });
    this.list = h('div', { class: 'chg-list', 'data-test': 'changes' });
    this.append(
      h('div', { class: 'pod-toolbar' },
        labelled('Container', this.containerSel),
        h('div', { class: 'chg-kinds', role: 'group', 'aria-label': 'Kinds of change' }, this.kindBtns),
        this.filter,
        h('span', { class: 'pod-toolbar-end' }, this.status, this.refreshBtn)),
      this.list,
    );
    this.fillContainers();
  }

  set pod(pod) {
    const old = this._pod;
    this._pod = pod;
    const names = (p) => JSON.stringify(p?.spec?.containers?.map((c) => c.name));
    if (this.built && (!old || names(old) !== names(pod))) this.fillContainers();
  }

  fillContainers() {
    const names = (this._pod?.spec?.containers || []).map((c) => c.name);
    const cur = this.containerSel.value;
    this.containerSel.textContent = '';
    for (const n of names) this.containerSel.append(h('option', { value: n, text: n }));
    if (names.includes(cur)) this.containerSel.value = cur;
    this.containerSel.disabled = names.length < 2;
  }

  /** start loads the diff every time the tab is shown. */
  start() { this.load(); }

  async load() {
    const seq = (this.seq = (this.seq || 0) + 1);
    this.status.textContent = 'Loading…';
    this.refreshBtn.disabled = true;
    try {
      const res = await get(`${paths.pod(this.getAttribute('namespace'), this.getAttribute('name'))}/diff`, { query: { container: this.containerSel.value } });
      if (seq !== this.seq) return;
      this.changes = (Array.isArray(res) ? res : []).slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      this.error = null;
      this.loadedAt = new Date();
    } catch (err) {
      if (seq !== this.seq) return;
      this.error = err;
      this.changes = [];
    } finally {
      if (seq === this.seq) this.refreshBtn.disabled = false;
    }
    this.render();
  }

  render() {
    this.list.textContent = '';
    if (this.error) {
      this.status.textContent = '';
      this.list.append(h('div', { class: 'banner banner-bad', role: 'alert', text: `The changes could not be read: ${errorText(this.error)}` }));
      return;
    }
    const q = this.filter.value.trim().toLowerCase();
    const total = this.changes.length;
    this.status.textContent = this.loadedAt ? `${total} change${total === 1 ? '' : 's'} · ${this.loadedAt.toLocaleTimeString()}` : '';
    if (!total) {
      this.list.append(h('p', { class: 'muted', text: 'No changes: the container’s filesystem is as its image left it.' }));
      return;
    }
    let shown = 0;
    for (const [k, label] of KINDS) {
      const all = this.changes.filter((c) => c.kind === k);
      this.kindBtns[KINDS.findIndex((x) => x[0] === k)].textContent = `${k} · ${label} (${all.length})`;
      if (!this.show[k]) continue;
      const rows = all.filter((c) => !q || c.path.toLowerCase().includes(q));
      if (!rows.length) continue;
      shown += rows.length;
      this.list.append(h('section', { class: 'chg-group' },
        h('h3', { class: 'chg-title' }, `${label} `, h('span', { class: 'pod-count', text: `${rows.length}${rows.length !== all.length ? ` of ${all.length}` : ''}` })),
        h('ul', { class: 'chg-rows' }, rows.map((c) => h('li', { class: 'chg-row', 'data-test': 'change-row' },
          h('span', { class: `chg-kind chg-${k}`, title: label, text: k }), ' ', h('span', { class: 'chg-path', text: c.path }))))));
    }
    if (!shown) this.list.append(h('p', { class: 'muted', text: 'No change matches the filter.' }));
  }
}

customElements.define('berth-pod-changes', PodChanges);
