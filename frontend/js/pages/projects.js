// projects.js: the projects a person can see; create and delete.
import { get, post, del, paths } from '../api.js';
import { h, link, button, timeEl, replace } from '../ui/dom.js';
import { pageHeader, empty, table, loading } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError } from '../ui/forms.js';
import { roleBadge } from '../ui/status.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { session } from '../ui/session.js';
import { inlineError } from '../ui/errorview.js';
import { navigate, to } from '../router.js';
import { Page, define } from '../ui/page.js';

class ProjectsPage extends Page {
  async render() {
    this.title('Projects');
    this.newBtn = button('New project', { kind: 'primary', iconName: 'plus', 'data-test': 'new-project', 'aria-expanded': 'false', 'aria-controls': 'new-project-form', onclick: () => this.toggleForm() });
    this.formSlot = h('div');
    this.listSlot = h('div', null, loading());
    this.replaceChildren(
      pageHeader('Projects', { sub: 'A project holds the applications of a team: its pods, services and members.', actions: [this.newBtn] }),
      this.formSlot, this.listSlot);
    await this.refresh();
    this.every(10000, () => this.refresh().catch(() => {}));
  }

  async refresh() {
    let list;
    try {
      list = await get(paths.projects());
    } catch (err) {
      if (!this.projects) throw err;
      replace(this.listSlot, inlineError(err));
      return;
    }
    this.projects = (list.items || []).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    this.renderList();
  }

  renderList() {
    if (!this.projects.length) {
      replace(this.listSlot, empty('No projects yet',
        'Create a project to deploy your first image. You become its admin and can add members.',
        button('Create a project', { kind: 'primary', iconName: 'plus', onclick: () => this.toggleForm(true) })));
      return;
    }
    const { el, tbody } = table(['Name', 'Description', 'Your role', 'Created', ['', 'col-actions']], { caption: 'Projects' });
    for (const p of this.projects) {
      const name = p.metadata.name;
      const canDelete = session.clusterAdmin || p.status?.role === 'admin';
      tbody.append(h('tr', { 'data-test': 'project-row', 'data-project': name },
        h('td', null, link(to.project(name), { class: 'strong-link', 'data-test': 'project-link' }, p.spec?.displayName || name),
          p.spec?.displayName ? h('div', { class: 'muted small mono' }, name) : null),
        h('td', { class: 'muted' }, p.spec?.description || ''),
        h('td', null, roleBadge(p.status?.role, session.clusterAdmin)),
        h('td', null, timeEl(p.metadata.creationTimestamp)),
        h('td', { class: 'col-actions' }, canDelete ? button('', {
          kind: 'ghost', iconName: 'trash', 'aria-label': `Delete project ${name}`, title: 'Delete project',
          'data-test': 'delete-project', 'data-project': name, onclick: () => this.remove(name),
        }) : null)));
    }
    replace(this.listSlot, el);
  }

  toggleForm(open = !this.form) {
    if (!open) {
      this.form?.remove();
      this.form = null;
      this.newBtn.setAttribute('aria-expanded', 'false');
      this.newBtn.focus();
      return;
    }
    if (this.form) { this.form.querySelector('input').focus(); return; }
    const name = h('input', { id: 'project-name', type: 'text', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'my-team' });
    const display = h('input', { id: 'project-display-name', type: 'text', autocomplete: 'off', placeholder: 'My team' });
    const desc = h('input', { id: 'project-description', type: 'text', autocomplete: 'off' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'create-project' }, 'Create project');
    const form = h('form', { id: 'new-project-form', class: 'card form-card', novalidate: true, 'aria-label': 'New project' },
      h('h2', { class: 'card-title' }, 'New project'),
      formAlert(),
      h('div', { class: 'form-grid' },
        field('Name', name, { errorFor: 'metadata.name', hint: 'Lower-case letters, digits and "-". It cannot be changed later.' }),
        field('Display name', display, { errorFor: 'spec.displayName', hint: 'Optional' }),
        field('Description', desc, { errorFor: 'spec.description', hint: 'Optional', cls: 'span-2' })),
      h('div', { class: 'form-actions' }, submit, button('Cancel', { onclick: () => this.toggleForm(false) })));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        const p = await post(paths.projects(), {
          apiVersion: 'berth.dev/v1', kind: 'Project',
          metadata: { name: name.value.trim() },
          spec: { displayName: display.value.trim(), description: desc.value.trim() },
        });
        toast(`Project ${p.metadata?.name || name.value.trim()} created`);
        navigate(to.project(p.metadata?.name || name.value.trim()));
      } catch (err) {
        showAPIError(form, err);
        submit.disabled = false;
      }
    });
    this.form = form;
    this.formSlot.append(form);
    this.newBtn.setAttribute('aria-expanded', 'true');
    name.focus();
  }

  async remove(name) {
    const ok = await confirmDialog({
      title: `Delete project ${name}?`,
      message: 'Every pod, replication controller, service and event in it is deleted. This cannot be undone.',
      confirmLabel: 'Delete project',
      typeToConfirm: name,
    });
    if (!ok) return;
    try {
      await del(paths.project(name));
      toast(`Project ${name} is being deleted`);
      await this.refresh();
    } catch (err) {
      toast(`Cannot delete ${name}: ${err.message}`, 'bad');
    }
  }
}
define('berth-projects-page', ProjectsPage);
