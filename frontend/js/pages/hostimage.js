// hostimage.js: <berth-hostimage-page name tab>, one host image
// definition: its builds (Rebuild, compare two), its files in an editor
// that validates as you type (each problem beside its file: file, key,
// what is wrong) and saves a revision, and its revisions.
import { get, post, put, paths } from '../api.js';
import { h, link, button, timeEl, replace, refreshAges, syncList } from '../ui/dom.js';
import { pageHeader, table, card, empty, loading, backLink } from '../ui/layout.js';
import { session } from '../ui/session.js';
import { toast } from '../ui/toast.js';
import { confirmDialog } from '../ui/dialog.js';
import { inlineError } from '../ui/errorview.js';
import { to, navigate } from '../router.js';
import { phaseBadge, size, took, short, loadCSS } from './hostimageutil.js';

loadCSS();

const TABS = [['builds', 'Builds'], ['definition', 'Definition'], ['revisions', 'Revisions']];
const FILE_CAUSE = /^spec\.files\[(.*)\]$/;

class HostImagePage extends HTMLElement {
  static get observedAttributes() { return ['tab']; }

  get imageName() { return this.getAttribute('name') || ''; }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.classList.add('page', 'hostimage-page');
    this.selected = new Set();
    this.build();
    this.load();
    this.timer = setInterval(() => { this.refreshBuilds().catch(() => {}); refreshAges(this); }, 2000);
  }

  disconnectedCallback() {
    clearInterval(this.timer);
    clearTimeout(this.validateTimer);
  }

  attributeChangedCallback() {
    if (this.built) this.showTab();
  }

  build() {
    const n = this.imageName;
    document.title = `${n} · Host images · Berth`;
    this.sub = h('span');
    const actions = session.clusterAdmin ? [
      button('Rebuild', { kind: 'primary', iconName: 'build', 'data-test': 'rebuild', onclick: () => this.rebuild(false) }),
      button('Build even if unchanged', { class: 'btn', 'data-test': 'force-rebuild', onclick: () => this.rebuild(true) }),
    ] : [];
    this.tabBar = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Host image' },
      TABS.map(([key, label]) => link(to.hostImage(n, key), { role: 'tab', class: 'tab', 'data-test': `tab-${key}`, 'data-tab': key }, label)));
    this.panels = {
      builds: h('div', { class: 'tab-panel', role: 'tabpanel' }, loading()),
      definition: h('div', { class: 'tab-panel', role: 'tabpanel' }, loading()),
      revisions: h('div', { class: 'tab-panel', role: 'tabpanel' }, loading()),
    };
    this.replaceChildren(
      backLink(to.hostImages(), 'Host images'),
      pageHeader(n, { sub: this.sub, actions }),
      this.tabBar, ...Object.values(this.panels));
    this.showTab();
  }

  showTab() {
    const tab = this.getAttribute('tab') || 'builds';
    for (const a of this.tabBar.children) a.setAttribute('aria-selected', String(a.dataset.tab === tab));
    for (const [k, p] of Object.entries(this.panels)) p.hidden = k !== tab;
    if (tab === 'revisions') this.loadRevisions().catch((err) => replace(this.panels.revisions, inlineError(err)));
  }

  async load() {
    try {
      this.image = await get(paths.hostImage(this.imageName));
    } catch (err) {
      replace(this.panels.builds, inlineError(err));
      replace(this.panels.definition, inlineError(err));
      return;
    }
    this.setSub();
    this.editor = new DefinitionEditor(this, this.image);
    replace(this.panels.definition, this.editor.el);
    await this.refreshBuilds();
  }

  setSub() {
    const st = this.image.status || {};
    replace(this.sub, `Ref ${st.ref || '—'} · composed by ${st.runner || '—'} · revision ${st.revision}`,
      this.image.spec?.rebuildInterval ? ` · checked for package updates every ${this.image.spec.rebuildInterval}` : '');
  }

  async rebuild(force) {
    try {
      const b = await post(paths.builds(), { apiVersion: 'berth.dev/v1', kind: 'HostImageBuild', spec: { hostImage: this.imageName, force } });
      toast(`Build ${b.metadata.name} queued`);
      navigate(to.build(this.imageName, b.metadata.name));
    } catch (err) {
      toast(`Cannot build: ${err.message}`, 'bad');
    }
  }

  async refreshBuilds() {
    if (!this.image) return;
    const list = await get(paths.builds(), { query: { hostImage: this.imageName, limit: 100 } });
    const items = list.items || [];
    const panel = this.panels.builds;
    if (!items.length) {
      replace(panel, empty('No builds yet', session.clusterAdmin ? 'Rebuild composes the definition into a commit on its ref.' : 'A cluster admin builds it.'));
      this.rows = null;
      return;
    }
    if (!this.rows) {
      const { el, tbody } = table([['', 'col-check'], 'Build', 'Phase', 'Reason', 'Revision', 'Version', 'Commit', 'Packages', 'Size', 'Delta', 'Took', 'Queued'], { caption: 'Builds' });
      this.rows = tbody;
      this.compareBtn = button('Compare the two checked', { class: 'btn btn-small', 'data-test': 'compare', disabled: true, onclick: () => this.compare() });
      replace(panel, card('Builds', el, { actions: [this.compareBtn] }));
    }
    this.builds = items;
    syncList(this.rows, items, (b) => b.metadata.name, (b) => this.buildRow(b), (tr, b) => this.fillBuild(tr, b));
  }

  buildRow(b) {
    const n = b.metadata.name;
    const check = h('input', { type: 'checkbox', 'data-test': 'build-compare', 'aria-label': `Compare ${n}` });
    check.addEventListener('change', () => {
      if (check.checked) this.selected.add(n); else this.selected.delete(n);
      this.compareBtn.disabled = this.selected.size !== 2;
    });
    const tr = h('tr', { 'data-test': 'build-row', 'data-build': n });
    tr.c = {
      check: h('td', { class: 'col-check' }, check),
      name: h('td', null, link(to.build(this.imageName, n), { class: 'strong-link', 'data-test': 'build-link' }, n)),
      phase: h('td'), reason: h('td'), rev: h('td'), version: h('td'), commit: h('td', { class: 'mono small' }),
      pkgs: h('td'), size: h('td'), delta: h('td'), took: h('td'), age: h('td', null, timeEl(b.metadata.creationTimestamp, ' ago')),
    };
    tr.append(...Object.values(tr.c));
    return tr;
  }

  fillBuild(tr, b) {
    const st = b.status || {};
    const c = tr.c;
    replace(c.phase, phaseBadge(st.phase, { 'data-test': 'build-phase', title: st.message || '' }), st.noChanges ? h('span', { class: 'muted small' }, ' no changes') : null);
    c.reason.textContent = b.spec?.reason || '';
    c.rev.textContent = String(b.spec?.revision || '');
    c.version.textContent = st.version || '—';
    c.commit.textContent = short(st.commit);
    c.commit.title = st.commit || '';
    c.pkgs.textContent = st.packageCount ? String(st.packageCount) : '—';
    c.size.textContent = size(st.commitSize);
    c.delta.textContent = size(st.deltaSize);
    c.took.textContent = took(st);
  }

  compare() {
    const [a, b] = [...this.selected].sort((x, y) => (this.number(x) - this.number(y)));
    navigate(to.buildDiff(this.imageName, a, b));
  }

  number(name) { return Number(name.slice(name.lastIndexOf('-') + 1)) || 0; }

  async loadRevisions() {
    const list = await get(paths.hostImageRevisions(this.imageName));
    const { el, tbody } = table(['Revision', 'By', 'When', ['', 'col-actions']], { caption: 'Revisions' });
    for (const r of list.items || []) {
      tbody.append(h('tr', { 'data-test': 'revision-row', 'data-revision': r.revision },
        h('td', null, String(r.revision)), h('td', null, r.author || '—'), h('td', null, timeEl(r.created, ' ago')),
        h('td', { class: 'col-actions' }, session.clusterAdmin ? button('Open in the editor', {
          class: 'btn btn-small', 'data-test': 'restore', onclick: () => this.restore(r.revision),
        }) : null)));
    }
    replace(this.panels.revisions, card('Revisions', el));
  }

  async restore(revision) {
    const list = await get(paths.hostImageRevisions(this.imageName), { query: { revision } });
    const r = list.items?.[0];
    if (!r) return;
    this.editor.setFiles(r.files, r.treefile, `revision ${revision}`);
    navigate(to.hostImage(this.imageName, 'definition'));
  }

  saved(image) {
    this.image = image;
    this.setSub();
    this.refreshBuilds().catch(() => {});
  }
}

