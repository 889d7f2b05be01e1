// config.js: a project's config maps and secrets. Editors create, edit and
// delete them; a secret's values stay hidden until revealed. Viewers see
// the names only (the API gives them nothing else, and refuses a secret).
import { get, post, put, del, paths } from '../api.js';
import { h, button, replace } from '../ui/dom.js';
import { pageHeader, table, card, empty } from '../ui/layout.js';
import { field, formAlert, clearErrors, showAPIError, select } from '../ui/forms.js';
import { kvRows } from '../ui/kvrows.js';
import { projectAccess } from '../ui/session.js';
import { confirmDialog } from '../ui/dialog.js';
import { toast } from '../ui/toast.js';
import { to } from '../router.js';
import { Page, define } from '../ui/page.js';

const KINDS = [['ConfigMap', 'Config map'], ['Secret', 'Secret']];

// base64 of a string's UTF-8 bytes, and back (a secret's data).
const encode = (s) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));
const decode = (b) => new TextDecoder().decode(Uint8Array.from(atob(b), (c) => c.charCodeAt(0)));

class ConfigPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    this.access = await projectAccess(ns);
    this.title('Config', ns);
    this.listSlot = h('div');
    this.formSlot = h('div');
    this.replaceChildren(pageHeader('Config', {
      crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns], [to.config(ns), 'Config']],
      sub: this.access.canEdit
        ? 'Config maps and secrets that pods take as environment variables or files. Secrets are encrypted at rest; viewers see their names only.'
        : 'You see the names of secrets only; members with edit read and change them.',
    }), this.formSlot, this.listSlot);
    if (this.access.canEdit) this.showForm();
    await this.refresh();
  }

  async refresh() {
    const [cms, secrets] = await Promise.all([get(paths.configMaps(this.ns)), get(paths.secrets(this.ns))]);
    const rows = [
      ...(cms.items || []).map((o) => ({ kind: 'ConfigMap', o, keys: Object.keys({ ...o.data, ...o.binaryData }) })),
      ...(secrets.items || []).map((o) => ({ kind: 'Secret', o, keys: Object.keys(o.data || {}) })),
    ].sort((a, b) => a.o.metadata.name.localeCompare(b.o.metadata.name) || a.kind.localeCompare(b.kind));
    if (!rows.length) { replace(this.listSlot, empty('No config maps or secrets', 'Pods read them as env (valueFrom, envFrom) or as volumes.')); return; }
    const { el, tbody } = table(['Name', 'Kind', 'Keys', ['', 'col-actions']], { caption: 'Config maps and secrets' });
    for (const { kind, o, keys } of rows) {
      const name = o.metadata.name;
      const attrs = { 'data-kind': kind, 'data-name': name };
      const keysCell = h('td', { class: 'mono small', 'data-test': 'config-keys' },
        kind === 'Secret' && !this.access.canEdit ? h('span', { class: 'muted' }, 'hidden') : keys.join(', '));
      const actions = h('td', { class: 'col-actions' });
      if (this.access.canEdit) {
        actions.append(...[
          kind === 'Secret' ? button('Reveal', { kind: 'ghost', class: 'btn btn-ghost btn-small', 'data-test': 'reveal-config', ...attrs,
            onclick: () => this.reveal(o, keysCell) }) : null,
          button('Edit', { kind: 'ghost', class: 'btn btn-ghost btn-small', 'data-test': 'edit-config', ...attrs, onclick: () => this.showForm(kind, o) }),
          button('Delete', { kind: 'ghost', iconName: 'trash', class: 'btn btn-ghost btn-small', 'data-test': 'delete-config', ...attrs,
            'aria-label': `Delete ${kind} ${name}`, onclick: () => this.remove(kind, name) }),
        ].filter(Boolean));
      }
      tbody.append(h('tr', { 'data-test': 'config-row', ...attrs },
        h('td', null, h('span', { class: 'strong-link' }, name)),
        h('td', null, kind === 'Secret' ? `Secret (${o.type || 'Opaque'})` : 'Config map'),
        keysCell, actions));
    }
    replace(this.listSlot, card('Config maps and secrets', el, { cls: 'table-card' }));
  }

  // reveal shows a secret's values, read again now (a list may be stale).
  async reveal(o, cell) {
    try {
      const s = await get(paths.secret(this.ns, o.metadata.name));
      replace(cell, ...Object.entries(s.data || {}).map(([k, v]) =>
        h('div', { 'data-test': 'secret-value', 'data-key': k }, `${k}=${decode(v)}`)));
    } catch (err) {
      toast(`Cannot read ${o.metadata.name}: ${err.message}`, 'bad');
    }
  }

  // showForm shows the form that creates an object or, given one, edits it.
  async showForm(kind = 'ConfigMap', o = null) {
    if (o && kind === 'Secret') o = await get(paths.secret(this.ns, o.metadata.name));
    const editing = !!o;
    const kindSel = select(KINDS, kind, { id: 'config-kind', disabled: editing || null });
    const name = h('input', { id: 'config-name', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none', placeholder: 'settings', value: o?.metadata.name || '', readonly: editing || null });
    const kv = kvRows({ legend: 'Data', keyLabel: 'Key', valueLabel: 'Value', addLabel: 'Add a key', test: 'config', errorFor: 'data' });
    const entries = o ? Object.entries(kind === 'Secret' ? Object.fromEntries(Object.entries(o.data || {}).map(([k, v]) => [k, decode(v)])) : (o.data || {})) : [];
    for (const [k, v] of entries.length ? entries : [['', '']]) {
      kv.addRow(false);
      const inputs = kv.el.querySelectorAll('.kv-row:last-child input');
      inputs[0].value = k;
      inputs[1].value = v;
      if (kind === 'Secret') inputs[1].type = 'password';
    }
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'save-config' }, editing ? 'Save' : 'Create');
    const form = h('form', { class: 'card form-card', novalidate: true, 'aria-label': editing ? `Edit ${o.metadata.name}` : 'Create a config map or secret' },
      h('h2', { class: 'card-title' }, editing ? `Edit ${o.metadata.name}` : 'Create a config map or secret'),
      formAlert(),
      h('div', { class: 'inline-form' },
        field('Kind', kindSel, {}),
        field('Name', name, { errorFor: 'metadata.name' })),
      kv.el,
      h('div', { class: 'form-actions' }, submit,
        editing ? button('Cancel', { kind: 'ghost', class: 'btn btn-ghost', onclick: () => this.showForm() }) : null));
    kindSel.addEventListener('change', () => {
      for (const r of kv.el.querySelectorAll('.kv-row')) r.querySelectorAll('input')[1].type = kindSel.value === 'Secret' ? 'password' : 'text';
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      submit.disabled = true;
      const k = kindSel.value;
      const pairs = kv.values();
      const obj = { apiVersion: 'v1', kind: k, metadata: { name: name.value.trim(), namespace: this.ns } };
      if (k === 'Secret') {
        obj.type = o?.type || 'Opaque';
        obj.data = Object.fromEntries(pairs.map(([key, v]) => [key, encode(v)]));
      } else {
        obj.data = Object.fromEntries(pairs);
        if (o?.binaryData) obj.binaryData = o.binaryData;
      }
      if (o) obj.metadata.resourceVersion = o.metadata.resourceVersion;
      const list = k === 'Secret' ? paths.secrets(this.ns) : paths.configMaps(this.ns);
      try {
        if (editing) await put(`${list}/${encodeURIComponent(obj.metadata.name)}`, obj);
        else await post(list, obj);
        toast(`${k === 'Secret' ? 'Secret' : 'Config map'} ${obj.metadata.name} ${editing ? 'saved' : 'created'}`);
        await this.refresh();
        this.showForm();
      } catch (err) {
        showAPIError(form, err);
      } finally {
        submit.disabled = false;
      }
    });
    replace(this.formSlot, form);
    if (editing) name.scrollIntoView?.({ block: 'nearest' });
  }

  async remove(kind, name) {
    const ok = await confirmDialog({ title: `Delete ${name}?`, message: `Pods that use ${name} keep what they read; new pods cannot start without it.`, confirmLabel: 'Delete' });
    if (!ok) return;
    try {
      await del(`${kind === 'Secret' ? paths.secrets(this.ns) : paths.configMaps(this.ns)}/${encodeURIComponent(name)}`);
      toast(`${name} deleted`);
      await this.refresh();
    } catch (err) {
      toast(`Cannot delete ${name}: ${err.message}`, 'bad');
    }
  }
}
define('berth-config-page', ConfigPage);
