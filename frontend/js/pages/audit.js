// audit.js: the audit log (cluster admins) — who did what, filterable.
import { get, paths } from '../api.js';
import { h, timeEl, replace, when } from '../ui/dom.js';
import { pageHeader, table, empty, loading } from '../ui/layout.js';
import { badge } from '../ui/status.js';
import { field, select } from '../ui/forms.js';
import { session } from '../ui/session.js';
import { errorView } from '../ui/errorview.js';
import { navigate, to } from '../router.js';
import { Page, define } from '../ui/page.js';

const RESOURCES = ['', 'pods', 'replicationcontrollers', 'services', 'events', 'nodes', 'namespaces', 'projects', 'members', 'users', 'tokens'];
const codeTone = (c) => (c >= 500 ? 'bad' : c >= 400 ? 'warn' : 'ok');

// STAGES name the two entries of a log, exec or attach session.
const STAGES = { ResponseStarted: 'started', ResponseComplete: 'ended' };

/** sessionSummary says what a session's details hold: container, command, how long, what ended it. */
function sessionSummary(details) {
  let d;
  try { d = JSON.parse(details); } catch { return details; }
  const parts = [];
  if (d.container) parts.push(`container ${d.container}`);
  if (d.command?.length) parts.push(`$ ${d.command.join(' ')}`);
  if (d.follow) parts.push('follow');
  if (d.durationSeconds !== undefined) parts.push(`${d.durationSeconds < 10 ? d.durationSeconds.toFixed(1) : Math.round(d.durationSeconds)} s`);
  if (d.endedBy) parts.push(`ended: ${d.endedBy}`);
  return parts.join(' · ');
}

class AuditPage extends Page {
  async render() {
    this.title('Audit log');
    const header = pageHeader('Audit log', { sub: 'Every change made through the API, and who made it.' });
    if (!session.clusterAdmin) {
      this.replaceChildren(header, empty('Only cluster admins see the audit log', ''));
      return;
    }
    const q = new URLSearchParams(this.getAttribute('query') || '');
    const user = h('input', { id: 'audit-user', type: 'search', autocomplete: 'off', spellcheck: 'false', value: q.get('user') || '', placeholder: 'any user' });
    const ns = h('input', { id: 'audit-namespace', type: 'search', autocomplete: 'off', spellcheck: 'false', value: q.get('namespace') || '', placeholder: 'any project' });
    const resOptions = RESOURCES.map((r) => [r, r || 'any resource']);
    if (q.get('resource') && !RESOURCES.includes(q.get('resource'))) resOptions.push([q.get('resource'), q.get('resource')]);
    const res = select(resOptions, q.get('resource') || '', { id: 'audit-resource' });
    const limit = select([['100', '100'], ['500', '500'], ['1000', '1000']], q.get('limit') || '100', { id: 'audit-limit' });
    const form = h('form', { class: 'card form-card filters', role: 'search', 'aria-label': 'Filter the audit log' },
      h('div', { class: 'inline-form' },
        field('User', user), field('Project', ns), field('Resource', res), field('Entries', limit),
        h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-test': 'audit-filter' }, 'Filter'))));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const next = new URLSearchParams();
      if (user.value.trim()) next.set('user', user.value.trim());
      if (ns.value.trim()) next.set('namespace', ns.value.trim());
      if (res.value) next.set('resource', res.value);
      if (limit.value !== '100') next.set('limit', limit.value);
      const s = next.toString();
      navigate(to.audit() + (s ? '?' + s : ''));
    });
    this.results = h('div', null, loading());
    this.replaceChildren(header, form, this.results);
    this.query = { user: q.get('user') || '', namespace: q.get('namespace') || '', resource: q.get('resource') || '', limit: q.get('limit') || '100' };
    await this.fetch();
  }

  async fetch() {
    let list;
    try {
      list = await get(paths.audit(), { query: this.query });
    } catch (err) {
      replace(this.results, errorView(err, { retry: () => this.fetch() }));
      return;
    }
    const items = list.items || [];
    if (!items.length) { replace(this.results, empty('No entries match', 'Try fewer filters.')); return; }
    const { el, tbody } = table(['When', 'User', 'Action', 'Object', 'Result', 'From'], { caption: 'Audit entries' });
    for (const e of items) {
      const obj = [e.namespace, e.resource, e.name].filter(Boolean);
      tbody.append(h('tr', { 'data-test': 'audit-row' },
        h('td', { class: 'nowrap', title: when(e.at) }, timeEl(e.at, ' ago')),
        h('td', null, e.user || '—'),
        h('td', { class: 'mono' }, e.verb || '', e.stage ? h('div', { class: 'small muted', 'data-test': 'audit-stage' }, STAGES[e.stage] || e.stage) : null),
        h('td', { class: 'mono small' }, obj.length ? `${e.resource || ''}${e.name ? '/' + e.name : ''}${e.namespace ? ' in ' + e.namespace : ''}` : '—',
          e.details ? h('div', { class: 'muted', 'data-test': 'audit-details' }, sessionSummary(e.details)) : null),
        h('td', null, badge(String(e.code || '?'), codeTone(e.code))),
        h('td', { class: 'small muted' }, h('div', null, e.sourceIP || ''), h('div', { class: 'audit-ua', title: e.userAgent || '' }, e.userAgent || ''))));
    }
    replace(this.results, el, h('p', { class: 'count-note' }, `${items.length} entr${items.length === 1 ? 'y' : 'ies'}, newest first.`));
  }
}
define('berth-audit-page', AuditPage);