// DefinitionEditor edits a definition's files: a list of them, the text
// of the selected one, and the problems the server finds as you type.
class DefinitionEditor {
  constructor(page, image) {
    this.page = page;
    this.name = image.metadata.name;
    this.rv = image.metadata.resourceVersion;
    this.readOnly = !session.clusterAdmin;
    this.files = (image.spec.files || []).map((f) => ({ ...f }));
    this.treefile = image.spec.treefile;
    this.problems = new Map(); // path → [messages]
    this.general = [];
    this.build();
    this.select(this.treefile);
  }

  build() {
    this.list = h('ul', { class: 'file-list', 'aria-label': 'Files' });
    this.textarea = h('textarea', { id: 'definition-editor', class: 'definition-editor mono', spellcheck: 'false', autocomplete: 'off', readOnly: this.readOnly, 'aria-label': 'File' });
    this.textarea.addEventListener('input', () => {
      this.current.content = this.textarea.value;
      this.changed();
    });
    this.textarea.addEventListener('keydown', (ev) => {
      if (ev.key === 'Tab' && !ev.shiftKey && !this.readOnly) {
        ev.preventDefault();
        this.textarea.setRangeText('  ', this.textarea.selectionStart, this.textarea.selectionEnd, 'end');
        this.textarea.dispatchEvent(new Event('input'));
      }
      if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') { ev.preventDefault(); this.save(); }
    });
    this.fileTitle = h('div', { class: 'editor-file mono' });
    this.validity = h('span', { class: 'validity', 'data-test': 'validity', role: 'status' }, 'Valid');
    this.problemList = h('ul', { class: 'problems', 'aria-label': 'Problems' });
    this.savedNote = h('span', { class: 'muted', 'data-test': 'saved' });
    this.saveBtn = button('Save', { kind: 'primary', 'data-test': 'save-definition', disabled: true, onclick: () => this.save() });
    const newPath = h('input', { id: 'new-file-path', type: 'text', placeholder: 'path/of/file', spellcheck: 'false', autocomplete: 'off', 'aria-label': 'Path of a new file' });
    const addForm = h('form', { class: 'add-file' }, newPath, button('Add file', { class: 'btn btn-small', type: 'submit', 'data-test': 'add-file' }));
    addForm.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const p = newPath.value.trim();
      if (!p || this.files.some((f) => f.path === p)) return;
      this.files.push({ path: p, content: '' });
      newPath.value = '';
      this.renderList();
      this.select(p);
      this.changed();
    });
    this.deleteBtn = button('Delete file', { class: 'btn btn-small btn-ghost', iconName: 'trash', 'data-test': 'delete-file', onclick: () => this.deleteFile() });
    this.el = h('div', { class: 'definition' },
      h('div', { class: 'definition-side' }, h('div', { class: 'muted small' }, 'Main treefile: ', h('span', { class: 'mono' }, this.treefile)),
        this.list, this.readOnly ? null : addForm),
      h('div', { class: 'definition-main' },
        h('div', { class: 'editor-bar' }, this.fileTitle, this.readOnly ? null : this.deleteBtn),
        this.textarea,
        h('div', { class: 'editor-status' }, this.validity, this.readOnly ? h('span', { class: 'muted' }, 'Only cluster admins edit definitions.') : [this.saveBtn, this.savedNote]),
        this.problemList));
    this.renderList();
  }

  renderList() {
    syncList(this.list, this.files.slice().sort((a, b) => a.path.localeCompare(b.path)), (f) => f.path, (f) => {
      const li = h('li', null, h('button', { type: 'button', class: 'file', 'data-test': 'file', 'data-file': f.path, onclick: () => this.select(f.path) },
        h('span', { class: 'mono' }, f.path), h('span', { class: 'file-problems', 'data-test': 'file-problems', hidden: true })));
      return li;
    }, (li, f) => {
      const btn = li.firstChild;
      btn.setAttribute('aria-current', String(this.current?.path === f.path));
      const n = (this.problems.get(f.path) || []).length;
      const mark = btn.querySelector('.file-problems');
      mark.hidden = !n;
      mark.textContent = n ? `${n}` : '';
      mark.title = n ? `${n} problem${n > 1 ? 's' : ''}` : '';
    });
  }

  select(path) {
    this.current = this.files.find((f) => f.path === path) || this.files[0];
    if (!this.current) return;
    this.textarea.value = this.current.content;
    this.fileTitle.textContent = this.current.path;
    this.deleteBtn.disabled = this.current.path === this.treefile;
    this.renderList();
    this.renderProblems();
  }

  setFiles(files, treefile, from) {
    this.files = files.map((f) => ({ ...f }));
    this.treefile = treefile;
    this.select(treefile);
    this.savedNote.textContent = `Opened ${from}: save to make it the latest revision.`;
    this.changed();
  }

  async deleteFile() {
    const p = this.current?.path;
    if (!p || p === this.treefile) return;
    if (!(await confirmDialog({ title: `Delete ${p}?`, message: 'It is gone from the definition once you save.', confirmLabel: 'Delete' }))) return;
    this.files = this.files.filter((f) => f.path !== p);
    this.select(this.treefile);
    this.changed();
  }

  body() {
    return {
      apiVersion: 'berth.dev/v1', kind: 'HostImage',
      metadata: { name: this.name, resourceVersion: this.rv },
      spec: { treefile: this.treefile, files: this.files, rebuildInterval: this.page.image.spec?.rebuildInterval || '' },
    };
  }

  changed() {
    this.dirty = true;
    this.saveBtn.disabled = this.readOnly;
    this.savedNote.textContent = this.savedNote.textContent.startsWith('Opened') ? this.savedNote.textContent : '';
    this.validity.textContent = 'Checking…';
    this.validity.dataset.state = 'checking';
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validate(), 400);
  }

  // validate asks the server to check the files without storing them.
  async validate() {
    const seq = this.seq = (this.seq || 0) + 1;
    try {
      await put(paths.hostImage(this.name), this.body(), { query: { dryRun: 'All' } });
      if (seq !== this.seq) return;
      this.setProblems(null);
    } catch (err) {
      if (seq !== this.seq) return;
      this.setProblems(err);
    }
  }

  setProblems(err) {
    this.problems = new Map();
    this.general = [];
    for (const c of err?.status?.details?.causes || []) {
      const m = FILE_CAUSE.exec(c.field || '');
      const msg = (c.message || '').replace(/^Invalid value: /, '');
      if (m) {
        if (!this.problems.has(m[1])) this.problems.set(m[1], []);
        this.problems.get(m[1]).push(msg);
      } else {
        this.general.push(c.field ? `${c.field}: ${msg}` : msg);
      }
    }
    if (err && !err.status?.details?.causes?.length) this.general.push(err.message);
    const n = this.general.length + [...this.problems.values()].reduce((s, l) => s + l.length, 0);
    this.validity.textContent = n ? `${n} problem${n > 1 ? 's' : ''}` : 'Valid';
    this.validity.dataset.state = n ? 'invalid' : 'valid';
    this.renderList();
    this.renderProblems();
  }

  renderProblems() {
    const items = [];
    for (const [path, msgs] of [...this.problems.entries()].sort((a, b) => (a[0] === this.current?.path ? -1 : b[0] === this.current?.path ? 1 : 0))) {
      for (const msg of msgs) {
        items.push(h('li', { 'data-test': 'problem', class: path === this.current?.path ? 'here' : '' },
          h('button', { type: 'button', class: 'problem-link', onclick: () => this.goTo(path, msg) }, h('span', { class: 'mono' }, path), ': ', msg)));
      }
    }
    for (const msg of this.general) items.push(h('li', { 'data-test': 'problem' }, msg));
    replace(this.problemList, items);
  }

  // goTo selects a problem's file and puts the cursor on its key.
  goTo(path, msg) {
    this.select(path);
    const key = msg.split(':')[0].replace(/\[\d+\]$/, '').trim();
    const at = this.textarea.value.search(new RegExp(`^\\s*"?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*:`, 'm'));
    this.textarea.focus();
    if (at >= 0) this.textarea.setSelectionRange(at, at);
  }

  async save() {
    if (this.readOnly) return;
    this.saveBtn.disabled = true;
    try {
      const saved = await put(paths.hostImage(this.name), this.body());
      const before = Number(this.rv);
      this.rv = saved.metadata.resourceVersion;
      this.dirty = false;
      this.setProblems(null);
      const rev = saved.status?.revision;
      this.savedNote.textContent = rev > before ? `Saved as revision ${rev}.` : 'No changes to save.';
      toast(rev > before ? `Saved revision ${rev} of ${this.name}` : 'Nothing changed');
      this.page.saved(saved);
    } catch (err) {
      this.saveBtn.disabled = false;
      if (err.code === 409) {
        this.savedNote.textContent = 'The definition changed since you opened it: reload the page, then apply your changes again.';
      } else {
        this.setProblems(err);
        this.savedNote.textContent = 'Not saved: fix the problems first.';
      }
    }
  }
}

if (!customElements.get('berth-hostimage-page')) customElements.define('berth-hostimage-page', HostImagePage);
