// logs.js: <berth-pod-logs>, a pod container's log, followed live.
//
// The log is read as a stream (fetch + reader) with timestamps, so that a
// reconnect resumes exactly after the last line seen (lines at or before
// it are dropped) and the timestamps toggle is instant. At most MAX_LINES
// lines stay in the page; older ones are dropped with a notice.

import { APIError, get, paths } from '../api.js';
import { parseLine, renderSegments } from './ansi.js';
import { h, labelled, containerStatusOf, errorText } from './util.js';

const MAX_LINES = 5000;
const TAIL = 500;

/** tsKey makes RFC 3339 timestamps with trimmed fractions comparable as strings. */
function tsKey(ts) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(ts);
  return m ? m[1] + '.' + (m[2] || '').padEnd(9, '0') : ts;
}

class PodLogs extends HTMLElement {
  constructor() {
    super();
    this.lines = [];        // {ts, segs, plain, el}
    this.pending = [];      // raw lines that came while paused
    this.partial = '';      // the text of the line not ended yet
    this.openLine = null;   // its line object, when shown
    this.dropped = 0;
    this.stick = true;
    this.paused = false;
    this.query = '';
    this.matchCount = 0;
    this.current = -1;
    this.lastKey = '';      // the timestamp key of the last line taken
    this.lastDataAt = 0;
    this.ctrl = null;
    this.state = 'idle';    // idle | loading | following | ended | error
    this.containerID = '';
    this.failures = 0;
  }

