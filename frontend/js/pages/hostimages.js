// hostimages.js: the host image definitions, with their newest build and
// the commit hosts get; cluster admins create definitions and build them.
import { get, post, paths } from '../api.js';
import { h, link, button, replace, refreshAges, syncList } from '../ui/dom.js';
import { pageHeader, table, card, empty, loading } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, select } from '../ui/forms.js';
import { session } from '../ui/session.js';
import { toast } from '../ui/toast.js';
import { to, navigate } from '../router.js';
import { Page, define } from '../ui/page.js';
import { phaseBadge, loadCSS } from './hostimageutil.js';

loadCSS();

// A new definition starts from one of these.
const TEMPLATES = {
  debian: {
    label: 'Debian host (deb822 sources, OSTree runner)',
    treefile: 'host.yaml',
    files: (name) => [
      { path: 'host.yaml', content: `# ${name}: a host composed by mmdebstrap from the sources below.\nref: ${name}/debian/\${basearch}/host\nreleasever: "12"\nrepos:\n  - debian\npackages:\n  - systemd systemd-sysv dbus\n  - ostree\ndocumentation: false\n` },
      { path: 'debian.sources', content: 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' },
    ],
  },
  fedora: {
    label: 'Fedora host (*.repo, rpm-ostree)',
    treefile: 'host.yaml',
    files: (name) => [
      { path: 'host.yaml', content: `# ${name}: a host composed by rpm-ostree.\nref: ${name}/fedora/\${releasever}/\${basearch}/host\nreleasever: "40"\nrepos:\n  - fedora\npackages:\n  - kernel systemd ostree rpm-ostree\n` },
      { path: 'fedora.repo', content: '[fedora]\nname=Fedora $releasever - $basearch\nmetalink=https://mirrors.fedoraproject.org/metalink?repo=fedora-$releasever&arch=$basearch\nenabled=1\n' },
    ],
  },
};

class HostImagesPage extends Page {
  async render() {
    this.title('Host images');
    const actions = session.clusterAdmin ? [button('New definition', { kind: 'primary', iconName: 'plus', 'data-test': 'new-hostimage', onclick: () => this.toggleForm() })] : [];
    this.formSlot = h('div');
    this.listSlot = h('div', null, loading());
    this.replaceChildren(
      pageHeader('Host images', {
        sub: 'The atomic hosts Berth composes: rpm-ostree treefiles built into OSTree commits that hosts pull from this master and boot.',
        actions,
      }),
      this.formSlot, this.listSlot);
    await this.refresh();
    this.every(3000, () => this.refresh().catch(() => {}));
    this.every(1000, () => refreshAges(this));
  }

  toggleForm() {
    if (this.formSlot.firstChild) { this.formSlot.replaceChildren(); return; }
    const name = h('input', { id: 'hostimage-name', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'edge-host' });
    const tmpl = select(Object.entries(TEMPLATES).map(([k, t]) => [k, t.label]), 'debian', { id: 'hostimage-template' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'create-hostimage' }, 'Create');
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': 'New host image definition' },
      h('h2', { class: 'card-title' }, 'New definition'),
      formAlert(),
      h('div', { class: 'inline-form' },
        field('Name', name, { errorFor: 'metadata.name' }),
        field('Start from', tmpl, { errorFor: 'spec.files', also: ['spec.treefile'] }),
        h('div', { class: 'form-actions' }, submit)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      const t = TEMPLATES[tmpl.value];
      const n = name.value.trim();
      try {
        await post(paths.hostImages(), { apiVersion: 'berth.dev/v1', kind: 'HostImage', metadata: { name: n }, spec: { treefile: t.treefile, files: t.files(n) } });
        toast(`Definition ${n} created`);
        navigate(to.hostImage(n, 'definition'));
      } catch (err) {
        showAPIError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    replace(this.formSlot, form);
    name.focus();
  }

  async refresh() {
    const list = await get(paths.hostImages());
    const items = list.items || [];
    if (!items.length) {
      replace(this.listSlot, empty('No host image definitions', session.clusterAdmin ? 'Create one, or restart the master on a fresh database to get Berth\'s own hosts.' : 'Cluster admins define host images.'));
      this.rows = null;
      return;
    }
    if (!this.rows) {
      const { el, tbody } = table(['Definition', 'Runner', 'Ref', 'Revision', 'Newest build', 'On the ref', ['', 'col-actions']], { caption: 'Host image definitions' });
      this.rows = tbody;
      replace(this.listSlot, card('Definitions', el));
    }
    syncList(this.rows, items, (hi) => hi.metadata.name, (hi) => this.row(hi), (tr, hi) => this.fill(tr, hi));
  }

  row(hi) {
    const n = hi.metadata.name;
    const tr = h('tr', { 'data-test': 'hostimage-row', 'data-hostimage': n });
    tr.cells_ = {
      name: h('td', null, link(to.hostImage(n), { class: 'strong-link', 'data-test': 'hostimage-link' }, n)),
      runner: h('td'), ref: h('td', { class: 'mono small' }), rev: h('td'), build: h('td'), commit: h('td', { class: 'small' }),
      actions: h('td', { class: 'col-actions' }, session.clusterAdmin ? button('Build', {
        class: 'btn btn-small', iconName: 'build', 'data-test': 'hostimage-build', 'aria-label': `Build ${n}`,
        onclick: () => this.build(n),
      }) : null),
    };
    tr.append(...Object.values(tr.cells_));
    return tr;
  }

  fill(tr, hi) {
    const c = tr.cells_;
    const st = hi.status || {};
    c.runner.textContent = st.runner || '—';
    c.ref.textContent = st.ref || '—';
    c.rev.textContent = String(st.revision || '');
    replace(c.build, st.latestBuild ? [link(to.build(hi.metadata.name, st.latestBuild), null, st.latestBuild), ' ', phaseBadge(st.latestPhase, { 'data-test': 'hostimage-phase' })] : h('span', { class: 'muted' }, 'never built'));
    replace(c.commit, st.latestCommit ? [h('span', { class: 'mono', title: st.latestCommit }, st.latestCommit.slice(0, 12)), ' ', h('span', { class: 'muted' }, st.latestVersion || '')] : '—');
  }

  async build(n) {
    try {
      const b = await post(paths.builds(), { apiVersion: 'berth.dev/v1', kind: 'HostImageBuild', spec: { hostImage: n } });
      toast(`Build ${b.metadata.name} queued`);
      navigate(to.build(n, b.metadata.name));
    } catch (err) {
      toast(`Cannot build ${n}: ${err.message}`, 'bad');
    }
  }
}
define('berth-hostimages-page', HostImagesPage);
