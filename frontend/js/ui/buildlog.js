// buildlog.js: <berth-build-log build=NAME>, a host image build's log,
// followed live over the API's log websocket (binary.k8s.io, the shape of
// a pod's) until the build ends, and shown in <berth-log-view>, the view
// every streamed log uses (it follows, pauses on the user's scrolling and
// says so, draws a "\r" progress line as one line, keeps a bounded tail).
// The server keeps a build's log byte for byte, so after any disconnect
// this asks again from the byte it has (sinceBytes): nothing is lost or
// repeated. It retries with back-off for as long as the page is open, at
// once when the console's live connection comes back.
//
//   connecting ─(first message)─▶ open ─(closed)─▶ 1000: ended
//        ▲                                         4001, 4400-4499 (not 4429): failed
//        └──────────(back-off)─── waiting ◀────── anything else
//
// Selectors: [data-test=build-log] (the element), inside it the view's
// [data-test=log-view], [data-test=log-status] (data-conn: connecting,
// open, waiting, ended, failed) and [data-test=log-jump]. Its text
// property is the log as kept.

import { h } from './dom.js';
import './logview.js';
import { wsURL } from '../api.js';
import { publicMessage } from '../logstream.js';
import { onConnectionState } from '../watch.js';

const RETRY_MIN = 250;
const RETRY_MAX = 8000;
// PARTIAL_MAX bounds an unfinished line that never ends: its tail stays.
const PARTIAL_MAX = 16384;

class BuildLog extends HTMLElement {
  connectedCallback() {
    if (this.view) return;
    this.dataset.test = 'build-log';
    this.classList.add('build-log', 'log-box');
    this.partial = '';  // the line being written
    this.offset = 0;    // bytes received: where a reconnect resumes
    this.ended = false;
    this.retry = RETRY_MIN;
    this.decoder = new TextDecoder();
    this.view = h('berth-log-view', { 'download-name': this.build });
    this.append(this.view);
    this.unlisten = onConnectionState((s) => { if (s === 'open' && this.state === 'waiting') this.reopen(); });
    this.open();
  }

  disconnectedCallback() {
    this.closed = true;
    this.unlisten?.();
    clearTimeout(this.retryTimer);
    this.ws?.close();
  }

  get build() { return this.getAttribute('build') || ''; }

  setState(state, extra = {}) {
    this.state = state;
    if (state === 'waiting') this.since ??= new Date();
    else if (state === 'open') this.since = null;
    this.view.connection = { state, since: this.since, ...extra };
  }

  open() {
    if (this.closed || this.ended) return;
    const q = new URLSearchParams({ follow: 'true' });
    if (this.offset) q.set('sinceBytes', String(this.offset));
    const ws = new WebSocket(wsURL(`/apis/berth.dev/v1/hostimagebuilds/${encodeURIComponent(this.build)}/log?${q}`), ['binary.k8s.io']);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    if (this.state !== 'waiting') this.setState('connecting');
    let opened = false;
    let failure = '';
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') { failure = ev.data; return; }
      if (!opened) { opened = true; this.retry = RETRY_MIN; this.setState('open'); }
      if (!ev.data.byteLength) return;
      this.offset += ev.data.byteLength;
      this.feed(this.decoder.decode(ev.data, { stream: true }));
    };
    ws.onclose = (ev) => {
      if (this.closed || ws !== this.ws) return;
      if (ev.code === 1000) {
        this.ended = true;
        this.setState('ended', { message: 'The build’s log ended.' });
        this.dispatchEvent(new CustomEvent('ended'));
        return;
      }
      if (ev.code === 4001) { this.setState('failed', { message: 'Your session ended: sign in again to follow the log.' }); return; }
      if (ev.code >= 4400 && ev.code < 4500 && ev.code !== 4429) {
        let message = '';
        try { message = JSON.parse(failure).message || ''; } catch { /* the code says enough */ }
        this.setState('failed', { message: publicMessage({ code: ev.code - 4000, message: message || `HTTP ${ev.code - 4000}` }) });
        return;
      }
      this.setState('waiting', { message: ev.code === 4429 ? publicMessage({ code: 429 }) : '' });
      this.retryTimer = setTimeout(() => this.open(), this.retry);
      this.retry = Math.min(this.retry * 2, RETRY_MAX);
    };
  }

  reopen() {
    clearTimeout(this.retryTimer);
    this.retry = RETRY_MIN;
    this.open();
  }

  /** feed takes decoded text: lines end with "\n"; the rest is the unfinished line. */
  feed(text) {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop();
    if (this.partial.length > PARTIAL_MAX) {
      const cut = this.partial.length - PARTIAL_MAX;
      const cr = this.partial.indexOf('\r', cut);
      this.partial = this.partial.slice(cr >= 0 ? cr : cut);
    }
    this.view.write(parts.map((line) => ({ ts: '', text: line.replace(/\r$/, '') })), this.partial ? { ts: '', text: this.partial } : null);
  }

  /** text is the log as kept (complete lines, then the unfinished one), "\r" resolved. */
  get text() {
    const lines = this.view.text();
    return lines.join('\n') + (lines.length ? '\n' : '') + this.partial.slice(this.partial.lastIndexOf('\r', this.partial.length - 2) + 1);
  }
}

if (!customElements.get('berth-build-log')) customElements.define('berth-build-log', BuildLog);