  connectedCallback() {
    if (this.built) return;
    this.built = true;
    this.className = 'pod-logs';
    this.containerSel = h('select', { 'aria-label': 'Container', onchange: () => this.reopen(true) });
    this.search = h('input', {
      type: 'search', placeholder: 'Search', 'aria-label': 'Search the log', class: 'pod-input',
      oninput: () => { clearTimeout(this.searchTimer); this.searchTimer = setTimeout(() => this.setQuery(this.search.value), 120); },
      onkeydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); this.setQuery(this.search.value); this.jump(e.shiftKey ? -1 : 1); } },
    });
    this.count = h('span', { class: 'pod-count', 'aria-live': 'polite' });
    this.tsBox = h('input', { type: 'checkbox', onchange: () => this.rerenderAll() });
    this.prevBox = h('input', { type: 'checkbox', onchange: () => this.reopen(true) });
    this.pauseBtn = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false', onclick: () => this.togglePause() }, 'Pause');
    this.status = h('span', { class: 'pod-logs-status', role: 'status' });
    this.notice = h('div', { class: 'log-notice', hidden: true });
    this.view = h('div', {
      class: 'log-view', 'data-test': 'log-view', tabindex: '0', role: 'log', 'aria-live': 'off', 'aria-label': 'Log output',
      onscroll: () => { this.stick = this.view.scrollTop + this.view.clientHeight >= this.view.scrollHeight - 8; this.jumpBtn.hidden = this.stick; },
    }, this.notice);
    this.jumpBtn = h('button', { type: 'button', class: 'btn btn-small log-jump', hidden: true, onclick: () => this.toBottom(true) }, 'Jump to latest ↓');
    this.append(
      h('div', { class: 'pod-toolbar' },
        labelled('Container', this.containerSel),
        h('div', { class: 'pod-search' }, this.search, this.count,
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Previous match', onclick: () => this.jump(-1) }, '↑'),
          h('button', { type: 'button', class: 'btn btn-small', 'aria-label': 'Next match', onclick: () => this.jump(1) }, '↓')),
        h('label', { class: 'pod-check' }, this.tsBox, 'Timestamps'),
        h('label', { class: 'pod-check' }, this.prevBox, 'Previous instance'),
        h('span', { class: 'pod-toolbar-end' },
          this.pauseBtn,
          h('button', { type: 'button', class: 'btn', onclick: () => this.download() }, 'Download'))),
      this.status,
      h('div', { class: 'log-wrap' }, this.view, this.jumpBtn),
    );
    this.fillContainers();
  }

  disconnectedCallback() { this.stop(); }

  set pod(pod) {
    const old = this._pod;
    this._pod = pod;
    if (!this.built) return;
    if (!old || JSON.stringify(old.spec?.containers?.map((c) => c.name)) !== JSON.stringify(pod.spec?.containers?.map((c) => c.name))) this.fillContainers();
    // A container that runs again (restarted, started) resumes the log.
    const cs = containerStatusOf(pod, this.container);
    if (cs?.state?.running && !this.prevBox.checked && (this.state === 'ended' || this.state === 'error') && this.started) {
      if (cs.containerID !== this.containerID || this.state === 'error') {
        if (this.state === 'ended') this.marker('— container started again —');
        this.open();
      }
    }
  }

  get pod() { return this._pod; }
  get container() { return this.containerSel?.value || ''; }

  fillContainers() {
    const names = (this._pod?.spec?.containers || []).map((c) => c.name);
    const cur = this.containerSel.value;
    this.containerSel.textContent = '';
    for (const n of names) this.containerSel.append(h('option', { value: n, text: n }));
    if (names.includes(cur)) this.containerSel.value = cur;
    this.containerSel.disabled = names.length < 2;
  }

  /** start opens the stream the first time the tab is shown. */
  start() {
    if (this.started) return;
    this.started = true;
    this.open();
  }

  stop() {
    this.ctrl?.abort();
    this.ctrl = null;
    clearTimeout(this.retryTimer);
  }

  /** reopen starts over (another container, previous instance). */
  reopen(clear) {
    if (!this.started) return;
    if (clear) this.clear();
    this.open();
  }

  clear() {
    for (const l of this.lines) l.el.remove();
    this.view.querySelectorAll('.log-marker, .log-error').forEach((e) => e.remove());
    this.lines = [];
    this.pending = [];
    this.partial = '';
    this.openLine = null;
    this.dropped = 0;
    this.lastKey = '';
    this.lastDataAt = 0;
    this.dedupe = false;
    this.matchCount = 0;
    this.current = -1;
    this.notice.hidden = true;
    this.stick = true;
    this.updateCount();
  }

  async open() {
    this.stop();
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const previous = this.prevBox.checked;
    const query = new URLSearchParams({ follow: String(!previous), timestamps: 'true', container: this.container });
    if (previous) query.set('previous', 'true');
    if (this.lastDataAt && !previous) {
      query.set('sinceSeconds', String(Math.ceil((Date.now() - this.lastDataAt) / 1000) + 2));
      this.dedupe = true;
    } else query.set('tailLines', String(TAIL));
    this.containerID = containerStatusOf(this._pod, this.container)?.containerID || '';
    this.setState('loading');
    let resp;
    try {
      resp = await fetch(`${paths.pod(this.getAttribute('namespace'), this.getAttribute('name'))}/log?${query}`,
        { credentials: 'same-origin', signal: ctrl.signal });
      if (!resp.ok) {
        let status;
        try { status = await resp.json(); } catch { status = null; }
        throw new APIError(status, resp.status);
      }
      this.setState('following');
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.failures = 0;
        this.ingest(decoder.decode(value, { stream: true }));
      }
      this.ingest(decoder.decode());
    } catch (err) {
      if (ctrl.signal.aborted) return;
      this.ctrl = null;
      if (err instanceof APIError) { this.showError(err); return; }
      // The connection broke: fall through and decide as for an end.
    }
    if (ctrl.signal.aborted) return;
    this.ctrl = null;
    this.ended(previous);
  }

  /** ended decides, once a stream ends, whether to reconnect. */
  async ended(previous) {
    if (previous) { this.marker('— end of the previous instance —'); this.setState('ended'); return; }
    let pod = this._pod;
    try { pod = await get(paths.pod(this.getAttribute('namespace'), this.getAttribute('name'))); } catch { /* use what we know */ }
    if (this.ctrl || !this.isConnected) return;
    const cs = containerStatusOf(pod, this.container);
    if (cs?.state?.running && !pod.metadata?.deletionTimestamp) {
      this.failures++;
      this.setState('reconnecting');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.open(), Math.min(500 * 2 ** (this.failures - 1), 10000));
      return;
    }
    this.flushPartial();
    this.marker('— container ended —');
    this.setState('ended');
  }

  showError(err) {
    this.setState('error');
    const msg = err.code === 403 ? `You cannot read this log: ${errorText(err)}` : errorText(err);
    this.view.append(h('div', { class: 'log-error', role: 'alert' }, h('span', { text: msg }), ' ',
      h('button', { type: 'button', class: 'btn btn-small', onclick: (e) => { e.target.closest('.log-error').remove(); this.open(); } }, 'Retry')));
    this.toBottom();
  }

  setState(s) {
    this.state = s;
    this.renderStatus();
  }

  renderStatus() {
    const texts = {
      idle: '', loading: 'Connecting…', following: 'Following', reconnecting: 'Stream ended; reconnecting…',
      ended: 'Not following: the container is not running', error: 'The log could not be read',
    };
    let t = texts[this.state] || '';
    if (this.paused) t = `Paused — ${this.pending.length} new line${this.pending.length === 1 ? '' : 's'}`;
    this.status.textContent = t;
    this.status.dataset.state = this.paused ? 'paused' : this.state;
    this.pauseBtn.textContent = this.paused ? `Resume${this.pending.length ? ` (${this.pending.length} new)` : ''}` : 'Pause';
  }

  ingest(text) {
    if (!text) return;
    this.lastDataAt = Date.now();
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop();
    if (this.paused) {
      for (const raw of parts) this.pending.push(raw);
      if (this.pending.length > MAX_LINES) {
        this.dropped += this.pending.length - MAX_LINES;
        this.pending.splice(0, this.pending.length - MAX_LINES);
      }
      this.renderStatus();
      return;
    }
    this.take(parts);
  }

  take(raws) {
    for (const raw of raws) {
      if (this.openLine) { this.setLine(this.openLine, raw); this.openLine = null; }
      else this.addLine(raw);
    }
    if (this.partial) {
      if (this.openLine) this.setLine(this.openLine, this.partial);
      else this.openLine = this.addLine(this.partial);
    }
    this.trim();
    this.updateCount();
    this.toBottom();
  }

  /** flushPartial ends the line in progress when the stream ends. */
  flushPartial() {
    if (this.partial && !this.paused) { this.openLine = null; this.partial = ''; }
  }

  split(raw) {
    // docker's timestamp and one space come first (we always ask for them).
    const sp = raw.indexOf(' ');
    if (sp > 0 && /^\d{4}-\d\d-\d\dT/.test(raw)) return [raw.slice(0, sp), raw.slice(sp + 1)];
    return ['', raw];
  }

  addLine(raw) {
    const [ts] = this.split(raw);
    const key = ts ? tsKey(ts) : '';
    if (this.dedupe && key && this.lastKey && key <= this.lastKey) return null; // seen before the reconnect
    this.dedupe = false;
    if (key) this.lastKey = key;
    const line = { el: h('div', { class: 'log-line' }) };
    this.setLine(line, raw);
    this.lines.push(line);
    this.view.append(line.el);
    return line;
  }

  setLine(line, raw) {
    const [ts, text] = this.split(raw);
    line.ts = ts;
    line.segs = parseLine(text.endsWith('\r') ? text.slice(0, -1) : text);
    line.plain = line.segs.map((s) => s.text).join('');
    this.renderLine(line);
  }

  renderLine(line) {
    const el = line.el;
    const marks = [];
    if (this.query) {
      const hay = line.plain.toLowerCase();
      for (let i = hay.indexOf(this.query); i >= 0; i = hay.indexOf(this.query, i + this.query.length)) marks.push([i, i + this.query.length]);
    }
    if (line.marks !== undefined) this.matchCount -= line.marks;
    line.marks = marks.length;
    this.matchCount += marks.length;
    el.classList.toggle('log-match', marks.length > 0);
    const body = h('span', { class: 'log-text' });
    renderSegments(body, line.segs, marks);
    el.textContent = '';
    if (this.tsBox.checked && line.ts) el.append(h('span', { class: 'log-ts', text: line.ts.replace(/(\.\d{3})\d*Z$/, '$1Z') }), ' ');
    el.append(body);
  }

  trim() {
    const extra = this.lines.length - MAX_LINES;
    if (extra <= 0) return;
    for (const l of this.lines.splice(0, extra)) {
      l.el.remove();
      this.matchCount -= l.marks || 0;
    }
    this.dropped += extra;
    this.current = -1;
    this.notice.hidden = false;
    this.notice.textContent = `${this.dropped.toLocaleString()} older lines dropped — the page keeps the last ${MAX_LINES.toLocaleString()}. Download keeps what is shown.`;
  }

  marker(text) {
    this.view.append(h('div', { class: 'log-marker', text }));
    this.toBottom();
  }

  toBottom(force) {
    if (force) this.stick = true;
    if (!this.stick) return;
    if (this.scrollQueued) return;
    this.scrollQueued = true;
    requestAnimationFrame(() => {
      this.scrollQueued = false;
      if (this.stick) this.view.scrollTop = this.view.scrollHeight;
      this.jumpBtn.hidden = true;
    });
  }

  togglePause() {
    this.paused = !this.paused;
    this.pauseBtn.setAttribute('aria-pressed', String(this.paused));
    if (!this.paused) {
      const raws = this.pending;
      this.pending = [];
      this.take(raws);
    }
    this.renderStatus();
  }

  setQuery(q) {
    q = q.toLowerCase();
    if (q === this.query) return;
    this.query = q;
    this.current = -1;
    this.rerenderAll();
  }

  rerenderAll() {
    for (const l of this.lines) this.renderLine(l);
    this.updateCount();
  }

  updateCount() {
    this.count.textContent = this.query ? `${this.matchCount} match${this.matchCount === 1 ? '' : 'es'}` : '';
  }

  jump(dir) {
    if (!this.query || !this.matchCount) return;
    const n = this.lines.length;
    let i = this.current;
    for (let k = 0; k < n; k++) {
      i = (i + dir + n) % n;
      if (this.lines[i].marks) break;
    }
    this.lines[this.current]?.el.classList.remove('log-current');
    this.current = i;
    const el = this.lines[i].el;
    el.classList.add('log-current');
    this.stick = false;
    el.scrollIntoView({ block: 'center' });
  }

  download() {
    const ts = this.tsBox.checked;
    const text = this.lines.map((l) => (ts && l.ts ? `${l.ts} ` : '') + l.plain).join('\n') + '\n';
    const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
    const a = h('a', { href: url, download: `${this.getAttribute('name')}-${this.container}${this.prevBox.checked ? '-previous' : ''}.log`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
}

customElements.define('berth-pod-logs', PodLogs);
