// logs.js: <berth-pod-logs namespace name>, the Logs tab: a container's
// log followed live over a websocket (logstream.js) in the shared log view
// (ui/logview.js), resumed after any disconnect for as long as the tab is
// open. The previous instance's log is read once, not followed.

import { get, paths } from '../api.js';
import { LogStream, publicMessage } from '../logstream.js';
import '../ui/logview.js';
import { h, labelled, containerStatusOf } from './util.js';

const TAIL = 1000;

class PodLogs extends HTMLElement {
  connectedCallback() {
    if (this.view) return;
    this.className = 'pod-logs';
    this.containerSel = h('select', { 'aria-label': 'Container', onchange: () => this.open() });
    this.prevBox = h('input', { type: 'checkbox', onchange: () => this.open() });
    this.view = h('berth-log-view');
    this.append(this.view);
    this.view.tools.prepend(labelled('Container', this.containerSel), h('label', { class: 'pod-check' }, this.prevBox, 'Previous instance'));
    this.fillContainers();
  }

  disconnectedCallback() { this.stream?.stop(); }

  get path() { return `${paths.pod(this.getAttribute('namespace'), this.getAttribute('name'))}/log`; }
  get container() { return this.containerSel?.value || ''; }
  get pod() { return this._pod; }

  set pod(pod) {
    const old = this._pod;
    this._pod = pod;
    if (!this.view) return;
    const names = (p) => JSON.stringify(p?.spec?.containers?.map((c) => c.name));
    if (names(old) !== names(pod)) this.fillContainers();
    // A container that runs again (restarted, or started at last) is followed again.
    const cs = containerStatusOf(pod, this.container);
    const st = this.stream?.state;
    if (cs?.state?.running && (st === 'ended' || st === 'failed') && !this.prevBox.checked && cs.containerID !== this.containerID) {
      if (st === 'ended') this.view.marker('— container started again —');
      this.containerID = cs.containerID;
      this.stream.start();
    }
  }

  fillContainers() {
    const names = (this._pod?.spec?.containers || []).map((c) => c.name);
    const cur = this.containerSel.value;
    this.containerSel.replaceChildren(...names.map((n) => h('option', { value: n, text: n })));
    if (names.includes(cur)) this.containerSel.value = cur;
    this.containerSel.disabled = names.length < 2;
  }

  /** start opens the log the first time the tab is shown. */
  start() {
    if (this.started) return;
    this.started = true;
    this.open();
  }

  open() {
    if (!this.started) return;
    this.stream?.stop();
    this.stream = null;
    this.view.clear();
    const container = this.container;
    this.view.setAttribute('download-name', `${this.getAttribute('name')}-${container}${this.prevBox.checked ? '-previous' : ''}`);
    this.containerID = containerStatusOf(this._pod, container)?.containerID || '';
    if (this.prevBox.checked) { this.readPrevious(container); return; }
    this.stream = new LogStream(this.path, {
      query: { container },
      tailLines: TAIL,
      onData: (lines, partial) => this.view.write(lines, partial),
      onState: (st) => this.stateChanged(st),
      check: () => this.check(),
    });
    this.stream.start();
  }

  /** check decides, once a follow ends, whether the container still runs. */
  async check() {
    const pod = await get(paths.pod(this.getAttribute('namespace'), this.getAttribute('name')));
    const cs = containerStatusOf(pod, this.container);
    return cs?.state?.running && !pod.metadata?.deletionTimestamp ? 'retry' : 'end';
  }

  stateChanged(st) {
    if (st.state === 'ended') {
      this.view.marker('— container ended —');
      st = { ...st, message: 'Not following: the container is not running.' };
    } else if (st.state === 'failed') {
      st = { ...st, message: st.code === 403 ? `You cannot read this log: ${st.message}` : st.message };
    }
    this.view.connection = st;
  }

  async readPrevious(container) {
    this.view.connection = { state: 'connecting' };
    try {
      const text = await get(this.path, { query: { container, previous: 'true', timestamps: 'true' }, accept: 'text/plain' });
      const lines = String(text).split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      this.view.write(lines.map((raw) => {
        const sp = raw.indexOf(' ');
        return /^\d{4}-\d\d-\d\dT/.test(raw) && sp > 0 ? { ts: raw.slice(0, sp), text: raw.slice(sp + 1) } : { ts: '', text: raw };
      }), null);
      this.view.marker('— end of the previous instance —');
      this.view.connection = { state: 'ended', message: 'The previous instance’s log: it is over, not followed.' };
    } catch (err) {
      this.view.connection = { state: 'failed', message: publicMessage(err) };
    }
  }
}

customElements.define('berth-pod-logs', PodLogs);
