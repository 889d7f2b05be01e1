// buildlog.js: <berth-build-log build=NAME>, a host image build's log,
// followed live over the API's log websocket (binary.k8s.io, as pod logs
// are) until the build ends. A build's log is kept by the server as
// written, so after any disconnect the view asks again from the byte it
// has (sinceBytes): nothing is lost or repeated. A "\r" progress line is
// one line, redrawn as it is rewritten. Lines are drawn at most once per
// animation frame and at most MAX_LINES are kept.
//
// Selectors: [data-test=build-log] (the element), [data-test=log-text]
// (the lines), [data-test=log-state] ("Following", "Paused — N new
// lines", "Ended", "Reconnecting…"), [data-test=log-jump].

import { h } from './dom.js';

export const MAX_LINES = 20000;
const RETRY_MIN = 250;
const RETRY_MAX = 8000;

function wsURL(path) {
  const u = new URL(path, location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

class BuildLog extends HTMLElement {
  connectedCallback() {
    if (this.pre) return;
    this.dataset.test = 'build-log';
    this.classList.add('build-log');
    this.lines = [];      // complete lines, oldest first
    this.partial = '';    // the line being written
    this.dropped = 0;
    this.offset = 0;      // bytes received: where a reconnect resumes
    this.following = true;
    this.unseen = 0;
    this.ended = false;
    this.retry = RETRY_MIN;
    this.decoder = new TextDecoder();
    this.stateText = h('span', { 'data-test': 'log-state', role: 'status' }, 'Connecting…');
    this.jump = h('button', { type: 'button', class: 'btn btn-small', 'data-test': 'log-jump', hidden: true, onclick: () => this.follow() }, 'Jump to latest');
    this.pre = h('pre', { class: 'build-log-text', 'data-test': 'log-text', tabindex: '0', 'aria-label': 'Build log' });
    this.append(h('div', { class: 'build-log-bar' }, this.stateText, this.jump), this.pre);
    // Only the person's own scrolling stops following.
    const intent = () => { this.userAt = Date.now(); };
    for (const ev of ['wheel', 'touchmove', 'keydown', 'mousedown']) this.pre.addEventListener(ev, intent, { passive: true });
    this.pre.addEventListener('scroll', () => this.onScroll());
    this.open();
  }

  disconnectedCallback() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    cancelAnimationFrame(this.frame);
    this.ws?.close();
  }

  get build() { return this.getAttribute('build') || ''; }

  open() {
    if (this.closed || this.ended) return;
    const q = new URLSearchParams({ follow: 'true' });
    if (this.offset) q.set('sinceBytes', String(this.offset));
    const ws = new WebSocket(wsURL(`/apis/berth.dev/v1/hostimagebuilds/${encodeURIComponent(this.build)}/log?${q}`), ['binary.k8s.io']);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    let opened = false;
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') { this.failure = ev.data; return; }
      if (!opened) { opened = true; this.retry = RETRY_MIN; this.setState(); return; }
      this.offset += ev.data.byteLength;
      this.feed(this.decoder.decode(ev.data, { stream: true }));
    };
    ws.onclose = (ev) => {
      if (this.closed) return;
      if (ev.code === 1000) { this.ended = true; this.setState(); this.dispatchEvent(new CustomEvent('ended')); return; }
      if (ev.code === 4001) { this.setState('The session ended: sign in again to follow the log.'); return; }
      if (ev.code >= 4400 && ev.code < 4500 && ev.code !== 4429) {
        let msg = `The log cannot be read (HTTP ${ev.code - 4000}).`;
        try { msg = JSON.parse(this.failure).message || msg; } catch { /* keep the code */ }
        this.setState(msg);
        return;
      }
      this.reconnecting = true;
      this.setState();
      this.retryTimer = setTimeout(() => { this.reconnecting = false; this.open(); }, this.retry);
      this.retry = Math.min(this.retry * 2, RETRY_MAX);
    };
  }

  /** feed takes decoded text: lines end with "\n"; "\r" rewrites the line. */
  feed(text) {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      if (text[i] === '\n') {
        this.pushLine(this.partial + text.slice(start, i));
        this.partial = '';
        start = i + 1;
      }
    }
    this.partial += text.slice(start);
    // What a "\r" overwrote is gone: keep what follows the last one (a
    // "\r" at the very end means the next write starts the line over).
    const cr = this.partial.lastIndexOf('\r', this.partial.length - 2);
    if (cr >= 0) this.partial = this.partial.slice(cr + 1);
    if (this.partial.length > 65536) this.partial = this.partial.slice(-65536);
    this.schedule();
  }

  pushLine(line) {
    const cr = line.lastIndexOf('\r', line.length - 2);
    if (cr >= 0) line = line.slice(cr + 1);
    this.lines.push(line.replace(/\r$/, ''));
    if (!this.following) this.unseen++;
    if (this.lines.length > MAX_LINES) {
      const n = this.lines.length - MAX_LINES;
      this.lines.splice(0, n);
      this.dropped += n;
    }
  }

  schedule() {
    if (this.frame || !this.following && this.drawnOnce) { this.setState(); return; }
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.draw(); });
  }

  draw() {
    this.drawnOnce = true;
    const head = this.dropped ? `[${this.dropped.toLocaleString()} earlier lines are not shown]\n` : '';
    const tail = this.partial.replace(/\r$/, '');
    this.pre.textContent = head + this.lines.join('\n') + (this.lines.length ? '\n' : '') + tail;
    if (this.following) this.toBottom();
    this.setState();
  }

  toBottom() {
    this.selfScroll = true;
    this.pre.scrollTop = this.pre.scrollHeight;
  }

  onScroll() {
    if (this.selfScroll) { this.selfScroll = false; return; }
    const atBottom = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 4;
    if (atBottom && !this.following) this.follow();
    else if (!atBottom && this.following && Date.now() - (this.userAt || 0) < 600) {
      this.following = false;
      this.unseen = 0;
      this.setState();
    }
  }

  follow() {
    this.following = true;
    this.unseen = 0;
    this.draw();
  }

  /** text: the log's text as shown (for tests and copying). */
  get text() { return this.lines.join('\n') + (this.lines.length ? '\n' : '') + this.partial; }

  setState(message) {
    let s;
    if (message) s = message;
    else if (this.ended) s = 'Ended';
    else if (this.reconnecting) s = 'Reconnecting…';
    else if (!this.following) s = `Paused — ${this.unseen.toLocaleString()} new lines`;
    else s = 'Following';
    if (this.stateText.textContent !== s) this.stateText.textContent = s;
    this.dataset.state = this.ended ? 'ended' : this.following ? 'following' : 'paused';
    this.jump.hidden = this.following || this.ended && !this.unseen;
  }
}

if (!customElements.get('berth-build-log')) customElements.define('berth-build-log', BuildLog);
