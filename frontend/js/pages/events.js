// events.js: a project's events, newest first, live.
import { paths } from '../api.js';
import { h, link, timeEl, refreshAges, replace, syncList } from '../ui/dom.js';
import { pageHeader, table, empty, loading } from '../ui/layout.js';
import { badge } from '../ui/status.js';
import { inlineError } from '../ui/errorview.js';
import { to } from '../router.js';
import { Page, define } from '../ui/page.js';

const MAX = 500;
const last = (e) => e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp || '';

class EventsPage extends Page {
  async render() {
    const ns = this.getAttribute('namespace');
    this.ns = ns;
    this.title('Events', ns);
    const { el, tbody } = table(['Type', 'Reason', 'Object', 'Message', 'Count', 'Last seen'], { caption: 'Events' });
    this.tbody = tbody;
    this.tableEl = el;
    this.tableEl.hidden = true;
    this.status = h('div', null, loading());
    this.note = h('p', { class: 'count-note' });
    this.replaceChildren(
      pageHeader('Events', { crumbs: [[to.projects(), 'Projects'], [to.project(ns), ns], [to.events(ns), 'Events']], sub: 'What the scheduler, controllers and nodes did in this project, as it happens.' }),
      this.status, this.tableEl, this.note);
    this.live(paths.events(ns), {
      onChange: (items) => this.update(items),
      onError: (err) => {
        if (!this.tbody.children.length && err?.code === 403) replace(this.status, inlineError(err));
        else replace(this.status, inlineError({ message: `Cannot follow events: ${err?.message}` }));
      },
    });
    this.every(5000, () => refreshAges(this));
  }

  update(items) {
    const sorted = [...items].sort((a, b) => String(last(b)).localeCompare(String(last(a))));
    const shown = sorted.slice(0, MAX);
    this.tableEl.hidden = !shown.length;
    if (!shown.length) replace(this.status, empty('No events', 'Events appear here as pods are scheduled, started and stopped.'));
    else this.status.replaceChildren();
    this.note.textContent = sorted.length > MAX ? `Showing the newest ${MAX} of ${sorted.length} events.` : '';
    syncList(this.tbody, shown, (e) => e.metadata.uid || e.metadata.name, (e) => h('tr', { 'data-test': 'event-row' }), (row, e) => {
      const obj = e.involvedObject || {};
      const objText = `${(obj.kind || '').toLowerCase()}/${obj.name || ''}`;
      replace(row,
        h('td', null, badge(e.type || 'Normal', e.type === 'Warning' ? 'warn' : 'muted')),
        h('td', { class: 'event-reason' }, e.reason || ''),
        h('td', { class: 'event-object' }, obj.kind === 'Pod' && obj.name ? link(to.pod(this.ns, obj.name), null, objText) : objText),
        h('td', { class: 'event-message' }, e.message || ''),
        h('td', null, String(e.count || 1)),
        h('td', { class: 'nowrap' }, timeEl(last(e))));
    });
  }
}
define('berth-events-page', EventsPage);
