// hostimagediff.js: <berth-build-diff-page image from to>, what changed
// from one build's commit to another's: packages added, removed and
// changed with their versions, files added, modified and deleted, sizes.
import { get, paths } from '../api.js';
import { h, link, replace } from '../ui/dom.js';
import { pageHeader, card, table, loading, backLink, empty } from '../ui/layout.js';
import { errorView } from '../ui/errorview.js';
import { badge } from '../ui/status.js';
import { to } from '../router.js';
import { size, short, loadCSS } from './hostimageutil.js';

loadCSS();

const FILES_SHOWN = 500;

class BuildDiffPage extends HTMLElement {
  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.classList.add('page', 'diff-page');
    const image = this.getAttribute('image');
    const from = this.getAttribute('from');
    const toBuild = this.getAttribute('to');
    document.title = `${from} → ${toBuild} · Host images · Berth`;
    this.body = h('div', null, loading());
    this.replaceChildren(
      backLink(to.hostImage(image), image),
      pageHeader(`${from} → ${toBuild}`, { sub: 'What changed from one build to the other' }),
      this.body);
    this.load(image, from, toBuild);
  }

  async load(image, from, toBuild) {
    let d;
    try {
      d = await get(paths.buildDiff(toBuild), { query: { from } });
    } catch (err) {
      replace(this.body, errorView(err));
      return;
    }
    const side = (s) => [link(to.build(image, s.build), null, s.build), ` · ${s.version || '—'} · `, h('span', { class: 'mono', title: s.commit }, short(s.commit)),
      ` · ${s.packageCount} packages · ${size(s.commitSize)}`];
    const summary = h('dl', { class: 'kvlist' },
      h('dt', null, 'From'), h('dd', null, side(d.from)),
      h('dt', null, 'To'), h('dd', null, side(d.to)),
      d.to.deltaSize ? [h('dt', null, 'Static delta'), h('dd', null, `${size(d.to.deltaSize)} from its parent`)] : null);

    const p = d.packages;
    const pkgCount = p.added.length + p.removed.length + p.changed.length;
    let pkgs;
    if (!pkgCount) {
      pkgs = empty('No package changed');
    } else {
      const { el, tbody } = table(['', 'Package', 'Version', 'Architecture'], { caption: 'Packages' });
      for (const x of p.added) tbody.append(h('tr', { 'data-test': 'package-added', 'data-package': x.name }, h('td', null, badge('added', 'ok')), h('td', { class: 'mono' }, x.name), h('td', { class: 'mono' }, x.version), h('td', null, x.arch)));
      for (const x of p.removed) tbody.append(h('tr', { 'data-test': 'package-removed', 'data-package': x.name }, h('td', null, badge('removed', 'bad')), h('td', { class: 'mono' }, x.name), h('td', { class: 'mono' }, x.version), h('td', null, x.arch)));
      for (const x of p.changed) tbody.append(h('tr', { 'data-test': 'package-changed', 'data-package': x.name }, h('td', null, badge('changed', 'info')), h('td', { class: 'mono' }, x.name), h('td', { class: 'mono' }, `${x.from} → ${x.to}`), h('td', null, x.arch)));
      pkgs = el;
    }

    const f = d.files;
    const fileRows = [];
    for (const [kind, list, tone] of [['added', f.added, 'ok'], ['modified', f.modified, 'info'], ['deleted', f.deleted, 'bad']]) {
      for (const path of list.slice(0, FILES_SHOWN)) {
        fileRows.push(h('li', { 'data-test': `file-${kind}` }, badge(kind, tone), ' ', h('span', { class: 'mono' }, path)));
      }
      if (list.length > FILES_SHOWN) fileRows.push(h('li', { class: 'muted' }, `… ${list.length - FILES_SHOWN} more ${kind}`));
    }
    replace(this.body,
      card('Summary', summary),
      card(`Packages: ${p.added.length} added, ${p.removed.length} removed, ${p.changed.length} changed`, pkgs, { attrs: { 'data-test': 'diff-packages' } }),
      card(`Files: ${f.added.length} added, ${f.modified.length} modified, ${f.deleted.length} deleted`,
        fileRows.length ? h('ul', { class: 'file-changes' }, fileRows) : empty('No file changed'), { attrs: { 'data-test': 'diff-files' } }));
  }
}
if (!customElements.get('berth-build-diff-page')) customElements.define('berth-build-diff-page', BuildDiffPage);
