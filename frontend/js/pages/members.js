// members.js: who belongs to a project and with which role.
import { get, post, put, del, paths } from '../api.js';
import { h, button, replace } from '../ui/dom.js';
import { pageHeader, table, card, empty } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, select } from '../ui/forms.js';
import { roleBadge } from '../ui/status.js';
import { projectAccess, session } from '../ui/session.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { to } from '../router.js';
import { Page, define } from '../ui/page.js';

const ROLES = [['admin', 'admin — members and everything'], ['edit', 'edit — deploy, scale, delete'], ['view', 'view — read only']];

class MembersPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    this.access = await projectAccess(ns);
    this.title('Members', ns);
    this.listSlot = h('div');
    const parts = [pageHeader('Members', {
      crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns], [to.members(ns), 'Members']],
      sub: this.access.canAdmin ? 'Project admins add people and choose what they may do.' : 'Only project admins can change members.',
    })];
    if (this.access.canAdmin) parts.push(this.addForm());
    parts.push(this.listSlot);
    this.replaceChildren(...parts);
    await this.refresh();
  }

  async refresh() {
    const list = await get(paths.members(this.ns));
    const items = (list.items || []).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    if (!items.length) { replace(this.listSlot, empty('No members', 'Cluster admins see every project.')); return; }
    const { el, tbody } = table(['User', 'Role', ['', 'col-actions']], { caption: 'Members' });
    for (const m of items) {
      const user = m.metadata.name;
      const me = user === session.username;
      let roleCell;
      if (this.access.canAdmin) {
        const sel = select(ROLES.map(([v]) => [v, v]), m.spec?.role, { 'aria-label': `Role of ${user}`, 'data-test': 'member-role', 'data-member': user });
        sel.addEventListener('change', () => this.setRole(user, sel.value, m.spec?.role, sel));
        roleCell = sel;
      } else {
        roleCell = roleBadge(m.spec?.role);
      }
      tbody.append(h('tr', { 'data-test': 'member-row', 'data-member': user },
        h('td', null, h('span', { class: 'strong-link' }, user), me ? h('span', { class: 'muted small' }, ' (you)') : null),
        h('td', { class: 'role-cell' }, roleCell),
        h('td', { class: 'col-actions' }, this.access.canAdmin ? button('Remove', {
          kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'remove-member', 'data-member': user,
          'aria-label': `Remove ${user} from ${this.ns}`, onclick: () => this.remove(user),
        }) : null)));
    }
    replace(this.listSlot, card('People', el, { cls: 'table-card' }));
  }

  addForm() {
    const user = h('input', { id: 'member-user', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'alice' });
    const role = select(ROLES, 'edit', { id: 'member-role' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'add-member' }, 'Add member');
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': 'Add a member' },
      h('h2', { class: 'card-title' }, 'Add a member'),
      formAlert(),
      h('div', { class: 'inline-form' },
        field('User', user, { errorFor: 'metadata.name' }),
        field('Role', role, { errorFor: 'spec.role' }),
        h('div', { class: 'form-actions' }, submit)));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      try {
        await post(paths.members(this.ns), { apiVersion: 'berth.dev/v1', kind: 'Member', metadata: { name: user.value.trim(), namespace: this.ns }, spec: { role: role.value } });
        toast(`${user.value.trim()} is now ${role.value} in ${this.ns}`);
        user.value = '';
        await this.refresh();
      } catch (err) {
        showAPIError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  async setRole(user, role, was, sel) {
    try {
      await put(paths.member(this.ns, user), { apiVersion: 'berth.dev/v1', kind: 'Member', metadata: { name: user, namespace: this.ns }, spec: { role } });
      toast(`${user} is now ${role}`);
      if (user === session.username) this.load();
    } catch (err) {
      sel.value = was;
      toast(`Cannot change ${user}'s role: ${err.message}`, 'bad');
    }
  }

  async remove(user) {
    const ok = await confirmDialog({ title: `Remove ${user}?`, message: `${user} loses access to ${this.ns}.`, confirmLabel: 'Remove' });
    if (!ok) return;
    try {
      await del(paths.member(this.ns, user));
      toast(`${user} removed`);
      await this.refresh();
    } catch (err) {
      toast(`Cannot remove ${user}: ${err.message}`, 'bad');
    }
  }
}
define('berth-members-page', MembersPage);
